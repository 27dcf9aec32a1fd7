// labops reserve start|end|log against simulated stations (WoL, WinRM with NTLM sealing, the LabStation state
// machine) and SQLite: journal rows, re-runs, the release improvements, and every "bad input" case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { createStationRuntime, ManualClock, StationUnavailableError } from '../../src/sim/labstation/index.js';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { endReservation, type ReservationPorts, type StationClient } from '../../src/ops/reservations/run.js';
import { defaultReleaseArgs } from '../../src/domain/reservations/plan.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-reserve-');
let sim: Simulator;
let db: Database;
let blackhole: Server;
const sockets = new Set<Socket>();
const inventory = join(dir.path, 'hosts.json');
const config = join(dir.path, 'config.json');
const dbUrl = `sqlite:${join(dir.path, 'ops.db')}`;

async function cli(...args: string[]) {
  const io = IOStreams.test();
  const code = await run(['--config', config, '--hosts', inventory, '--db', dbUrl, ...args], { io, env: { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path } });
  return { code, stdout: io.outText(), stderr: io.errText() };
}
const rows = (id: string) => db.kysely.selectFrom('reservation_operations').selectAll().where('reservation_id', '=', id).orderBy('id').execute();
const prepares = (name: string) => sim.station(name)!.runtime!.receivedArgv.filter((a) => a[0] === 'prepare-session').length;

before(async () => {
  sim = await startSimulator({ hosts: 4, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, bootDelayMs: 100, timeScale: 100 });
  blackhole = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
  const seed = JSON.parse(readFileSync(sim.inventoryPath, 'utf8')).hosts as Record<string, unknown>[];
  const s4 = seed[3]!;
  writeFileSync(
    inventory,
    JSON.stringify({
      hosts: [
        ...seed.slice(0, 3),
        { ...s4, name: 'dead-ws', mac: '02:00:00:00:00:99', labs: ['4'] },
        { ...s4, name: 'nomac-ws', mac: undefined, labs: ['5'] },
        { ...s4, name: 'hang-ws', address: '127.0.0.1', winrm_port: (blackhole.address() as { port: number }).port, labs: ['6'] },
      ],
    }),
  );
  // the stations' clocks run ×100 (a drift, not the offset a skewed station has): corrected by the skew measured at
  // the poll, an eviction read a few seconds late lands minutes early, nearer an earlier test's prepare than its own
  writeFileSync(config, JSON.stringify({ wol: { interval: '300ms', timeout: '300ms', attempts: 3 }, reservations: { 'command-timeout': '3s' }, heartbeat: { 'clock-skew': '1000h' } }));
  assert.equal((await cli('db', 'migrate')).code, 0);
  db = await openDatabase(dbUrl);
});
after(async () => {
  await db.close();
  for (const s of sockets) s.destroy();
  blackhole.close();
  await sim.close();
  dir.cleanup();
});

describe('labops reserve start', () => {
  test('wakes the station, prepares it, and journals both steps as the ops-worker does (UTC created_at)', async () => {
    const before = Date.now();
    const r = await cli('--json', 'reserve', 'start', '0xa1', '--host', 'sim-ws-001', '--lab', '1');
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual([body.success, body.reservationId, body.host, body.labId], [true, '0xa1', 'sim-ws-001', '1']);
    assert.deepEqual(body.steps.map((s: { action: string; status: string }) => [s.action, s.status]), [['wake', 'completed'], ['prepare', 'completed']]);
    const rs = await rows('0xa1');
    assert.deepEqual(rs.map((x) => [x.action, x.status, Number(x.success), x.response_code, x.message]), [['wake', 'completed', 1, 200, 'Host reachable'], ['prepare', 'completed', 1, 0, 'Exit code 0']]);
    assert.deepEqual(JSON.parse(String(rs[1]!.payload)), { exitCode: 0, stdout: 'Session prepared successfully', stderr: '', args: ['--guard-grace=90'], durationMs: rs[1]!.duration_ms });
    assert.match(String(rs[0]!.payload), /"waitSeconds": 0\.3/);
    const created = Date.parse(`${String(rs[0]!.created_at).replace(' ', 'T')}Z`);
    assert.ok(Math.abs(created - before) < 60_000, `created_at ${rs[0]!.created_at} is UTC`);
  });

  test('a re-run repeats nothing; --force runs the steps again', async () => {
    const n = prepares('sim-ws-001');
    const again = await cli('reserve', 'start', '0xa1', '--host', 'sim-ws-001');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /prepare\tskipped/);
    assert.equal(prepares('sim-ws-001'), n);
    assert.equal((await rows('0xa1')).length, 2);
    const forced = await cli('reserve', 'start', '0xa1', '--host', 'sim-ws-001', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(prepares('sim-ws-001'), n + 1);
  });

  test('the host comes from lab_reservations.lab_id through the inventory labs', async () => {
    await db.kysely.insertInto('lab_reservations').values({ transaction_hash: '0xa2', lab_id: '2', status: 'CONFIRMED', start_time: '2026-01-01 10:00:00', end_time: '2026-01-01 11:00:00' }).execute();
    const r = await cli('reserve', 'start', '0xa2', '--no-wake', '--prepare-arg=--no-guard');
    assert.notEqual(r.code, 2, r.stderr);
    const rs = await rows('0xa2');
    assert.deepEqual(rs.map((x) => [x.host, x.lab_id, x.action]), [['sim-ws-002', '2', 'prepare']]);
  });

  test('a station that never wakes: exit 3, a failed wake row (504), no prepare', async () => {
    const r = await cli('reserve', 'start', '0xb1', '--host', 'dead-ws');
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual((await rows('0xb1')).map((x) => [x.action, x.status, x.response_code, x.message]), [['wake', 'failed', 504, 'Host did not respond to ping']]);
  });

  test('a host with no MAC: exit 2 and the ops-worker\'s config row', async () => {
    const r = await cli('reserve', 'start', '0xb2', '--host', 'nomac-ws');
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual((await rows('0xb2')).map((x) => [x.action, x.status, x.response_code, x.duration_ms, x.payload, x.message]), [['wake', 'failed', null, null, null, 'MAC address not configured']]);
  });

  test('a prepare that times out: exit 3, a failed prepare row saying so', async () => {
    const r = await cli('reserve', 'start', '0xb3', '--host', 'hang-ws', '--no-wake', '--prepare-arg=--no-guard');
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const [row] = await rows('0xb3');
    assert.deepEqual([row!.action, row!.status, row!.response_code], ['prepare', 'failed', null]);
    assert.match(String(row!.message), /timed out|did not finish within/i);
  });

  test('unknown host, unknown reservation, lab with no host mapping: exit 2, nothing journaled', async () => {
    const cases: [string[], RegExp][] = [
      [['reserve', 'start', '0xc1', '--host', 'nope'], /unknown host 'nope'/],
      [['reserve', 'start', '0xc1'], /unknown reservation '0xc1'/],
      [['reserve', 'start', '0xc1', '--lab', '999'], /no host mapping for lab 999/],
      [['reserve', 'start', 'bad id;rm'], /reservation id/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('labops:')).length, 1);
    }
    assert.equal((await rows('0xc1')).length, 0);
  });
});

describe('labops reserve end', () => {
  test('needs --yes without a terminal; then releases with a delayed reboot', async () => {
    const no = await cli('reserve', 'end', '0xa1', '--host', 'sim-ws-001');
    assert.equal(no.code, 2);
    assert.equal((await rows('0xa1')).filter((x) => x.action === 'release').length, 0);
    const r = await cli('reserve', 'end', '0xa1', '--host', 'sim-ws-001', '--yes');
    assert.equal(r.code, 0, r.stderr);
    const release = (await rows('0xa1')).find((x) => x.action === 'release')!;
    assert.deepEqual(JSON.parse(String(release.payload)).args, ['--reboot', '--reboot-timeout=15']);
    assert.deepEqual(sim.station('sim-ws-001')!.runtime!.receivedArgv.at(-1), ['release-session', '--reboot', '--reboot-timeout=15']);
  });

  test('a release with no lab-user session, which the heartbeat confirms, is not a failed end', async () => {
    const st = sim.station('sim-ws-003')!;
    await st.powerOn();
    const m = st.runtime!.machine;
    for (const s of [...m.sessions]) m.logoff(s.id);
    st.runtime!.writeHeartbeat();
    const r = await cli('reserve', 'end', '0xd1', '--host', 'sim-ws-003', '--power', 'shutdown', '--yes');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const rs = await rows('0xd1');
    assert.deepEqual(rs.map((x) => [x.action, x.status, x.response_code]), [['release', 'completed', 1], ['power:shutdown', 'completed', 0]]);
    assert.match(String(rs[0]!.message), /Exit code 1 \(no lab-user session to release\)/);
  });

  test('the default release is not cut off by its own reboot, where the ops-worker\'s ["--reboot"] is', async () => {
    const clock = new ManualClock(Date.parse('2026-08-24T09:00:00Z'));
    const rt = createStationRuntime({ name: 'cut-ws', stateDir: join(dir.path, 'cut'), clock, power: 'on', machine: { cutOffImmediateReboot: true, workMs: { release: 0 } } });
    try {
      const client: StationClient = { run: async (_e, args) => ({ ...(await rt.execute(args)), durationMs: 1 }), close: () => {} };
      let t = 0;
      const ports = { connect: () => client, now: () => ++t, sleep: async () => {}, wake: {} } as unknown as ReservationPorts;
      const host = { name: 'cut-ws', address: '127.0.0.1', winrmTransport: 'ntlm', labstationExe: 'x', heartbeatPath: 'x', eventsPath: 'x', labs: [], quarantined: false };
      const settings = { wake: {} as never, commandTimeoutMs: 1000, journalRetryMs: [] };
      const req = { reservationId: '0xcut', labId: null, host };
      // the upstream default: the station goes down before LabStation.exe answers
      await assert.rejects(rt.execute(['release-session', '--reboot']), StationUnavailableError);
      clock.advance(60_000);
      rt.powerOn();
      const upstream = await endReservation(req, { release: true, releaseArgs: ['--reboot'], rebootTimeout: 15, force: false }, ports, settings);
      assert.equal(upstream.httpStatus, 502);
      clock.advance(60_000);
      if (rt.power !== 'on') rt.powerOn();
      const labops = await endReservation(req, { release: true, rebootTimeout: 15, force: true }, ports, settings);
      assert.equal(labops.httpStatus, 200, JSON.stringify(labops.body));
      assert.deepEqual((labops.body.steps[0]!.details as { args: string[] }).args, defaultReleaseArgs({ rebootTimeout: 15 }));
    } finally {
      rt.close();
    }
  });
});

describe('the heartbeat and forced logoffs in the timeline; the orchestrator loop', () => {
  test('an eviction during prepare is linked to the reservation; reserve log shows it and the latest heartbeat', async () => {
    const st = sim.station('sim-ws-002')!;
    await st.powerOn();
    // The simulated clock runs 100x: the eviction is linked through the booking's window (heartbeat-store rules).
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    await db.kysely.insertInto('lab_reservations').values({ transaction_hash: '0xe1', lab_id: '2', status: 'ACTIVE', start_time: fmt(Date.now() - 3_600_000), end_time: fmt(Date.now() + 30 * 86_400_000) }).execute();
    st.runtime!.machine.logon('teacher', { sessionName: 'rdp-tcp#7' });
    const r = await cli('reserve', 'start', '0xe1', '--host', 'sim-ws-002', '--no-wake', '--guard-grace', '30');
    assert.equal(r.code, 0, r.stderr);
    // the guard evicts after its grace on the station's clock, and the station writes its events file on its own
    // schedule: poll until the eviction has been read (a machine under load may need a few rounds)
    let t: { forcedLogoffs: { user: string; reservationId: string }[]; heartbeat: { timestamp: string; lastForcedLogoff: { user: string } } } | undefined;
    await waitFor(async () => {
      const poll = await cli('heartbeat', 'poll', 'sim-ws-002');
      assert.equal(poll.code, 0, poll.stderr);
      t = JSON.parse((await cli('--json', 'reserve', 'log', '0xe1')).stdout);
      return t!.forcedLogoffs.length > 0 && t!.heartbeat.lastForcedLogoff.user === 'teacher';
    }, 'the eviction in a polled heartbeat', 15_000, 300).catch(() => undefined);
    assert.deepEqual(t!.forcedLogoffs.map((l) => [l.user, l.reservationId]), [['teacher', '0xe1']]);
    assert.match(t!.heartbeat.timestamp, /\+00:00$/);
    assert.equal(t!.heartbeat.lastForcedLogoff.user, 'teacher');
    const table = await cli('reserve', 'log', '0xe1');
    assert.match(table.stderr, /forced logoffs:\n.*teacher/);
  });

  test('labops daemon --only reservations: the scan loop starts a due reservation, stops on interrupt', async () => {
    const now = Date.now();
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    await db.kysely.insertInto('lab_reservations').values({ transaction_hash: '0xloop', lab_id: '3', status: 'CONFIRMED', start_time: fmt(now + 10_000), end_time: fmt(now + 3_600_000) }).execute();
    const loopConfig = join(dir.path, 'loop.json');
    writeFileSync(loopConfig, JSON.stringify({ wol: { interval: '300ms', timeout: '300ms', attempts: 5 }, reservations: { 'scan-interval': '200ms' } }));
    // sim-ws-003 was shut down by a power command above: its WinRM listener drains for up to a second after
    // (sim/station.ts), answering as a station that is off; the loop must find the station down, not draining
    const st = sim.station('sim-ws-003')!;
    const accepts = () => new Promise<boolean>((r) => connect(st.port, st.spec.address).once('connect', function (this: Socket) { this.destroy(); r(true); }).once('error', () => r(false)));
    await waitFor(async () => !(await accepts()), 'sim-ws-003 to stop listening', 10_000, 50);
    const controller = new RunSignals();
    const io = IOStreams.test();
    const daemon = run(['--config', loopConfig, '--hosts', inventory, '--db', dbUrl, 'daemon', '--only', 'reservations'], { io, env: { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path }, signals: controller });
    const status = async () => (await db.kysely.selectFrom('lab_reservations').select('status').where('transaction_hash', '=', '0xloop').executeTakeFirstOrThrow()).status;
    try {
      await waitFor(async () => (await status()) === 'ACTIVE', 'the loop to start the reservation', 30_000, 100);
    } finally {
      controller.receive('SIGINT');
    }
    assert.equal(await daemon, 130, io.errText());
    assert.deepEqual((await rows('0xloop')).map((x) => x.action), ['wake', 'prepare', 'scheduler:start']);
  });
});

describe('labops reserve log', () => {
  test('--json: the timeline shape plus the forced logoffs; the table lists every step', async () => {
    const j = await cli('--json', 'reserve', 'log', '0xa1');
    assert.equal(j.code, 0, j.stderr);
    const t = JSON.parse(j.stdout);
    assert.deepEqual(Object.keys(t).sort(), ['forcedLogoffs', 'heartbeat', 'host', 'operations', 'pagination', 'phases', 'reservation'].sort());
    assert.deepEqual(t.operations.map((o: { action: string }) => o.action), ['wake', 'prepare', 'wake', 'prepare', 'release']);
    assert.equal(t.phases.release.action, 'release');
    assert.ok(!JSON.stringify(t).includes(readFileSync(sim.passwordFile!, 'utf8').trim()));
    const table = await cli('reserve', 'log', '0xa1');
    assert.equal(table.stdout.trim().split('\n').length, 5);
    const missing = await cli('reserve', 'log', '0xnone');
    assert.equal(missing.code, 2);
  });

  test('--follow --json: the journal so far, then each new step as it is written, until the scheduler ends it', async () => {
    await db.kysely.insertInto('reservation_operations').values({ reservation_id: '0xfollow', lab_id: '1', host: 'lab-ws-01', action: 'wake', status: 'completed', success: 1, payload: '{}', created_at: '2026-01-01 10:00:00' }).execute();
    const following = cli('--json', 'reserve', 'log', '0xfollow', '--follow');
    await new Promise((r) => setTimeout(r, 2500));
    await db.kysely.insertInto('reservation_operations').values({ reservation_id: '0xfollow', lab_id: '1', host: 'lab-ws-01', action: 'scheduler:end', status: 'completed', success: 1, payload: '{}', created_at: '2026-01-01 11:00:00' }).execute();
    const r = await following;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action), ['wake', 'scheduler:end']);
  });
});

