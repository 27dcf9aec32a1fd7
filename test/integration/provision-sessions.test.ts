import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { tempDir } from '../support/tmp.js';
import { freePort, waitFor } from '../support/services.js';
import { addLab, addServer, addSession, countStatus, sessionRow } from '../support/collector.js';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';

describe('provision sessions / cleanup against a real sshd (SQLite store)', () => {
  let sshd: TestSshd | undefined;
  let db: Database;
  const tmp = tempDir('labops-provision-');
  const dbUrl = `sqlite:${join(tmp.path, 'labops.db')}`;
  const knownHosts = join(tmp.path, 'known_hosts');
  let serverId = 0;
  let okLab = 0;
  let slowLab = 0;
  let failLab = 0;
  let hangLab = 0;
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, LABOPS_DB: dbUrl, LABOPS_SSH_KNOWN_HOSTS: knownHosts, ...extra });
  async function cli(args: string[], extra: NodeJS.ProcessEnv = {}, signals?: RunSignals) {
    const io = IOStreams.test();
    const code = await run(args, { io, env: env(extra), signals });
    return { code, stdout: io.outText(), stderr: io.errText() };
  }

  before(async (t) => {
    sshd = await startSshd(t as never);
    if (!sshd) return;
    writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
    db = await openDatabase(dbUrl);
    await migrate(db.kysely, db.dialect);
    const out = join(sshd.dir, 'out');
    const ok = sshd.script('provision_ok.sh', `f=$(printf %s "$2" | tr -c 'A-Za-z0-9-' _)\nprintf '%s\\n' "$@" > ${out}/args.$f\necho "SUCCESS|USER=$1"`);
    const fail = sshd.script('provision_fail.sh', 'echo "partial output"\necho "ERROR|quota exceeded for $1" >&2\nexit 7');
    const hang = sshd.script('provision_hang.sh', 'sleep 300');
    serverId = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
    okLab = await addLab(db.kysely, { server_id: serverId, provision_script_path: ok, cleanup_script_path: sshd.script('cleanup_ok.sh', `echo "$@" > ${out}/cleaned.$2`) });
    failLab = await addLab(db.kysely, { server_id: serverId, provision_script_path: fail, cleanup_script_path: fail });
    hangLab = await addLab(db.kysely, { server_id: serverId, provision_script_path: hang });
    slowLab = await addLab(db.kysely, { server_id: serverId, provision_script_path: sshd.script('provision_slow.sh', 'sleep 2\necho "SUCCESS|USER=$1"') });
  });
  after(async () => {
    await db?.close();
    await sshd?.stop();
    tmp.cleanup();
  });

  // each test starts from no REQUESTED sessions
  const clear = () => sql`UPDATE lab_sessions SET status = 'FAILED' WHERE status IN ('REQUESTED', 'ACTIVE', 'REVOKED')`.execute(db.kysely);

  test('exit 0 -> ACTIVE, provisioned=1; arguments with quotes, spaces, ; and $(…) arrive intact', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const marker = join(sshd.dir, 'out', 'pwned');
    const username = `o'brien; touch ${marker}`;
    const namespace = `ns-$(touch ${marker})-"x y"`;
    const id = await addSession(db.kysely, { lab_id: okLab, username, namespace });
    const r = await cli(['provision', 'sessions', '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await sessionRow(db.kysely, id), { id, status: 'ACTIVE', provisioned: 1 });
    assert.equal(readFileSync(join(sshd.dir, 'out', `args.${namespace.replace(/[^A-Za-z0-9-]/g, '_')}`), 'utf8'), `${username}\n${namespace}\n`);
    assert.equal(existsSync(marker), false);
    const log = await db.kysely.selectFrom('labops_session_log').selectAll().where('session_id', '=', id).executeTakeFirstOrThrow();
    assert.equal(log.outcome, 'active');
    assert.match(String(log.stdout), /SUCCESS\|USER=o'brien/);
  });

  test('non-zero exit -> FAILED with the stderr kept in labops_session_log; exit 1', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const id = await addSession(db.kysely, { lab_id: failLab });
    const r = await cli(['provision', 'sessions', '--once']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal((await sessionRow(db.kysely, id)).status, 'FAILED');
    const log = await db.kysely.selectFrom('labops_session_log').selectAll().where('session_id', '=', id).executeTakeFirstOrThrow();
    assert.equal(log.exit_code, 7);
    assert.match(String(log.stderr), /ERROR\|quota exceeded for student/);
    assert.match(r.stdout, /exited with code 7/);
  });

  test('wrong password -> FAILED with a clear reason, not retried; exit 4', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const badServer = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: 'not-the-password' });
    const lab = await addLab(db.kysely, { server_id: badServer, provision_script_path: '/bin/true' });
    const id = await addSession(db.kysely, { lab_id: lab });
    const r = await cli(['provision', 'sessions', '--once']);
    assert.equal(r.code, 4, r.stderr);
    assert.equal((await sessionRow(db.kysely, id)).status, 'FAILED');
    assert.match(r.stdout, /SSH authentication failed/);
    assert.doesNotMatch(r.stdout + r.stderr, /not-the-password/);
  });

  test('changed host key -> FAILED, refused with a clear message', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const otherKnown = join(tmp.path, 'known_hosts_wrong');
    writeFileSync(otherKnown, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    const id = await addSession(db.kysely, { lab_id: okLab });
    const r = await cli(['provision', 'sessions', '--once'], { LABOPS_SSH_KNOWN_HOSTS: otherKnown });
    assert.equal(r.code, 4);
    assert.equal((await sessionRow(db.kysely, id)).status, 'FAILED');
    assert.match(r.stdout, /HOST KEY CHANGED/);
  });

  test('unknown host key: refused in strict mode, accepted and recorded with --accept-new', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const fresh = join(tmp.path, 'known_hosts_fresh');
    const id = await addSession(db.kysely, { lab_id: okLab, namespace: 'ns-accept' });
    const r = await cli(['provision', 'sessions', '--once', '--accept-new'], { LABOPS_SSH_KNOWN_HOSTS: fresh });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /accepted new host key for 127\.0\.0\.1:\d+: ssh-ed25519 SHA256:/);
    assert.equal(readFileSync(fresh, 'utf8'), `${sshd.knownHostsLine}\n`);
    assert.equal((await sessionRow(db.kysely, id)).status, 'ACTIVE');
  });

  test('unreachable host -> released to REQUESTED with backoff, then not retried before the backoff ends; exit 3', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const dead = await addServer(db.kysely, { ip_address: '127.0.0.1', ssh_port: await freePort(), ssh_user: sshd.user, ssh_password: sshd.password });
    const lab = await addLab(db.kysely, { server_id: dead, provision_script_path: '/bin/true' });
    const id = await addSession(db.kysely, { lab_id: lab });
    const r = await cli(['provision', 'sessions', '--once']);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(await sessionRow(db.kysely, id), { id, status: 'REQUESTED', provisioned: 0 });
    const st = await db.kysely.selectFrom('labops_session_state').selectAll().where('session_id', '=', id).executeTakeFirstOrThrow();
    assert.equal(st.attempts, 1);
    assert.match(String(st.last_error), /ECONNREFUSED/);
    const again = await cli(['provision', 'sessions', '--once', '--json']);
    assert.equal(again.code, 0);
    assert.deepEqual(JSON.parse(again.stdout).sessions, []);
  });

  test('a hung script is killed by the timeout and never blocks the other sessions', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const hung = await addSession(db.kysely, { lab_id: hangLab });
    const quick = await Promise.all([1, 2, 3].map((i) => addSession(db.kysely, { lab_id: okLab, namespace: `ns-quick-${i}` })));
    const r = await cli(['provision', 'sessions', '--once', '--timeout', '2s', '--concurrency', '2', '--json']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal((await sessionRow(db.kysely, hung)).status, 'FAILED');
    for (const id of quick) assert.equal((await sessionRow(db.kysely, id)).status, 'ACTIVE');
    const out = JSON.parse(r.stdout).sessions.find((s: { sessionId: number }) => s.sessionId === hung);
    assert.match(out.message, /timed out after 2s and was killed/);
  });

  test('bastion_host means "run it on the bastion" (host:port accepted)', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const lab = await addLab(db.kysely, { server_id: null, provision_script_path: join(sshd.dir, 'provision_ok.sh'), bastion_host: `${sshd.host}:${sshd.port}`, bastion_user: sshd.user, bastion_password: sshd.password });
    const id = await addSession(db.kysely, { lab_id: lab, namespace: 'ns-bastion' });
    const r = await cli(['provision', 'sessions', '--once']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await sessionRow(db.kysely, id)).status, 'ACTIVE');
    assert.ok(existsSync(join(sshd.dir, 'out', 'args.ns-bastion')));
  });

  test('an explicit jump host', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const id = await addSession(db.kysely, { lab_id: okLab, namespace: 'ns-jump' });
    const r = await cli(['provision', 'sessions', '--once', '--jump', `${sshd.user}@${sshd.host}:${sshd.port}`], { LABOPS_SSH_JUMP_PASSWORD: 'env:JUMP_PW', JUMP_PW: sshd.password });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await sessionRow(db.kysely, id)).status, 'ACTIVE');
  });

  test('bad input: missing script path, server without address, unknown lab, NULL columns; nothing stuck in PROVISIONING; exit 2', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const noScript = await addSession(db.kysely, { lab_id: await addLab(db.kysely, { server_id: serverId, provision_script_path: null }) });
    const noAddrServer = await addServer(db.kysely, { ip_address: null, hostname: null, ssh_user: 'x', ssh_password: 'y' });
    const noAddr = await addSession(db.kysely, { lab_id: await addLab(db.kysely, { server_id: noAddrServer, provision_script_path: '/bin/true' }) });
    const missingServer = await addSession(db.kysely, { lab_id: await addLab(db.kysely, { server_id: 9999, provision_script_path: '/bin/true' }) });
    const unknownLab = await addSession(db.kysely, { lab_id: 4242 });
    const nullUser = await addSession(db.kysely, { lab_id: okLab, username: null });
    const nullNs = await addSession(db.kysely, { lab_id: okLab, namespace: null });
    const nullProvisioned = await addSession(db.kysely, { lab_id: okLab, provisioned: null, namespace: 'ns-null-prov' });
    const r = await cli(['provision', 'sessions', '--once']);
    assert.equal(r.code, 5, r.stderr + r.stdout); // the NULL-provisioned one succeeds: mixed
    assert.match(r.stdout, /lab \d+ has no provision_script_path/);
    assert.match(r.stdout, /no ip_address or hostname/);
    assert.match(r.stdout, /names server 9999, which does not exist/);
    assert.match(r.stderr, new RegExp(`session ${unknownLab}: lab 4242 does not exist; left REQUESTED`));
    assert.match(r.stdout, new RegExp(`session ${nullUser} has no username`));
    assert.match(r.stdout, new RegExp(`session ${nullNs} has no namespace`));
    for (const id of [noScript, noAddr, missingServer, nullUser, nullNs]) assert.equal((await sessionRow(db.kysely, id)).status, 'FAILED');
    assert.equal((await sessionRow(db.kysely, unknownLab)).status, 'REQUESTED');
    assert.equal((await sessionRow(db.kysely, nullProvisioned)).status, 'ACTIVE');
    assert.equal(await countStatus(db.kysely, 'PROVISIONING'), 0);
    await sql`UPDATE lab_sessions SET status = 'FAILED' WHERE id = ${unknownLab}`.execute(db.kysely);
    const only = await addSession(db.kysely, { lab_id: 4343 });
    const r2 = await cli(['provision', 'sessions', '--once']);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /lab 4343 does not exist/);
    await sql`UPDATE lab_sessions SET status = 'FAILED' WHERE id = ${only}`.execute(db.kysely);
  });

  test('a lab_sessions table missing a column: exit 2 naming it, nothing changed', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const url = `sqlite:${join(tmp.path, 'partial.db')}`;
    const other = await openDatabase(url);
    await migrate(other.kysely, other.dialect);
    await sql`ALTER TABLE lab_sessions DROP COLUMN namespace`.execute(other.kysely);
    await sql`INSERT INTO lab_sessions (username, lab_id, status, provisioned) VALUES ('u', 1, 'REQUESTED', 0)`.execute(other.kysely);
    const r = await cli(['provision', 'sessions', '--once'], { LABOPS_DB: url });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /lacks what labops needs for provision: lab_sessions\.namespace/);
    const rows = await sql<{ status: string }>`SELECT status FROM lab_sessions`.execute(other.kysely);
    assert.deepEqual(rows.rows.map((x) => x.status), ['REQUESTED']);
    await other.close();
  });

  test('cleanup: ACTIVE past access_expiry -> EXPIRED, REVOKED stays, provisioned=0; failures back off; future expiry untouched', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const expired = await addSession(db.kysely, { lab_id: okLab, status: 'ACTIVE', provisioned: 1, namespace: 'ns-exp', access_expiry: '2020-01-01 00:00:00' });
    const revoked = await addSession(db.kysely, { lab_id: okLab, status: 'REVOKED', provisioned: 1, namespace: 'ns-rev', access_expiry: '2099-01-01 00:00:00' });
    const current = await addSession(db.kysely, { lab_id: okLab, status: 'ACTIVE', provisioned: 1, namespace: 'ns-cur', access_expiry: '2099-01-01T00:00:00Z' });
    const failing = await addSession(db.kysely, { lab_id: failLab, status: 'REVOKED', provisioned: 1, namespace: 'ns-fail' });
    const r = await cli(['provision', 'cleanup', '--once']);
    assert.equal(r.code, 5, r.stderr + r.stdout);
    assert.deepEqual(await sessionRow(db.kysely, expired), { id: expired, status: 'EXPIRED', provisioned: 0 });
    assert.deepEqual(await sessionRow(db.kysely, revoked), { id: revoked, status: 'REVOKED', provisioned: 0 });
    assert.deepEqual(await sessionRow(db.kysely, current), { id: current, status: 'ACTIVE', provisioned: 1 });
    assert.deepEqual(await sessionRow(db.kysely, failing), { id: failing, status: 'REVOKED', provisioned: 1 });
    assert.equal(readFileSync(join(sshd.dir, 'out', 'cleaned.ns-exp'), 'utf8'), 'student ns-exp\n');
    const st = await db.kysely.selectFrom('labops_session_state').selectAll().where('session_id', '=', failing).where('phase', '=', 'cleanup').executeTakeFirstOrThrow();
    assert.equal(st.attempts, 1);
    assert.match(r.stdout, /cleanup script exited with code 7; retry 1 not before/);
    const again = await cli(['provision', 'cleanup', '--once', '--json']);
    assert.deepEqual(JSON.parse(again.stdout).sessions, [], 'the failing one waits out its backoff');
    await sql`UPDATE lab_sessions SET status = 'FAILED', provisioned = 0 WHERE id = ${current} OR id = ${failing}`.execute(db.kysely);
  });

  test('without --once: loops, picks up new sessions, stops cleanly on interrupt', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const controller = new RunSignals();
    const running = cli(['provision', 'sessions', '--interval', '200ms'], {}, controller);
    const first = await addSession(db.kysely, { lab_id: okLab, namespace: 'ns-loop-1' });
    await waitFor(async () => (await sessionRow(db.kysely, first)).status === 'ACTIVE', 'first session', 15_000);
    const second = await addSession(db.kysely, { lab_id: okLab, namespace: 'ns-loop-2' });
    await waitFor(async () => (await sessionRow(db.kysely, second)).status === 'ACTIVE', 'second session', 15_000);
    controller.receive('SIGINT');
    const r = await running;
    assert.equal(r.code, 130);
    assert.match(r.stderr, new RegExp(`session ${second}: active -> ACTIVE`));
    assert.equal(await countStatus(db.kysely, 'PROVISIONING'), 0);
  });

  test('without --once, SIGTERM: nothing new is claimed, the script in flight finishes, exit 0', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await clear();
    const signals = new RunSignals();
    const running = cli(['provision', 'sessions', '--interval', '200ms'], {}, signals);
    const slow = await addSession(db.kysely, { lab_id: slowLab, namespace: 'ns-term-1' });
    await waitFor(async () => (await sessionRow(db.kysely, slow)).status === 'PROVISIONING', 'the slow session claimed', 15_000).catch(async (e) => {
      signals.receive('SIGINT');
      await running;
      throw e;
    });
    signals.receive('SIGTERM');
    const later = await addSession(db.kysely, { lab_id: okLab, namespace: 'ns-term-2' });
    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await sessionRow(db.kysely, slow)).status, 'ACTIVE', 'the script in flight ran to its end');
    assert.equal((await sessionRow(db.kysely, later)).status, 'REQUESTED', 'nothing claimed after SIGTERM');
  });
});
