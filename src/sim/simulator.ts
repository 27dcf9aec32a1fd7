// The lab simulator: N Lab Station hosts on consecutive 127.0.1.x addresses, a Wake-on-LAN receiver,
// and a seed-format hosts.json describing them. Everything stays on loopback.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { SimStation } from './station.js';
import { createStationRuntime, ScaledClock, type SimClock } from './labstation/index.js';
import { WolListener } from './wol-listener.js';

export interface SimulatorOptions {
  hosts: number;
  baseAddress?: string;
  stateDir: string;
  /** station service port; 0 gives each station a free port of its own */
  port?: number;
  /** UDP port for magic packets on 127.0.0.1; 0 picks a free one */
  wolPort?: number;
  bootDelayMs?: number;
  /** start with every station running */
  poweredOn?: boolean;
  namePrefix?: string;
  /** simulated seconds per real second for the stations' clocks (session guard grace, heartbeat tick) */
  timeScale?: number;
  /** a shared clock for every station (tests pass a manual one) */
  clock?: SimClock;
  /** without LabStation.exe behaviour and station files: only power, WoL and TCP */
  networkOnly?: boolean;
}

export interface Simulator {
  stations: SimStation[];
  wolPort: number;
  wolAddress: string;
  inventoryPath: string;
  stateDir: string;
  /** file-source template for `labops heartbeat poll --source file` */
  heartbeatPathTemplate: string;
  station(name: string): SimStation | undefined;
  close(): Promise<void>;
}

export function loopbackAddresses(base: string, count: number): string[] {
  if (!isIPv4(base) || !base.startsWith('127.')) throw new Error(`base address ${base} is not in 127.0.0.0/8`);
  const parts = base.split('.').map(Number);
  let n = ((parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const out: string[] = [];
  while (out.length < count) {
    if (n > 0xffffff) throw new Error(`not enough loopback addresses after ${base}`);
    const last = n & 0xff;
    if (last !== 0 && last !== 255) out.push(`127.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${last}`);
    n++;
  }
  return out;
}

/** A locally administered MAC derived from the station number. */
export function simMac(i: number): string {
  return ['02', '1a', 'b0', (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0'))).join(':');
}

export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const addresses = loopbackAddresses(o.baseAddress ?? '127.0.1.1', o.hosts);
  const prefix = o.namePrefix ?? 'sim-ws-';
  const width = Math.max(3, String(o.hosts).length);
  const stations = addresses.map(
    (address, i) =>
      new SimStation({ name: `${prefix}${String(i + 1).padStart(width, '0')}`, address, mac: simMac(i + 1), port: o.port ?? 5985, bootDelayMs: o.bootDelayMs ?? 2000 }),
  );
  if (!o.networkOnly) {
    const clock = o.clock ?? new ScaledClock(o.timeScale ?? 1);
    for (const s of stations) {
      s.attachRuntime(
        createStationRuntime({ name: s.name, stateDir: o.stateDir, clock, power: o.poweredOn ? 'on' : 'off', bootDelayMs: o.bootDelayMs ?? 2000, fsync: false, legacyMirror: false }),
      );
    }
  }
  const byMac = new Map(stations.map((s) => [s.spec.mac, s]));
  const wol = new WolListener((mac) => byMac.get(mac)?.wake());
  const wolAddress = '127.0.0.1';
  const cleanup = async () => {
    await wol.stop();
    await Promise.all(stations.map((s) => s.powerOff()));
    for (const s of stations) s.runtime?.close();
  };
  try {
    await wol.start(wolAddress, o.wolPort ?? 0);
    for (const s of stations) {
      if (o.poweredOn) await s.powerOn();
      else await s.reservePort();
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  mkdirSync(o.stateDir, { recursive: true });
  const inventoryPath = join(o.stateDir, 'hosts.json');
  const inventory = {
    hosts: stations.map((s, i) => ({
      name: s.name,
      address: s.spec.address,
      mac: s.spec.mac,
      winrm_transport: 'ntlm',
      winrm_port: s.port,
      broadcast: wolAddress,
      wol_port: wol.port,
      probe: `tcp:${s.port}`,
      labs: [String(i + 1)],
    })),
  };
  const tmp = `${inventoryPath}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(inventory, null, 2)}\n`);
  renameSync(tmp, inventoryPath);
  return {
    stations,
    wolPort: wol.port,
    wolAddress,
    inventoryPath,
    stateDir: o.stateDir,
    heartbeatPathTemplate: join(o.stateDir, 'stations', '{host}', 'labstation', 'data', 'telemetry', 'heartbeat.json'),
    station: (name) => stations.find((s) => s.name.toLowerCase() === name.toLowerCase()),
    close: cleanup,
  };
}
