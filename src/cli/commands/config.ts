// labops config show: the effective configuration and where each value came from; secrets redacted.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';

export function registerConfig(parent: Command, f: Factory): Command {
  const config = parent.command('config').summary('inspect the effective configuration').description('Inspect the effective configuration.');
  config
    .command('show')
    .description(
      'Print every setting with its effective value and its source (flag, environment variable, config file, default). ' +
        'Precedence: flags > environment > config file > defaults. Secrets are shown as references or <redacted>.',
    )
    .action(() => runConfigShow(f));
  return config;
}

export async function runConfigShow(f: Factory): Promise<void> {
  const cfg = await f.config();
  const { describeSource } = await import('../../core/config/load.js');
  const { redactDbUrl } = await import('../../core/db/url.js');
  const rows = cfg.entries().map((s) => ({
    key: s.key,
    value: s.value === undefined ? null : s.key === 'db' ? redactDbUrl(s.value) : s.value,
    source: describeSource(s.source),
  }));
  let inventory: { file: string | null; hosts: number } | { error: string };
  try {
    const index = await f.inventory();
    inventory = { file: index.inventory.file ?? null, hosts: index.hosts.length };
  } catch (e) {
    inventory = { error: (e as Error).message };
  }
  if (f.io.json) return f.io.printJson({ configFile: cfg.file ?? null, settings: rows, inventory });
  const { renderTable } = await import('../io/render.js');
  renderTable(
    f.io,
    [
      { header: 'KEY', value: (r: (typeof rows)[number]) => r.key },
      { header: 'VALUE', value: (r) => r.value ?? '', pretty: (r, c) => (r.value === null ? c.dim('(unset)') : r.value) },
      { header: 'SOURCE', value: (r) => r.source, pretty: (r, c) => c.dim(r.source) },
    ],
    rows,
  );
  if (f.io.stdoutIsTTY) {
    f.io.info(`config file: ${cfg.file ?? '(none)'}`);
    f.io.info('error' in inventory ? `inventory: ${inventory.error}` : `inventory: ${inventory.file ?? '(none)'} (${inventory.hosts} hosts)`);
  }
}
