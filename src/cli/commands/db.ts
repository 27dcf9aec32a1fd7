// labops db migrate | status
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { act, listing } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { StoreStatus } from '../../app/store.js';
import { UsageError } from '../../domain/errors.js';
import { STORE_PARTS, isLoopName } from '../../domain/daemon-loops.js';

export function registerDb(parent: Command, f: Factory): Command {
  const db = parent.command('db').summary('create and inspect the labops tables').description('Create and inspect the tables labops uses (SQLite or MySQL/MariaDB).');
  const migrate = db
    .command('migrate')
    .description(
      'Create the tables that are missing, of the parts of labops that use this database: gateway (the ops-worker tables and labops\' heartbeat and reservation tables), ' +
        'collector (the SSH collector\'s database), cml (the CML labs cache) and daemon (shard leases). Without --only: every part on SQLite (labops\' own store); ' +
        'on MySQL the parts the database already has plus those the daemon would run with this configuration (labops doctor shows them), every part on a new database nothing configured uses. ' +
        'Existing tables are never dropped or altered, so a database that already has the ops-worker tables is left as it is. ' +
        'Tables owned by other systems (lab_reservations, the collector tables) are created only on SQLite, or on MySQL with --create-foreign (test and staging setups).',
    )
    .option('--only <parts>', 'comma-separated parts (gateway, collector, cml, daemon, all) or daemon loop names')
    .option('--create-foreign', 'on MySQL, also create the tables other systems own when they are missing');
  act(listing(migrate), f, (o: { createForeign?: boolean; only?: string }) => ({ createForeign: Boolean(o.createForeign), only: splitList(o.only) }), runDbMigrate);
  const status = db
    .command('status')
    .description('Show which migrations are applied, which tables exist and which columns labops needs but an existing table lacks, for the parts migrate would choose. Exit 1 when something is missing.')
    .option('--only <parts>', 'comma-separated parts (gateway, collector, cml, daemon, all) or daemon loop names');
  act(listing(status), f, (o: { only?: string }) => ({ only: splitList(o.only) }), runDbStatus);
  return db;
}

/** --only: checked before anything runs. */
function splitList(v: string | undefined): string[] | undefined {
  const names = v?.split(',').map((x) => x.trim()).filter(Boolean);
  if (names === undefined) return undefined;
  const unknown = names.filter((n) => n !== 'all' && !(STORE_PARTS as readonly string[]).includes(n) && !isLoopName(n));
  if (unknown.length || names.length === 0) throw new UsageError(`--only: unknown part(s) ${unknown.join(', ') || '(none given)'}; parts: ${STORE_PARTS.join(', ')}, all, or daemon loop names`);
  return names;
}

async function runDbMigrate(f: Factory, o: { createForeign: boolean; only?: string[] }): Promise<void> {
  const { migrateStore } = await import('../../app/store.js');
  await render(f, await migrateStore(f, o), 'migrate');
}

async function runDbStatus(f: Factory, o: { only?: string[] }): Promise<Outcome[]> {
  const { storeStatus } = await import('../../app/store.js');
  const status = await storeStatus(f, o);
  if (!status.exists) {
    // The embedded store is created on first use; not existing yet is its normal state on a new machine.
    if (f.io.json) f.io.printJson({ database: status.database, exists: false, migrations: [] });
    else f.io.out(`${status.database}: not created yet (the first command that stores something creates it)`);
    return ['ok'];
  }
  await render(f, status, 'status');
  if (status.complete) return ['ok'];
  f.io.error('labops: the database is not fully migrated');
  f.io.error('hint: run labops db migrate');
  return ['failed'];
}

async function render(f: Factory, s: StoreStatus, mode: 'migrate' | 'status'): Promise<void> {
  if (f.io.json) return f.io.printJson({ database: s.database, exists: true, parts: s.parts, migrations: s.migrations });
  const url = s.database;
  const rows = s.migrations.flatMap((m) => m.tables.map((t) => ({ m, t })));
  const { renderTable } = await import('../io/render.js');
  const state = (r: (typeof rows)[number]) =>
    !r.t.exists
      ? r.t.owner
        ? `absent (owned by ${r.t.owner})`
        : 'missing'
      : r.t.missingColumns.length
        ? `missing columns: ${r.t.missingColumns.join(',')}`
        : r.t.rejectingColumns.length
          ? `rejects what labops writes: ${r.t.rejectingColumns.join('; ')}`
          : r.t.created
            ? 'created'
            : mode === 'migrate'
              ? 'exists'
              : 'ok';
  renderTable(
    f.io,
    [
      { header: 'MIGRATION', value: (r: (typeof rows)[number]) => r.m.id },
      { header: 'APPLIED', value: (r) => (r.m.applied ? 'yes' : 'no') },
      { header: 'TABLE', value: (r) => r.t.table },
      { header: 'STATE', value: state, pretty: (r, c) => (state(r).startsWith('missing') || state(r).startsWith('rejects') ? c.red : state(r).startsWith('absent') ? c.yellow : c.green)(state(r)) },
    ],
    rows,
  );
  if (f.io.stdoutIsTTY) f.io.info(`database: ${url} (parts: ${s.parts.join(', ')})`);
}
