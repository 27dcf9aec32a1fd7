import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { tempDir } from '../support/tmp.js';
import { freePort } from '../support/services.js';
import { addServer } from '../support/collector.js';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';

describe('servers check against a real sshd (SQLite store)', () => {
  let sshd: TestSshd | undefined;
  let db: Database;
  const tmp = tempDir('labops-servers-');
  const dbUrl = `sqlite:${join(tmp.path, 'labops.db')}`;
  const knownHosts = join(tmp.path, 'known_hosts');
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, LABOPS_DB: dbUrl, LABOPS_SSH_KNOWN_HOSTS: knownHosts, ...extra });
  async function cli(args: string[], extra: NodeJS.ProcessEnv = {}) {
    const io = IOStreams.test();
    const code = await run(args, { io, env: env(extra) });
    return { code, stdout: io.outText(), stderr: io.errText() };
  }
  const alerts = (id: number) => db.kysely.selectFrom('alerts').select(['alert_type', 'active', 'message']).where('server_id', '=', id).orderBy('id').execute();

  before(async (t) => {
    sshd = await startSshd(t as never);
    if (!sshd) return;
    writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
    db = await openDatabase(dbUrl);
    await migrate(db.kysely, db.dialect);
  });
  after(async () => {
    await db?.close();
    await sshd?.stop();
    tmp.cleanup();
  });

  test('one round trip stores OS, virtualization, uptime, sshd state and CPU/memory/disk % in server_metrics', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const id = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
    const r = await cli(['servers', 'check', '--once', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const m = await db.kysely.selectFrom('server_metrics').selectAll().where('server_id', '=', id).executeTakeFirstOrThrow();
    assert.equal(m.reachable, 1);
    assert.equal(m.sshd_status, 'active');
    assert.match(String(m.os_version), /Debian|Linux/);
    assert.ok(m.virtualization && m.virtualization !== 'NA');
    assert.match(String(m.uptime), /^up /);
    for (const v of [m.cpu_usage, m.mem_usage, m.disk_usage]) assert.ok(typeof v === 'number' && v >= 0 && v <= 100, String(v));
    assert.ok(m.mem_usage! > 0 && m.disk_usage! > 0);
    assert.deepEqual(await alerts(id), []);
    await sql`UPDATE servers SET enabled = 0 WHERE id = ${id}`.execute(db.kysely);
  });

  test('HOST_DOWN: one active alert per server however many passes, cleared on recovery', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const id = await addServer(db.kysely, { ip_address: '127.0.0.1', ssh_port: await freePort(), ssh_user: sshd.user, ssh_password: sshd.password });
    for (let i = 0; i < 3; i++) assert.equal((await cli(['servers', 'check', '--once'])).code, 3);
    assert.deepEqual(await alerts(id), [{ alert_type: 'HOST_DOWN', active: 1, message: 'Server unreachable' }]);
    const down = await db.kysely.selectFrom('server_metrics').selectAll().where('server_id', '=', id).execute();
    assert.equal(down.length, 3);
    assert.deepEqual([down[0]!.os_version, down[0]!.sshd_status, down[0]!.reachable, down[0]!.cpu_usage], ['NA', 'down', 0, 0]);
    await sql`UPDATE servers SET ssh_port = ${sshd.port} WHERE id = ${id}`.execute(db.kysely);
    assert.equal((await cli(['servers', 'check', '--once'])).code, 0);
    assert.deepEqual(await alerts(id), [{ alert_type: 'HOST_DOWN', active: 0, message: 'Server unreachable' }]);
    await sql`UPDATE servers SET enabled = 0 WHERE id = ${id}`.execute(db.kysely);
  });

  test('wrong password: SSH_LOGIN_FAILED, exit 4; thresholds open DISK_HIGH; a row without address is named; exit 5 when mixed', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const bad = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: 'nope' });
    const r = await cli(['servers', 'check', '--once']);
    assert.equal(r.code, 4, r.stderr);
    assert.equal((await alerts(bad))[0]!.alert_type, 'SSH_LOGIN_FAILED');
    await sql`UPDATE servers SET enabled = 0 WHERE id = ${bad}`.execute(db.kysely);
    const good = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
    const noAddr = await addServer(db.kysely, { ip_address: null, hostname: null, ssh_user: 'x' });
    const r2 = await cli(['servers', 'check', '--once'], { LABOPS_CONFIG: writeConfig({ servers: { 'disk-threshold': 0 } }) });
    assert.equal(r2.code, 5, r2.stderr + r2.stdout);
    assert.match(r2.stdout, new RegExp(`server ${noAddr} has no ip_address or hostname`));
    assert.deepEqual((await alerts(good)).map((a) => [a.alert_type, a.active]), [['DISK_HIGH', 1]]);
    await sql`UPDATE servers SET enabled = 0 WHERE id IN (${good}, ${noAddr})`.execute(db.kysely);
  });

  test('retention deletes old server_metrics rows', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const id = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
    await db.kysely.insertInto('server_metrics').values({ server_id: id, os_version: 'old', virtualization: 'NA', uptime: 'NA', sshd_status: 'active', reachable: 1, cpu_usage: 0, mem_usage: 0, disk_usage: 0, collected_at: '2020-01-01 00:00:00' }).execute();
    const r = await cli(['servers', 'check', '--once', '--json'], { LABOPS_METRICS_RETENTION: '720h' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).pruned >= 1);
    const left = await db.kysely.selectFrom('server_metrics').select('os_version').where('os_version', '=', 'old').execute();
    assert.equal(left.length, 0);
  });

  function writeConfig(obj: unknown): string {
    const p = join(tmp.path, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(p, JSON.stringify(obj));
    return p;
  }
});
