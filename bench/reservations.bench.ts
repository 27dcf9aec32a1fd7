// Benchmark: 200 reservations starting in the same minute against 200 simulated stations (off until WoL, WinRM
// with NTLM sealing, LabStation prepare-session), dispatched by two `labops reserve scan --once` processes
// against one MariaDB. Every reservation must be started exactly once. Figure: time from the scan to each
// station prepared (p50/p95), against the same 200 done one after another as the seed's scheduler does (its
// loop re-implemented below with the same wake and prepare steps, so only the dispatch differs).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import type { BenchResult } from './lib.js';
import { round } from './lib.js';
import { startMariaDb } from '../test/support/mariadb.js';
import { tempDir } from '../test/support/tmp.js';
import { runSrcCli as labops } from '../test/support/cli.js';
import { startSimulator, type Simulator } from '../src/sim/simulator.js';
import { openDatabase, type Database } from '../src/core/db/database.js';
import { migrate } from '../src/core/db/migrations.js';
import { toDbDateTime } from '../src/core/db/time.js';
import { loadInventory, HostIndex } from '../src/core/config/inventory.js';
import { createContext } from '../src/app/context.js';
import { reservationPorts } from '../src/app/reserve.js';
import { reservationSettings } from '../src/app/settings.js';
import { startReservation } from '../src/ops/reservations/run.js';
import { schedulerRow } from '../src/domain/reservations/steps.js';
import { systemClock } from '../src/core/clock.js';

const RESERVATIONS = Number(process.env.BENCH_RESERVATIONS ?? 200);
const TIME_SCALE = 10;
const BOOT_DELAY_MS = 250;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function seed(db: Database): Promise<void> {
  const start = toDbDateTime(Date.now() + 30_000);
  const end = toDbDateTime(Date.now() + 3_600_000);
  await db.kysely
    .insertInto('lab_reservations')
    .values(Array.from({ length: RESERVATIONS }, (_, i) => ({ transaction_hash: `0xbench${String(i + 1).padStart(4, '0')}`, lab_id: String(i + 1), status: 'CONFIRMED', start_time: start, end_time: end })))
    .execute();
}

async function powerOffAll(sim: Simulator): Promise<void> {
  await Promise.all(sim.stations.map((s) => s.powerOff()));
}

/** The seed's scheduler: select the due reservations, then for each in turn run the start handler, record, update. */
async function seedScheduler(db: Database, configPath: string, inventoryPath: string): Promise<number[]> {
  const env = { HOME: '/nonexistent' };
  const ctx = createContext({ env, clock: systemClock, signal: new AbortController().signal, locations: () => ({ config: configPath, hosts: inventoryPath, db: 'sqlite::memory:' }), warn: () => {} });
  const index = new HostIndex(loadInventory(inventoryPath, true));
  const ports = await reservationPorts(ctx, db);
  const settings = reservationSettings(await ctx.config());
  const t0 = Date.now();
  const due = await sql<{ transaction_hash: string; lab_id: string }>`SELECT transaction_hash, lab_id FROM lab_reservations WHERE status = 'CONFIRMED' ORDER BY start_time LIMIT 200`.execute(db.kysely);
  const times: number[] = [];
  for (const r of due.rows) {
    const host = index.forLab(r.lab_id)!;
    const run = await startReservation({ reservationId: r.transaction_hash, labId: r.lab_id, host }, { wake: true, prepare: true, guardGrace: 90, force: false }, ports, settings);
    if (!run.body.success) throw new Error(`sequential baseline: ${r.transaction_hash} failed: ${JSON.stringify(run.body.steps.at(-1))}`);
    times.push(run.preparedAt! - t0);
    const row = schedulerRow({ reservationId: r.transaction_hash, labId: r.lab_id, host: host.name }, 'start', run.body as unknown as Record<string, unknown>, run.httpStatus);
    await db.kysely.insertInto('reservation_operations').values({ ...row, success: 1, payload: JSON.stringify(row.payload) }).execute();
    await sql`UPDATE lab_reservations SET status = 'ACTIVE', updated_at = UTC_TIMESTAMP() WHERE transaction_hash = ${r.transaction_hash} AND status = 'CONFIRMED'`.execute(db.kysely);
  }
  return times;
}

export async function run(): Promise<BenchResult> {
  const maria = await startMariaDb();
  if (!maria) throw new Error('no MariaDB: the benchmark needs mariadbd (scripts/install-test-deps.sh)');
  const tmp = tempDir('labops-bench-reserve-');
  const simDir = existsSync('/dev/shm') ? { path: mkdtempSync('/dev/shm/labops-bench-sim-'), cleanup: () => {} } : tmp;
  let sim: Simulator | undefined;
  const dbs: Database[] = [];
  try {
    // The stations' files on tmpfs: their atomic rewrites (write, rename) are simulator cost, not labops'.
    sim = await startSimulator({ hosts: RESERVATIONS, baseAddress: '127.60.1.1', stateDir: join(simDir.path, 'sim'), port: 0, bootDelayMs: BOOT_DELAY_MS, timeScale: TIME_SCALE });
    const config = join(tmp.path, 'config.json');
    writeFileSync(config, JSON.stringify({ wol: { interval: '350ms', timeout: '1s', attempts: 30, concurrency: 256 } }));

    // labops: two orchestrator processes, one database
    const url = maria.createDatabase('bench_labops');
    const db = await openDatabase(url);
    dbs.push(db);
    await migrate(db.kysely, db.dialect, { createForeign: true });
    await seed(db);
    const env = { HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, LABOPS_DB: url, LABOPS_CONFIG: config, OPS_CONFIG: sim.inventoryPath };
    const t0 = performance.now();
    const [a, b] = await Promise.all(['a', 'b'].map((name) => labops(['--json', 'reserve', 'scan', '--once', '--concurrency', '128'], { ...env, LABOPS_INSTANCE: `bench-${name}` })));
    const wallMs = performance.now() - t0;
    for (const r of [a!, b!]) if (r.code !== 0) throw new Error(`labops scan exited ${r.code}: ${r.stderr.slice(0, 500)} ${r.stdout.slice(0, 1500)}`);
    const items = [a!, b!].flatMap((r) => JSON.parse(r.stdout).items as { reservationId: string; outcome: string; msFromScan: number }[]);
    const prepares = await sql<{ reservation_id: string; n: number }>`SELECT reservation_id, count(*) AS n FROM reservation_operations WHERE action = 'prepare' GROUP BY reservation_id`.execute(db.kysely);
    const active = Number((await sql<{ n: number }>`SELECT count(*) AS n FROM lab_reservations WHERE status = 'ACTIVE'`.execute(db.kysely)).rows[0]!.n);
    const stationPrepares = sim.stations.map((s) => s.runtime!.receivedArgv.filter((x) => x[0] === 'prepare-session').length);
    const exactlyOnce = items.length === RESERVATIONS && items.every((i) => i.outcome === 'started') && prepares.rows.length === RESERVATIONS && prepares.rows.every((r) => Number(r.n) === 1) && stationPrepares.every((n) => n === 1) && active === RESERVATIONS;
    if (!exactlyOnce) throw new Error(`not exactly once: ${items.length} items, ${prepares.rows.length} prepared, ${active} active, station prepares ${[...new Set(stationPrepares)].join(',')}`);
    const labopsTimes = items.map((i) => i.msFromScan);

    // the seed's scheduler: the same 200, one after another, on fresh (powered-off) stations
    await powerOffAll(sim);
    const seqUrl = maria.createDatabase('bench_seed');
    const seqDb = await openDatabase(seqUrl);
    dbs.push(seqDb);
    await migrate(seqDb.kysely, seqDb.dialect, { createForeign: true });
    await seed(seqDb);
    const seqTimes = await seedScheduler(seqDb, config, sim.inventoryPath);

    const p50 = percentile(labopsTimes, 50);
    const p95 = percentile(labopsTimes, 95);
    const s50 = percentile(seqTimes, 50);
    const s95 = percentile(seqTimes, 95);
    return {
      name: 'reservations',
      figures: {
        reservations: RESERVATIONS,
        instances: 2,
        started_exactly_once: exactlyOnce ? 1 : 0,
        instance_a_started: JSON.parse(a!.stdout).items.length,
        instance_b_started: JSON.parse(b!.stdout).items.length,
        labops_p50_ms: Math.round(p50),
        labops_p95_ms: Math.round(p95),
        labops_wall_ms_incl_process_start: Math.round(wallMs),
        sequential_p50_ms: Math.round(s50),
        sequential_p95_ms: Math.round(s95),
        sequential_total_ms: Math.round(Math.max(...seqTimes)),
        sim_time_scale: TIME_SCALE,
        sim_boot_delay_ms: BOOT_DELAY_MS,
      },
      ratios: { p50_labops_over_sequential: round(p50 / s50), p95_labops_over_sequential: round(p95 / s95) },
      targets: { p50_labops_over_sequential: 0.1, p95_labops_over_sequential: 0.1 },
      notes: ['time from the start of the scan pass to prepare-session answering, per reservation; the sequential loop runs the same wake and prepare steps in-process'],
    };
  } finally {
    for (const d of dbs) await d.close().catch(() => {});
    await sim?.close();
    await maria.stop();
    tmp.cleanup();
    rmSync(simDir.path, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
  for (const [k, v] of Object.entries(r.ratios)) console.log(`${k}: ${v} (target <= ${r.targets![k]}) ${v <= r.targets![k]! ? 'OK' : 'MISSED'}`);
  process.exit(0);
}
