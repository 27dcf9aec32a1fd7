// labops db migrate | status
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import type { MigrationStatus } from '../../core/db/migrations.js';

export function registerDb(parent: Command, f: Factory): Command {
  const db = parent.command('db').summary('create and inspect the labops tables').description('Create and inspect the tables labops uses (SQLite or MySQL/MariaDB).');
  db.command('migrate')
    .description(
      'Create the tables that are missing. Existing tables are never dropped or altered, so a database that already has the ops-worker tables is left as it is. ' +
        'Tables owned by other systems (lab_reservations, the collector tables) are created only on SQLite, or on MySQL with --create-foreign (test and staging setups).',
    )
    .option('--create-foreign', 'on MySQL, also create the tables other systems own when they are missing')
    .action((o: { createForeign?: boolean }) => runDbMigrate(f, Boolean(o.createForeign)));
  db.command('status')
    .description('Show which migrations are applied, which tables exist and which columns labops needs but an existing table lacks. Exit 1 when something is missing.')
    .action(() => runDbStatus(f));
  return db;
}

async function runDbMigrate(f: Factory, createForeign: boolean): Promise<void> {
  const db = await f.database({ upgrade: false });
  const { migrate } = await import('../../core/db/migrations.js');
  const status = await migrate(db.kysely, db.dialect, { createForeign });
  await render(f, db.url, status, 'migrate');
}

async function runDbStatus(f: Factory): Promise<void> {
  const db = await f.database({ create: false, upgrade: false });
  if (db.ephemeral) {
    // The embedded store is created on first use; not existing yet is its normal state on a new machine.
    if (f.io.json) return f.io.printJson({ database: db.url, exists: false, migrations: [] });
    f.io.out(`${db.url}: not created yet (the first command that stores something creates it)`);
    return;
  }
  const { migrationStatus, isComplete } = await import('../../core/db/migrations.js');
  const status = await migrationStatus(db.kysely, db.dialect);
  await render(f, db.url, status, 'status');
  if (!isComplete(status)) {
    const { OperationFailed } = await import('../../domain/errors.js');
    throw new OperationFailed('the database is not fully migrated', { suggestion: 'run labops db migrate' });
  }
}

async function render(f: Factory, url: string, status: MigrationStatus[], mode: 'migrate' | 'status'): Promise<void> {
  if (f.io.json) return f.io.printJson({ database: url, exists: true, migrations: status });
  const rows = status.flatMap((m) => m.tables.map((t) => ({ m, t })));
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
