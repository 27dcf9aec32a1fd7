// labops exec against Debian's pywinrm on the same simulated stations, in the same run:
//  - one `labops exec <host> -- status-json` process against one pywinrm script doing the same;
//  - `labops exec --all -- status-json` over 200 stations against the seed's host-by-host pywinrm loop,
//    with labops' peak RSS.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../src/sim/simulator.js';
import { median, pywinrmSequential, round, timeCommand, timeLabops, type BenchResult } from './lib.js';

const HOSTS = Number(process.env.BENCH_EXEC_HOSTS ?? 200);
const SINGLE_RUNS = Number(process.env.BENCH_EXEC_SINGLE_RUNS ?? 7);
// What a real station costs per call: LabStation.exe status collection runs ~10 subprocesses (NOTES §3.1), and
// labops' safe call-operator wrapper starts powershell.exe, which pywinrm's run_cmd does not. Both apply to the
// fleet run only; the single-host run measures the clients' own overhead against an instant station.
const COMMAND_MS = Number(process.env.BENCH_EXEC_COMMAND_MS ?? 250);
const POWERSHELL_MS = Number(process.env.BENCH_EXEC_POWERSHELL_MS ?? 150);

async function withSim<T>(hosts: number, latency: { commandMs: number; powershellMs: number }, fn: (sim: Awaited<ReturnType<typeof startSimulator>>, creds: { address: string; port: number; user: string; password: string }[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-exec-'));
  const sim = await startSimulator({ hosts, baseAddress: '127.0.2.1', stateDir: dir, port: 0, poweredOn: true, bootDelayMs: 10, latency });
  try {
    const password = readFileSync(sim.passwordFile!, 'utf8').trim();
    return await fn(sim, sim.stations.map((s) => ({ address: s.spec.address, port: s.port, user: sim.winrmUser, password })));
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const labopsSingle: number[] = [];
  const pySingle: number[] = [];
  const pyExchange: number[] = [];
  const nodeE: number[] = [];
  await withSim(1, { commandMs: 0, powershellMs: 0 }, async (sim, hosts) => {
    for (let i = 0; i < SINGLE_RUNS; i++) {
      const l = await timeLabops(['--hosts', sim.inventoryPath, '--json', 'exec', 'sim-ws-001', '--', 'status-json']);
      if (l.code !== 0) throw new Error(`labops exec failed (${l.code}): ${l.stderr}`);
      labopsSingle.push(l.ms);
      const py = await pywinrmSequential(hosts, ['status-json']);
      pySingle.push(py.ms);
      pyExchange.push(py.exchangeMs);
      nodeE.push((await timeCommand(process.execPath, ['-e', ''])).ms);
    }
  });
  // The best any Node process could do: start (`node -e ''`) plus the WinRM exchange itself, taken as
  // pywinrm's own in-script time for it. When this floor is above the target, start-up alone decides.
  const floor = (median(nodeE) + median(pyExchange)) / median(pySingle);
  return withSim(HOSTS, { commandMs: COMMAND_MS, powershellMs: POWERSHELL_MS }, async (sim, hosts) => {
    const base = ['--hosts', sim.inventoryPath, '--json', 'exec'];
    const all = await timeLabops([...base, '--all', '--concurrency', '64', '--', 'status-json']);
    if (all.code !== 0) throw new Error(`labops exec --all failed (${all.code}): ${all.stderr.slice(0, 500)}`);
    const okAll = (JSON.parse(all.stdout) as { hosts: { outcome: string }[] }).hosts.filter((h) => h.outcome === 'ok').length;
    const py = await pywinrmSequential(hosts, ['status-json']);
    return {
      name: `exec status-json: labops vs pywinrm (1 host, ${HOSTS} hosts)`,
      figures: {
        labops_single_ms: round(median(labopsSingle), 0),
        pywinrm_single_ms: round(median(pySingle), 0),
        pywinrm_single_exchange_ms: round(median(pyExchange), 0),
        node_e_ms: round(median(nodeE), 0),
        labops_all_ms: round(all.ms, 0),
        labops_all_ok: okAll,
        labops_all_peak_rss_mib: round(all.peakRssMiB, 1),
        pywinrm_sequential_ms: round(py.ms, 0),
        pywinrm_sequential_ok: py.ok,
        station_command_latency_ms: COMMAND_MS,
        station_powershell_latency_ms: POWERSHELL_MS,
      },
      ratios: {
        single_vs_pywinrm: round(median(labopsSingle) / median(pySingle), 3),
        single_floor_node_start_plus_exchange_vs_pywinrm: round(floor, 3),
        all_vs_pywinrm_loop: round(all.ms / py.ms, 4),
        peak_rss_vs_150mib: round(all.peakRssMiB / 150, 3),
      },
      targets: { single_vs_pywinrm: 0.6, all_vs_pywinrm_loop: 0.1, peak_rss_vs_150mib: 1 },
      notes: [
        `single host: node -e '' alone is ${round(median(nodeE), 0)} ms and pywinrm's WinRM exchange ${round(median(pyExchange), 0)} ms, so no Node process can go below ${round(floor, 3)} of pywinrm's ${round(median(pySingle), 0)} ms here`,
      ],
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
