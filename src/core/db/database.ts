// Opens the store: SQLite (better-sqlite3, the embedded default) or MySQL/MariaDB (mysql2), behind
// one Kysely instance. Connection problems become typed errors: unreachable (3), credentials (4).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, MysqlDialect, SqliteDialect, sql, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { AuthFailed, Unreachable, UsageError } from '../../domain/errors.js';
import type { DB } from './schema.js';
import type { createPool as createMysqlPool } from 'mysql2';
import { parseDbUrl, redactDbUrl } from './url.js';

export interface Database {
  kysely: Kysely<DB>;
  dialect: 'sqlite' | 'mysql';
  /** the URL without its password */
  url: string;
  close(): Promise<void>;
}

export async function openDatabase(url: string, opts: { signal?: AbortSignal; readOnly?: boolean } = {}): Promise<Database> {
  const target = parseDbUrl(url);
  const shown = redactDbUrl(url);
  if (target.dialect === 'sqlite') {
    const { default: BetterSqlite3 } = await import('better-sqlite3');
    let handle: InstanceType<typeof BetterSqlite3>;
    try {
      if (opts.readOnly) {
        // Read-only callers (doctor) must not create the file or its directory.
        handle = new BetterSqlite3(target.path, { readonly: true, fileMustExist: true, timeout: 10_000 });
        const kysely = new Kysely<DB>({ dialect: new SqliteDialect({ database: cachingPrepare(handle) }) });
        return { kysely, dialect: 'sqlite', url: shown, close: () => kysely.destroy() };
      }
      if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
      handle = new BetterSqlite3(target.path, { timeout: 10_000 });
      handle.pragma('journal_mode = WAL');
      handle.pragma('foreign_keys = ON');
    } catch (e) {
      if (opts.readOnly && (e as { code?: string }).code === 'SQLITE_CANTOPEN') throw new UsageError(`no SQLite database at ${target.path}`, { suggestion: 'run labops db migrate' });
      throw new UsageError(`cannot open SQLite database ${target.path}: ${(e as Error).message}`);
    }
    const kysely = new Kysely<DB>({ dialect: new SqliteDialect({ database: cachingPrepare(handle) }) });
    return { kysely, dialect: 'sqlite', url: shown, close: () => kysely.destroy() };
  }
  const { createPool } = await import('mysql2');
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    connectionLimit: Number(target.params.get('pool') ?? 10),
    connectTimeout: 10_000,
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
  });
  // Every session in UTC, so DEFAULT CURRENT_TIMESTAMP columns are UTC whatever the server's zone.
  pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  const kysely = new Kysely<DB>({ dialect: new MysqlDialect({ pool: preparedInserts(pool) }) });
  try {
    await sql`SELECT 1`.execute(kysely);
  } catch (e) {
    await kysely.destroy().catch(() => {});
    throw mysqlConnectError(e, shown, `${target.host}:${target.port}`);
  }
  return { kysely, dialect: 'mysql', url: shown, close: () => kysely.destroy() };
}

/** Kysely's statement, as better-sqlite3 gives it: with `busy` while it is being iterated. */
type BusyStatement = SqliteStatement & { readonly busy: boolean };

/** Prepared statements kept per SQL text (the least recently used goes when full). */
const STATEMENT_CACHE = 256;

/**
 * Kysely prepares every query afresh; compiling the SQL is a good part of a small statement's cost and all of
 * it for the multi-row INSERTs a sync or poll repeats with the same shape (a 100-row INSERT is ~2 000
 * parameters). Statements are reused by SQL text. Kysely runs one query at a time on the connection; should a
 * statement still be iterating anyway, a fresh one is prepared rather than the busy one handed out.
 */
function cachingPrepare(db: { prepare(sql: string): BusyStatement; close(): unknown }): SqliteDatabase {
  const cache = new Map<string, BusyStatement>();
  return {
    close: () => void db.close(),
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = db.prepare(sql);
      if (!hit) {
        cache.set(sql, stmt);
        if (cache.size > STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      }
      return stmt;
    },
  };
}

type MysqlPool = ReturnType<typeof createMysqlPool>;
type MysqlPoolConnection = Parameters<Parameters<MysqlPool['getConnection']>[0]>[1];

/**
 * INSERTs go out as prepared statements (binary protocol): large values such as raw_json are then neither
 * escaped into the SQL text by the client nor parsed back out of it by the server, which halves the cost of
 * a batch of heartbeats. Everything else keeps the text protocol (a prepared LIMIT ? rejects mysql2's
 * numbers as doubles).
 */
function preparedInserts(pool: MysqlPool): MysqlPool {
  const patched = new WeakSet<object>();
  const getConnection = pool.getConnection.bind(pool);
  (pool as { getConnection: MysqlPool['getConnection'] }).getConnection = (cb) =>
    getConnection((err, conn: MysqlPoolConnection) => {
      if (!err && conn && !patched.has(conn)) {
        patched.add(conn);
        const query = conn.query.bind(conn) as (...a: unknown[]) => unknown;
        const execute = conn.execute.bind(conn) as (...a: unknown[]) => unknown;
        (conn as unknown as { query: (...a: unknown[]) => unknown }).query = (sql: unknown, values?: unknown, callback?: unknown) =>
          typeof sql === 'string' && Array.isArray(values) && values.length > 0 && /^\s*insert\b/i.test(sql) ? execute(sql, values, callback) : query(sql, values, callback);
      }
      cb(err, conn);
    });
  return pool;
}

export function mysqlConnectError(e: unknown, shownUrl: string, where: string): Error {
  const err = e as { code?: string; errno?: number; message?: string };
  const code = err.code ?? '';
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || err.errno === 1045 || err.errno === 1044) {
    return new AuthFailed(`database ${shownUrl}: access denied`, { suggestion: 'check the user and password in --db / MYSQL_DSN' });
  }
  if (code === 'ER_BAD_DB_ERROR' || err.errno === 1049) {
    return new UsageError(`database ${shownUrl}: the database does not exist`, { suggestion: 'create it first (CREATE DATABASE …), then run labops db migrate' });
  }
  if (['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'EAI_AGAIN'].includes(code)) {
    return new Unreachable(`database ${where} unreachable (${code})`, { suggestion: 'is the server running and the address in --db / MYSQL_DSN right?' });
  }
  return new Unreachable(`database ${shownUrl}: ${(err.message ?? String(e)).replace(/'[^']*'@/g, "'…'@")}`);
}
