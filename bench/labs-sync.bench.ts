// `labops labs sync` over 10 simulated CML controllers × 100 labs against the seed's pattern (CML Cloud
// Manager's LabsRefreshJob, NOTES §3.2–3.3) implemented faithfully here: a new TLS connection per request,
// one login per worker, lab details fetched one at a time, at most 5 workers at once, a per-lab record
// lookup and a write of every record. Same run, same simulator (in a child process). Also shows that a
// re-sync where nothing changed writes no history and issues a bounded number of DB statements.
import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { KyselyPlugin } from 'kysely';
import { openDatabase, type Database } from '../src/core/db/database.js';
import { migrate } from '../src/core/db/migrations.js';
import { CmlLabStore } from '../src/core/db/cml-lab-store.js';
import { CmlClient } from '../src/core/http-apis/cml-client.js';
import { syncLabs } from '../src/ops/labs-sync.js';
import { mapPool } from '../src/domain/pool.js';
import { applySnapshot, parseLabDetail, type LabRecord } from '../src/domain/labs/record.js';

export interface BenchResult {
  name: string;
  figures: Record<string, number>;
  ratios: Record<string, number>;
  targets?: Record<string, number>;
  notes?: string[];
}

const CONTROLLERS = Number(process.env.BENCH_CML_CONTROLLERS ?? 10);
const LABS = Number(process.env.BENCH_CML_LABS ?? 100);
/** per-request processing time of the simulated controller; a real one takes longer */
const LATENCY_MS = Number(process.env.BENCH_CML_LATENCY_MS ?? 2);
const ROUNDS = Number(process.env.BENCH_CML_ROUNDS ?? 5);
/** untimed rounds first: both sides run warm, as the daemon's labs refresh and the seed's scheduler job do */
const WARMUP_ROUNDS = Number(process.env.BENCH_CML_WARMUP_ROUNDS ?? 2);


interface SimInfo { configPath: string; caFile: string; servers: { id: string; url: string; username: string; password: string }[] }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

async function startSim(dir: string): Promise<{ child: ChildProcess; info: SimInfo; lines: Interface; stats(): Promise<{ connections: number; requests: number; logins: number }> }> {
  const script = fileURLToPath(new URL('./cml-sim-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(CONTROLLERS), String(LABS), String(LATENCY_MS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let exited: ((e: Error) => void) | undefined;
  child.once('exit', (c) => exited?.(new Error(`simulator exited ${c}`)));
  const next = () => new Promise<string>((resolve, reject) => {
    exited = reject;
    lines.once('line', resolve);
  });
  const info = JSON.parse(await next()) as SimInfo;
  return {
    child,
    info,
    lines,
    stats: async () => {
      const p = next();
      child.stdin!.write('stats\n');
      return JSON.parse(await p) as { connections: number; requests: number; logins: number };
    },
  };
}

// ---- the seed's pattern ----

/** One request on a brand-new connection (httpx.AsyncClient per request), verify=False as upstream. */
function seedRequest(url: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const u = new URL(url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { hostname: u.hostname, port: u.port, method, path: `/api/v0${path}`, agent: false, rejectUnauthorized: false, timeout: 30_000,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function seedSync(servers: SimInfo['servers'], db: Database, passwordFile: string): Promise<{ synced: number }> {
  const store = new CmlLabStore(db.kysely, db.dialect);
  const password = readFileSync(passwordFile, 'utf8').trim();
  let synced = 0;
  await mapPool(servers, 5, async (s) => {
    const login = await seedRequest(s.url, 'POST', '/authenticate', { username: s.username, password });
    const token = login.json as string;
    const list = await seedRequest(s.url, 'GET', '/labs?show_all=true', undefined, token);
    const ids = Array.isArray(list.json) ? (list.json as string[]) : [];
    await store.loadServer(s.id); // orphan cleanup loads every record of the worker first
    const now = new Date().toISOString();
    const writes: LabRecord[] = [];
    for (const id of ids) {
      const detail = await seedRequest(s.url, 'GET', `/labs/${id}`, undefined, token);
      const parsed = parseLabDetail(detail.json, id);
      if (!parsed.ok) continue;
      // get_by_lab_id_async: one lookup per lab
      const row = await db.kysely.selectFrom('cml_lab_records').select('lab_id').where('server_id', '=', s.id).where('lab_id', '=', id).executeTakeFirst();
      const prev = row ? (await store.findLab(id, s.id))[0] : undefined;
      const d = applySnapshot(prev, parsed.snapshot, { serverId: s.id, now, newRecordId: randomUUID });
      writes.push(d.record); // update_from_cml always moves last_synced_at, so every record is written
      synced++;
    }
    await store.apply(s.id, { upserts: writes, history: [], touched: [], syncedAt: now, orphaned: [] });
  });
  return { synced };
}

// ---- labops ----

/** The built CLI in a warm child process (bench/labops-cli-child.mjs): labops as shipped, timed in process. */
function startLabops(): { run(args: string[]): Promise<number>; close(): Promise<void> } {
  const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  if (!existsSync(entry)) throw new Error('run `npm run build` first (the benchmark times the built CLI)');
  const child = spawn(process.execPath, [fileURLToPath(new URL('./labops-cli-child.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  return {
    run: (args) =>
      new Promise<number>((resolve, reject) => {
        const onExit = (c: number | null) => reject(new Error(`labops child exited ${c}`));
        child.once('exit', onExit);
        lines.once('line', (l) => {
          child.off('exit', onExit);
          const r = JSON.parse(l) as { code: number; ms: number; stderr: string };
          if (r.code !== 0) reject(new Error(`labops ${args.join(' ')} exited ${r.code}: ${r.stderr}`));
          else resolve(r.ms);
        });
        child.stdin!.write(`${JSON.stringify(args)}\n`);
      }),
    close: () => {
      child.stdin!.end();
      return new Promise((r) => child.once('exit', () => r()));
    },
  };
}

function statementCounter(): KyselyPlugin & { count: number } {
  const p = {
    count: 0,
    transformQuery(args: { node: unknown }) {
      p.count++;
      return args.node as never;
    },
    async transformResult(args: { result: unknown }) {
      return args.result as never;
    },
  };
  return p as never;
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-cml-'));
  const sim = await startSim(dir);
  const passwordFile = join(dir, 'cml', 'admin-password');
  const seedDbs: Database[] = [];
  const openSeedDb = async (i: number) => {
    const db = await openDatabase(`sqlite:${join(dir, `seed-${i}.db`)}`);
    await migrate(db.kysely, db.dialect);
    seedDbs.push(db);
    return db;
  };
  const labops = startLabops();
  const labopsSync = (configPath: string, dbUrl: string) => labops.run(['--config', configPath, '--db', dbUrl, '--json', 'labs', 'sync']);
  try {
    // Load the lazily imported CLI modules once, as the seed loop's code is loaded by this file's imports.
    await labops.run(['--db', `sqlite:${join(dir, 'warmup.db')}`, 'labs', 'list']);
    const labopsCold: number[] = [];
    const seedCold: number[] = [];
    const labopsWarm: number[] = [];
    const seedWarm: number[] = [];
    let labopsDb = '';
    let seedDb: Database | undefined;
    let conns = { labops: 0, seed: 0, labopsRequests: 0 };
    for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
      const timed = i >= WARMUP_ROUNDS;
      // Cold: fresh databases, every lab is new. Then warm: nothing changed.
      labopsDb = `sqlite:${join(dir, `labops-${i}.db`)}`;
      seedDb = await openSeedDb(i);
      // Both sides start from created tables: the seed's are made above, outside its timing, so labops' too.
      const created = await openDatabase(labopsDb);
      await migrate(created.kysely, created.dialect);
      await created.close();
      const s0 = await sim.stats();
      const lc = await labopsSync(sim.info.configPath, labopsDb);
      const s1 = await sim.stats();
      let t = performance.now();
      const seedRun = await seedSync(sim.info.servers, seedDb, passwordFile);
      const sc = performance.now() - t;
      const s2 = await sim.stats();
      if (seedRun.synced !== CONTROLLERS * LABS) throw new Error(`seed pattern synced ${seedRun.synced}`);
      conns = { labops: s1.connections - s0.connections, seed: s2.connections - s1.connections, labopsRequests: s1.requests - s0.requests };
      const lw = await labopsSync(sim.info.configPath, labopsDb);
      t = performance.now();
      await seedSync(sim.info.servers, seedDb, passwordFile);
      const sw = performance.now() - t;
      if (!timed) continue;
      labopsCold.push(lc);
      seedCold.push(sc);
      labopsWarm.push(lw);
      seedWarm.push(sw);
    }

    // DB statements of a no-change re-sync, counted on the same store through a Kysely plugin.
    const db = await openDatabase(labopsDb);
    const counter = statementCounter();
    const counted = db.kysely.withPlugin(counter);
    const historyBefore = Number((await counted.selectFrom('cml_lab_history').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    counter.count = 0;
    const ca = readFileSync(sim.info.caFile);
    const password = readFileSync(passwordFile, 'utf8').trim();
    const result = await syncLabs(
      sim.info.servers.map((s) => ({ id: s.id, name: s.id, url: s.url })),
      { concurrency: 5, labConcurrency: 4, purge: false },
      {
        connect: (s) => new CmlClient({ url: s.url, username: 'admin', password, ca, maxSockets: 4 }),
        store: new CmlLabStore(counted, db.dialect),
        now: Date.now,
        newId: randomUUID,
      },
    );
    const resyncStatements = counter.count;
    const historyAfter = Number((await db.kysely.selectFrom('cml_lab_history').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    await db.close();
    if (result.totals.updated || result.totals.created) throw new Error('the no-change re-sync changed something');

    // The seed pattern's statements for the same re-sync.
    const seedCounter = statementCounter();
    const seedCounted: Database = { ...seedDb!, kysely: seedDb!.kysely.withPlugin(seedCounter) };
    await seedSync(sim.info.servers, seedCounted, passwordFile);

    if (process.env.BENCH_CML_RAW) console.error(JSON.stringify({ labopsCold, seedCold, labopsWarm, seedWarm }));
    const labopsWarmMs = median(labopsWarm);
    const seedWarmMs = median(seedWarm);
    const labopsColdMs = median(labopsCold);
    const seedColdMs = median(seedCold);
    return {
      name: `labs sync over ${CONTROLLERS} simulated CML controllers × ${LABS} labs vs the seed's pattern`,
      figures: {
        controllers: CONTROLLERS,
        labs_per_controller: LABS,
        controller_latency_ms: LATENCY_MS,
        rounds: ROUNDS,
        warmup_rounds: WARMUP_ROUNDS,
        labops_cold_ms: round(labopsColdMs, 0),
        seed_cold_ms: round(seedColdMs, 0),
        labops_resync_ms: round(labopsWarmMs, 0),
        seed_resync_ms: round(seedWarmMs, 0),
        labops_cold_tls_connections: conns.labops,
        seed_cold_tls_connections: conns.seed,
        labops_cold_requests: conns.labopsRequests,
        resync_db_statements: resyncStatements,
        resync_history_rows_written: historyAfter - historyBefore,
        seed_resync_db_statements: seedCounter.count,
      },
      ratios: {
        cold_sync_vs_seed: round(labopsColdMs / seedColdMs, 4),
        resync_vs_seed: round(labopsWarmMs / seedWarmMs, 4),
      },
      targets: { cold_sync_vs_seed: 0.2, resync_vs_seed: 0.2 },
      notes: [
        `no-change re-sync: ${resyncStatements} DB statements for ${CONTROLLERS * LABS} labs (one SELECT and one batched UPDATE per server), ${historyAfter - historyBefore} history rows`,
        `labops timed through the built CLI entry in a warm process of its own (config, database open, sync); the seed pattern as a library loop with the same store; medians of interleaved rounds after ${WARMUP_ROUNDS} untimed ones (both sides warm, as in the daemon and the seed's scheduler)`,
      ],
    };
  } finally {
    await labops.close();
    for (const d of seedDbs) await d.close();
    sim.child.stdin!.end();
    await new Promise((r) => sim.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
