// `labops daemon` at fleet scale: CPU and RSS of one daemon process polling 1,000 simulated stations
// (WinRM with NTLM message encryption, 150 ms PowerShell start-up per read as on a real station) every 60 s,
// storing into MariaDB, with the other loops running (reservation orchestrator, provisioning, cleanup,
// server checks, the API with /health and /metrics scraped every 15 s). Targets: average CPU under 25 % of
// one core and RSS under 250 MiB. The simulator runs in this process; only the daemon's own CPU
// (/proc/<pid>/stat) and memory (/proc/<pid>/status) are counted.
// Standalone: node --import tsx bench/daemon.bench.ts   (BENCH_DAEMON_STATIONS, BENCH_DAEMON_SECONDS)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../src/sim/simulator.js';
import { startMariaDb } from '../test/support/mariadb.js';
import { freePort } from '../test/support/services.js';
import { BIN, procStat, round, TICKS, type BenchResult } from './lib.js';

const STATIONS = Number(process.env.BENCH_DAEMON_STATIONS ?? 1000);
const SECONDS = Number(process.env.BENCH_DAEMON_SECONDS ?? 200);
const INTERVAL_S = Number(process.env.BENCH_DAEMON_INTERVAL ?? 60);
const POWERSHELL_MS = Number(process.env.BENCH_DAEMON_POWERSHELL_MS ?? 150);

export async function run(): Promise<BenchResult> {
  if (!existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)))) throw new Error('run npm run build first');
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-daemon-'));
  const maria = await startMariaDb();
  const sim = await startSimulator({ hosts: STATIONS, baseAddress: '127.0.6.1', stateDir: join(dir, 'sim'), port: 0, httpsPort: 0, poweredOn: true, bootDelayMs: 10, latency: { powershellMs: POWERSHELL_MS } });
  try {
    for (const s of sim.stations) s.runtime!.writeHeartbeat();
    const dbUrl = maria ? maria.createDatabase('bench_daemon') : `sqlite:${join(dir, 'bench.db')}`;
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ heartbeat: { interval: `${INTERVAL_S}s`, concurrency: 64 }, provision: { interval: '10s' }, servers: { interval: '30s' } }));
    const port = await freePort();
    const env = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: dir, LABOPS_INSTANCE: 'bench' };
    // the foreign tables (lab_sessions, servers, lab_reservations) as the other systems would have them
    const migrate = spawn(process.execPath, [BIN, '--db', dbUrl, 'db', 'migrate'], { env, stdio: 'ignore' });
    await new Promise((r) => migrate.on('exit', r));
    if (maria) {
      const { openDatabase } = await import('../src/core/db/database.js');
      const { migrate: m } = await import('../src/core/db/migrations.js');
      const db = await openDatabase(dbUrl);
      await m(db.kysely, db.dialect, { createForeign: true });
      await db.close();
    }
    const child = spawn(process.execPath, [BIN, '--config', config, '--hosts', sim.inventoryPath, '--db', dbUrl, 'daemon', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-20000)));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const health = async () => {
      try {
        return (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { loops?: Record<string, { runs: number; lastDurationMs: number | null; report: Record<string, number> }> };
      } catch {
        return undefined;
      }
    };
    // warm-up: the first poll of the whole fleet done
    const t0 = Date.now();
    while ((await health())?.loops?.heartbeat?.runs !== 1) {
      if (child.exitCode !== null) throw new Error(`daemon exited: ${stderr}`);
      if (Date.now() - t0 > 180_000) throw new Error('first poll did not finish in 3 min');
      await new Promise((r) => setTimeout(r, 500));
    }
    const firstPollMs = (await health())!.loops!.heartbeat!.lastDurationMs!;
    const start = procStat(child.pid!);
    const startAt = Date.now();
    const rss: number[] = [];
    const scrape = setInterval(() => void fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => {}), 15_000);
    while (Date.now() - startAt < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 2000));
      rss.push(procStat(child.pid!).rssKiB);
    }
    clearInterval(scrape);
    const end = procStat(child.pid!);
    const wallS = (Date.now() - startAt) / 1000;
    const h = await health();
    child.kill('SIGTERM');
    const code = await exited;
    const hb = h!.loops!.heartbeat!;
    const cpuPct = ((end.cpuTicks - start.cpuTicks) / TICKS / wallS) * 100;
    const peakMiB = end.hwmKiB / 1024;
    return {
      name: `labops daemon: ${STATIONS} stations polled every ${INTERVAL_S}s with every loop running (${maria ? 'MariaDB' : 'SQLite'})`,
      figures: {
        stations: STATIONS,
        measured_s: round(wallS, 1),
        polls_measured: hb.runs - 1,
        first_poll_ms: firstPollMs,
        last_poll_ms: hb.lastDurationMs ?? NaN,
        last_poll_ok: hb.report.ok ?? NaN,
        avg_cpu_pct_of_one_core: round(cpuPct, 2),
        rss_mib_start: round(start.rssKiB / 1024, 1),
        rss_mib_end: round(end.rssKiB / 1024, 1),
        rss_mib_max_sampled: round(Math.max(...rss) / 1024, 1),
        peak_rss_mib: round(peakMiB, 1),
        sigterm_exit_code: code ?? -1,
      },
      ratios: { cpu_of_one_core: round(cpuPct / 100, 3), peak_rss_of_250mib: round(peakMiB / 250, 3) },
      targets: { cpu_of_one_core: 0.25, peak_rss_of_250mib: 1 },
      notes: [`${POWERSHELL_MS} ms simulated PowerShell start-up per read; CPU counted from the first completed poll on; peak RSS is VmHWM over the whole run`],
    };
  } finally {
    await sim.close();
    await maria?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
}
