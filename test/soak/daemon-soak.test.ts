// Soak and fault injection for `labops daemon` (issue 11): two daemon processes share MariaDB, Redis, 200
// simulated stations (clocks ×60), 2 CML controllers, an sshd for provisioning and server checks and the
// LINBO API peer, for a few minutes. Hard outages: one daemon SIGKILLed and restarted, MariaDB restarted, Redis
// restarted. The simulators' own fault and change schedules, set through their control endpoint as an operator
// would (`labops sim --fault/--latency/--cml-change/--station-fault`): a station whose first LabStation command
// hangs, a CML controller answering 500s for a while, the other one's lab list hanging a few seconds every half
// minute, lab details failing and tokens expiring now and then, the LINBO API failing status reports and lookups now
// and then, realistic latency everywhere, labs changing state, size and title, appearing and disappearing, and a
// local user at one station. Work is queued in waves between the faults. At the end: no reservation step succeeded twice, every DC job completed once
// (reported once, repair run once), every session provisioned once, heartbeat gaps only around the
// outages, both daemons healthy, SIGTERM exits 0, and daemon RSS flat after warm-up (figures printed).
// To look closer: SOAK_VERBOSE=1 runs the daemons with --verbose, SOAK_LOG_DIR=<dir> keeps their logs there (and
// every station's poll times, polls.json), SOAK_DAEMON_NODE_ARGS='--cpu-prof --cpu-prof-dir=<dir>' profiles them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { existsSync, readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { freePort, randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { makeSite } from '../support/dc-site.js';
import { addLab, addServer, addSession } from '../support/collector.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startCmlControllers, type CmlControllers } from '../../src/sim/cml/index.js';
import { startLinboApi, type LinboApi } from '../../src/sim/linbo/index.js';
import { SimControls, startControlServer, type BehaviourText, type ControlState } from '../../src/sim/control.js';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';
import { toDbDateTime } from '../../src/core/db/time.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STATIONS = 200;
const KEY = 'soak-internal-key-5d1c';
const tmp = tempDir('labops-soak-');
// The stations' own disks, in memory where the machine has a tmpfs. The simulator writes every station's
// heartbeat.json and status.json atomically (write, rename) each simulated minute, 400 renames a second at x60,
// synchronously on the one event loop that also answers all 200 stations' WinRM. On this machine's disk, ext4
// flushes a file before a rename over it: under I/O contention that blocked the stations' event loop for 90 s of
// a 177 s profile (event-loop delay p50 228 ms, max 4 s), every station answered late and the daemons' runs took
// 7-14 s. Real stations' disks are not the daemon's server's disk; the daemons' own database stays on disk.
const stationDisks = existsSync('/dev/shm') ? { path: mkdtempSync('/dev/shm/labops-soak-stations-'), cleanup: () => rmSync(stationDisks.path, { recursive: true, force: true }) } : tempDir('labops-soak-stations-');
const cleanups: (() => Promise<void> | void)[] = [];

let maria: MariaDb | undefined;
let redis: TestRedis;
let sshd: TestSshd | undefined;
let sim: Simulator;
let cml: CmlControllers;
let linbo: LinboApi;
let controlUrl: string;
let db: Database;
let url: string;
let repairLog: string;
let provisionLog: string;
let labId: number;
let config: string;
let workerConf: string;
let inventory: string;
const ports: Record<string, number> = {};

before(async (t) => {
  maria = await startMariaDb(t as never);
  sshd = await startSshd(t as never);
  if (!maria || !sshd) return;
  cleanups.push(() => maria!.stop(), () => sshd!.stop());
  redis = await startRedis();
  cleanups.push(() => redis.stop());
  sim = await startSimulator({ hosts: STATIONS, baseAddress: randomLoopbackBase(), stateDir: stationDisks.path, port: 0, httpsPort: 0, bootDelayMs: 100, poweredOn: true, timeScale: 60 });
  cleanups.push(() => sim.close());
  cml = await startCmlControllers({ count: 2, labsPerController: 5, stateDir: join(tmp.path, 'cml') });
  cleanups.push(() => cml.close());
  linbo = await startLinboApi({ redisUrl: redis.url, internalKey: KEY, provisioningDryRun: true });
  cleanups.push(() => linbo.close());
  // the control endpoint `labops sim` runs, over the same simulators
  const control = await startControlServer(new SimControls({ cml, linbo, stations: sim }, 60_000), '127.0.0.1', 0);
  cleanups.push(() => control.close());
  controlUrl = control.url;

  url = maria.createDatabase('soak');
  db = await openDatabase(url);
  cleanups.push(() => db.close());
  await migrate(db.kysely, db.dialect, { createForeign: true });

  // provisioning and server checks go to the test sshd
  const knownHosts = join(tmp.path, 'known_hosts');
  writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
  provisionLog = join(sshd.dir, 'out', 'provisioned.log');
  const script = sshd.script('provision.sh', `echo "$2" >> ${provisionLog}\nsleep 0.05`);
  const server = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
  await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
  labId = await addLab(db.kysely, { server_id: server, provision_script_path: script });

  // DC jobs: macct repairs through a stand-in repair script that logs each call
  repairLog = join(tmp.path, 'repair.log');
  const repair = join(tmp.path, 'repair_macct.py');
  writeFileSync(repair, ['import sys, json', `open(${JSON.stringify(repairLog)}, "a").write(json.dumps(sys.argv[1:]) + "\\n")`, 'print("Fixing unicodePwd for host"); print("done")', ''].join('\n'));
  const site = makeSite(tmp.path, join(tmp.path, 'no-sam.ldb'), {
    workerExtra: ['REDIS_HOST=127.0.0.1', `REDIS_PORT=${redis.port}`, `API_URL=${linbo.apiUrl}`, `API_KEY=${KEY}`, 'CLAIM_IDLE_SEC=3', 'CLAIM_INTERVAL_SEC=1', 'RETRY_BACKOFF_SEC=0.2', 'RETRY_BACKOFF_MAX_SEC=1', 'API_TIMEOUT_SEC=2', 'REPAIR_MODE=script', `REPAIR_SCRIPT=${repair}`, `LOG_DIR=${join(tmp.path, 'dclog')}`],
  });
  workerConf = site.env.MACCT_WORKER_CONF!;

  inventory = sim.inventoryPath;
  config = join(tmp.path, 'config.json');
  const cmlServers = JSON.parse(readFileSync(cml.configPath, 'utf8')).cml.servers;
  writeFileSync(
    config,
    JSON.stringify({
      // the stations' clocks run ×60, so their heartbeats are dated hours ahead by the end: not a skew to flag here
      heartbeat: { interval: '2s', timeout: '3s', concurrency: 64, 'clock-skew': '48h' },
      alerts: { 'missing-intervals': 5 },
      reservations: { 'scan-interval': '1s', 'start-lead': '2s', lease: '20s', 'backoff-base': '2s', 'backoff-max': '4s', 'guard-grace': 1, 'command-timeout': '4s' },
      wol: { interval: '300ms', timeout: '300ms', attempts: 3 },
      provision: { interval: '1s', 'cleanup-interval': '2s' },
      servers: { interval: '3s', timeout: '5s', 'cpu-sample': '100ms' },
      cml: { 'refresh-interval': '3s', timeout: '3s', servers: cmlServers },
      daemon: { lease: '4s', 'stop-timeout': '15s' },
      api: {},
    }),
  );
  ports.d1 = await freePort();
  ports.d2 = await freePort();
  mkdirSync(join(tmp.path, 'home'), { recursive: true });
  (globalThis as { __soakEnv?: NodeJS.ProcessEnv }).__soakEnv = { LABOPS_SSH_KNOWN_HOSTS: knownHosts };
});

after(async () => {
  if (process.env.SOAK_LOG_DIR) for (const d of Object.values(daemons)) writeFileSync(join(process.env.SOAK_LOG_DIR, `${d.name}.log`), d.stderr);
  for (const d of Object.values(daemons)) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  tmp.cleanup();
  stationDisks.cleanup();
});

interface Daemon {
  name: string;
  proc: ChildProcess;
  stderr: string;
  exit: Promise<number | null>;
}
const daemons: Record<string, Daemon> = {};

function startDaemon(name: 'd1' | 'd2'): Daemon {
  const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
  const entry = built ? [join(ROOT, 'bin', 'labops.js')] : ['--import', 'tsx', join(ROOT, 'test', 'support', 'labops-src.ts')];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: join(tmp.path, 'home'),
    XDG_CONFIG_HOME: join(tmp.path, 'home'),
    LABOPS_DB: url,
    LABOPS_INSTANCE: name,
    CONSUMER_NAME: name,
    MACCT_WORKER_CONF: workerConf,
    ...(globalThis as { __soakEnv?: NodeJS.ProcessEnv }).__soakEnv,
  };
  const proc = spawn(process.execPath, [...(process.env.SOAK_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...entry, '--config', config, '--hosts', inventory, ...(process.env.SOAK_VERBOSE ? ['--verbose'] : []), 'daemon', '--listen', `127.0.0.1:${ports[name]}`], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const d: Daemon = { name, proc, stderr: '', exit: new Promise((res) => proc.on('exit', (code) => res(code))) };
  proc.stderr!.on('data', (c: Buffer) => {
    d.stderr += c.toString();
    if (d.stderr.length > 4_000_000) d.stderr = d.stderr.slice(-2_000_000);
  });
  daemons[name] = d;
  return d;
}

async function health(name: string): Promise<{ status: number; body: Record<string, any> } | undefined> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    const r = await fetch(`http://127.0.0.1:${ports[name]}/health`, { signal: AbortSignal.timeout(3000) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** PATCH /options of the simulators' control endpoint. */
async function simOptions(options: BehaviourText): Promise<ControlState> {
  const r = await fetch(`${controlUrl}/options`, { method: 'PATCH', body: JSON.stringify(options) });
  const body = (await r.json()) as ControlState & { error?: string };
  if (!r.ok) throw new Error(`control endpoint: ${body.error}`);
  return body;
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

test('soak: two daemons, faults, exactly-once work, heartbeat gaps only around outages, flat RSS', { timeout: 420_000 }, async (t) => {
  if (!maria || !sshd) return t.skip('MariaDB or sshd not available');
  const t0 = Date.now();
  const at = () => ((Date.now() - t0) / 1000).toFixed(1);
  const note = (m: string) => t.diagnostic(`[${at()}s] ${m}`);
  const outages: { what: string; from: number; to: number }[] = [];
  const rss: { t: number; kib: number }[] = [];
  // the simulators run in this process: their event-loop delay says whether the stations themselves were starved
  const simLoopDelay = monitorEventLoopDelay({ resolution: 20 });
  simLoopDelay.enable();
  note(`load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const hung = sim.stations[2]!;
  const localUserStation = sim.stations[STATIONS - 1]!;
  await simOptions({
    fault: [
      // the hanging station: its first LabStation command never answers (until the caller gives up)
      `station.command:hang@times=1,host=${hung.name}`,
      // the failing controller: 500s on every request for the first 75 s
      'cml.any:500@server=sim-cml-02,for=75s',
      // the other one is slow now and then: its lab list hangs past the refresh timeout (3 s) for 4 s of every 30 s
      'cml.list:hang@server=sim-cml-01,period=30s,for=4s',
      // a lab detail failing, a token expiring mid-run, now and then
      'cml.detail:500@rate=0.05',
      'cml.detail:expire-token@rate=0.02',
      // the LINBO API failing a status report, or never answering a lookup, now and then
      'linbo.status:500@rate=0.05',
      'linbo.get:hang@rate=0.02',
    ],
    latency: 'station.command=20ms-200ms,station.winrm=0ms-10ms,cml.any=5ms-40ms,linbo.any=2ms-20ms',
    // labs change state, size and title, appear and disappear
    'cml-change': 'every=4s,state=0.2,nodes=0.1,title=0.1,create=0.3,delete=0.3',
    // a teacher stays logged on at the last station (not one the reservations use)
    'station-fault': [`${localUserStation.name}:local-user=teacher`],
  });

  const d1 = startDaemon('d1');
  startDaemon('d2');
  await waitFor(async () => (await health('d1'))?.status === 200 && (await health('d2'))?.status === 200, 'both daemons to answer /health', 60_000, 250);
  const sampler = setInterval(() => {
    try {
      rss.push({ t: Date.now() - t0, kib: rssKiB(d1.proc.pid!) });
    } catch {
      // exited
    }
  }, 2000);
  cleanups.push(() => clearInterval(sampler));
  note('both daemons up');
  await waitFor(async () => (await health('d1'))?.body.leases?.heartbeat?.members?.length === 2, 'd1 to see two heartbeat shard members', 20_000, 250);
  // steady state from here: both instances know each other and each has finished a heartbeat run begun since. The
  // first polls are warm-up: an instance whose first renewal came before the other's polls the whole fleet, cold
  // (new WinRM connections, the lab_hosts rows created side by side with the other), and that run may still be
  // under way when the other appears (21 s on a loaded machine, its stations' next polls due only after it)
  const heartbeatRuns = async (name: string) => {
    const h = await health(name);
    return h?.body.leases?.heartbeat?.members?.length === 2 ? (h.body.loops?.heartbeat?.runs as number) : -1;
  };
  await waitFor(async () => (await heartbeatRuns('d2')) >= 0, 'd2 to see two heartbeat shard members', 20_000, 250);
  const runsWhenKnown = [await heartbeatRuns('d1'), await heartbeatRuns('d2')];
  await waitFor(async () => (await heartbeatRuns('d1')) >= runsWhenKnown[0]! + 2 && (await heartbeatRuns('d2')) >= runsWhenKnown[1]! + 2, 'both daemons to finish a heartbeat run on their share', 60_000, 250);
  const steadyFrom = Date.now();
  const [h1, h2] = [await health('d1'), await health('d2')];
  const owned1 = h1!.body.leases.heartbeat.owned as number;
  const owned2 = h2!.body.leases.heartbeat.owned as number;
  note(`heartbeat shares: d1 ${owned1}, d2 ${owned2}`);
  // What labops polled, not what the stations changed: labops_host_poll_state.last_poll_at is written on every
  // successful poll (a heartbeat row only when the station's heartbeat changed), sampled once a second.
  const polled = new Map<string, number[]>();
  const lastPoll = new Map<string, string>();
  const pollSampler = setInterval(() => {
    void sql<{ name: string; last_poll_at: string }>`SELECT h.name, ps.last_poll_at FROM labops_host_poll_state ps JOIN lab_hosts h ON h.id = ps.host_id`
      .execute(db.kysely)
      .then(
        (r) => {
          for (const row of r.rows) {
            const v = String(row.last_poll_at);
            if (lastPoll.get(row.name) === v) continue;
            lastPoll.set(row.name, v);
            const list = polled.get(row.name) ?? [];
            list.push(Date.parse(`${v.replace(' ', 'T')}Z`));
            polled.set(row.name, list);
          }
        },
        () => {}, // the database is down during its outage: nothing to sample
      );
  }, 1000);
  cleanups.push(() => clearInterval(pollSampler));

  let sessionNo = 0;
  let reservationNo = 0;
  const dcOps: string[] = [];
  const wave = async (label: string, o: { sessions: number; reservations: number; dcJobs: number }) => {
    for (let i = 0; i < o.sessions; i++) await addSession(db.kysely, { lab_id: labId, username: 'student', namespace: `ns-${++sessionNo}` });
    const now = Date.now();
    const rows = Array.from({ length: o.reservations }, (_, i) => {
      const n = ++reservationNo;
      // lab n maps to station n; start within the next few seconds, end far away
      return { transaction_hash: `0xsoak${n}`, lab_id: String(n), status: 'CONFIRMED' as const, start_time: toDbDateTime(now + 3000 + (i % 5) * 500), end_time: toDbDateTime(now + 3_600_000) };
    });
    if (rows.length) await db.kysely.insertInto('lab_reservations').values(rows).execute();
    for (let i = 0; i < o.dcJobs; i++) dcOps.push((await linbo.queueMacct(`pc-soak-${dcOps.length + 1}`)).operationId);
    note(`${label}: ${o.sessions} sessions, ${o.reservations} reservations, ${o.dcJobs} DC jobs queued`);
  };
  const count = async (q: string) => Number(((await sql.raw<{ n: number }>(q).execute(db.kysely)).rows[0] as { n: number }).n);
  const settled = async (label: string) => {
    let pending = '';
    const check = async () => {
      const sessions = await sql<{ namespace: string; status: string }>`SELECT namespace, status FROM lab_sessions WHERE status <> 'ACTIVE'`.execute(db.kysely);
      const res = await sql<{ lab_id: string; status: string }>`SELECT lab_id, status FROM lab_reservations WHERE status <> 'ACTIVE'`.execute(db.kysely);
      const dc = dcOps.filter((id) => linbo.operations.get(id)?.status !== 'completed');
      pending = JSON.stringify({ sessions: sessions.rows, reservations: res.rows, dcJobs: dc.map((id) => [id, linbo.operations.get(id)?.status]) });
      return sessions.rows.length === 0 && res.rows.length === 0 && dc.length === 0;
    };
    // what is still pending goes into the failure: a soak that fails says which piece of work stuck
    await waitFor(check, `${label} to be done (sessions ACTIVE, reservations ACTIVE, DC jobs completed)`, 90_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}; still pending: ${pending}`);
    });
    note(`${label}: done`);
  };

  await wave('wave 1', { sessions: 20, reservations: 15, dcJobs: 10 });
  await settled('wave 1');

  // SIGKILL one daemon; the other takes over its share within one lease (4 s) plus a renewal
  const killedAt = Date.now();
  daemons.d2!.proc.kill('SIGKILL');
  await daemons.d2!.exit;
  note('d2 SIGKILLed');
  await waitFor(async () => (await health('d1'))?.body.leases?.heartbeat?.members?.join() === 'd1', 'd1 to own the whole fleet', 15_000, 200);
  const takeoverMs = Date.now() - killedAt;
  await waitFor(async () => (await health('d1'))?.body.leases?.heartbeat?.owned === STATIONS, 'd1 to poll all stations', 10_000, 200);
  note(`d1 took over d2's share after ${takeoverMs} ms (lease 4 s)`);
  assert.ok(takeoverMs <= 4000 + 4000 / 3 + 1500, `takeover within one lease plus a renewal: ${takeoverMs} ms`);
  startDaemon('d2');
  await waitFor(async () => (await health('d2'))?.status === 200 && (await health('d1'))?.body.leases?.heartbeat?.members?.length === 2, 'd2 back and sharing', 60_000, 250);
  outages.push({ what: 'd2 killed', from: killedAt, to: Date.now() });
  note('d2 restarted');

  await wave('wave 2', { sessions: 20, reservations: 15, dcJobs: 10 });
  await settled('wave 2');

  // MariaDB restart
  const dbFrom = Date.now();
  await maria.restart();
  outages.push({ what: 'MariaDB restart', from: dbFrom, to: Date.now() });
  note(`MariaDB restarted (${Date.now() - dbFrom} ms down)`);
  const sinceDb = Date.now();
  await waitFor(async () => {
    const hs = [await health('d1'), await health('d2')];
    return hs.every((h) => h && Date.parse(h.body.loops?.heartbeat?.lastSuccessAt ?? 0) > sinceDb && Date.parse(h.body.loops?.servers?.lastSuccessAt ?? 0) > sinceDb);
  }, 'heartbeat and server checks to succeed again on both daemons after the MariaDB restart', 60_000, 500);
  note('both daemons back on MariaDB');

  // Redis restart (append-only file: the stream and the group survive)
  const redisFrom = Date.now();
  await redis.restart({ downMs: 1500 });
  outages.push({ what: 'Redis restart', from: redisFrom, to: Date.now() });
  note('Redis restarted');

  await wave('wave 3', { sessions: 20, reservations: 15, dcJobs: 10 });
  await settled('wave 3');

  // a quiet stretch for the RSS figures and more heartbeat rounds
  await new Promise((r) => setTimeout(r, 60_000));
  clearInterval(sampler);

  // ---- assertions ----
  const finals = [await health('d1'), await health('d2')];
  for (const [i, h] of finals.entries()) {
    assert.ok(h, `d${i + 1} answers`);
    const bad = Object.entries(h.body.loops as Record<string, { healthy: boolean; lastError: string | null }>).filter(([, l]) => !l.healthy);
    assert.equal(h.status, 200, `d${i + 1} /health: ${h.body.status} ${JSON.stringify(bad)}`);
    assert.equal(h.body.status, 'ok');
    for (const l of ['heartbeat', 'servers', 'labs']) assert.equal(h.body.leases[l].valid, true, `d${i + 1} ${l} lease`);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${ports.d1}/metrics`)).text();
  assert.match(metrics, /^labops_loop_runs_total\{loop="heartbeat",result="success"\} \d+$/m);
  assert.match(metrics, /^labops_queue_depth\{queue="lab_sessions_requested"\} 0$/m);

  // every session provisioned exactly once
  const runs = readFileSync(provisionLog, 'utf8').trim().split('\n');
  const perNs = new Map<string, number>();
  for (const ns of runs) perNs.set(ns, (perNs.get(ns) ?? 0) + 1);
  assert.equal(perNs.size, sessionNo, 'every session provisioned');
  assert.deepEqual([...perNs].filter(([, n]) => n !== 1), [], 'no session provisioned twice');

  // no reservation step succeeded twice; every reservation started once
  const steps = (await sql<{ reservation_id: string; action: string; n: number }>`SELECT reservation_id, action, COUNT(*) AS n FROM reservation_operations WHERE success = 1 GROUP BY reservation_id, action`.execute(db.kysely)).rows;
  // the hung station's start failed (prepare timed out) and was retried as a whole: its wake probe ran again
  const twice = steps.filter((r) => Number(r.n) > 1 && !(r.reservation_id === '0xsoak3' && r.action === 'wake'));
  assert.deepEqual(twice, [], 'a step that succeeded twice');
  const failedThenRetried = (await sql<{ action: string; success: number }>`SELECT action, success FROM reservation_operations WHERE reservation_id = '0xsoak3' ORDER BY id`.execute(db.kysely)).rows;
  note(`hung station's reservation: ${failedThenRetried.map((r) => `${r.action}:${Number(r.success) ? 'ok' : 'failed'}`).join(' ')}`);
  assert.equal(failedThenRetried.filter((r) => r.action === 'wake').length, 2, 'the start whose prepare hung was tried again');
  assert.equal(steps.filter((r) => r.action === 'scheduler:start').length, reservationNo);
  const prepares = sim.stations.slice(0, reservationNo).map((s) => s.runtime!.receivedArgv.filter((a) => a[0] === 'prepare-session').length);
  assert.deepEqual(prepares.map((n, i) => [i + 1, n]).filter(([i, n]) => (i === 3 ? n !== 1 && n !== 0 : n !== 1)), [], 'each station prepared once (the hung one: its hung try never reached the station)');
  assert.equal(sim.faults.fired.get('command'), 1, 'the hung station\'s command hung once');

  // every DC job completed once: one terminal report, one repair run
  for (const id of dcOps) assert.deepEqual((linbo.patches.get(id) ?? []).map((p) => p.body.status).filter((s) => s === 'completed' || s === 'failed'), ['completed'], id);
  const repaired = readFileSync(repairLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l)[1] as string);
  assert.equal(repaired.length, dcOps.length, 'one repair run per job');
  assert.equal(new Set(repaired).size, dcOps.length);

  // CML: the labs stop changing and the faults stop; within a few refreshes the cache is the controllers' labs,
  // state for state; what changed on the way is in the history, what vanished is orphaned; the failures were logged
  await simOptions({ 'cml-change': 'off', fault: [] });
  const simLabs = () => cml.controllers.flatMap((c) => [...c.labs.values()].map((l) => `${c.id}/${l.id}/${l.state}/${l.node_count}`)).sort();
  const cached = async () => (await sql<{ server_id: string; lab_id: string; state: string; node_count: number }>`SELECT server_id, lab_id, state, node_count FROM cml_lab_records WHERE orphaned_at IS NULL`.execute(db.kysely)).rows.map((r) => `${r.server_id}/${r.lab_id}/${r.state}/${Number(r.node_count)}`).sort();
  await waitFor(async () => JSON.stringify(await cached()) === JSON.stringify(simLabs()), 'the labs cache to match the controllers once the changes stopped', 30_000, 500);
  const orphaned = await count('SELECT COUNT(*) AS n FROM cml_lab_records WHERE orphaned_at IS NOT NULL');
  const history = await count('SELECT COUNT(*) AS n FROM cml_lab_history');
  note(`CML: ${simLabs().length} labs cached, ${orphaned} orphaned on the way, ${history} history entries; sim faults fired: cml ${[...cml.faults.fired].map(([k, n]) => `${k} ${n}`).join(', ')}; linbo ${[...linbo.faults.fired].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  assert.ok(orphaned > 0, 'labs deleted on the controllers were orphaned');
  assert.ok(history > 0, 'lab changes were recorded');
  assert.match(daemons.d1!.stderr + daemons.d2!.stderr, /sim-cml-02/);
  assert.ok(localUserStation.runtime!.machine.sessions.some((x) => x.user === 'teacher'), 'the local user stayed logged on');

  // heartbeat gaps only around the outages
  clearInterval(pollSampler);
  const rows = (await sql<{ name: string }>`SELECT DISTINCT h.name FROM lab_host_heartbeat hb JOIN lab_hosts h ON h.id = hb.host_id`.execute(db.kysely)).rows;
  assert.equal(rows.length, STATIONS, 'every station has heartbeats');
  const byHost = polled;
  assert.equal(byHost.size, STATIONS, 'every station was polled');
  // a gap counts as missed polling when the alert rule configured above (alerts.missing-intervals: 5) would call the
  // heartbeat missing: five jittered intervals and the one in progress. A run that overruns its interval on a
  // loaded two-core machine (the stations, both daemons and MariaDB share it) is slower polling, not a gap
  const limitMs = 5 * 2000 * 1.1 + 2000;
  // two leases and two intervals after an outage: a returning instance takes its share back at its next
  // renewal and polls it on its next interval, while the other lets go of it at its own renewal
  const margin = 2 * 4000 + 2000 * 2;
  if (process.env.SOAK_LOG_DIR) writeFileSync(join(process.env.SOAK_LOG_DIR, 'polls.json'), JSON.stringify({ steadyFrom, outages, polled: Object.fromEntries(byHost) }));
  const unexplained: string[] = [];
  let gapsAroundOutages = 0;
  // the widest gap away from any outage, printed so the headroom under the limit is visible in every run
  let widestElsewhere = 0;
  for (const [host, ts] of byHost) {
    for (let i = 1; i < ts.length; i++) {
      const gap = ts[i]! - ts[i - 1]!;
      if (ts[i - 1]! < steadyFrom - 1000) continue;
      const explained = outages.some((o) => ts[i - 1]! <= o.to + margin && ts[i]! >= o.from - 2000);
      if (!explained) widestElsewhere = Math.max(widestElsewhere, gap);
      if (gap <= limitMs) continue;
      if (explained) gapsAroundOutages++;
      else unexplained.push(`${host}: ${gap} ms after ${new Date(ts[i - 1]!).toISOString()}`);
    }
  }
  simLoopDelay.disable();
  note(`test process (simulators) event-loop delay ms: p50 ${(simLoopDelay.percentile(50) / 1e6).toFixed(0)}, p99 ${(simLoopDelay.percentile(99) / 1e6).toFixed(0)}, max ${(simLoopDelay.max / 1e6).toFixed(0)}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  note(`polls seen ${[...byHost.values()].reduce((a, l) => a + l.length, 0)}; gaps > ${limitMs} ms: ${gapsAroundOutages} around outages, ${unexplained.length} elsewhere (widest elsewhere ${widestElsewhere} ms)`);
  // on failure, say why in the assertion itself: the daemons' heartbeat and lease warnings (a run longer than its
  // interval, a lease not renewed) and the outage windows
  const why = () => {
    const warns = Object.values(daemons).flatMap((d) => d.stderr.split('\n').filter((l) => /"loop":"(heartbeat|leases)"/.test(l) && /"level":"(warn|error)"/.test(l)));
    const windows = outages.map((o) => `${o.what} ${new Date(o.from).toISOString()}..${new Date(o.to).toISOString()}`);
    return `heartbeat gaps outside the outages (limit ${limitMs} ms; outages: ${windows.join('; ')})\n${warns.slice(-10).join('\n')}`;
  };
  assert.deepEqual(unexplained.slice(0, 10), [], unexplained.length ? why() : '');

  // RSS of the daemon that ran all along: flat after warm-up
  const warm = rss.filter((s) => s.t > 45_000);
  const half = Math.floor(warm.length / 2);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const early = med(warm.slice(0, half).map((s) => s.kib));
  const late = med(warm.slice(half).map((s) => s.kib));
  note(`d1 RSS MiB: start ${(rss[0]!.kib / 1024).toFixed(1)}, warm first half median ${(early / 1024).toFixed(1)}, second half median ${(late / 1024).toFixed(1)}, max ${(Math.max(...rss.map((s) => s.kib)) / 1024).toFixed(1)} (${rss.length} samples)`);
  // V8 keeps enlarging its heap for a while under load, and the 2-minute run is short: the bound is loose enough for
  // that (a run with the machine otherwise busy went 176 -> 221 MiB) and tight enough for a leak, which grows linearly.
  assert.ok(late <= early * 1.3 + 16 * 1024, `RSS grew after warm-up: ${early} KiB -> ${late} KiB`);
  assert.ok(Math.max(...rss.map((s) => s.kib)) < 300 * 1024, 'RSS stays under 300 MiB');

  // SIGTERM: both exit 0 within the stop timeout
  for (const d of Object.values(daemons)) d.proc.kill('SIGTERM');
  const codes = await Promise.all(Object.values(daemons).map((d) => d.exit));
  assert.deepEqual(codes, [0, 0], daemons.d1!.stderr.slice(-2000));
  assert.equal(await count('SELECT COUNT(*) AS n FROM labops_instances'), 0, 'leases removed on SIGTERM');
  // the logs are JSON lines without secrets
  for (const d of Object.values(daemons)) {
    const lines = d.stderr.trim().split('\n').filter(Boolean);
    for (const l of lines.slice(-200)) assert.doesNotThrow(() => JSON.parse(l), l);
    assert.doesNotMatch(d.stderr, new RegExp(`${maria.password}|${KEY}|${sshd.password}`));
  }
  note(`total ${at()} s`);
});
