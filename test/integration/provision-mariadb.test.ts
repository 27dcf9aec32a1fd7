import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createConnection } from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { tempDir } from '../support/tmp.js';
import { addLab, addServer, addSession, countStatus } from '../support/collector.js';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { migrate, MIGRATIONS } from '../../src/core/db/migrations.js';
import { createStatements } from '../../src/core/db/table.js';
import { SshRunner } from '../../src/core/ssh/client.js';
import { shJoin } from '../../src/domain/shell-quote.js';
import { runSrcCli } from '../support/cli.js';


const labops = runSrcCli;

/** Creates the collector's (foreign) tables on MySQL, as the PHP UI's database would have them. */
async function createCollectorTables(db: Database): Promise<void> {
  for (const m of MIGRATIONS) for (const t of m.tables) if (t.foreign && ['servers', 'labs', 'lab_sessions'].includes(t.name)) for (const stmt of createStatements(t, 'mysql')) await sql.raw(stmt).execute(db.kysely);
}

describe('provisioning against a real MariaDB', () => {
  let sshd: TestSshd | undefined;
  let maria: MariaDb | undefined;
  const tmp = tempDir('labops-prov-maria-');
  const knownHosts = join(tmp.path, 'known_hosts');
  before(async (t) => {
    sshd = await startSshd(t as never);
    maria = await startMariaDb(t as never);
    if (sshd) writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
  });
  after(async () => {
    await maria?.stop();
    await sshd?.stop();
    tmp.cleanup();
  });
  const env = (url: string): NodeJS.ProcessEnv => ({ HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, LABOPS_DB: url, LABOPS_SSH_KNOWN_HOSTS: knownHosts, CI: process.env.CI ?? '' });

  async function setup(name: string, sessions: number) {
    const url = maria!.createDatabase(name);
    const db = await openDatabase(url);
    await createCollectorTables(db);
    await migrate(db.kysely, db.dialect);
    const log = join(sshd!.dir, 'out', `${name}.runs`);
    const script = sshd!.script(`${name}.sh`, `echo "labops $2" >> ${log}\nsleep 0.1`);
    const server = await addServer(db.kysely, { ip_address: sshd!.host, ssh_port: sshd!.port, ssh_user: sshd!.user, ssh_password: sshd!.password });
    const lab = await addLab(db.kysely, { server_id: server, provision_script_path: script });
    for (let i = 0; i < sessions; i++) await addSession(db.kysely, { lab_id: lab, namespace: `ns-${i}` });
    return { url, db, log };
  }
  const runsPerNamespace = (log: string) => {
    const counts = new Map<string, number>();
    for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
      const ns = line.split(' ')[1]!;
      counts.set(ns, (counts.get(ns) ?? 0) + 1);
    }
    return counts;
  };

  test('the foreign tables are not created on MySQL; migrate creates only labops_session_log/state', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('foreign_only');
    const db = await openDatabase(url);
    await migrate(db.kysely, db.dialect);
    const tables = maria.sql("SELECT table_name FROM information_schema.tables WHERE table_schema='foreign_only' ORDER BY table_name").trim().split('\n');
    assert.ok(tables.includes('labops_session_log') && tables.includes('labops_session_state'));
    assert.ok(!tables.includes('lab_sessions') && !tables.includes('servers'));
    await db.close();
    const r = await labops(['provision', 'sessions', '--once'], env(url));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /lacks what labops needs for provision: table lab_sessions, table labs, table servers/);
  });

  test('two labops processes never run a session twice', async (t) => {
    if (!maria || !sshd) return t.skip('no MariaDB or sshd');
    const { url, db, log } = await setup('two_procs', 40);
    const [a, b] = await Promise.all([labops(['provision', 'sessions', '--once', '--concurrency', '8'], env(url)), labops(['provision', 'sessions', '--once', '--concurrency', '8'], env(url))]);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const counts = runsPerNamespace(log);
    assert.equal(counts.size, 40);
    assert.deepEqual([...counts.values()].filter((n) => n !== 1), []);
    assert.equal(await countStatus(db.kysely, 'ACTIVE'), 40);
    assert.equal(await countStatus(db.kysely, 'PROVISIONING'), 0);
    await db.close();
  });

  test('labops beside a simulated old provision worker (its own SELECT … FOR UPDATE + UPDATE) never runs a session twice', async (t) => {
    if (!maria || !sshd) return t.skip('no MariaDB or sshd');
    const { url, db, log } = await setup('old_worker', 30);
    const script = join(sshd.dir, 'old_worker.sh');
    const conn = await createConnection({ host: '127.0.0.1', port: maria.port, user: maria.user, password: maria.password, database: 'old_worker' });
    const ssh = new SshRunner({ knownHostsFile: knownHosts, hostKeyMode: 'strict', connectTimeoutMs: 10_000, maxOutputBytes: 4096 });
    let stop = false;
    let oldRuns = 0;
    // provision_worker.py: one REQUESTED row, INNER JOIN labs/servers, ORDER BY id LIMIT 1 FOR UPDATE, run, UPDATE.
    // Simulated with its transaction in effect (autocommit off), the only way its FOR UPDATE means anything.
    const oldWorker = (async () => {
      while (!stop) {
        await conn.beginTransaction();
        const [rows] = await conn.query<RowDataPacket[]>(
          "SELECT ls.id, ls.username, ls.namespace FROM lab_sessions ls JOIN labs l ON ls.lab_id = l.id JOIN servers s ON l.server_id = s.id WHERE ls.status = 'REQUESTED' ORDER BY ls.id LIMIT 1 FOR UPDATE",
        );
        const row = rows[0];
        if (!row) {
          await conn.commit();
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        await ssh.run({ host: sshd!.host, port: sshd!.port, username: sshd!.user, password: sshd!.password }, shJoin(['bash', script, row.username, row.namespace]), { timeoutMs: 10_000 });
        oldRuns++;
        await conn.query("UPDATE lab_sessions SET status = 'ACTIVE', provisioned = 1 WHERE id = ?", [row.id]);
        await conn.commit();
      }
    })();
    sshd.script('old_worker.sh', `echo "old $2" >> ${log}\nsleep 0.1`);
    const r = await labops(['provision', 'sessions', '--once', '--concurrency', '4'], env(url));
    // let the old worker drain whatever labops left
    const deadline = Date.now() + 20_000;
    while ((await countStatus(db.kysely, 'REQUESTED')) > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    stop = true;
    await oldWorker;
    await conn.end();
    assert.ok([0].includes(r.code), r.stderr + r.stdout);
    const counts = runsPerNamespace(log);
    assert.equal(counts.size, 30);
    assert.deepEqual([...counts].filter(([, n]) => n !== 1), [], 'a session ran twice');
    assert.ok(oldRuns > 0, 'the old worker took part');
    assert.equal(await countStatus(db.kysely, 'ACTIVE'), 30);
    await db.close();
  });

  test('bad input on MySQL: a missing column and an ENUM status without PROVISIONING are named; nothing changes', async (t) => {
    if (!maria || !sshd) return t.skip('no MariaDB or sshd');
    const url = maria.createDatabase('bad_schema');
    maria.sql(`CREATE TABLE bad_schema.lab_sessions (id INT AUTO_INCREMENT PRIMARY KEY, username VARCHAR(64), lab_id INT, access_expiry DATETIME, status ENUM('REQUESTED','ACTIVE','FAILED','EXPIRED','REVOKED'), provisioned TINYINT(1) DEFAULT 0, created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP)`);
    const db = await openDatabase(url);
    for (const m of MIGRATIONS) for (const tb of m.tables) if (tb.foreign && ['servers', 'labs'].includes(tb.name)) for (const stmt of createStatements(tb, 'mysql')) await sql.raw(stmt).execute(db.kysely);
    await migrate(db.kysely, db.dialect);
    maria.sql("INSERT INTO bad_schema.lab_sessions (username, lab_id, status) VALUES ('u', 1, 'REQUESTED')");
    const r = await labops(['provision', 'sessions', '--once'], env(url));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /lab_sessions\.namespace/);
    maria.sql('ALTER TABLE bad_schema.lab_sessions ADD COLUMN namespace VARCHAR(64)');
    const r2 = await labops(['provision', 'sessions', '--once'], env(url));
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /lab_sessions\.status is enum\(.*\), which lacks 'PROVISIONING'/);
    assert.equal(maria.sql('SELECT status FROM bad_schema.lab_sessions').trim(), 'REQUESTED');
    await db.close();
  });
});
