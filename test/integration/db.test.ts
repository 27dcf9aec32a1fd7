import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { tempDir } from '../support/tmp.js';
import { openDatabase, openStore } from '../../src/core/db/database.js';
import { UsageError } from '../../src/domain/errors.js';
import { ALL_TABLES, migrate, migrationStatus } from '../../src/core/db/migrations.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';

const OPS_TABLES = ['lab_hosts', 'lab_host_heartbeat', 'lab_host_events', 'reservation_operations'];
const UPSTREAM_DDL = readFileSync(new URL('../fixtures/upstream-002-labstation-ops.sql', import.meta.url), 'utf8');
const BEFORE_MYSQL = readFileSync(new URL('../fixtures/labops-tables-before-i20.mysql.sql', import.meta.url), 'utf8');

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const io = IOStreams.test();
  const code = await run(args, { io, env });
  return { code, stdout: io.outText(), stderr: io.errText() };
}

describe('the embedded store needs no setup; a named database is the operator\'s', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  test('the first command that stores creates and migrates the default store; reading commands create nothing', async () => {
    const state = join(dir.path, 'fresh-state');
    const env = { XDG_STATE_HOME: state, XDG_CONFIG_HOME: join(dir.path, 'fresh-config') };
    const dbFile = join(state, 'labops', 'labops.db');
    for (const args of [['heartbeat', 'show'], ['heartbeat', 'show', '--events'], ['heartbeat', 'alerts'], ['reserve', 'log', '0xnone'], ['labs', 'list'], ['db', 'status']]) {
      const r = await cli(args, env);
      assert.notEqual(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /unexpected error|no such table/, args.join(' '));
      assert.equal(existsSync(state), false, `${args.join(' ')} created ${state}`);
    }
    const status = await cli(['db', 'status'], env);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /labops\.db: not created yet/);
    const show = await cli(['--json', 'heartbeat', 'show'], env);
    assert.deepEqual(JSON.parse(show.stdout), { hosts: [] });
    // a command that stores: the store and all its tables appear
    const hosts = join(dir.path, 'hosts.json');
    writeFileSync(hosts, JSON.stringify({ hosts: [{ name: 'ws1', address: '127.0.0.1', mac: '02:00:00:00:00:01' }] }));
    const share = join(dir.path, 'share');
    mkdirSync(share);
    copyFileSync(new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url), join(share, 'ws1.json'));
    const poll = await cli(['--hosts', hosts, 'heartbeat', 'poll', 'ws1', '--source', 'file', '--path', join(share, '{host}.json'), '--no-events'], env);
    assert.equal(poll.code, 0, poll.stderr);
    assert.ok(existsSync(dbFile));
    const after = await cli(['--json', 'db', 'status'], env);
    assert.equal(after.code, 0, after.stderr);
    assert.ok(JSON.parse(after.stdout).migrations.every((m: { applied: boolean }) => m.applied));
  });

  test('an older embedded store is upgraded on first use', async () => {
    const state = join(dir.path, 'old-state');
    const dbFile = join(state, 'labops', 'labops.db');
    const old = await openDatabase(`sqlite:${dbFile}`);
    await sql`CREATE TABLE labops_migrations (id VARCHAR(64) NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL)`.execute(old.kysely);
    await sql`INSERT INTO labops_migrations VALUES ('0001_labstation_ops', '2026-01-01 00:00:00')`.execute(old.kysely);
    await old.close();
    const db = await openStore(`sqlite:${dbFile}`, { embedded: true, create: false });
    try {
      const status = await migrationStatus(db.kysely, db.dialect);
      assert.ok(status.every((m) => m.applied && m.tables.every((t) => t.exists)));
    } finally {
      await db.close();
    }
  });

  test('a named SQLite database: missing file is exit 2 for readers, missing tables exit 2 with the migrate hint', async () => {
    const missing = join(dir.path, 'nowhere', 'x.db');
    for (const args of [['heartbeat', 'show'], ['labs', 'list'], ['reserve', 'log', '0x1'], ['db', 'status'], ['heartbeat', 'alerts']]) {
      const r = await cli(['--db', `sqlite:${missing}`, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /no SQLite database at .*x\.db/);
      assert.equal(existsSync(join(dir.path, 'nowhere')), false);
    }
    const bare = join(dir.path, 'bare.db');
    writeFileSync(bare, '');
    for (const args of [['heartbeat', 'show'], ['labs', 'list'], ['heartbeat', 'alerts'], ['reserve', 'log', '0x1']]) {
      const r = await cli(['--db', `sqlite:${bare}`, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /table \w+ does not exist|tables? .* not exist/, args.join(' '));
      assert.match(r.stderr, /^hint: run labops db migrate$/m, args.join(' '));
      assert.doesNotMatch(r.stderr, /unexpected error/);
    }
    // a storing command checks its tables before it reads a single station
    const hosts = join(dir.path, 'bare-hosts.json');
    writeFileSync(hosts, JSON.stringify({ hosts: [{ name: 'ws1', address: '127.0.0.1', mac: '02:00:00:00:00:01' }] }));
    const poll = await cli(['--db', `sqlite:${bare}`, '--hosts', hosts, 'heartbeat', 'poll', '--all', '--source', 'file', '--path', join(dir.path, 'never-read', '{host}.json')]);
    assert.equal(poll.code, 2, poll.stderr);
    assert.match(poll.stderr, /^labops: database sqlite:.*bare\.db: tables lab_hosts, .* do not exist\nhint: run labops db migrate\n$/);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('bare.db')), ['bare.db'], 'nothing created beside it');
  });

  test('openStore: a missing table is a UsageError on every query path', async () => {
    const path = join(dir.path, 'typed.db');
    const db = await openStore(`sqlite:${path}`);
    try {
      await assert.rejects(db.kysely.selectFrom('lab_hosts').selectAll().execute(), (e: unknown) => e instanceof UsageError && /table lab_hosts does not exist/.test(e.message));
      await assert.rejects(
        db.kysely.transaction().execute((tx) => tx.insertInto('lab_hosts').values({ name: 'a', address: 'b' }).execute()),
        (e: unknown) => e instanceof UsageError && e.suggestion === 'run labops db migrate',
      );
    } finally {
      await db.close();
    }
  });
});

describe('SQLite (embedded default)', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  test('migrate creates the four ops tables, then is a no-op', async () => {
    const url = `sqlite:${join(dir.path, 'sub', 'labops.db')}`;
    const first = await cli(['--db', url, '--json', 'db', 'migrate']);
    assert.equal(first.code, 0, first.stderr);
    const tables = JSON.parse(first.stdout).migrations[0].tables;
    assert.deepEqual(tables.map((t: { table: string; created: boolean }) => [t.table, t.created]), OPS_TABLES.map((t) => [t, true]));
    const second = await cli(['--db', url, '--json', 'db', 'migrate']);
    assert.deepEqual(JSON.parse(second.stdout).migrations[0].tables.map((t: { created: boolean }) => t.created), [false, false, false, false]);
    const status = await cli(['--db', url, 'db', 'status']);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /^0001_labstation_ops\tyes\tlab_hosts\tok$/m);
  });

  test('status on an empty database exits 1 and names what is missing', async () => {
    const path = join(dir.path, 'empty.db');
    writeFileSync(path, '');
    const url = `sqlite:${path}`;
    const r = await cli(['--db', url, 'db', 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /lab_hosts\tmissing/);
    assert.match(r.stderr, /labops db migrate/);
  });

  test('foreign keys cascade and the unique host name holds', async () => {
    const db = await openDatabase(`sqlite:${join(dir.path, 'fk.db')}`);
    try {
      await migrate(db.kysely, db.dialect);
      const { id } = await db.kysely.insertInto('lab_hosts').values({ name: 'ws1', address: 'a' }).returning('id').executeTakeFirstOrThrow();
      await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: id, timestamp_utc: '2026-01-01 00:00:00', raw_json: '{}' }).execute();
      await assert.rejects(db.kysely.insertInto('lab_hosts').values({ name: 'ws1', address: 'b' }).execute());
      await db.kysely.deleteFrom('lab_hosts').where('id', '=', id).execute();
      const left = await db.kysely.selectFrom('lab_host_heartbeat').selectAll().execute();
      assert.equal(left.length, 0);
    } finally {
      await db.close();
    }
  });

  test('a statement is prepared once per SQL text and reused', async () => {
    const db = await openDatabase(`sqlite:${join(dir.path, 'stmt.db')}`);
    const proto = BetterSqlite3.prototype as unknown as { prepare(sql: string): unknown };
    const prepare = proto.prepare;
    const prepared: string[] = [];
    proto.prepare = function (this: unknown, text: string) {
      prepared.push(text);
      return prepare.call(this, text);
    };
    try {
      await migrate(db.kysely, db.dialect);
      prepared.length = 0;
      for (let i = 0; i < 3; i++) await db.kysely.insertInto('lab_hosts').values({ name: `ws${i}`, address: 'a' }).execute();
      const names = () => db.kysely.selectFrom('lab_hosts').select('name').orderBy('name');
      assert.deepEqual((await names().execute()).map((r) => r.name), ['ws0', 'ws1', 'ws2']);
      assert.deepEqual((await names().execute()).map((r) => r.name), ['ws0', 'ws1', 'ws2']);
      assert.equal(prepared.length, 2, prepared.join('\n'));
      // And a different SQL text is prepared once more.
      await db.kysely.selectFrom('lab_hosts').select('id').execute();
      assert.equal(prepared.length, 3);
    } finally {
      proto.prepare = prepare;
      await db.close();
    }
  });
});

describe('MariaDB', () => {
  let maria: MariaDb | undefined;
  before(async (t) => {
    maria = await startMariaDb(t as never);
  });
  after(async () => maria?.stop());

  const showCreate = (m: MariaDb, dbName: string) =>
    Object.fromEntries(OPS_TABLES.map((t) => [t, m.sql(`SHOW CREATE TABLE \`${dbName}\`.${t}`)]));

  test('migrate creates the tables with the upstream names, keys and foreign keys', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('fresh');
    const r = await cli(['--db', url, 'db', 'migrate']);
    assert.equal(r.code, 0, r.stderr);
    const created = showCreate(maria, 'fresh');
    assert.match(created.lab_hosts!, /UNIQUE KEY `uk_lab_hosts_name` \(`name`\)/);
    assert.match(created.lab_hosts!, /enum\('pure','hybrid'\) DEFAULT 'pure'/);
    assert.match(created.lab_hosts!, /ON UPDATE current_timestamp\(\)/);
    assert.match(created.lab_host_heartbeat!, /CONSTRAINT `fk_heartbeat_host` FOREIGN KEY \(`host_id`\) REFERENCES `lab_hosts` \(`id`\) ON DELETE CASCADE/);
    assert.match(created.lab_host_heartbeat!, /KEY `idx_host_ts` \(`host_id`,`timestamp_utc`\)/);
    assert.match(created.lab_host_events!, /CONSTRAINT `fk_events_host`/);
    assert.match(created.lab_host_events!, /KEY `idx_host_kind_ts` \(`host_id`,`kind`,`timestamp_utc`\)/);
    assert.match(created.reservation_operations!, /KEY `idx_reservation_action` \(`reservation_id`,`action`\)/);
    assert.match(created.reservation_operations!, /`success` tinyint\(1\) NOT NULL DEFAULT 0/);
    // Same definitions as the upstream DDL produces, but for the character set labops declares (upstream leaves it to the server)
    maria.sql('CREATE DATABASE upstream_ref');
    maria.sql(`USE upstream_ref; ${UPSTREAM_DDL}`);
    const withoutCharset = (shown: Record<string, string>) => Object.fromEntries(Object.entries(shown).map(([k, v]) => [k, v.replace(/ DEFAULT CHARSET=\S+( COLLATE=\S+)?/, '')]));
    for (const table of Object.values(created)) assert.match(table, /\) ENGINE=InnoDB .*DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci\n?$/);
    assert.deepEqual(withoutCharset(created), withoutCharset(showCreate(maria, 'upstream_ref')));
  });

  test('on a latin1 server, the tables labops creates take an emoji (utf8mb4) and compare names case-insensitively', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    maria.sql('CREATE DATABASE latin1_db CHARACTER SET latin1');
    const r = await cli(['--db', maria.createDatabase('latin1_db'), 'db', 'migrate', '--create-foreign']);
    assert.equal(r.code, 0, r.stderr);
    const collations = maria.sql("SELECT DISTINCT table_collation FROM information_schema.tables WHERE table_schema = 'latin1_db'").trim();
    assert.equal(collations, 'utf8mb4_unicode_ci');
    maria.sql("SET NAMES utf8mb4; INSERT INTO latin1_db.lab_hosts (name, address) VALUES ('pc-\u{1F984}', '10.0.0.1')");
    assert.equal(maria.sql("SET NAMES utf8mb4; SELECT name FROM latin1_db.lab_hosts WHERE name = 'PC-\u{1F984}'").trim(), 'pc-\u{1F984}');
  });

  test('a fresh database gets every table with the shape labops always created it with, and every declared column', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('every_table');
    const r = await cli(['--db', url, 'db', 'migrate', '--create-foreign']);
    assert.equal(r.code, 0, r.stderr);
    maria.sql('CREATE DATABASE before_ref');
    maria.sql(`USE before_ref; ${BEFORE_MYSQL}`);
    const frozen = maria.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'before_ref' ORDER BY table_name").trim().split('\n');
    assert.ok(frozen.length >= 20, `the fixture holds ${frozen.length} tables`);
    for (const table of frozen) assert.equal(maria.sql(`SHOW CREATE TABLE every_table.${table}`), maria.sql(`SHOW CREATE TABLE before_ref.${table}`), table);
    // and every declared column, in declared order
    for (const table of ALL_TABLES) {
      const columns = maria.sql(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'every_table' AND table_name = '${table.name}' ORDER BY ordinal_position`);
      assert.deepEqual(columns.trim().split('\n'), Object.keys(table.columns), table.name);
    }
  });

  test('on a database that already has the upstream tables, migrate changes nothing', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('existing');
    maria.sql(`USE existing; ${UPSTREAM_DDL}; INSERT INTO lab_hosts (name, address) VALUES ('keep-me', '10.0.0.5');`);
    const before = showCreate(maria, 'existing');
    const r = await cli(['--db', url.replace('mysql://', 'mysql+pymysql://'), '--json', 'db', 'migrate']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).migrations[0].tables.map((x: { created: boolean }) => x.created), [false, false, false, false]);
    assert.deepEqual(showCreate(maria, 'existing'), before);
    assert.equal(maria.sql('SELECT name FROM existing.lab_hosts').trim(), 'keep-me');
  });

  test('status names the columns an existing table lacks', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('partial');
    maria.sql('USE partial; CREATE TABLE lab_hosts (id BIGINT PRIMARY KEY, name VARCHAR(128) NOT NULL)');
    const r = await cli(['--db', url, 'db', 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /lab_hosts\tmissing columns: address,mac,mode,last_seen,created_at,updated_at/);
  });

  test('status and doctor name a column whose type rejects what labops writes (an ENUM without PROVISIONING), before the first run', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('narrow_enum');
    assert.equal((await cli(['--db', url, 'db', 'migrate', '--create-foreign'])).code, 0);
    maria.sql("ALTER TABLE narrow_enum.lab_sessions MODIFY status ENUM('REQUESTED','ACTIVE','FAILED','EXPIRED','REVOKED') DEFAULT 'REQUESTED'");
    const r = await cli(['--db', url, 'db', 'status']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /lab_sessions\trejects what labops writes: status enum\('REQUESTED','ACTIVE','FAILED','EXPIRED','REVOKED'\) lacks 'PROVISIONING'$/m);
    const json = JSON.parse((await cli(['--db', url, '--json', 'db', 'status'])).stdout) as { migrations: { tables: { table: string; rejectingColumns: string[] }[] }[] };
    const others = json.migrations.flatMap((m) => m.tables).filter((x) => x.table !== 'lab_sessions');
    assert.ok(others.every((x) => x.rejectingColumns.length === 0), 'only lab_sessions is named');
    const doctor = await cli(['--db', url, '--json', 'doctor', '--sample', '0']);
    const check = (JSON.parse(doctor.stdout).checks as { check: string; status: string; detail: string }[]).find((c) => c.check === 'database')!;
    assert.equal(check.status, 'fail');
    assert.match(check.detail, /a column rejects what labops writes: lab_sessions\.status enum\(.*\) lacks 'PROVISIONING'$/);
    // widened by its owner, nothing is named
    maria.sql("ALTER TABLE narrow_enum.lab_sessions MODIFY status ENUM('REQUESTED','PROVISIONING','ACTIVE','FAILED','EXPIRED','REVOKED','EXTRA') DEFAULT 'REQUESTED'");
    assert.equal((await cli(['--db', url, 'db', 'status'])).code, 0);
  });

  test('times are UTC whatever the server time zone', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const db = await openDatabase(maria.createDatabase('tz'));
    try {
      await migrate(db.kysely, db.dialect);
      await db.kysely.insertInto('reservation_operations').values({ reservation_id: '0x1', host: 'h', action: 'wake', status: 'completed', success: 1 }).execute();
      const row = await sql<{ skew: number }>`SELECT ABS(TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP())) AS skew FROM reservation_operations`.execute(db.kysely);
      assert.ok(Number(row.rows[0]!.skew) < 60, `created_at is not UTC (skew ${row.rows[0]!.skew}s)`);
      const status = await migrationStatus(db.kysely, db.dialect);
      assert.ok(status[0]!.applied);
    } finally {
      await db.close();
    }
  });

  test('wrong credentials exit 4 without echoing the password', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const r = await cli(['db', 'status'], { MYSQL_DSN: `mysql+pymysql://labops:not-the-password@127.0.0.1:${maria.port}/labops` });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /access denied/);
    assert.doesNotMatch(r.stderr + r.stdout, /not-the-password/);
  });

  test('the password kept out of the URL: --db-password-file, LABOPS_DB_PASSWORD_FILE, an env: reference; it wins over the URL; a missing file is exit 2', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const dir = tempDir();
    try {
      const file = join(dir.path, 'db.pass');
      writeFileSync(file, `${maria.password}\n`, { mode: 0o600 });
      const bare = `mysql://labops@127.0.0.1:${maria.port}/labops`;
      const viaFlag = await cli(['--db', bare, '--db-password-file', file, 'db', 'status']);
      assert.notEqual(viaFlag.code, 4, viaFlag.stderr);
      assert.doesNotMatch(viaFlag.stderr, /access denied|unreachable/);
      const viaEnv = await cli(['db', 'status'], { LABOPS_DB: bare, LABOPS_DB_PASSWORD_FILE: file });
      assert.equal(viaEnv.code, viaFlag.code, viaEnv.stderr);
      const viaRef = await cli(['db', 'status'], { LABOPS_DB: bare, LABOPS_DB_PASSWORD: 'env:MYSQL_PWD', MYSQL_PWD: maria.password });
      assert.equal(viaRef.code, viaFlag.code, viaRef.stderr);
      // a seed MYSQL_DSN with a stale password: the password file wins
      const stale = await cli(['db', 'status'], { MYSQL_DSN: `mysql+pymysql://labops:stale-pw@127.0.0.1:${maria.port}/labops`, LABOPS_DB_PASSWORD_FILE: file });
      assert.equal(stale.code, viaFlag.code, stale.stderr);
      const without = await cli(['--db', bare, 'db', 'status']);
      assert.equal(without.code, 4, 'no password: refused');
      const missing = await cli(['--db', bare, '--db-password-file', join(dir.path, 'nope'), 'db', 'status']);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /db-password: cannot read secret file .*nope: ENOENT/);
      const shown = await cli(['--json', '--db', bare, '--db-password-file', file, 'config', 'show']);
      const setting = (JSON.parse(shown.stdout).settings as { key: string; value: string; source: string }[]).find((s) => s.key === 'db-password');
      assert.deepEqual(setting, { key: 'db-password', value: `file:${file} (reference)`, source: '--db-password-file' });
      assert.doesNotMatch(shown.stdout + viaFlag.stdout + viaFlag.stderr, new RegExp(maria.password));
    } finally {
      dir.cleanup();
    }
  });

  test('an unreachable database exits 3', async () => {
    const r = await cli(['--db', 'mysql://u:secret-pw@127.0.0.1:1/labops', 'db', 'status']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /database 127\.0\.0\.1:1 unreachable/);
    assert.doesNotMatch(r.stderr, /secret-pw/);
  });
});
