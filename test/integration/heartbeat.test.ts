// Heartbeat ingestion end to end: simulated Lab Stations write their files with the real quirks to a
// "share", labops polls them (file source) into SQLite and a real MariaDB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStationRuntime, ManualClock, type StationRuntime } from '../../src/sim/labstation/index.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { openDatabase } from '../../src/core/db/database.js';
import { pythonJsonDumps } from '../../src/domain/python-json.js';
import { storeHeartbeats } from '../../src/core/db/heartbeat-store.js';
import { parseHeartbeat } from '../../src/domain/heartbeat/normalize.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const NAMES = ['lab-ws-01', 'lab-ws-02', 'lab-ws-03'];

function setup() {
  const dir = tempDir('labops-hb-');
  const clock = new ManualClock(Date.UTC(2026, 7, 24, 8, 0, 0));
  const stations: StationRuntime[] = NAMES.map((name) => createStationRuntime({ name, stateDir: dir.path, clock, fsync: false }));
  for (const s of stations) s.writeHeartbeat();
  const inventory = join(dir.path, 'hosts.json');
  writeFileSync(inventory, JSON.stringify({ hosts: NAMES.map((name, i) => ({ name, address: `127.0.3.${i + 1}`, mac: `02:00:00:00:03:0${i + 1}`, labs: [String(i + 1)] })) }));
  const path = join(dir.path, 'stations', '{host}', 'labstation', 'data', 'telemetry', 'heartbeat.json');
  return { dir, clock, stations, inventory, path };
}

async function cli(args: string[], clock?: ManualClock) {
  const io = IOStreams.test();
  const code = await run(args, { io, env: { HOME: '/nonexistent' }, clock: clock ? { now: () => clock.now(), sleep: async () => {} } : undefined });
  return { code, stdout: io.outText(), stderr: io.errText() };
}

describe('heartbeat poll (file source, SQLite)', () => {
  const env = setup();
  const db = `sqlite:${join(env.dir.path, 'labops.db')}`;
  const base = ['--hosts', env.inventory, '--db', db];
  const poll = (...extra: string[]) => cli([...base, '--json', 'heartbeat', 'poll', '--source', 'file', '--path', env.path, ...extra], env.clock);
  before(async () => {
    assert.equal((await cli([...base, 'db', 'migrate'])).code, 0);
  });
  after(() => {
    for (const s of env.stations) s.close();
    env.dir.cleanup();
  });

  test('stores one row per host with the ops-worker columns and raw_json as json.dumps writes it', async () => {
    const r = await poll('--all');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const res = JSON.parse(r.stdout);
    assert.deepEqual(res.hosts.map((h: { host: string; ok: boolean; heartbeatStored: boolean }) => [h.host, h.ok, h.heartbeatStored]), NAMES.map((n) => [n, true, true]));
    const d = await openDatabase(db);
    try {
      const rows = await d.kysely.selectFrom('lab_host_heartbeat').innerJoin('lab_hosts', 'lab_hosts.id', 'lab_host_heartbeat.host_id').selectAll().orderBy('name').execute();
      assert.equal(rows.length, 3);
      const file = readFileSync(join(env.dir.path, 'stations', 'lab-ws-01', 'labstation', 'data', 'telemetry', 'heartbeat.json'), 'utf8').replace(/^\uFEFF/, '');
      assert.equal(rows[0]!.raw_json, pythonJsonDumps(JSON.parse(file)));
      assert.match(rows[0]!.raw_json, /^\{"autoStartConfigured": true, /);
      assert.equal(rows[0]!.timestamp_utc, '2026-08-24 08:00:00');
      assert.equal(rows[0]!.last_seen, '2026-08-24 08:00:00');
      assert.equal(Number(rows[0]!.local_mode), 0);
    } finally {
      await d.close();
    }
  });

  test('an unchanged heartbeat adds no row; a new one does', async () => {
    const again = JSON.parse((await poll('--all')).stdout);
    assert.ok(again.hosts.every((h: { heartbeatStored: boolean }) => !h.heartbeatStored));
    await env.clock.advance(60_000);
    for (const s of env.stations) s.writeHeartbeat();
    const next = JSON.parse((await poll('lab-ws-02')).stdout);
    assert.equal(next.hosts[0].heartbeatStored, true);
    const d = await openDatabase(db);
    try {
      const n = await d.kysely.selectFrom('lab_host_heartbeat').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 4);
    } finally {
      await d.close();
    }
  });

  test('a forced logoff is stored once and linked to the reservation whose prepare evicted it', async () => {
    const s2 = env.stations[1]!;
    s2.machine.logon('teacher');
    const d = await openDatabase(db);
    await d.kysely.insertInto('reservation_operations').values({ reservation_id: '0xfeed', lab_id: '2', host: 'lab-ws-02', action: 'prepare', status: 'completed', success: 1, response_code: 0, created_at: '2026-08-24 08:02:30' }).execute();
    await d.close();
    const r = await env.clock.drive(s2.execute(['prepare-session', '--guard-grace=90']));
    assert.equal(r.exitCode, 0, r.stdout);
    s2.writeHeartbeat();
    for (let i = 0; i < 2; i++) {
      const res = JSON.parse((await poll('lab-ws-02')).stdout);
      assert.equal(res.hosts[0].eventsStored, i === 0 ? 1 : 0);
    }
    const shown = await cli([...base, '--json', 'heartbeat', 'show', '--events']);
    const logoffs = JSON.parse(shown.stdout).forcedLogoffs;
    assert.equal(logoffs.length, 1);
    assert.equal(logoffs[0].user, 'teacher');
    assert.equal(logoffs[0].reservationId, '0xfeed');
    assert.equal(logoffs[0].grace, 90);
    const table = await cli([...base, 'heartbeat', 'show']);
    assert.match(table.stdout, /^lab-ws-02\tyes\tno\tno\t2026-08-24T08:0\d:\d\d\.000Z\t/m);
  });

  test('a file that is not a heartbeat: exit 2 with host, source and position, nothing stored for it', async () => {
    const p = join(env.dir.path, 'stations', 'lab-ws-03', 'labstation', 'data', 'telemetry', 'heartbeat.json');
    const good = readFileSync(p);
    writeFileSync(p, good.subarray(0, 200));
    const one = await poll('lab-ws-03');
    assert.equal(one.code, 2);
    const h = JSON.parse(one.stdout).hosts[0];
    assert.equal(h.error.kind, 'format');
    assert.match(h.error.message, /lab-ws-03.*heartbeat\.json: not valid JSON: .*\(line 1, column \d+\)/);
    assert.equal(h.error.line, 1);
    const all = await poll('--all');
    assert.equal(all.code, 5, 'the other hosts are still polled');
    assert.deepEqual(JSON.parse(all.stdout).hosts.map((x: { ok: boolean }) => x.ok), [true, true, false]);
    writeFileSync(p, Buffer.from([0x00, 0x01, 0x02]));
    assert.match(JSON.parse((await poll('lab-ws-03')).stdout).hosts[0].error.message, /binary data/);
    writeFileSync(p, '');
    assert.match(JSON.parse((await poll('lab-ws-03')).stdout).hosts[0].error.message, /the file is empty/);
    copyFileSync(join(env.dir.path, 'stations', 'lab-ws-01', 'labstation', 'data', 'telemetry', 'heartbeat.json'), p);
    const other = JSON.parse((await poll('lab-ws-03')).stdout).hosts[0];
    assert.equal(other.error.kind, 'other-station');
    assert.match(other.error.message, /another station \('LAB-WS-01', inventory host 'lab-ws-01'\)/);
    rmSync(p);
    const missing = await poll('lab-ws-03');
    assert.equal(missing.code, 3);
    writeFileSync(p, good);
  });

  test('a heartbeat without operations is completed from service-state.ini (UTF-16LE)', async () => {
    // read after it was written (a heartbeat from the poller's future is clock skew)
    await env.clock.advanceTo(Math.max(env.clock.now(), Date.UTC(2026, 7, 24, 8, 30, 30)));
    const p = join(env.dir.path, 'stations', 'lab-ws-02', 'labstation', 'data', 'telemetry', 'heartbeat.json');
    const doc = JSON.parse(readFileSync(p, 'utf8').replace(/^\uFEFF/, ''));
    delete doc.operations;
    delete doc.status.operations;
    delete doc.status.lastForcedLogoff;
    doc.timestamp = '2026-08-24T08:30:00Z';
    writeFileSync(p, `\uFEFF${JSON.stringify(doc)}`);
    const r = await poll('lab-ws-02');
    assert.equal(r.code, 0, r.stderr);
    const d = await openDatabase(db);
    try {
      const row = await d.kysely.selectFrom('lab_host_heartbeat').selectAll().where('timestamp_utc', '=', '2026-08-24 08:30:00').executeTakeFirstOrThrow();
      assert.equal(row.last_forced_logoff_user, 'teacher');
    } finally {
      await d.close();
    }
  });
});

describe("a station whose clock runs hours ahead", () => {
  const env = setup();
  const db = `sqlite:${join(env.dir.path, 'skew.db')}`;
  const base = ['--hosts', env.inventory, '--db', db];
  after(() => {
    for (const s of env.stations) s.close();
    env.dir.cleanup();
  });

  test('flagged (warning, clock-skew alert), last_seen is the poll time, and its forced logoff is linked to the reservation by the measured skew', async () => {
    assert.equal((await cli([...base, 'db', 'migrate'])).code, 0);
    const telemetry = join(env.dir.path, 'stations', 'lab-ws-03', 'labstation', 'data', 'telemetry');
    const now = env.clock.now();
    const ahead = 3 * 3_600_000;
    const stationTime = (ms: number) => new Date(ms + ahead).toISOString().replace('.000Z', 'Z');
    const doc = JSON.parse(readFileSync(join(telemetry, 'heartbeat.json'), 'utf8').replace(/^\uFEFF/, ''));
    doc.timestamp = stationTime(now - 20_000);
    writeFileSync(join(telemetry, 'heartbeat.json'), JSON.stringify(doc));
    // the prepare ran a minute ago by the real clock; the station wrote its eviction by its own
    const d = await openDatabase(db);
    await d.kysely.insertInto('reservation_operations').values({ reservation_id: '0xskew', lab_id: '3', host: 'lab-ws-03', action: 'prepare', status: 'completed', success: 1, response_code: 0, created_at: new Date(now - 60_000).toISOString().slice(0, 19).replace('T', ' ') }).execute();
    await d.close();
    const event = { force: true, grace: 90, message: 'session closes', sessionId: '2', source: 'session-guard', state: 'Active', timestamp: stationTime(now - 58_000), user: 'teacher' };
    writeFileSync(join(telemetry, 'session-guard-events.jsonl'), `${JSON.stringify(event)}\n`);
    const r = await cli([...base, '--json', 'heartbeat', 'poll', 'lab-ws-03', '--source', 'file', '--path', env.path], env.clock);
    assert.equal(r.code, 0, r.stderr);
    const host = JSON.parse(r.stdout).hosts[0];
    assert.ok(host.clockSkewMs > ahead - 60_000 && host.clockSkewMs < ahead, String(host.clockSkewMs));
    assert.match(r.stderr, /lab-ws-03: clock skew: the heartbeat is dated .*, 3 h ahead of this machine's clock/);
    const check = await openDatabase(db);
    try {
      const row = await check.kysely.selectFrom('lab_hosts').select('last_seen').where('name', '=', 'lab-ws-03').executeTakeFirstOrThrow();
      assert.equal(row.last_seen, new Date(now).toISOString().slice(0, 19).replace('T', ' '), 'last_seen is the poll time, not the station\'s future');
    } finally {
      await check.close();
    }
    const logoffs = JSON.parse((await cli([...base, '--json', 'heartbeat', 'show', '--events', 'lab-ws-03'])).stdout).forcedLogoffs;
    assert.equal(logoffs.length, 1);
    assert.equal(logoffs[0].reservationId, '0xskew', 'linked although the station clock is 3 h ahead');
    const alerts = JSON.parse((await cli([...base, '--json', 'heartbeat', 'alerts'], env.clock)).stdout);
    const skew = alerts.open.find((a: { host: string; rule: string }) => a.host === 'lab-ws-03' && a.rule === 'clock-skew');
    assert.ok(skew, JSON.stringify(alerts.open));
    assert.match(skew.message, /the station's clock is 3 h ahead/);
  });
});

describe('alerts', () => {
  const env = setup();
  const db = `sqlite:${join(env.dir.path, 'alerts.db')}`;
  const base = ['--hosts', env.inventory, '--db', db];
  after(() => {
    for (const s of env.stations) s.close();
    env.dir.cleanup();
  });

  test('opened once, kept while the condition holds, resolved when it clears; exit 1 while open', async () => {
    // The notify hook receives the events as NDJSON on stdin.
    const hookOut = join(env.dir.path, 'notified.ndjson');
    const config = join(env.dir.path, 'config.json');
    writeFileSync(config, JSON.stringify({ notify: { command: ['sh', '-c', `cat >> ${hookOut}`] } }));
    base.push('--config', config);
    assert.equal((await cli([...base, 'db', 'migrate'])).code, 0);
    const sessionId = env.stations[0]!.machine.logon('teacher');
    env.stations[0]!.writeHeartbeat();
    assert.equal((await cli([...base, 'heartbeat', 'poll', '--all', '--source', 'file', '--path', env.path], env.clock)).code, 0);
    const d = await openDatabase(db);
    await d.kysely.insertInto('lab_reservations').values({ transaction_hash: '0xabc', lab_id: '1', start_time: '2026-08-24 08:10:00', end_time: '2026-08-24 09:00:00', status: 'CONFIRMED' }).execute();
    await d.close();
    const first = await cli([...base, '--json', 'heartbeat', 'alerts'], env.clock);
    assert.equal(first.code, 1);
    const r1 = JSON.parse(first.stdout);
    assert.deepEqual(r1.opened.map((a: { host: string; rule: string }) => `${a.host}:${a.rule}`), ['lab-ws-01:local-session-before-reservation']);
    const second = JSON.parse((await cli([...base, '--json', 'heartbeat', 'alerts'], env.clock)).stdout);
    assert.equal(second.opened.length, 0, 'no flood of rows');
    assert.equal(second.open.length, 1);
    // The local session ends; the next heartbeat clears the alert.
    await env.clock.advance(60_000);
    env.stations[0]!.machine.logoff(sessionId);
    for (const s of env.stations) s.writeHeartbeat();
    await cli([...base, 'heartbeat', 'poll', '--all', '--source', 'file', '--path', env.path], env.clock);
    const third = await cli([...base, '--json', 'heartbeat', 'alerts'], env.clock);
    const r3 = JSON.parse(third.stdout);
    assert.deepEqual(r3.resolved.map((a: { rule: string }) => a.rule), ['local-session-before-reservation']);
    assert.equal(third.code, 0);
    const notified = readFileSync(hookOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(notified.map((e: { event: string; rule: string }) => `${e.event}:${e.rule}`), ['alert.opened:local-session-before-reservation', 'alert.resolved:local-session-before-reservation']);
    // Heartbeats stop: missing for more than three intervals.
    await env.clock.advance(4 * 60_000);
    const stale = JSON.parse((await cli([...base, '--json', 'heartbeat', 'alerts'], env.clock)).stdout);
    assert.deepEqual(stale.open.map((a: { rule: string }) => a.rule), ['heartbeat-missing', 'heartbeat-missing', 'heartbeat-missing']);
  });
});

describe('two pollers against one MariaDB', () => {
  let maria: MariaDb | undefined;
  const env = setup();
  before(async (t) => {
    maria = await startMariaDb(t as never);
  });
  after(async () => {
    await maria?.stop();
    for (const s of env.stations) s.close();
    env.dir.cleanup();
  });

  test('no duplicate heartbeat or event rows', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    env.stations[0]!.machine.logon('teacher');
    await env.clock.drive(env.stations[0]!.execute(['session', 'guard', '--grace=30']));
    for (const s of env.stations) s.writeHeartbeat();
    const url = maria.createDatabase('pollers');
    const args = ['--hosts', env.inventory, '--db', url, 'heartbeat', 'poll', '--all', '--source', 'file', '--path', env.path];
    assert.equal((await runCli(['--db', url, 'db', 'migrate', '--create-foreign'])).code, 0);
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([runCli(args), runCli(args)]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
    }
    assert.equal(maria.sql('SELECT COUNT(*) FROM pollers.lab_host_heartbeat').trim(), '3');
    assert.equal(maria.sql('SELECT COUNT(*) FROM pollers.lab_host_events').trim(), '1');
    assert.equal(maria.sql('SELECT COUNT(*) FROM pollers.lab_hosts').trim(), '3');
    assert.equal(maria.sql('SELECT COUNT(*) FROM pollers.reservation_forced_logoffs').trim(), '1');
    assert.equal(maria.sql("SELECT JSON_VALUE(payload, '$.user') FROM pollers.lab_host_events").trim(), 'teacher');
  });

  test('a host whose name changed only in case stores into its row, with the rest of its batch (MariaDB compares names without case)', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('namecase');
    assert.equal((await runCli(['--db', url, 'db', 'migrate', '--create-foreign'])).code, 0);
    const snapshot = parseHeartbeat(readFileSync(new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url)));
    const input = (name: string, timestamp: string) => ({ host: { name, address: '127.0.3.1', labs: [] }, snapshot: { ...snapshot, timestamp }, events: [], pollTime: timestamp });
    const db = await openDatabase(url);
    try {
      const [first] = await storeHeartbeats(db, [input('lab-ws-01', '2026-08-24T08:00:00Z')]);
      // hosts.json lookups ignore case, so an operator may write the name in capitals from now on
      const [renamed, other] = await storeHeartbeats(db, [input('LAB-WS-01', '2026-08-24T08:01:00Z'), input('lab-ws-02', '2026-08-24T08:01:00Z')]);
      assert.equal(renamed!.hostId, first!.hostId);
      assert.equal(renamed!.heartbeatStored, true);
      assert.equal(other!.heartbeatStored, true);
    } finally {
      await db.close();
    }
    assert.equal(maria.sql('SELECT COUNT(*) FROM namecase.lab_hosts').trim(), '2');
    assert.equal(maria.sql('SELECT COUNT(*) FROM namecase.lab_host_heartbeat').trim(), '3');
  });
});
