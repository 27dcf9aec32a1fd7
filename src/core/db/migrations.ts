// Migrations: CREATE TABLE IF NOT EXISTS with the statements each table's declaration gives (tables-*.ts,
// upstream's shapes where upstream has the table). They create what is missing and never drop or alter an
// existing table, so an installation with the upstream tables is left as it is.
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';
import { UsageError } from '../../domain/errors.js';
import { STORE_PARTS, type StorePart } from '../../domain/daemon-loops.js';
import { createStatements, neededColumns, type Dialect, type Migration, type Table } from './table.js';
import { LABOPS_MIGRATIONS, OPS_MIGRATION } from './tables-ops.js';
import { HEARTBEAT_MIGRATION, HOST_DIGEST_MIGRATION } from './tables-heartbeat.js';
import { COLLECTOR_MIGRATION } from './tables-collector.js';
import { CML_MIGRATION } from './tables-cml.js';
import { RESERVATIONS_MIGRATION } from './tables-reservations.js';
import { DAEMON_MIGRATION } from './tables-daemon.js';

export type { Dialect, Migration, Table } from './table.js';

export const MIGRATIONS: readonly Migration[] = [OPS_MIGRATION, HEARTBEAT_MIGRATION, COLLECTOR_MIGRATION, CML_MIGRATION, RESERVATIONS_MIGRATION, DAEMON_MIGRATION, HOST_DIGEST_MIGRATION];

/**
 * The parts of labops that use a database, each with the migrations of its tables. The systems labops replaces
 * keep separate databases (the Lab Gateway's, the collector's), so a database gets the tables of the parts that
 * use it and no others.
 */
export const PARTS = {
  gateway: { summary: "the Lab Gateway: the ops-worker's tables, lab_reservations (foreign), labops' heartbeat and reservation tables", migrations: [OPS_MIGRATION, HEARTBEAT_MIGRATION, RESERVATIONS_MIGRATION, HOST_DIGEST_MIGRATION] },
  collector: { summary: "the SSH collector: servers, labs, lab_sessions, server_metrics, alerts (foreign) and labops' session log and state", migrations: [COLLECTOR_MIGRATION] },
  cml: { summary: 'the CML labs cache and its history', migrations: [CML_MIGRATION] },
  daemon: { summary: "labops daemon's shard leases (labops_instances)", migrations: [DAEMON_MIGRATION] },
} as const satisfies Record<StorePart, { summary: string; migrations: readonly Migration[] }>;

export type Part = StorePart;
export const PART_NAMES: readonly Part[] = STORE_PARTS;

export function isPart(name: string): name is Part {
  return Object.hasOwn(PARTS, name);
}

/** The migrations of these parts, in migration order (all of them without a selection). */
export function migrationsOf(parts?: readonly Part[]): Migration[] {
  if (!parts) return [...MIGRATIONS];
  const wanted = new Set<Migration>(parts.flatMap((p) => PARTS[p].migrations));
  return MIGRATIONS.filter((m) => wanted.has(m));
}

/** The parts a database already has: one of their tables exists or one of their migrations is recorded. */
export async function partsInDatabase(db: Kysely<DB>, dialect: Dialect): Promise<Part[]> {
  const tables = await existingTables(db, dialect);
  const applied = await appliedMigrations(db, tables);
  return PART_NAMES.filter((p) => PARTS[p].migrations.some((m) => applied.has(m.id) || m.tables.some((t) => tables.has(t.name))));
}

/** Every table labops declares: the bookkeeping table, then each migration's in order. */
export const ALL_TABLES: readonly Table[] = [LABOPS_MIGRATIONS, ...MIGRATIONS.flatMap((m) => m.tables)];

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

/** The values of a MySQL `enum('a','b')` column type (quotes doubled inside a value). */
export function enumValues(columnType: string): string[] | undefined {
  const m = /^enum\((.*)\)$/is.exec(columnType.trim());
  if (!m) return undefined;
  return [...m[1]!.matchAll(/'((?:[^']|'')*)'/g)].map((v) => v[1]!.replace(/''/g, "'"));
}

/**
 * An existing table's ENUM columns that lack a value labops writes (e.g. lab_sessions.status without
 * PROVISIONING): each would fail an INSERT or UPDATE only when that value is first written, so they are
 * named before the first run. MySQL only: SQLite's CHECKs are labops' own.
 */
async function rejectingColumns(db: Kysely<DB>, dialect: Dialect, t: Table): Promise<string[]> {
  const declared = Object.entries(t.columns).filter(([, c]) => c.sql.values && c.sql.use !== 'unread');
  if (dialect !== 'mysql' || declared.length === 0) return [];
  const rows = await sql<{ name: string; type: string }>`SELECT column_name AS name, column_type AS type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ${t.name}`.execute(db);
  const types = new Map(rows.rows.map((r) => [r.name, String(r.type)]));
  const out: string[] = [];
  for (const [name, c] of declared) {
    const type = types.get(name);
    const have = type === undefined ? undefined : enumValues(type);
    if (!have) continue; // missing (named as such) or not an ENUM (takes the text)
    const lower = new Set(have.map((v) => v.toLowerCase()));
    const lacking = c.sql.values!.filter((v) => !lower.has(v.toLowerCase()));
    if (lacking.length) out.push(`${name} ${type} lacks ${lacking.map((v) => `'${v}'`).join(',')}`);
  }
  return out;
}

export interface TableStatus {
  table: string;
  exists: boolean;
  /** the system that owns the table when it is not labops' */
  owner?: string;
  missingColumns: string[];
  /** columns whose type rejects a value labops writes: `<column> <type> lacks '<value>'` */
  rejectingColumns: string[];
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

/**
 * Each migration of these parts with its tables. Without a selection: the parts the database has, or every part
 * when it has none yet (a new database).
 */
export async function migrationStatus(db: Kysely<DB>, dialect: Dialect, parts?: readonly Part[]): Promise<MigrationStatus[]> {
  const tables = await existingTables(db, dialect);
  const applied = await appliedMigrations(db, tables);
  const present = parts ?? (await partsInDatabase(db, dialect));
  const out: MigrationStatus[] = [];
  for (const m of migrationsOf(present.length ? present : undefined)) {
    const ts: TableStatus[] = [];
    for (const t of m.tables) {
      const exists = tables.has(t.name);
      const cols = exists ? await tableColumns(db, dialect, t.name) : new Set<string>();
      ts.push({
        table: t.name,
        exists,
        owner: t.foreign ? (t.owner ?? 'another system') : undefined,
        missingColumns: exists ? neededColumns(t).filter((c) => !cols.has(c)) : [],
        rejectingColumns: exists ? await rejectingColumns(db, dialect, t) : [],
      });
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
  return status.every((m) => m.applied && m.tables.every((t) => (t.exists || t.owner) && t.missingColumns.length === 0 && t.rejectingColumns.length === 0));
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

/** Creates the missing tables of these parts (default: every part); foreign ones only on SQLite or with createForeign. */
export async function migrate(db: Kysely<DB>, dialect: Dialect, opts: { createForeign?: boolean; parts?: readonly Part[] } = {}): Promise<MigrationStatus[]> {
  const parts = opts.parts ?? PART_NAMES;
  for (const stmt of createStatements(LABOPS_MIGRATIONS, dialect)) await sql.raw(stmt).execute(db);
  const before = await existingTables(db, dialect);
  for (const m of migrationsOf(parts)) {
    for (const t of m.tables) {
      if (before.has(t.name)) continue;
      if (t.foreign && dialect === 'mysql' && !opts.createForeign) continue;
      for (const stmt of createStatements(t, dialect)) await sql.raw(stmt).execute(db);
    }
    const row = { id: m.id, applied_at: utcNow() };
    if (dialect === 'mysql') await db.insertInto('labops_migrations').ignore().values(row).execute();
    else await db.insertInto('labops_migrations').values(row).onConflict((oc) => oc.column('id').doNothing()).execute();
  }
  const status = await migrationStatus(db, dialect, parts);
  for (const m of status) for (const t of m.tables) t.created = t.exists && !before.has(t.table);
  return status;
}
