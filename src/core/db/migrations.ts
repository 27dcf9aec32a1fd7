// Migrations: CREATE TABLE IF NOT EXISTS with the exact upstream DDL. They create what is missing and
// never drop or alter an existing table, so an installation with the upstream tables is left as it is.
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';
import { UsageError } from '../../domain/errors.js';
import { HEARTBEAT_MIGRATION } from './tables-heartbeat.js';
import { COLLECTOR_MIGRATION } from './tables-collector.js';
import { CML_MIGRATION } from './tables-cml.js';
import { RESERVATIONS_MIGRATION } from './tables-reservations.js';
import { DAEMON_MIGRATION } from './tables-daemon.js';

export interface TableDef {
  name: string;
  /** the columns labops needs; `db status` names any that an existing table lacks */
  columns: readonly string[];
  /** owned by another system (named here): created only on SQLite (embedded default) and in tests */
  foreign?: boolean;
  owner?: string;
  mysql: string;
  sqlite: readonly string[];
}

export interface Migration {
  id: string;
  description: string;
  tables: readonly TableDef[];
}

const OPS_TABLES: readonly TableDef[] = [
  {
    name: 'lab_hosts',
    columns: ['id', 'name', 'address', 'mac', 'mode', 'last_seen', 'created_at', 'updated_at'],
    mysql: `CREATE TABLE IF NOT EXISTS lab_hosts (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(128) NOT NULL,
  address VARCHAR(255) NOT NULL,
  mac VARCHAR(32) NULL,
  mode ENUM('pure','hybrid') DEFAULT 'pure',
  last_seen DATETIME NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  UNIQUE KEY uk_lab_hosts_name (name)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS lab_hosts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(128) NOT NULL,
  address VARCHAR(255) NOT NULL,
  mac VARCHAR(32) NULL,
  mode TEXT DEFAULT 'pure' CHECK (mode IN ('pure','hybrid')),
  last_seen DATETIME NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT uk_lab_hosts_name UNIQUE (name)
)`,
      `CREATE TRIGGER IF NOT EXISTS trg_lab_hosts_updated_at AFTER UPDATE ON lab_hosts
  FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
  BEGIN UPDATE lab_hosts SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END`,
    ],
  },
  {
    name: 'lab_host_heartbeat',
    columns: ['id', 'host_id', 'timestamp_utc', 'ready', 'local_mode', 'local_session', 'last_forced_logoff_ts', 'last_forced_logoff_user', 'last_power_action_ts', 'last_power_action_mode', 'raw_json', 'created_at'],
    mysql: `CREATE TABLE IF NOT EXISTS lab_host_heartbeat (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  host_id BIGINT NOT NULL,
  timestamp_utc DATETIME NOT NULL,
  ready BOOLEAN,
  local_mode BOOLEAN,
  local_session BOOLEAN,
  last_forced_logoff_ts DATETIME NULL,
  last_forced_logoff_user VARCHAR(128),
  last_power_action_ts DATETIME NULL,
  last_power_action_mode VARCHAR(32),
  raw_json LONGTEXT NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  KEY idx_host_ts (host_id, timestamp_utc),
  CONSTRAINT fk_heartbeat_host FOREIGN KEY (host_id) REFERENCES lab_hosts(id) ON DELETE CASCADE
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS lab_host_heartbeat (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host_id INTEGER NOT NULL,
  timestamp_utc DATETIME NOT NULL,
  ready BOOLEAN,
  local_mode BOOLEAN,
  local_session BOOLEAN,
  last_forced_logoff_ts DATETIME NULL,
  last_forced_logoff_user VARCHAR(128),
  last_power_action_ts DATETIME NULL,
  last_power_action_mode VARCHAR(32),
  raw_json TEXT NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT fk_heartbeat_host FOREIGN KEY (host_id) REFERENCES lab_hosts(id) ON DELETE CASCADE
)`,
      'CREATE INDEX IF NOT EXISTS idx_host_ts ON lab_host_heartbeat (host_id, timestamp_utc)',
    ],
  },
  {
    name: 'lab_host_events',
    columns: ['id', 'host_id', 'kind', 'timestamp_utc', 'payload', 'created_at'],
    mysql: `CREATE TABLE IF NOT EXISTS lab_host_events (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  host_id BIGINT NOT NULL,
  kind VARCHAR(64) NOT NULL,
  timestamp_utc DATETIME NOT NULL,
  payload JSON,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  KEY idx_host_kind_ts (host_id, kind, timestamp_utc),
  CONSTRAINT fk_events_host FOREIGN KEY (host_id) REFERENCES lab_hosts(id) ON DELETE CASCADE
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS lab_host_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host_id INTEGER NOT NULL,
  kind VARCHAR(64) NOT NULL,
  timestamp_utc DATETIME NOT NULL,
  payload JSON,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT fk_events_host FOREIGN KEY (host_id) REFERENCES lab_hosts(id) ON DELETE CASCADE
)`,
      'CREATE INDEX IF NOT EXISTS idx_host_kind_ts ON lab_host_events (host_id, kind, timestamp_utc)',
    ],
  },
  {
    name: 'reservation_operations',
    columns: ['id', 'reservation_id', 'lab_id', 'host', 'action', 'status', 'success', 'response_code', 'duration_ms', 'payload', 'message', 'created_at'],
    mysql: `CREATE TABLE IF NOT EXISTS reservation_operations (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  reservation_id VARCHAR(128) NOT NULL,
  lab_id VARCHAR(128),
  host VARCHAR(128) NOT NULL,
  action VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  success BOOLEAN NOT NULL DEFAULT FALSE,
  response_code INT NULL,
  duration_ms INT NULL,
  payload JSON,
  message TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  KEY idx_reservation_action (reservation_id, action)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS reservation_operations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  reservation_id VARCHAR(128) NOT NULL,
  lab_id VARCHAR(128),
  host VARCHAR(128) NOT NULL,
  action VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  success BOOLEAN NOT NULL DEFAULT FALSE,
  response_code INT NULL,
  duration_ms INT NULL,
  payload JSON,
  message TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
)`,
      'CREATE INDEX IF NOT EXISTS idx_reservation_action ON reservation_operations (reservation_id, action)',
    ],
  },
];

export const MIGRATIONS: readonly Migration[] = [
  { id: '0001_labstation_ops', description: 'Lab Gateway ops tables (lab_hosts, lab_host_heartbeat, lab_host_events, reservation_operations)', tables: OPS_TABLES },
  HEARTBEAT_MIGRATION,
  COLLECTOR_MIGRATION,
  CML_MIGRATION,
  RESERVATIONS_MIGRATION,
  DAEMON_MIGRATION,
];

const BOOKKEEPING = {
  mysql: 'CREATE TABLE IF NOT EXISTS labops_migrations (id VARCHAR(64) NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)',
  sqlite: 'CREATE TABLE IF NOT EXISTS labops_migrations (id VARCHAR(64) NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)',
};

export type Dialect = 'sqlite' | 'mysql';

export async function existingTables(db: Kysely<DB>, dialect: Dialect): Promise<Set<string>> {
  const rows =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(db)
      : await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`.execute(db);
  return new Set(rows.rows.map((r) => r.name));
}

export async function tableColumns(db: Kysely<DB>, dialect: Dialect, table: string): Promise<Set<string>> {
  const rows =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(db)
      : await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ${table}`.execute(db);
  return new Set(rows.rows.map((r) => r.name));
}

export interface TableStatus {
  table: string;
  exists: boolean;
  /** the system that owns the table when it is not labops' */
  owner?: string;
  missingColumns: string[];
  /** created by this run */
  created?: boolean;
}

export interface MigrationStatus {
  id: string;
  description: string;
  applied: boolean;
  appliedAt: string | null;
  tables: TableStatus[];
}

async function appliedMigrations(db: Kysely<DB>, tables: Set<string>): Promise<Map<string, string>> {
  if (!tables.has('labops_migrations')) return new Map();
  const rows = await db.selectFrom('labops_migrations').select(['id', 'applied_at']).execute();
  return new Map(rows.map((r) => [r.id, String(r.applied_at)]));
}

export async function migrationStatus(db: Kysely<DB>, dialect: Dialect): Promise<MigrationStatus[]> {
  const tables = await existingTables(db, dialect);
  const applied = await appliedMigrations(db, tables);
  const out: MigrationStatus[] = [];
  for (const m of MIGRATIONS) {
    const ts: TableStatus[] = [];
    for (const t of m.tables) {
      const exists = tables.has(t.name);
      const cols = exists ? await tableColumns(db, dialect, t.name) : new Set<string>();
      ts.push({ table: t.name, exists, owner: t.foreign ? (t.owner ?? 'another system') : undefined, missingColumns: exists ? t.columns.filter((c) => !cols.has(c)) : [] });
    }
    out.push({ id: m.id, description: m.description, applied: applied.has(m.id), appliedAt: applied.get(m.id) ?? null, tables: ts });
  }
  return out;
}

function utcNow(): string {
  return new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
}

/** Whether a status shows everything labops needs: its own tables present, no needed column missing. */
export function isComplete(status: MigrationStatus[]): boolean {
  return status.every((m) => m.applied && m.tables.every((t) => (t.exists || t.owner) && t.missingColumns.length === 0));
}

/** Fails with the migrate hint, before any work, when a table a command needs does not exist. */
export async function requireTables(db: { kysely: Kysely<DB>; dialect: Dialect; url: string }, names: readonly string[]): Promise<void> {
  const have = await existingTables(db.kysely, db.dialect);
  const missing = names.filter((n) => !have.has(n));
  if (missing.length) throw new UsageError(`database ${db.url}: table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist`, { suggestion: 'run labops db migrate' });
}

/** Brings the embedded store up to date: migrates when a migration is not recorded as applied (one query otherwise). */
export async function ensureMigrated(db: Kysely<DB>, dialect: Dialect): Promise<void> {
  const applied = await appliedMigrations(db, await existingTables(db, dialect));
  if (MIGRATIONS.every((m) => applied.has(m.id))) return;
  await migrate(db, dialect);
}

export async function migrate(db: Kysely<DB>, dialect: Dialect, opts: { createForeign?: boolean } = {}): Promise<MigrationStatus[]> {
  await sql.raw(BOOKKEEPING[dialect]).execute(db);
  const before = await existingTables(db, dialect);
  for (const m of MIGRATIONS) {
    for (const t of m.tables) {
      if (before.has(t.name)) continue;
      if (t.foreign && dialect === 'mysql' && !opts.createForeign) continue;
      if (dialect === 'mysql') await sql.raw(t.mysql).execute(db);
      else for (const stmt of t.sqlite) await sql.raw(stmt).execute(db);
    }
    const row = { id: m.id, applied_at: utcNow() };
    if (dialect === 'mysql') await db.insertInto('labops_migrations').ignore().values(row).execute();
    else await db.insertInto('labops_migrations').values(row).onConflict((oc) => oc.column('id').doNothing()).execute();
  }
  const status = await migrationStatus(db, dialect);
  for (const m of status) for (const t of m.tables) t.created = t.exists && !before.has(t.table);
  return status;
}
