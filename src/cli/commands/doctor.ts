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
      'The command to run first when something is off, and a smoke check a CI job can rely on. Checks that the config and inventory are valid, the database is reachable and ' +
        'migrated (and where its URL came from), each configured CML server answers and accepts its login, inventory hosts are reachable (a sample, or every one with --all-hosts), ' +
        'and the DC hook and worker files and tools are present where configured. One line per check, with the fix a failing command would suggest; changes nothing.',
    )
    .option('--sample <n>', 'inventory hosts to probe, spread over the inventory (0 = none)', intArg(0, 100_000), 5)
    .option('--all-hosts', 'probe every inventory host (64 at a time)')
    .option('--strict', 'a warning fails too (exit 1)')
    .option('--timeout <dur>', 'per-check network timeout', durationArg, 5000);
  act(listing(cmd), f, (o: { sample: number; timeout: number; allHosts?: boolean; strict?: boolean }): DoctorCommandOptions => ({ sampleHosts: o.allHosts ? Infinity : o.sample, timeoutMs: o.timeout, strict: Boolean(o.strict) }), runDoctorCommand);
  return helpAfter(cmd, 'Examples:\n  labops doctor\n  labops doctor --all-hosts --strict     # in CI: any warning fails\n\nExit: 0 every check ok (warnings allowed, unless --strict), 1 at least one check failed.');
}

interface DoctorCommandOptions {
  sampleHosts: number;
  timeoutMs: number;
  strict: boolean;
}

async function runDoctorCommand(f: Factory, o: DoctorCommandOptions): Promise<Outcome[]> {
  const { doctor } = await import('../../app/store.js');
  const checks = await doctor(f, o);
  const failed = checks.some((c) => c.status === 'fail' || (o.strict && c.status === 'warn'));
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
    for (const c of checks) if (c.hint && c.status !== 'ok') f.io.error(`hint: ${c.check}: ${c.hint}`);
  }
  return [failed ? 'failed' : 'ok'];
}
