import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DB } from '../../src/core/db/schema.js';
import { migrate } from '../../src/core/db/migrations.js';
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
