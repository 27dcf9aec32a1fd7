// labops config show: the effective configuration and where each value came from; secrets redacted.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { act, listing } from '../action.js';

export function registerConfig(parent: Command, f: Factory): Command {
  const config = parent.command('config').summary('inspect the effective configuration').description('Inspect the effective configuration.');
  const show = config
    .command('show')
    .description(
      'Print every setting with its effective value and its source (flag, environment variable, config file, default). ' +
        'Precedence: flags > environment > config file > defaults. Secrets are shown as references or <redacted>.',
    );
  act(listing(show), f, () => ({}), runConfigShow);
  return config;
}

export async function runConfigShow(f: Factory): Promise<void> {
  const { effectiveConfig } = await import('../../app/store.js');
  const view = await effectiveConfig(f);
  const { settings: rows, inventory } = view;
  if (f.io.json) return f.io.printJson(view);
  const { renderTable } = await import('../io/render.js');
  renderTable(
    f.io,
    [
      { header: 'KEY', value: (r: (typeof rows)[number]) => r.key },
      { header: 'VALUE', flex: true, value: (r) => r.value ?? '', pretty: (r, c) => (r.value === null ? c.dim('(unset)') : r.value) },
      { header: 'SOURCE', value: (r) => r.source, pretty: (r, c) => c.dim(r.source) },
    ],
    rows,
  );
  if (f.io.stdoutIsTTY) {
    f.io.info(`config file: ${view.configFile ?? '(none)'}`);
    f.io.info('error' in inventory ? `inventory: ${inventory.error}` : `inventory: ${inventory.file ?? '(none)'} (${inventory.hosts} hosts)`);
  }
}
