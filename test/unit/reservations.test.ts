// Reservation domain and ops with fakes: journal rows exactly as the ops-worker writes them (the synthesized
// rows), the step machine and its skips, the release improvements, transitions, journal failures.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { flaskJsonify, pythonDumps } from '../../src/domain/reservations/wire.js';
import { commandOutcome, schedulerRow, unmappedRow, wakeOutcome, type JournalRow } from '../../src/domain/reservations/steps.js';
import { allowedFrom, canTransition, defaultReleaseArgs, nothingToRelease, planEnd, planStart, releaseRebootsImmediately } from '../../src/domain/reservations/plan.js';
import { endReservation, startReservation, type ReservationPorts, type ReservationSettings, type StationClient } from '../../src/ops/reservations/run.js';
import { backoffDelayMs } from '../../src/domain/backoff.js';
import type { InventoryHost } from '../../src/core/config/inventory.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/labgateway/reservation_operations.rows.json', import.meta.url), 'utf8')) as { rows: Record<string, unknown>[] };
const RID = '0x3f1c9a0d5e7b2c4a6f8e1d0b9c7a5e3f2d1c0b9a8e7f6d5c4b3a2f1e0d9c8b7a';
const ctx = { reservationId: RID, labId: '1', host: 'lab-ws-01' };
const wakeDetails = { mac: '00:11:22:33:44:55', pingTarget: 'lab-ws-01', attemptsRequested: 3, attemptsUsed: 2, waitSeconds: 10, port: 9, broadcast: null };

/** A journal row as stored (success as 0/1), without id and created_at, for comparison with the fixture. */
function stored(row: JournalRow) {
  return { ...row, success: row.success ? 1 : 0 };
}
function fixtureRow(id: number) {
  const { id: _id, created_at: _c, ...rest } = fixture.rows.find((r) => r.id === id)!;
  return rest;
}

describe('journal rows as the ops-worker writes them', () => {
  test('wake success: 200, duration, the details object as payload', () => {
    const o = wakeOutcome(ctx, { success: true, message: 'Host reachable', durationMs: 20087, details: wakeDetails });
    assert.deepEqual(stored(o.row!), fixtureRow(101));
    assert.equal(pythonDumps(o.row!.payload), '{"mac": "00:11:22:33:44:55", "pingTarget": "lab-ws-01", "attemptsRequested": 3, "attemptsUsed": 2, "waitSeconds": 10.0, "port": 9, "broadcast": null}');
  });
  test('wake timeout: failed, 504; config error: NULL code, duration and payload, no durationMs in the step', () => {
    const t = wakeOutcome(ctx, { success: false, message: 'Host did not respond to ping', durationMs: 60212, details: { ...wakeDetails, attemptsUsed: 3 } });
    assert.equal(t.row!.response_code, 504);
    assert.equal(t.failure, 'unreachable');
    const c = wakeOutcome(ctx, { success: false, message: 'MAC address not configured', durationMs: 0, configError: true, details: wakeDetails });
    assert.deepEqual([c.row!.response_code, c.row!.duration_ms, c.row!.payload, c.row!.message, c.row!.status], [null, null, null, 'MAC address not configured', 'failed']);
    assert.deepEqual(c.step, { action: 'wake', success: false, status: 'failed', message: 'MAC address not configured', details: {} });
    assert.equal(c.failure, 'config');
  });
  test('prepare: exit code as response_code, stripped stdout, "Exit code N"', () => {
    const o = commandOutcome(ctx, 'prepare', { args: ['--guard-grace=90'], result: { exitCode: 0, stdout: 'Session prepared successfully\n', stderr: '', durationMs: 97411 } });
    assert.deepEqual(stored(o.row!), fixtureRow(102));
  });
  test('release exit 1 is a failure by default; an exception has a NULL code and its text as message', () => {
    const o = commandOutcome(ctx, 'release', { args: ['--reboot'], result: { exitCode: 1, stdout: 'Release-session finished with warnings (see log)\n', stderr: '', durationMs: 5120 } });
    assert.deepEqual(stored(o.row!), fixtureRow(140));
    const e = commandOutcome(ctx, 'prepare', { args: [], error: { message: 'WinRM timed out', kind: 'timeout', durationMs: 1000 } });
    assert.deepEqual([e.row!.response_code, e.row!.message, e.row!.status, e.failure], [null, 'WinRM timed out', 'failed', 'timeout']);
  });
  test('scheduler rows: the inner body and status; failure message; unmapped lab', () => {
    const body = { host: 'lab-ws-01', labId: '1', reservationId: RID, success: true, steps: [] };
    const ok = schedulerRow(ctx, 'start', body, 200);
    assert.deepEqual([ok.action, ok.status, ok.success, ok.response_code, ok.duration_ms, ok.message], ['scheduler:start', 'completed', true, 200, null, null]);
    assert.deepEqual(ok.payload, { response: body, status_code: 200 });
    const bad = schedulerRow(ctx, 'end', { ...body, success: false }, 502);
    assert.deepEqual([bad.status, bad.response_code, bad.message], ['failed', 502, 'Reservation end failed']);
    assert.deepEqual(stored(unmappedRow('0xabc', '7', 'start')), fixtureRow(150));
  });
});

describe('wire JSON', () => {
  test('Flask jsonify: compact, sorted keys, ensure_ascii, floats stay floats, newline', () => {
    assert.equal(flaskJsonify({ b: 1, a: { waitSeconds: 10, z: 'é' } }), '{"a":{"waitSeconds":10.0,"z":"\\u00e9"},"b":1}\n');
  });
});

describe('step machine', () => {
  const host = 'lab-ws-01';
  const opts = { wake: true, prepare: true, guardGrace: 90, force: false };
  const past = (action: string, success: boolean) => ({ action, host, success, createdAt: '2026-08-24T08:00:00.000Z' });
  test('start: wake then prepare with --guard-grace=<g>; explicit args replace it', () => {
    assert.deepEqual(planStart(opts, host, []), [{ action: 'wake' }, { action: 'prepare', argv: ['prepare-session', '--guard-grace=90'], args: ['--guard-grace=90'] }]);
    assert.deepEqual(planStart({ ...opts, wake: false, prepareArgs: ['--no-guard'] }, host, [])[0]!.argv, ['prepare-session', '--no-guard']);
  });
  test('a re-run skips what succeeded; a later failure or --force runs it again', () => {
    assert.ok(planStart(opts, host, [past('wake', true), past('prepare', true)]).every((s) => s.skip));
    const afterFailedPrepare = planStart(opts, host, [past('wake', true), past('prepare', false)]);
    assert.ok(afterFailedPrepare.every((s) => !s.skip), 'the wake is re-checked when the prepare still has to run');
    assert.ok(planStart(opts, host, [past('prepare', true), past('prepare', false)]).every((s) => !s.skip));
    assert.ok(planStart({ ...opts, force: true }, host, [past('wake', true), past('prepare', true)]).every((s) => !s.skip));
    assert.ok(planStart(opts, 'other-host', [past('wake', true), past('prepare', true)]).every((s) => !s.skip), 'another host is another station');
  });
  test('end: release then power; the default release reboots later, or not at all before a power action', () => {
    const e = planEnd({ release: true, rebootTimeout: 15, force: false, power: { mode: 'shutdown', args: ['--delay=60'] } }, host, [past('release', true)]);
    assert.deepEqual(e.map((s) => [s.action, s.argv, !!s.skip]), [['release', ['release-session'], true], ['power:shutdown', ['power', 'shutdown', '--delay=60'], false]]);
    assert.deepEqual(defaultReleaseArgs({ rebootTimeout: 15 }), ['--reboot', '--reboot-timeout=15']);
    assert.equal(releaseRebootsImmediately(defaultReleaseArgs({ rebootTimeout: 15 })), false);
    assert.equal(releaseRebootsImmediately(['--reboot']), true, "upstream's default reboots at once");
    assert.equal(releaseRebootsImmediately(['--reboot-timeout=0']), true);
  });
  test('allowed transitions only', () => {
    assert.ok(canTransition('CONFIRMED', 'ACTIVE') && canTransition('CONFIRMED', 'COMPLETED') && canTransition('ACTIVE', 'COMPLETED') && canTransition('ACTIVE', 'CANCELLED'));
    assert.ok(!canTransition('COMPLETED', 'ACTIVE') && !canTransition('CANCELLED', 'ACTIVE') && !canTransition('PENDING', 'ACTIVE') && !canTransition('ACTIVE', 'ACTIVE'));
    assert.deepEqual(allowedFrom('COMPLETED'), ['CONFIRMED', 'ACTIVE']);
  });
  test('capped exponential backoff', () => {
    const p = { baseMs: 60_000, maxMs: 1_800_000 };
    assert.deepEqual([1, 2, 3, 6, 20].map((n) => backoffDelayMs(n, p)), [60_000, 120_000, 240_000, 1_800_000, 1_800_000]);
  });
  test('nothing to release: only exit 1 with the warning text and a heartbeat without a lab-user session', () => {
    const warn = 'Release-session finished with warnings (see log)';
    const none = { status: { identity: { labUser: 'LABUSER' }, sessions: { entries: [], labUserSessionId: '' } } };
    const some = { status: { identity: { labUser: 'LABUSER' }, sessions: { entries: [{ user: 'labuser' }], labUserSessionId: '1' } } };
    assert.equal(nothingToRelease(1, warn, none), 'no lab-user session to release');
    assert.equal(nothingToRelease(1, warn, some), undefined);
    assert.equal(nothingToRelease(1, warn, null), undefined, 'no heartbeat, no proof');
    assert.equal(nothingToRelease(2, warn, none), undefined);
  });
});

// ---- ops with fakes ----

const HOST: InventoryHost = {
  name: 'lab-ws-01', address: '127.0.0.1', mac: '00:11:22:33:44:55', winrmTransport: 'ntlm', labstationExe: 'C:\\LabStation\\LabStation.exe', heartbeatPath: 'hb', eventsPath: 'ev', labs: ['1'], quarantined: false,
};
const SETTINGS: ReservationSettings = {
  wake: { broadcast: '127.0.0.1', port: 9, repeat: 1, attempts: 2, intervalMs: 10, timeoutMs: 10, probe: { kind: 'tcp', port: 1 } },
  commandTimeoutMs: 1000,
  journalRetryMs: [1, 1],
};

function fakes(o: { up?: boolean; exit?: Record<string, { exitCode: number; stdout: string }>; throwOn?: string; heartbeat?: unknown; journalFailsAfter?: number }) {
  const rows: JournalRow[] = [];
  const runs: string[][] = [];
  let t = 0;
  let writes = 0;
  const client: StationClient = {
    run: async (_exe, args) => {
      runs.push(args);
      if (o.throwOn === args[0]) throw Object.assign(new Error('WinRM request to 127.0.0.1 timed out'), { kind: 'unreachable' });
      const r = o.exit?.[args[0]!] ?? { exitCode: 0, stdout: 'ok\n' };
      return { ...r, stderr: '', durationMs: 5 };
    },
    readHeartbeat: async () => o.heartbeat ?? null,
    close: () => {},
  };
  const ports: ReservationPorts = {
    wake: { sendMagicPacket: async () => {}, probe: async () => ({ up: o.up ?? true }), sleep: async () => {}, now: () => (t += 1) },
    connect: () => client,
    now: () => (t += 1),
    sleep: async () => {},
    journal: {
      record: async (r) => {
        if (o.journalFailsAfter !== undefined && writes >= o.journalFailsAfter) throw new Error('connect ECONNREFUSED');
        writes++;
        rows.push(r);
      },
      history: async () => rows.map((r) => ({ action: r.action, host: r.host, success: r.success, createdAt: null })),
    },
  };
  return { rows, runs, ports };
}

const req = { reservationId: RID, labId: '1', host: HOST };
const startOpts = { wake: true, prepare: true, guardGrace: 90, force: false };

describe('start and end with fakes', () => {
  test('a station that never wakes: wake row 504, no prepare, 502', async () => {
    const f = fakes({ up: false });
    const r = await startReservation(req, startOpts, f.ports, SETTINGS);
    assert.equal(r.httpStatus, 502);
    assert.equal(r.failure, 'unreachable');
    assert.deepEqual(f.rows.map((x) => [x.action, x.response_code]), [['wake', 504]]);
    assert.equal(f.runs.length, 0);
  });
  test('a host with no MAC: the config row, nothing run', async () => {
    const f = fakes({});
    const r = await startReservation({ ...req, host: { ...HOST, mac: undefined } }, startOpts, f.ports, SETTINGS);
    assert.equal(r.failure, 'config');
    assert.deepEqual(f.rows.map((x) => [x.action, x.message, x.payload]), [['wake', 'MAC address not configured', null]]);
  });
  test('a prepare that times out: a failed prepare row with the error, NULL code', async () => {
    const f = fakes({ throwOn: 'prepare-session' });
    const r = await startReservation(req, startOpts, f.ports, SETTINGS);
    assert.equal(r.failure, 'timeout');
    assert.deepEqual(f.rows.map((x) => [x.action, x.status, x.response_code]), [['wake', 'completed', 200], ['prepare', 'failed', null]]);
    assert.match(f.rows[1]!.message!, /timed out/);
  });
  test('re-running a completed start repeats nothing; --force does', async () => {
    const f = fakes({});
    await startReservation(req, startOpts, f.ports, SETTINGS);
    const again = await startReservation(req, startOpts, f.ports, SETTINGS);
    assert.deepEqual(again.body.steps.map((s) => s.status), ['skipped', 'skipped']);
    assert.equal(again.httpStatus, 200);
    assert.equal(f.runs.length, 1);
    await startReservation(req, { ...startOpts, force: true }, f.ports, SETTINGS);
    assert.equal(f.runs.length, 2);
  });
  test('the database going away: the chain stops, the rows not written are returned', async () => {
    const f = fakes({ journalFailsAfter: 1 });
    const r = await startReservation(req, startOpts, f.ports, SETTINGS);
    assert.match(r.journal.error!, /prepare.*ECONNREFUSED/);
    assert.deepEqual(r.journal.unrecorded.map((x) => x.action), ['prepare']);
    const g = fakes({ journalFailsAfter: 0 });
    const r2 = await startReservation(req, startOpts, g.ports, SETTINGS);
    assert.equal(g.runs.length, 0, 'no prepare after an unrecorded wake');
    assert.deepEqual(r2.journal.unrecorded.map((x) => x.action), ['wake']);
  });
  test('release exit 1 with nothing to release (heartbeat) is a completed end; with a lab-user session it fails and stops the power action', async () => {
    const warn = { exitCode: 1, stdout: 'Release-session finished with warnings (see log)\n' };
    const idle = fakes({ exit: { 'release-session': warn }, heartbeat: { status: { sessions: { entries: [], labUserSessionId: '' } } } });
    const ok = await endReservation(req, { release: true, rebootTimeout: 15, force: false, power: { mode: 'shutdown', args: [] } }, idle.ports, SETTINGS);
    assert.equal(ok.httpStatus, 200);
    assert.equal(idle.rows[0]!.response_code, 1);
    assert.equal(idle.rows[0]!.status, 'completed');
    assert.match(idle.rows[0]!.message!, /no lab-user session/);
    assert.deepEqual(idle.runs.map((a) => a[0]), ['release-session', 'power']);
    const busy = fakes({ exit: { 'release-session': warn }, heartbeat: { status: { sessions: { entries: [{ user: 'labuser' }], labUserSessionId: '1' } } } });
    const bad = await endReservation(req, { release: true, rebootTimeout: 15, force: false, power: { mode: 'shutdown', args: [] } }, busy.ports, SETTINGS);
    assert.equal(bad.httpStatus, 502);
    assert.deepEqual(busy.runs.map((a) => a[0]), ['release-session']);
  });
});

describe('API authentication and validation (handleApi with fakes)', async () => {
  const { handleApi, tokenMatches, validPingTarget } = await import('../../src/ops/api/routes.js');
  const { HostIndex } = await import('../../src/core/config/inventory.js');
  const examples = JSON.parse(readFileSync(new URL('../fixtures/labgateway/ops-worker.http-examples.json', import.meta.url), 'utf8'));
  const f = fakes({});
  const index = new HostIndex({ file: undefined, hosts: [HOST], warnings: [] });
  const deps = {
    index: () => index,
    reloadHosts: async () => 1,
    ports: f.ports,
    settings: SETTINGS,
    guardGrace: 90,
    rebootTimeout: 15,
    heartbeat: { source: { kind: 'file' as const, read: async () => null, describe: () => 'x' } },
    policy: { allowedCommands: ['status'], allowedTransports: ['ntlm'], timeline: { defaultLimit: 100, maxOps: 500, phaseLookback: 500 }, stream: { intervalMs: 10_000, keepAliveMs: 15_000, maxStreams: 8 } },
    credentialsConfigured: () => true,
    powershell: async () => {},
    token: 's3cret-token',
  };
  const call = (method: string, path: string, headers: Record<string, string> = {}, body: unknown = {}) =>
    handleApi({ method, path, query: new URLSearchParams(), headers, body: Buffer.from(JSON.stringify(body)) }, deps);

  test('with a token configured, /api/* needs X-Ops-Internal-Token (the head 401 body); /health stays open', async () => {
    const r = await call('POST', '/api/hosts/reload');
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, examples['auth errors (head, any /api/*)'][0].response);
    assert.equal((await call('POST', '/api/hosts/reload', { 'x-ops-internal-token': 's3cret-toke' })).status, 401);
    assert.deepEqual(await call('POST', '/api/hosts/reload', { 'x-ops-internal-token': 's3cret-token' }), { status: 200, body: { hosts: 1, reloaded: true } });
    assert.equal((await call('GET', '/health')).status, 200);
  });
  test('constant-time token comparison handles any length and a missing header', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('abcd', 'abc'), false);
    assert.equal(tokenMatches(undefined, 'abc'), false);
  });
  test('ping targets: names and addresses only', () => {
    assert.ok(validPingTarget('lab-ws-01') && validPingTarget('127.0.0.1') && validPingTarget('::1') && validPingTarget('a.b-c.example'));
    assert.ok(!validPingTarget('127.0.0.1; whoami') && !validPingTarget('-x') && !validPingTarget('$(id)'));
  });
  test('unknown path 404, wrong method 405, start without an id 400, an upstream feature labops lacks 501', async () => {
    const h = { 'x-ops-internal-token': 's3cret-token' };
    assert.equal((await call('GET', '/api/nope', h)).status, 404);
    assert.equal((await call('GET', '/api/nope')).status, 401, 'the token gate runs before routing, as upstream');
    const r = await call('POST', '/api/hosts/discover', h, { connectionId: 12 });
    assert.deepEqual([r.status, (r.body as Record<string, unknown>).feature], [501, 'host-discovery']);
    assert.equal((await call('GET', '/api/wol', h)).status, 405);
    assert.deepEqual(await call('POST', '/api/reservations/start', h, { host: 'lab-ws-01' }), { status: 400, body: { error: 'reservationId and host are required' } });
  });
});
