// labops db migrate | status
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { act, listing } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { StoreStatus } from '../../app/store.js';

export function registerDb(parent: Command, f: Factory): Command {
  const db = parent.command('db').summary('create and inspect the labops tables').description('Create and inspect the tables labops uses (SQLite or MySQL/MariaDB).');
  const migrate = db
    .command('migrate')
    .description(
      'Create the tables that are missing. Existing tables are never dropped or altered, so a database that already has the ops-worker tables is left as it is. ' +
        'Tables owned by other systems (lab_reservations, the collector tables) are created only on SQLite, or on MySQL with --create-foreign (test and staging setups).',
    )
    .option('--create-foreign', 'on MySQL, also create the tables other systems own when they are missing');
  act(listing(migrate), f, (o: { createForeign?: boolean }) => ({ createForeign: Boolean(o.createForeign) }), runDbMigrate);
  const status = db
    .command('status')
    .description('Show which migrations are applied, which tables exist and which columns labops needs but an existing table lacks. Exit 1 when something is missing.');
  act(listing(status), f, () => ({}), runDbStatus);
  return db;
}

async function runDbMigrate(f: Factory, o: { createForeign: boolean }): Promise<void> {
  const { migrateStore } = await import('../../app/store.js');
  await render(f, await migrateStore(f, o), 'migrate');
}

async function runDbStatus(f: Factory): Promise<Outcome[]> {
  const { storeStatus } = await import('../../app/store.js');
  const status = await storeStatus(f);
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
  if (f.io.json) return f.io.printJson({ database: s.database, exists: true, migrations: s.migrations });
  const url = s.database;
  const rows = s.migrations.flatMap((m) => m.tables.map((t) => ({ m, t })));
  const { renderTable } = await import('../io/render.js');
  const state = (r: (typeof rows)[number]) =>
    !r.t.exists ? (r.t.owner ? `absent (owned by ${r.t.owner})` : 'missing') : r.t.missingColumns.length ? `missing columns: ${r.t.missingColumns.join(',')}` : r.t.created ? 'created' : mode === 'migrate' ? 'exists' : 'ok';
  renderTable(
    f.io,
    [
      { header: 'MIGRATION', value: (r: (typeof rows)[number]) => r.m.id },
      { header: 'APPLIED', value: (r) => (r.m.applied ? 'yes' : 'no') },
      { header: 'TABLE', value: (r) => r.t.table },
      { header: 'STATE', value: state, pretty: (r, c) => (state(r).startsWith('missing') ? c.red : state(r).startsWith('absent') ? c.yellow : c.green)(state(r)) },
    ],
    rows,
  );
  if (f.io.stdoutIsTTY) f.io.info(`database: ${url}`);
}
