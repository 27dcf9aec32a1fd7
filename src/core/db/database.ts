// Opens the store: SQLite (better-sqlite3, the embedded default) or MySQL/MariaDB (mysql2), behind
// one Kysely instance. Connection problems become typed errors: unreachable (3), credentials (4).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, MysqlDialect, SqliteDialect, sql, type DatabaseConnection, type Dialect, type Driver, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { AuthFailed, MissingTable, OperationFailed, Unreachable, UsageError } from '../../domain/errors.js';
import type { DB } from './schema.js';
import type { createPool as createMysqlPool } from 'mysql2';
import { parseDbUrl, redactDbUrl } from './url.js';

export interface Database {
  kysely: Kysely<DB>;
  dialect: 'sqlite' | 'mysql';
  /** the URL without its password */
  url: string;
  /** an embedded store that does not exist yet, stood in for by an empty in-memory one (nothing is kept) */
  ephemeral?: boolean;
  close(): Promise<void>;
}

export interface StoreOptions {
  signal?: AbortSignal;
  /**
   * The embedded default store (the `db` setting left at its default): labops owns it, so it is created, and
   * its tables created or upgraded, on first use, as any later schema change will be. Any other database is
   * the operator's: only `labops db migrate` changes its schema.
   */
  embedded?: boolean;
  /** false for commands that only read: neither the file nor its directory is ever created */
  create?: boolean;
  /** false leaves the embedded store's schema as it is (db status and db migrate look at it themselves) */
  upgrade?: boolean;
  /** the MySQL password when it is kept out of the URL (the db-password setting); wins over the URL's */
  password?: string;
}

/**
 * Opens the store a command asked for. A reading command on an embedded store that does not exist yet gets an
 * empty in-memory stand-in (`ephemeral`), so `heartbeat show` on a fresh machine answers "nothing yet" without
 * creating a file; on an explicit SQLite path that does not exist it is a usage error.
 */
export async function openStore(url: string, opts: StoreOptions = {}): Promise<Database> {
  const target = parseDbUrl(url);
  const upgrade = opts.embedded && opts.upgrade !== false;
  if (target.dialect === 'sqlite' && opts.create === false && target.path !== ':memory:' && !existsSync(target.path)) {
    if (!opts.embedded) throw new UsageError(`no SQLite database at ${target.path}`, { suggestion: 'check --db / LABOPS_DB, or create it with labops db migrate' });
    const standIn = await openDatabase('sqlite::memory:');
    if (upgrade) await ensureSchema(standIn);
    return { ...standIn, url: redactDbUrl(url), ephemeral: true };
  }
  const db = await openDatabase(url, { signal: opts.signal, password: opts.password });
  if (upgrade) {
    try {
      await ensureSchema(db);
    } catch (e) {
      await db.close();
      throw e;
    }
  }
  return db;
}

async function ensureSchema(db: Database): Promise<void> {
  const { ensureMigrated } = await import('./migrations.js');
  await ensureMigrated(db.kysely, db.dialect);
}

export async function openDatabase(url: string, opts: { signal?: AbortSignal; readOnly?: boolean; password?: string } = {}): Promise<Database> {
  const target = parseDbUrl(url);
  const shown = redactDbUrl(url);
  if (target.dialect === 'sqlite') {
    const { default: BetterSqlite3 } = await import('better-sqlite3').catch((e: unknown) => {
      throw sqliteDriverError(e) ?? e;
    });
    let handle: InstanceType<typeof BetterSqlite3>;
    try {
      if (opts.readOnly) {
        // Read-only callers must not create the file or its directory.
        handle = new BetterSqlite3(target.path, { readonly: true, fileMustExist: true, timeout: 10_000 });
      } else {
        if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
        handle = new BetterSqlite3(target.path, { timeout: 10_000 });
        handle.pragma('journal_mode = WAL');
        handle.pragma('foreign_keys = ON');
      }
    } catch (e) {
      const driver = sqliteDriverError(e);
      if (driver) throw driver;
      if (opts.readOnly && (e as { code?: string }).code === 'SQLITE_CANTOPEN') throw new UsageError(`no SQLite database at ${target.path}`, { suggestion: 'run labops db migrate' });
      throw new UsageError(`cannot open SQLite database ${target.path}: ${(e as Error).message}`);
    }
    const kysely = new Kysely<DB>({ dialect: schemaErrors(new SqliteDialect({ database: cachingPrepare(handle) }), shown) });
    return { kysely, dialect: 'sqlite', url: shown, close: () => kysely.destroy() };
  }
  const { createPool } = await import('mysql2');
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: opts.password ?? target.password,
    database: target.database,
    connectionLimit: Number(target.params.get('pool') ?? 10),
    connectTimeout: 10_000,
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
    // INSERTs are prepared (preparedInserts) and a batch of n rows is a statement of its own: mysql2 keeps 16 000
    // per connection by default, ~0.1 MiB each with their parameter definitions, so a daemon's heap grew by up to
    // 37 MiB per pooled connection (issue 28: RSS < 400 MiB, flat). A few dozen cover the batch shapes in use.
    maxPreparedStatements: PREPARED_STATEMENTS_PER_CONNECTION,
  });
  // Every session in UTC, so DEFAULT CURRENT_TIMESTAMP columns are UTC whatever the server's zone.
  pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  const kysely = new Kysely<DB>({ dialect: schemaErrors(new MysqlDialect({ pool: preparedInserts(pool) }), shown) });
  try {
    await sql`SELECT 1`.execute(kysely);
  } catch (e) {
    await kysely.destroy().catch(() => {});
    throw mysqlConnectError(e, shown, `${target.host}:${target.port}`);
  }
  return { kysely, dialect: 'mysql', url: shown, close: () => kysely.destroy() };
}

/**
 * better-sqlite3's native addon missing or not loadable (never built, built for another Node, removed from the
 * package): one line that names the fix. The single executable's loader says where it looked and what to do.
 */
function sqliteDriverError(e: unknown): OperationFailed | undefined {
  const err = e as { code?: string; message?: string; fix?: string };
  const message = String(err?.message ?? '');
  const driver =
    err?.code === 'LABOPS_NATIVE_MISSING' ||
    err?.code === 'ERR_DLOPEN_FAILED' ||
    (err?.code === 'ERR_MODULE_NOT_FOUND' && message.includes('better-sqlite3')) ||
    /Could not locate the bindings file|better_sqlite3\.node|NODE_MODULE_VERSION/.test(message);
  if (!driver) return undefined;
  const fix = err.fix ?? 'run `npm rebuild better-sqlite3` where labops is installed (it needs a C++ compiler), or install the labops Debian package or single executable, which bring it built';
  return new OperationFailed(`cannot load the SQLite driver (better-sqlite3): ${message.split('\n')[0]}; ${fix}; or use MySQL (--db mysql://…)`, { cause: e });
}

/** A query on a table that does not exist: the database is not migrated, an operator's mistake (exit 2). */
export function missingTableError(e: unknown, shownUrl: string): MissingTable | undefined {
  const err = e as { code?: string; errno?: number; message?: string };
  const sqlite = /^no such table: (\S+)/.exec(err.message ?? '');
  const mysql = err.errno === 1146 || err.code === 'ER_NO_SUCH_TABLE' ? /Table '(?:[^'.]*\.)?([^']+)' doesn't exist/.exec(err.message ?? '') : null;
  const table = sqlite?.[1] ?? mysql?.[1];
  if (!table) return undefined;
  return new MissingTable(table, `database ${shownUrl}: table ${table} does not exist`, { suggestion: 'run labops db migrate', cause: e });
}

/**
 * Every query's driver error passes through missingTableError, so a missing table is one typed error wherever
 * it surfaces (a command, a daemon loop, a per-host store) instead of a driver message. Connections are wrapped,
 * and the driver gets its own connection back for transactions and release.
 */
function schemaErrors(dialect: Dialect, shownUrl: string): Dialect {
  const translate = (e: unknown) => missingTableError(e, shownUrl) ?? e;
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver(): Driver {
      const driver = dialect.createDriver();
      const own = new WeakMap<DatabaseConnection, DatabaseConnection>();
      const inner = (c: DatabaseConnection) => own.get(c) ?? c;
      return {
        init: () => driver.init(),
        async acquireConnection() {
          const c = await driver.acquireConnection();
          const wrapped: DatabaseConnection = {
            async executeQuery(q) {
              try {
                return await c.executeQuery(q);
              } catch (e) {
                throw translate(e);
              }
            },
            streamQuery: (q, chunkSize) => c.streamQuery(q, chunkSize),
          };
          own.set(wrapped, c);
          return wrapped;
        },
        beginTransaction: (c, settings) => driver.beginTransaction(inner(c), settings),
        commitTransaction: (c) => driver.commitTransaction(inner(c)),
        rollbackTransaction: (c) => driver.rollbackTransaction(inner(c)),
        savepoint: driver.savepoint && ((c, name, compile) => driver.savepoint!(inner(c), name, compile)),
        rollbackToSavepoint: driver.rollbackToSavepoint && ((c, name, compile) => driver.rollbackToSavepoint!(inner(c), name, compile)),
        releaseSavepoint: driver.releaseSavepoint && ((c, name, compile) => driver.releaseSavepoint!(inner(c), name, compile)),
        releaseConnection: (c) => driver.releaseConnection(inner(c)),
        destroy: () => driver.destroy(),
      };
    },
  };
}

/** Kysely's statement, as better-sqlite3 gives it: with `busy` while it is being iterated. */
type BusyStatement = SqliteStatement & { readonly busy: boolean };

/** Prepared INSERTs kept per MySQL connection (the least recently used is closed, on the server too). */
const PREPARED_STATEMENTS_PER_CONNECTION = 32;

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
