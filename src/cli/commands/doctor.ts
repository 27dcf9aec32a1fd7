// labops doctor: read-only checks of config, inventory, database, peers, hosts and DC files.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act, listing } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { CheckResult } from '../../ops/doctor.js';

export function registerDoctor(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('doctor')
    .summary('check config, inventory, database, peers, hosts and DC files (read-only)')
    .description(
      'The command to run first when something is off. Checks that the config and inventory are valid, the database is reachable and migrated, each configured CML server ' +
        'answers its health endpoint, a sample of inventory hosts is reachable, and the DC hook and worker files and tools are present where configured. One line per check; changes nothing.',
    )
    .option('--sample <n>', 'inventory hosts to probe (0 = none)', intArg(0, 10000), 5)
    .option('--timeout <dur>', 'per-check network timeout', durationArg, 5000);
  act(listing(cmd), f, (o: { sample: number; timeout: number }) => ({ sampleHosts: o.sample, timeoutMs: o.timeout }), runDoctorCommand);
  return helpAfter(cmd, 'Exit: 0 every check ok (warnings allowed), 1 at least one check failed.');
}

async function runDoctorCommand(f: Factory, o: { sampleHosts: number; timeoutMs: number }): Promise<Outcome[]> {
  const { doctor } = await import('../../app/store.js');
  const checks = await doctor(f, o);
  const failed = checks.some((c) => c.status === 'fail');
  if (f.io.json) f.io.printJson({ ok: !failed, checks });
  else {
    const { renderTable } = await import('../io/render.js');
    const paint = { ok: 'green', warn: 'yellow', fail: 'red', skip: 'dim' } as const;
    renderTable<CheckResult>(
      f.io,
      [
        { header: 'STATUS', value: (r) => r.status, pretty: (r, c) => c[paint[r.status]](r.status) },
        { header: 'CHECK', value: (r) => r.check },
        { header: 'DETAIL', flex: true, value: (r) => r.detail },
      ],
      checks,
    );
  }
  return [failed ? 'failed' : 'ok'];
}
