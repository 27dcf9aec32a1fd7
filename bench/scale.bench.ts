// Fleet scale (issue 28): N stations (share-writer.ts, a process of its own) write heartbeat.json every station
// interval into a share tree on their own phases, with the station's quirks and a few hostile stations; two
// `labops daemon --only api,heartbeat` instances (a and b) ingest them through the file source into one MariaDB.
// Reported over a steady window after warm-up: missed heartbeats (station writes with no stored row), staleness
// (now − lab_hosts.last_seen, sampled every 5 s), each daemon's CPU and RSS over time, MariaDB's CPU and rows
// written, reads per run against stations (the run report's read/unchanged where the daemon gives them, and
// /proc/<pid>/io syscr), the cost of /health and /metrics, `labops heartbeat show --json` over every host; then
// daemon b killed with SIGKILL (a alone keeps every station fresh?) and restarted (how soon each owns half);
// then the physical floor (ingest-floor.ts) over the same files. BENCH_SCALE_CURVE=1 adds the steady phase at
// 1,000, 2,500, 5,000 and 10,000 stations. Nothing leaves loopback: the inventory's 10.x addresses are never
// contacted by the file source, and the daemons' sockets are checked for it.
// Standalone: node --import tsx bench/scale.bench.ts   (BENCH_SCALE_* below)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { startMariaDb, type MariaDb } from '../test/support/mariadb.js';
import { freePort } from '../test/support/services.js';
import { BIN, median, procStat, round, TICKS, timeCommand, timeLabops, type BenchResult } from './lib.js';
import { stationName, type WriterOptions } from './share-writer.js';

const STATIONS = Number(process.env.BENCH_SCALE_STATIONS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 240);
const POLL_S = Number(process.env.BENCH_SCALE_POLL ?? 20);
const STATION_INTERVAL_S = Number(process.env.BENCH_SCALE_STATION_INTERVAL ?? 60);
const LEASE_S = Number(process.env.BENCH_SCALE_LEASE ?? 30);
const KILL_INTERVALS = Number(process.env.BENCH_SCALE_KILL_INTERVALS ?? 3);
const HOSTILE = Number(process.env.BENCH_SCALE_HOSTILE ?? 0.005);
const CURVE = process.env.BENCH_SCALE_CURVE === '1';
const CURVE_SECONDS = Number(process.env.BENCH_SCALE_CURVE_SECONDS ?? 120);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 64);

const STATION_MS = STATION_INTERVAL_S * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// no spread: the staleness samples run to hundreds of thousands
const maxOf = (xs: number[]) => xs.reduce((a, b) => (b > a ? b : a), -Infinity);
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface LoopHealth {
  runs: number;
  lastDurationMs: number | null;
  report: Record<string, number>;
}
interface Health {
  loops?: Record<string, LoopHealth>;
  leases?: Record<string, { owned: number | null }>;
}

/** One `labops daemon` and what the bench watches of it. */
class Daemon {
  child!: ChildProcess;
  stderr = '';
  /** every heartbeat run report seen, by run number */
  readonly reports = new Map<number, Record<string, number> & { durationMs: number }>();
  constructor(
    readonly instance: string,
    readonly port: number,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}
  start(): void {
    this.stderr = '';
    this.child = spawn(process.execPath, [BIN, ...this.args, 'daemon', '--only', 'api,heartbeat', '--listen', `127.0.0.1:${this.port}`], { env: { ...this.env, LABOPS_INSTANCE: this.instance }, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (c) => (this.stderr = (this.stderr + c).slice(-20_000)));
  }
  get pid(): number {
    return this.child.pid!;
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async health(): Promise<Health | undefined> {
    try {
      const h = (await (await fetch(`http://127.0.0.1:${this.port}/health`, { signal: AbortSignal.timeout(5000) })).json()) as Health;
      const hb = h.loops?.heartbeat;
      if (hb && hb.runs > 0 && !this.reports.has(hb.runs)) this.reports.set(hb.runs, { ...hb.report, durationMs: hb.lastDurationMs ?? NaN });
      return h;
    } catch {
      return undefined;
    }
  }
  owned(h: Health | undefined): number | null {
    return h?.leases?.heartbeat?.owned ?? null;
  }
  syscr(): number {
    return Number(/syscr:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/io`, 'utf8'))?.[1] ?? NaN);
  }
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}

/** Remote addresses of the process's TCP/UDP sockets that are not loopback or unspecified. */
function nonLoopbackPeers(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'udp', 'tcp6', 'udp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const hex = f[2]!.split(':')[0]!;
      // IPv4 as little-endian hex; first octet last. IPv6: loopback, unspecified or v4-mapped loopback.
      const loop = hex.length === 8 ? hex.endsWith('7F') || hex === '00000000' : /^0{32}$|^0{31}1$|^0{16}FFFF0{4}[0-9A-F]{6}7F$/.test(hex);
      if (!loop) out.push(`${table} ${f[2]}`);
    }
  }
  return out;
}

function cpuPct(t0: number, t1: number, ms: number): number {
  return ((t1 - t0) / TICKS / (ms / 1000)) * 100;
}

/** MiB per minute of a least-squares line through (t ms, rss KiB). */
function slopeMiBPerMin(points: { t: number; kib: number }[]): number {
  if (points.length < 2) return NaN;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mr = points.reduce((a, p) => a + p.kib, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.kib - mr), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den ? (num / den / 1024) * 60_000 : NaN;
}

const utcMs = (dbTime: string) => Date.parse(`${dbTime.replace(' ', 'T')}Z`);

interface Fleet {
  dir: string;
  share: string;
  maria: MariaDb;
  dbUrl: string;
  pool: Pool;
  writer: ChildProcess;
  writerLog: string;
  hostile: Set<string>;
  daemons: Daemon[];
  mariadbPid: number;
  stationIntervalSetting: boolean;
  close(): Promise<void>;
}

/** MariaDB, the share writer, the inventory and config, `labops db migrate`, and two daemons started. */
async function startFleet(n: number, maria: MariaDb, dir: string, dbName: string): Promise<Fleet> {
  const share = join(dir, 'share');
  mkdirSync(share, { recursive: true });
  const dbUrl = maria.createDatabase(dbName);
  const env = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: dir };
  const hostsPath = join(dir, 'hosts.json');
  // 10.x addresses: the file source never contacts them (checked on the daemons' sockets)
  const hosts = Array.from({ length: n }, (_, i) => ({ name: stationName(i), address: `10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, mac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }));
  writeFileSync(hostsPath, `${JSON.stringify({ hosts }, null, 2)}\n`);
  const config = join(dir, 'config.json');
  const base = { heartbeat: { source: 'file', path: `${share}/{host}/labstation/data/telemetry/heartbeat.json`, interval: `${POLL_S}s`, concurrency: CONCURRENCY }, daemon: { lease: `${LEASE_S}s` } };
  writeFileSync(config, JSON.stringify(base));
  const args = ['--config', config, '--hosts', hostsPath, '--db', dbUrl];
  // heartbeat.station-interval where this labops has it (issue 28), else the stations' interval stays implicit
  const shown = await timeCommand(process.execPath, [BIN, ...args, 'config', 'show'], env);
  const stationIntervalSetting = shown.stdout.includes('heartbeat.station-interval');
  if (stationIntervalSetting) writeFileSync(config, JSON.stringify({ ...base, heartbeat: { ...base.heartbeat, 'station-interval': `${STATION_INTERVAL_S}s` } }));
  const migrate = await timeCommand(process.execPath, [BIN, ...args, 'db', 'migrate'], env);
  if (migrate.code !== 0) throw new Error(`labops db migrate: ${migrate.stderr}`);

  const writerLog = join(dir, 'writes.tsv');
  const writerOpts: WriterOptions = { share, stations: n, intervalMs: STATION_MS, hostileFraction: HOSTILE, log: writerLog };
  const writer = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./share-writer.ts', import.meta.url)), JSON.stringify(writerOpts)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise<{ hostile: string[] }>((resolve, reject) => {
    writer.once('exit', (c) => reject(new Error(`share writer exited ${c}`)));
    createInterface({ input: writer.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
  });
  const pool = createPool({ uri: dbUrl, connectionLimit: 2, dateStrings: true });
  const pidFile = maria.sql('SELECT @@pid_file').trim();
  const mariadbPid = Number(readFileSync(pidFile, 'utf8').trim());
  const daemons = [new Daemon('a', await freePort(), args, env), new Daemon('b', await freePort(), args, env)];
  for (const d of daemons) d.start();
  return {
    dir,
    share,
    maria,
    dbUrl,
    pool,
    writer,
    writerLog,
    hostile: new Set(ready.hostile),
    daemons,
    mariadbPid,
    stationIntervalSetting,
    async close() {
      for (const d of daemons) await d.kill('SIGKILL').catch(() => undefined);
      if (writer.exitCode === null) {
        const exited = new Promise((r) => writer.once('exit', r));
        writer.stdin!.end();
        await Promise.race([exited, sleep(5000)]);
        writer.kill('SIGKILL');
      }
      await pool.end().catch(() => undefined);
    },
  };
}

/** Waits until every daemon has finished `runs` heartbeat runs. */
async function warmUp(f: Fleet, runs: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const hs = await Promise.all(f.daemons.map((d) => d.health()));
    if (hs.every((h) => (h?.loops?.heartbeat?.runs ?? 0) >= runs)) return;
    for (const d of f.daemons) if (!d.alive) throw new Error(`daemon ${d.instance} exited: ${d.stderr.slice(-2000)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`warm-up: not ${runs} heartbeat runs on every daemon in ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/** now − last_seen of every non-hostile host, in ms; hosts never seen count as infinitely stale. */
async function staleness(f: Fleet, n: number): Promise<{ ms: number[]; hostileMaxMs: number; stalest: string }> {
  const [rows] = await f.pool.query<RowDataPacket[]>('SELECT name, last_seen FROM lab_hosts');
  const now = Date.now();
  const ms: number[] = [];
  let hostileMaxMs = 0;
  let stalest = '';
  let stalestMs = -1;
  for (const r of rows) {
    const age = r.last_seen ? now - utcMs(r.last_seen as string) : Infinity;
    if (f.hostile.has(r.name as string)) hostileMaxMs = Math.max(hostileMaxMs, age);
    else {
      ms.push(age);
      if (age > stalestMs) [stalest, stalestMs] = [r.name as string, age];
    }
  }
  for (let i = ms.length + f.hostile.size; i < n; i++) ms.push(Infinity);
  return { ms, hostileMaxMs, stalest };
}

async function innodbRows(pool: Pool): Promise<number> {
  // MariaDB 10.11 has no Innodb_rows_*: the handler counters count rows written (internal temporary tables apart)
  const [rows] = await pool.query<RowDataPacket[]>("SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update')");
  return rows.reduce((a, r) => a + Number(r.Value), 0);
}
async function heartbeatRows(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS c FROM lab_host_heartbeat');
  return Number(rows[0]!.c);
}

interface Steady {
  seconds: number;
  cpuPct: number[];
  rssSeries: number[][];
  rssSlope: number[];
  rssMax: number[];
  mariadbCpuPct: number;
  rowsPerS: number;
  heartbeatRowsPerS: number;
  stalenessP50: number;
  stalenessP99: number;
  stalenessMax: number;
  hostileStalenessMax: number;
  readsPerRun: number;
  unchangedPerRun: number;
  syscrPerStationInterval: number;
  healthMs: number;
  metricsMs: number;
  runMs: number;
  pollMs: number;
  alertsMs: number;
  failedPerRun: number;
  failedTotal: number;
  foreignPeers: string[];
  fromMs: number;
  toMs: number;
}

/** The steady window: samples every 5 s (staleness, /health) and every 10 s (CPU, RSS, /metrics timing, sockets). */
async function steady(f: Fleet, n: number, seconds: number): Promise<Steady> {
  const { daemons } = f;
  const runs0 = await Promise.all(daemons.map(async (d) => (await d.health())?.loops?.heartbeat?.runs ?? 0));
  const t0 = Date.now();
  const cpu0 = daemons.map((d) => procStat(d.pid).cpuTicks);
  const sys0 = daemons.map((d) => d.syscr());
  const db0 = procStat(f.mariadbPid).cpuTicks;
  const rows0 = await innodbRows(f.pool);
  const hb0 = await heartbeatRows(f.pool);
  const rss: { t: number; kib: number }[][] = daemons.map(() => []);
  const stale: number[] = [];
  let hostileMax = 0;
  const healthMs: number[] = [];
  const metricsMs: number[] = [];
  const peers = new Set<string>();
  for (let k = 0; Date.now() - t0 < seconds * 1000; k++) {
    const s = await staleness(f, n);
    for (const x of s.ms) stale.push(x);
    hostileMax = Math.max(hostileMax, s.hostileMaxMs);
    for (const [i, d] of daemons.entries()) {
      const h0 = performance.now();
      await d.health();
      healthMs.push(performance.now() - h0);
      if (k % 2 === 0) {
        rss[i]!.push({ t: Date.now() - t0, kib: procStat(d.pid).rssKiB });
        const m0 = performance.now();
        await fetch(`http://127.0.0.1:${d.port}/metrics`).then((r) => r.text()).catch(() => '');
        metricsMs.push(performance.now() - m0);
        for (const p of nonLoopbackPeers(d.pid)) peers.add(p);
      }
      if (!d.alive) throw new Error(`daemon ${d.instance} exited: ${d.stderr.slice(-2000)}`);
    }
    await sleep(5000 - ((Date.now() - t0) % 5000));
  }
  const ms = Date.now() - t0;
  const cpu1 = daemons.map((d) => procStat(d.pid).cpuTicks);
  const sys1 = daemons.map((d) => d.syscr());
  const db1 = procStat(f.mariadbPid).cpuTicks;
  const rows1 = await innodbRows(f.pool);
  const hb1 = await heartbeatRows(f.pool);
  // reads per run: the reports of the runs that finished in the window, summed over the daemons per round
  const reports = daemons.flatMap((d, i) => [...d.reports.entries()].filter(([r]) => r > runs0[i]!).map(([, rep]) => rep));
  const perRun = (key: string) => {
    const xs = reports.map((r) => r[key]).filter((x): x is number => typeof x === 'number');
    return xs.length ? (xs.reduce((a, b) => a + b, 0) / reports.length) * daemons.length : NaN;
  };
  const finite = stale.filter(Number.isFinite);
  return {
    seconds: ms / 1000,
    cpuPct: daemons.map((_, i) => cpuPct(cpu0[i]!, cpu1[i]!, ms)),
    rssSeries: rss.map((xs) => xs.map((p) => round(p.kib / 1024, 0))),
    rssSlope: rss.map((xs) => slopeMiBPerMin(xs)),
    rssMax: rss.map((xs) => maxOf(xs.map((p) => p.kib)) / 1024),
    mariadbCpuPct: cpuPct(db0, db1, ms),
    rowsPerS: (rows1 - rows0) / (ms / 1000),
    heartbeatRowsPerS: (hb1 - hb0) / (ms / 1000),
    stalenessP50: pct(stale, 50) / STATION_MS,
    stalenessP99: pct(stale, 99) / STATION_MS,
    stalenessMax: (finite.length < stale.length ? Infinity : maxOf(finite)) / STATION_MS,
    hostileStalenessMax: hostileMax / STATION_MS,
    readsPerRun: perRun('read'),
    unchangedPerRun: perRun('unchanged'),
    syscrPerStationInterval: sys1.reduce((a, x, i) => a + x - sys0[i]!, 0) / (ms / STATION_MS),
    healthMs: median(healthMs),
    metricsMs: median(metricsMs),
    runMs: median(reports.map((r) => r.durationMs)),
    // the daemon's own split of a run: reading and storing its share, then evaluating the alert rules over it
    pollMs: median(reports.map((r) => r.pollMs).filter((x) => typeof x === 'number')),
    alertsMs: median(reports.map((r) => r.alertsMs).filter((x) => typeof x === 'number')),
    failedPerRun: perRun('failed'),
    failedTotal: reports.reduce((a, r) => a + (r.failed ?? 0), 0),
    foreignPeers: [...peers],
    fromMs: t0,
    toMs: t0 + ms,
  };
}

/** The writer's log: host, heartbeat timestamp, write ms, kind. */
function writes(f: Fleet): { host: string; ts: string; at: number; kind: string }[] {
  return readFileSync(f.writerLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [host, ts, at, kind] = l.split('\t');
      return { host: host!, ts: ts!, at: Number(at), kind: kind! };
    });
}

/** Station writes in [from, to) with no lab_host_heartbeat row of that host and timestamp. */
async function missed(f: Fleet, from: number, to: number): Promise<{ writes: number; missed: number; examples: string[]; perS: number; errors: number }> {
  const all = writes(f).filter((w) => w.at >= from && w.at < to);
  const due = all.filter((w) => w.kind === 'write');
  const perS = all.filter((w) => w.kind === 'write' || w.kind === 'disturbed').length / ((to - from) / 1000);
  const errors = all.filter((w) => w.kind.startsWith('error')).length;
  const since = new Date(from - 2000).toISOString().slice(0, 19).replace('T', ' ');
  const [rows] = await f.pool.query<RowDataPacket[]>('SELECT h.name AS name, hb.timestamp_utc AS ts FROM lab_host_heartbeat hb JOIN lab_hosts h ON h.id = hb.host_id WHERE hb.timestamp_utc >= ?', [since]);
  const stored = new Set(rows.map((r) => `${r.name}|${(r.ts as string).replace(' ', 'T')}Z`));
  const lost = due.filter((w) => !stored.has(`${w.host}|${w.ts}`));
  // what was stored of those hosts instead, to tell a lost write from a mislabelled one
  const near = (host: string) => rows.filter((r) => r.name === host).map((r) => (r.ts as string).slice(11)).join('/');
  return { perS, errors, writes: due.length, missed: lost.length, examples: lost.slice(0, 5).map((w) => `${w.host}@${w.ts} (written ${new Date(w.at).toISOString().slice(11, 23)}; stored ${near(w.host)})`) };
}

/** Every stored row of the hostile stations parses and is a whole heartbeat. */
async function tornCheck(f: Fleet): Promise<{ hostileEvents: Record<string, number>; rows: number; torn: number }> {
  const hostileEvents: Record<string, number> = { torn: 0, vanish: 0, dir: 0 };
  for (const w of writes(f)) if (w.kind.startsWith('hostile-')) hostileEvents[w.kind.slice(8)]!++;
  const [rows] = await f.pool.query<RowDataPacket[]>('SELECT hb.raw_json AS raw FROM lab_host_heartbeat hb JOIN lab_hosts h ON h.id = hb.host_id WHERE h.name IN (?)', [[...f.hostile]]);
  let torn = 0;
  for (const r of rows) {
    try {
      const doc = JSON.parse(r.raw as string) as Record<string, unknown>;
      if (typeof doc.host !== 'string' || typeof doc.timestamp !== 'string' || typeof doc.status !== 'object' || typeof doc.summary !== 'object' || typeof doc.wake !== 'object') torn++;
    } catch {
      torn++;
    }
  }
  return { hostileEvents, rows: rows.length, torn };
}


/** SIGKILL b; a alone for KILL_INTERVALS station intervals; b restarted until each owns about half. */
async function killPhase(f: Fleet, n: number) {
  const [a, b] = f.daemons as [Daemon, Daemon];
  await b.kill('SIGKILL');
  const killedAt = Date.now();
  const cpu0 = procStat(a.pid).cpuTicks;
  let maxAfterLease = 0;
  let maxOverall = 0;
  let takeoverMs = NaN;
  const series: string[] = [];
  while (Date.now() - killedAt < KILL_INTERVALS * STATION_MS) {
    await sleep(5000);
    const s = await staleness(f, n);
    const worst = maxOf(s.ms);
    series.push(`${Math.round((Date.now() - killedAt) / 1000)}s:${Math.round(worst / 1000)}(${s.stalest})/${Math.round(pct(s.ms, 50) / 1000)}/${a.owned(await a.health()) ?? '-'}`);
    maxOverall = Math.max(maxOverall, worst);
    if (Date.now() - killedAt > LEASE_S * 1000) maxAfterLease = Math.max(maxAfterLease, worst);
    if (Number.isNaN(takeoverMs) && a.owned(await a.health()) === n) takeoverMs = Date.now() - killedAt;
    if (!a.alive) throw new Error(`daemon a exited: ${a.stderr.slice(-2000)}`);
  }
  const aloneMs = Date.now() - killedAt;
  const aCpu = cpuPct(cpu0, procStat(a.pid).cpuTicks, aloneMs);
  const aOwnedAlone = a.owned(await a.health());
  b.start();
  const restartedAt = Date.now();
  let balancedMs = NaN;
  while (Date.now() - restartedAt < 4 * LEASE_S * 1000) {
    const [ha, hb] = await Promise.all([a.health(), b.health()]);
    const oa = a.owned(ha);
    const ob = b.owned(hb);
    if (oa !== null && ob !== null && Math.abs(oa - n / 2) <= n * 0.05 && Math.abs(ob - n / 2) <= n * 0.05) {
      balancedMs = Date.now() - restartedAt;
      break;
    }
    await sleep(1000);
  }
  return { maxAfterLease: maxAfterLease / STATION_MS, maxOverall: maxOverall / STATION_MS, aCpu, aOwnedAlone: aOwnedAlone ?? NaN, takeoverMs, balancedMs, series };
}

async function floor(f: Fleet, n: number, rounds: number): Promise<{ cpuMs: number; wallMs: number; failed: number }> {
  const dbUrl = f.maria.createDatabase('bench_scale_floor');
  const script = fileURLToPath(new URL('./ingest-floor.ts', import.meta.url));
  const r = await timeCommand(process.execPath, ['--import', 'tsx', script, JSON.stringify({ share: f.share, stations: n, dbUrl, rounds })]);
  if (r.code !== 0) throw new Error(`ingest floor: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rounds: { wallMs: number; cpuMs: number; failed: number }[] };
  // the first round warms the JIT and the connection pool
  const xs = out.rounds.slice(1);
  return { cpuMs: median(xs.map((x) => x.cpuMs)), wallMs: median(xs.map((x) => x.wallMs)), failed: Math.max(...xs.map((x) => x.failed)) };
}

async function curvePoint(maria: MariaDb, root: string, n: number): Promise<Record<string, number>> {
  const dir = join(root, `curve-${n}`);
  mkdirSync(dir);
  const f = await startFleet(n, maria, dir, `bench_scale_curve_${n}`);
  try {
    await warmUp(f, 2, 10 * 60_000);
    const s = await steady(f, n, CURVE_SECONDS);
    return {
      [`curve_${n}_cpu_pct_a`]: round(s.cpuPct[0]!, 1),
      [`curve_${n}_cpu_pct_b`]: round(s.cpuPct[1]!, 1),
      [`curve_${n}_rss_mib_max_a`]: round(s.rssMax[0]!, 0),
      [`curve_${n}_rss_mib_max_b`]: round(s.rssMax[1]!, 0),
      [`curve_${n}_staleness_p99_intervals`]: round(s.stalenessP99, 2),
      [`curve_${n}_mariadb_cpu_pct`]: round(s.mariadbCpuPct, 1),
    };
  } finally {
    await f.close();
  }
}

export async function run(): Promise<BenchResult> {
  if (!existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)))) throw new Error('run npm run build first');
  const root = mkdtempSync(join(tmpdir(), 'labops-bench-scale-'));
  const maria = await startMariaDb();
  if (!maria) throw new Error('MariaDB is not installed (scripts/install-test-deps.sh)');
  let fleet: Fleet | undefined;
  const loadBefore = loadavg()[0]!;
  const onExit = () => {
    for (const d of fleet?.daemons ?? []) if (d.alive) d.child.kill('SIGKILL');
    fleet?.writer.kill('SIGKILL');
  };
  const onSignal = () => {
    onExit();
    void maria.stop().finally(() => process.exit(130));
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const dir = join(root, 'main');
    mkdirSync(dir);
    const t0 = Date.now();
    fleet = await startFleet(STATIONS, maria, dir, 'bench_scale');
    const f = fleet;
    const setupS = (Date.now() - t0) / 1000;
    // both daemons have done a full run with both members (runs 1 may have seen only one live instance)
    await warmUp(f, 2, 10 * 60_000);
    const warmS = (Date.now() - t0) / 1000;
    const s = await steady(f, STATIONS, SECONDS);
    const loadSteady = loadavg()[0]!;
    // writes of the last two poll intervals (plus jitter) may not have been polled yet
    const lost = await missed(f, s.fromMs, s.toMs - 2 * POLL_S * 1000 - 0.2 * POLL_S * 1000);
    const show = await timeLabops(['--db', f.dbUrl, '--hosts', join(dir, 'hosts.json'), '--json', 'heartbeat', 'show'], { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: dir });
    const shown = show.code === 0 ? (JSON.parse(show.stdout) as { hosts: unknown[] }).hosts.length : -1;
    const k = await killPhase(f, STATIONS);
    const torn = await tornCheck(f);
    for (const d of f.daemons) await d.kill('SIGTERM');
    const fl = await floor(f, STATIONS, 4);
    await f.close();
    fleet = undefined;
    const curve: Record<string, number> = {};
    if (CURVE) for (const n of [1000, 2500, 5000, 10_000]) Object.assign(curve, await curvePoint(maria, root, n));
    // daemon CPU per station interval (both daemons) against the floor's CPU for one pass over the same files
    const daemonCpuMsPerInterval = ((s.cpuPct[0]! + s.cpuPct[1]!) / 100) * STATION_MS;
    const reportHasReads = Number.isFinite(s.readsPerRun);
    return {
      name: `fleet scale: ${STATIONS} stations writing every ${STATION_INTERVAL_S}s to a share, two daemons polling every ${POLL_S}s (file source) into one MariaDB`,
      figures: {
        stations: STATIONS,
        hostile_stations: f.hostile.size,
        load_average_1m_before: round(loadBefore, 2),
        load_average_1m_after_steady: round(loadSteady, 2),
        setup_s: round(setupS, 1),
        warm_up_s: round(warmS, 1),
        steady_s: round(s.seconds, 1),
        station_writes_checked: lost.writes,
        station_writes_per_s: round(lost.perS, 1),
        station_writes_per_s_scheduled: round(STATIONS / STATION_INTERVAL_S, 1),
        station_write_errors: lost.errors,
        missed_heartbeats: lost.missed,
        staleness_p50_intervals: round(s.stalenessP50, 3),
        staleness_p99_intervals: round(s.stalenessP99, 3),
        staleness_max_intervals: round(s.stalenessMax, 3),
        hostile_staleness_max_intervals: round(s.hostileStalenessMax, 3),
        cpu_pct_a: round(s.cpuPct[0]!, 1),
        cpu_pct_b: round(s.cpuPct[1]!, 1),
        rss_mib_max_a: round(s.rssMax[0]!, 1),
        rss_mib_max_b: round(s.rssMax[1]!, 1),
        rss_slope_mib_per_min_a: round(s.rssSlope[0]!, 2),
        rss_slope_mib_per_min_b: round(s.rssSlope[1]!, 2),
        mariadb_cpu_pct: round(s.mariadbCpuPct, 1),
        mariadb_rows_written_per_s: round(s.rowsPerS, 1),
        heartbeat_rows_per_s: round(s.heartbeatRowsPerS, 1),
        heartbeat_run_ms_median: round(s.runMs, 0),
        failed_per_run_both: round(s.failedPerRun, 1),
        failed_reads_in_window: s.failedTotal,
        reads_per_run_both: round(s.readsPerRun, 0),
        unchanged_per_run_both: round(s.unchangedPerRun, 0),
        syscr_per_station_interval_both: round(s.syscrPerStationInterval, 0),
        syscr_per_station_per_interval: round(s.syscrPerStationInterval / STATIONS, 1),
        health_ms_median: round(s.healthMs, 1),
        metrics_ms_median: round(s.metricsMs, 1),
        heartbeat_poll_ms_median: round(s.pollMs, 0),
        alert_evaluation_ms_median: round(s.alertsMs, 0),
        heartbeat_show_ms: round(show.ms, 0),
        heartbeat_show_hosts: shown,
        non_loopback_sockets: s.foreignPeers.length,
        killed_b_staleness_max_after_lease_intervals: round(k.maxAfterLease, 3),
        killed_b_staleness_max_intervals: round(k.maxOverall, 3),
        killed_b_cpu_pct_a_alone: round(k.aCpu, 1),
        killed_b_owned_by_a: k.aOwnedAlone,
        killed_b_a_owns_all_after_s: round(k.takeoverMs / 1000, 1),
        restart_b_to_half_each_s: round(k.balancedMs / 1000, 1),
        hostile_torn_writes: torn.hostileEvents.torn!,
        hostile_vanished: torn.hostileEvents.vanish!,
        hostile_replaced_by_dir: torn.hostileEvents.dir!,
        hostile_rows_checked: torn.rows,
        hostile_rows_stored_torn: torn.torn,
        floor_cpu_ms_per_pass: round(fl.cpuMs, 0),
        floor_wall_ms_per_pass: round(fl.wallMs, 0),
        floor_failed_reads: fl.failed,
        daemons_cpu_ms_per_station_interval: round(daemonCpuMsPerInterval, 0),
        ...curve,
      },
      ratios: {
        missed_heartbeats: lost.missed,
        staleness_p99_intervals: round(s.stalenessP99, 3),
        cpu_of_one_core_a: round(s.cpuPct[0]! / 100, 3),
        cpu_of_one_core_b: round(s.cpuPct[1]! / 100, 3),
        rss_of_400mib_a: round(s.rssMax[0]! / 400, 3),
        rss_of_400mib_b: round(s.rssMax[1]! / 400, 3),
        heartbeat_show_of_1s: round(show.ms / 1000, 3),
        killed_b_staleness_intervals: round(k.maxAfterLease, 3),
        killed_b_cpu_of_one_core_a: round(k.aCpu / 100, 3),
        restart_b_to_half_of_lease: round(k.balancedMs / 1000 / LEASE_S, 3),
        stored_torn: torn.torn,
        non_loopback_sockets: s.foreignPeers.length,
        reads_per_run_vs_stations: reportHasReads ? round(s.readsPerRun / STATIONS, 3) : NaN,
        daemons_cpu_vs_floor: round(daemonCpuMsPerInterval / fl.cpuMs, 2),
      },
      targets: {
        missed_heartbeats: 0,
        staleness_p99_intervals: 1.5,
        cpu_of_one_core_a: 0.5,
        cpu_of_one_core_b: 0.5,
        rss_of_400mib_a: 1,
        rss_of_400mib_b: 1,
        heartbeat_show_of_1s: 1,
        killed_b_staleness_intervals: 2,
        killed_b_cpu_of_one_core_a: 1,
        restart_b_to_half_of_lease: 1,
        stored_torn: 0,
        non_loopback_sockets: 0,
      },
      notes: [
        `RSS (MiB) every 10 s over the steady window: a ${s.rssSeries[0]!.join(' ')}; b ${s.rssSeries[1]!.join(' ')}`,
        reportHasReads ? `reads per run from the run report (read ${round(s.readsPerRun, 0)}, unchanged ${round(s.unchangedPerRun, 0)} per poll over both daemons)` : 'reads per run: n/a (the run report has no read/unchanged); syscr_per_station_per_interval counts read syscalls per station per station interval over both daemons',
        `heartbeat.station-interval: ${f.stationIntervalSetting ? `set to ${STATION_INTERVAL_S}s` : 'n/a (not a setting of this labops)'}`,
        `missed: writes of non-hostile stations from the start of the steady window to ${2.2 * POLL_S} s before its end${lost.examples.length ? `; e.g. ${lost.examples.join(', ')}` : ''}`,
        `staleness in station intervals (${STATION_INTERVAL_S} s), hostile stations apart; killed_b_*: the ${KILL_INTERVALS} intervals after SIGKILL of b, staleness counted once the lease (${LEASE_S} s) has passed`,
        `daemons_cpu_vs_floor: both daemons' CPU per station interval against one floor pass (stat, read, JSON.parse, multi-row INSERT of every heartbeat.json; median of 3 after a warm-up pass)`,
        'heartbeat_poll_ms_median / alert_evaluation_ms_median: the daemons\' own split of a heartbeat run (pollMs, alertsMs in its report): reading and storing its share, then the alert rules over it',
        `after SIGKILL of b, every 5 s: seconds since the kill: worst staleness s (its host) / median staleness s / hosts a owns: ${k.series.join(' ')}`,
        ...(s.foreignPeers.length ? [`non-loopback sockets: ${s.foreignPeers.slice(0, 5).join(', ')}`] : []),
      ],
    };
  } finally {
    await fleet?.close().catch(() => undefined);
    process.removeListener('exit', onExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await maria.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
