// Heartbeat ingestion, in the same run as the alternatives it replaces:
//  1. `labops heartbeat poll --all` of 200 simulated stations over WinRM into SQLite (one PowerShell call per
//     station reads heartbeat.json, service-state.ini and the events file) against the ops-worker's poller:
//     pywinrm, one station after another, run_ps Get-Content of heartbeat.json and then of the events file. The
//     stations start powershell.exe in 700 ms as a lab PC does (`labops sim --powershell-latency`); the same run
//     at zero latency is kept as protocol overhead;
//  2. ingest 5,000 heartbeat files from a file-share tree into MariaDB (labops, batched transactions) against
//     one row per transaction, as the ops-worker writes them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from 'mysql2/promise';
import { pythonJsonDumps } from '../src/domain/python-json.js';
import { startMariaDb } from '../test/support/mariadb.js';
import { pywinrmSequential, round, timeLabops, type BenchResult } from './lib.js';
import { startSimChild } from './sim-child.js';

const STATIONS = Number(process.env.BENCH_HB_STATIONS ?? 200);
const FILES = Number(process.env.BENCH_HB_FILES ?? 5000);
// powershell.exe start-up on a real station (0.3-1.5 s); both sides read the files through PowerShell.
const POWERSHELL_MS = 700;

async function pollBench(dir: string, powershellMs: number, base: string) {
  const sim = await startSimChild({ hosts: STATIONS, baseAddress: base, stateDir: join(dir, `sim-${powershellMs}`), commandMs: 300, powershellMs });
  try {
    const db = `sqlite:${join(dir, `poll-${powershellMs}.db`)}`;
    const migrate = await timeLabops(['--db', db, 'db', 'migrate']);
    if (migrate.code !== 0) throw new Error(migrate.stderr);
    const labops = await timeLabops(['--hosts', sim.inventoryPath, '--db', db, '--json', 'heartbeat', 'poll', '--all']);
    if (labops.code !== 0) throw new Error(`labops heartbeat poll failed (${labops.code}): ${labops.stderr.slice(0, 500)}`);
    const ok = (JSON.parse(labops.stdout) as { ok: number }).ok;
    const py = await pywinrmSequential(sim.stations.map((s) => ({ address: s.address, port: s.port, user: sim.user, password: sim.password })), ['--heartbeat']);
    return { labops, ok, py };
  } finally {
    await sim.stop();
  }
}

async function ingestBench(dir: string) {
  const maria = await startMariaDb();
  if (!maria) throw new Error('MariaDB not found (scripts/install-test-deps.sh)');
  try {
    const share = join(dir, 'share');
    const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/heartbeat/heartbeat.ready-hybrid.pretty.json', import.meta.url), 'utf8'));
    const hosts = [];
    for (let i = 0; i < FILES; i++) {
      const name = `ws-${String(i).padStart(5, '0')}`;
      mkdirSync(join(share, name), { recursive: true });
      const doc = { ...fixture, host: name.toUpperCase(), timestamp: new Date(Date.UTC(2026, 7, 24, 9, 0, 0) + i * 1000).toISOString().replace('.000', '') };
      writeFileSync(join(share, name, 'heartbeat.json'), `\uFEFF${JSON.stringify(doc)}`);
      hosts.push({ name, address: `10.200.${i >> 8}.${i & 255}`, mac: null });
    }
    const inventory = join(dir, 'hosts.json');
    writeFileSync(inventory, JSON.stringify({ hosts: hosts.map((h) => ({ name: h.name, address: h.address })) }));
    const labopsUrl = maria.createDatabase('labops_ingest');
    const m1 = await timeLabops(['--db', labopsUrl, 'db', 'migrate']);
    if (m1.code !== 0) throw new Error(`migrate failed: ${m1.stderr}`);
    const labops = await timeLabops(['--hosts', inventory, '--db', labopsUrl, 'heartbeat', 'poll', '--all', '--no-events', '--source', 'file', '--path', join(share, '{host}', 'heartbeat.json'), '--concurrency', '64']);
    if (labops.code !== 0) throw new Error(`labops ingest failed (${labops.code}): ${labops.stderr.slice(0, 500)}`);
    const stored = Number(maria.sql('SELECT COUNT(*) FROM labops_ingest.lab_host_heartbeat').trim());

    // The ops-worker's way: for each heartbeat one transaction (select host, insert or update it, insert the row).
    const baseUrl = maria.createDatabase('baseline_ingest');
    const m2 = await timeLabops(['--db', baseUrl, 'db', 'migrate']);
    if (m2.code !== 0) throw new Error(`migrate failed: ${m2.stderr}`);
    const pool = createPool({ host: '127.0.0.1', port: maria.port, user: maria.user, password: maria.password, database: 'baseline_ingest', connectionLimit: 1, timezone: 'Z' });
    const started = performance.now();
    try {
      const conn = await pool.getConnection();
      for (const h of hosts) {
        const doc = JSON.parse(readFileSync(join(share, h.name, 'heartbeat.json'), 'utf8').replace(/^\uFEFF/, ''));
        const ts = doc.timestamp.replace('T', ' ').replace('Z', '');
        await conn.beginTransaction();
        const [rows] = await conn.query('SELECT id FROM lab_hosts WHERE name = ?', [h.name]);
        let id = (rows as { id: number }[])[0]?.id;
        if (id) await conn.query('UPDATE lab_hosts SET address = ?, mac = ?, last_seen = ? WHERE id = ?', [h.address, h.mac, ts, id]);
        else id = ((await conn.query('INSERT INTO lab_hosts (name, address, mac, last_seen) VALUES (?, ?, ?, ?)', [h.name, h.address, h.mac, ts]))[0] as { insertId: number }).insertId;
        await conn.query(
          'INSERT INTO lab_host_heartbeat (host_id, timestamp_utc, ready, local_mode, local_session, last_forced_logoff_ts, last_forced_logoff_user, last_power_action_ts, last_power_action_mode, raw_json) VALUES (?,?,?,?,?,?,?,?,?,?)',
          [id, ts, doc.summary?.ready ?? null, doc.status?.localModeEnabled ?? null, doc.status?.localSessionActive ?? null, null, null, null, null, pythonJsonDumps(doc)],
        );
        await conn.commit();
      }
      conn.release();
    } finally {
      await pool.end();
    }
    const baselineMs = performance.now() - started;
    return { labops, stored, baselineMs };
  } finally {
    await maria.stop();
  }
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-hb-'));
  try {
    const loadBefore = loadavg()[0]!;
    const poll = await pollBench(dir, POWERSHELL_MS, '127.0.3.1');
    const zero = await pollBench(dir, 0, '127.0.5.1');
    const loadAfter = loadavg()[0]!;
    const ingest = await ingestBench(dir);
    return {
      name: `heartbeat: poll ${STATIONS} stations over WinRM (PowerShell start ${POWERSHELL_MS} ms) vs sequential pywinrm; ingest ${FILES} files into MariaDB vs one row per transaction`,
      figures: {
        load_average_1m_before: round(loadBefore, 2),
        load_average_1m_after_poll: round(loadAfter, 2),
        station_powershell_latency_ms: POWERSHELL_MS,
        poll_labops_ms: round(poll.labops.ms, 0),
        poll_labops_cpu_ms: round(poll.labops.cpuMs, 0),
        poll_labops_peak_rss_mib: round(poll.labops.peakRssMiB, 1),
        poll_labops_ok: poll.ok,
        poll_pywinrm_sequential_ms: round(poll.py.ms, 0),
        poll_pywinrm_ok: poll.py.ok,
        poll_fits_interval_60s_pct: round((poll.labops.ms / 60_000) * 100, 1),
        protocol_overhead_poll_labops_ms: round(zero.labops.ms, 0),
        protocol_overhead_poll_labops_cpu_ms: round(zero.labops.cpuMs, 0),
        protocol_overhead_poll_pywinrm_sequential_ms: round(zero.py.ms, 0),
        ingest_labops_ms: round(ingest.labops.ms, 0),
        ingest_labops_heartbeats_per_s: round(FILES / (ingest.labops.ms / 1000), 0),
        // CPU of the labops process (all threads): about equal to its wall time, so the ingest is CPU-bound here
        ingest_labops_cpu_ms: round(ingest.labops.cpuMs, 0),
        ingest_rows_stored: ingest.stored,
        ingest_one_row_per_tx_ms: round(ingest.baselineMs, 0),
        ingest_one_row_per_tx_per_s: round(FILES / (ingest.baselineMs / 1000), 0),
      },
      ratios: {
        poll_vs_pywinrm_loop: round(poll.labops.ms / poll.py.ms, 4),
        protocol_overhead_poll_vs_pywinrm_loop: round(zero.labops.ms / zero.py.ms, 4),
        ingest_vs_one_row_per_tx: round(ingest.labops.ms / ingest.baselineMs, 3),
      },
      targets: { poll_vs_pywinrm_loop: 0.04, ingest_vs_one_row_per_tx: 0.2 },
      notes: ['protocol_overhead_*: the same poll against stations that answer at once (no target: what each client itself costs)'],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
