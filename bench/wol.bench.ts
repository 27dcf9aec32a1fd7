// `labops wol --all` over 500 simulated stations with bounded concurrency, against the seed's loop:
// one host after another, packet, sleep, probe (ops-worker wol_and_wait), in the same run on the same sim.
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../src/sim/simulator.js';
import { sendMagicPacket } from '../src/core/net/magic-packet.js';
import { tcpProbe } from '../src/core/net/probe.js';
import { BIN, round, timeCommand, type BenchResult } from './lib.js';

const HOSTS = Number(process.env.BENCH_WOL_HOSTS ?? 500);
const BOOT_MS = 50;
const INTERVAL_MS = 100;
const TIMEOUT_MS = 500;

interface InvHost { name: string; address: string; mac: string; wol_port: number; probe: string }

/** The seed's wol_and_wait, host by host. */
async function seedLoop(hosts: InvHost[]): Promise<number> {
  let up = 0;
  for (const h of hosts) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      await sendMagicPacket({ mac: h.mac, address: '127.0.0.1', port: h.wol_port, repeat: 1 });
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      if ((await tcpProbe(h.address, Number(h.probe.split(':')[1]), TIMEOUT_MS)).up) {
        up++;
        break;
      }
    }
  }
  return up;
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'labops-bench-wol-'));
  // Network only: waking is packets and probes; the stations' WinRM and LabStation files play no part in it.
  const sim = await startSimulator({ hosts: HOSTS, baseAddress: '127.0.1.1', stateDir: dir, port: 0, bootDelayMs: BOOT_MS, networkOnly: true });
  try {
    const hosts = (JSON.parse(readFileSync(sim.inventoryPath, 'utf8')) as { hosts: InvHost[] }).hosts;
    const labops = await timeCommand(process.execPath, [
      BIN, '--hosts', sim.inventoryPath, '--json', 'wol', '--all', '--concurrency', '128', '--repeat', '1',
      '--interval', `${INTERVAL_MS}ms`, '--timeout', `${TIMEOUT_MS}ms`,
    ]);
    if (labops.code !== 0) throw new Error(`labops wol failed (${labops.code}): ${labops.stderr}`);
    const labopsUp = (JSON.parse(labops.stdout) as { up: number }).up;
    await Promise.all(sim.stations.map((s) => s.powerOff()));
    const started = performance.now();
    const seedUp = await seedLoop(hosts);
    const seedMs = performance.now() - started;
    return {
      name: `wol --all over ${HOSTS} simulated stations vs the seed's sequential loop`,
      figures: { hosts: HOSTS, labops_ms: round(labops.ms, 0), labops_up: labopsUp, seed_loop_ms: round(seedMs, 0), seed_up: seedUp, boot_delay_ms: BOOT_MS, interval_ms: INTERVAL_MS },
      ratios: { labops_vs_seed_loop: round(labops.ms / seedMs, 4) },
      targets: { labops_vs_seed_loop: 0.05 },
    };
  } finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
