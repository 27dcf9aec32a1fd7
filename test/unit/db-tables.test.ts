import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DB } from '../../src/core/db/schema.js';
import { ALL_TABLES, migrate } from '../../src/core/db/migrations.js';
import { createStatements, rowColumns, type Column, type Dialect, type Table } from '../../src/core/db/table.js';
import { LAB_HOSTS, type LABOPS_MIGRATIONS, type OPS_TABLES } from '../../src/core/db/tables-ops.js';
import type { HEARTBEAT_TABLES } from '../../src/core/db/tables-heartbeat.js';
import type { COLLECTOR_TABLES } from '../../src/core/db/tables-collector.js';
import type { CML_TABLES } from '../../src/core/db/tables-cml.js';
import type { RESERVATION_TABLES } from '../../src/core/db/tables-reservations.js';
import type { DAEMON_TABLES } from '../../src/core/db/tables-daemon.js';
import { tableNames, tableShape } from '../support/sqlite-shape.js';

const BEFORE_SQLITE = readFileSync(new URL('../fixtures/labops-tables-before-i20.sqlite.sql', import.meta.url), 'utf8');

async function migrated(): Promise<BetterSqlite3.Database> {
  const handle = new BetterSqlite3(':memory:');
  const kysely = new Kysely<DB>({ dialect: new SqliteDialect({ database: handle }) });
  await migrate(kysely, 'sqlite');
  return handle;
}

describe('SQLite tables', () => {
  test('a fresh store gets every table with the shape labops always created it with', async () => {
    const before = new BetterSqlite3(':memory:');
    before.exec(BEFORE_SQLITE);
    const now = await migrated();
    const frozen = tableNames(before);
    assert.ok(frozen.length >= 20, `the fixture holds ${frozen.length} tables`);
    for (const t of frozen) assert.deepEqual(tableShape(now, t), tableShape(before, t), t);
  });

  test('the shape sees what changes behaviour and nothing else', () => {
    const shape = (ddl: string) => {
      const db = new BetterSqlite3(':memory:');
      db.exec(ddl);
      return tableShape(db, 't');
    };
    const base = shape("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))");
    assert.deepEqual(shape("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, s TEXT, e TEXT DEFAULT 'a' CHECK (e IN ('a', 'b')))"), base);
    for (const changed of [
      "CREATE TABLE t (id INTEGER PRIMARY KEY, n INT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INT PRIMARY KEY, n INT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NOT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n DATETIME NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL, s VARCHAR(512) DEFAULT '', e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a')",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL, s VARCHAR(512) DEFAULT NULL UNIQUE, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b'))); CREATE INDEX i ON t (n)",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL REFERENCES t (id), s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b')))",
      "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NULL, s VARCHAR(512) DEFAULT NULL, e TEXT DEFAULT 'a' CHECK (e IN ('a','b'))); CREATE TRIGGER g AFTER UPDATE ON t BEGIN SELECT 1; END",
    ]) assert.notDeepEqual(shape(changed), base, changed);
  });
});

/** The names of the columns a CREATE TABLE defines, in order (every body line but keys and constraints). */
function definedColumns(createTable: string): string[] {
  const body = createTable.slice(createTable.indexOf('(') + 1, createTable.lastIndexOf(')'));
  return body
    .split(',\n')
    .map((line) => line.trim())
    .filter((line) => !/^(PRIMARY KEY|UNIQUE KEY|KEY|CONSTRAINT) /.test(line))
    .map((line) => line.split(' ')[0]!);
}

describe('columns are declared once', () => {
  const declared = (t: Table) => Object.keys(t.columns);

  test('every declared column is in each dialect\'s CREATE TABLE, in order, and nothing else', () => {
    assert.ok(ALL_TABLES.length >= 20);
    for (const t of ALL_TABLES) for (const dialect of ['mysql', 'sqlite'] as Dialect[]) assert.deepEqual(definedColumns(createStatements(t, dialect)[0]!), declared(t), `${t.name} (${dialect})`);
    // the check itself sees a column that is missing
    assert.notDeepEqual(definedColumns(createStatements(LAB_HOSTS, 'mysql')[0]!.replace('  mac VARCHAR(32) NULL,\n', '')), declared(LAB_HOSTS));
  });

  test('every declared column is in the table SQLite creates', async () => {
    const db = await migrated();
    for (const t of ALL_TABLES) assert.deepEqual((db.pragma(`table_info(${t.name})`) as { name: string }[]).map((c) => c.name), declared(t), t.name);
  });

  test('the row type holds every declared column but those labops never reads (checked by tsc)', () => {
    for (const t of ALL_TABLES) assert.deepEqual(rowColumns(t), declared(t).filter((c) => t.columns[c]!.sql.use !== 'unread'), t.name);
    assert.ok(!rowColumns(ALL_TABLES.find((t) => t.name === 'servers')!).includes('purpose'));
    // Type level, restated independently of RowOf: DB has exactly the declared tables, each with exactly
    // its declared columns but the unread ones. `npm run typecheck` fails on a mismatch.
    type Declared = typeof LABOPS_MIGRATIONS | (typeof OPS_TABLES)[number] | (typeof HEARTBEAT_TABLES)[number] | (typeof COLLECTOR_TABLES)[number]
      | (typeof CML_TABLES)[number] | (typeof RESERVATION_TABLES)[number] | (typeof DAEMON_TABLES)[number];
    type Unread<T extends Table> = { [K in keyof T['columns']]: T['columns'][K] extends Column<unknown, unknown, boolean, boolean, 'unread'> ? K : never }[keyof T['columns']];
    type Mismatched = { [T in Declared as T['name']]: Same<keyof DB[T['name']], Exclude<keyof T['columns'], Unread<T>>> extends true ? never : T['name'] }[Declared['name']];
    const tablesMatch: Same<keyof DB, Declared['name']> = true;
    const columnsMatch: [Mismatched] extends [never] ? true : Mismatched = true;
    // @ts-expect-error the check sees a column that is missing
    const sees: Same<keyof DB['lab_hosts'], Exclude<keyof DB['lab_hosts'], 'mac'>> = true;
    assert.ok(tablesMatch && columnsMatch && sees);
  });
});

test('MySQL table options: utf8mb4 on every table (not the server\'s default), one setting per table, nothing on SQLite', () => {
  for (const t of ALL_TABLES) assert.match(createStatements(t, 'mysql')[0]!, /\n\) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci$/, t.name);
  const own = { ...LAB_HOSTS, mysqlOptions: 'ENGINE=InnoDB' };
  assert.match(createStatements(own, 'mysql')[0]!, /\n\) ENGINE=InnoDB$/);
  assert.deepEqual(createStatements(own, 'sqlite'), createStatements(LAB_HOSTS, 'sqlite'));
});

type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
