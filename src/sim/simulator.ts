// The lab simulator: N Lab Station hosts on consecutive 127.0.1.x addresses, a Wake-on-LAN receiver,
// and a seed-format hosts.json describing them. Everything stays on loopback.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { SimStation } from './station.js';
import { createStationRuntime, ScaledClock, type SimClock } from './labstation/index.js';
import { SimWinRMServer } from './winrm/server.js';
import { ensureSimCertificates } from './winrm/certs.js';
import { StationCommandHandler } from './station-handler.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { WolListener } from './wol-listener.js';
import { FaultPlan } from './faults.js';
import { StationFaults } from './station-faults.js';

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
  /** without LabStation.exe behaviour, WinRM and station files: only power, WoL and TCP */
  networkOnly?: boolean;
  /** HTTPS WinRM port of every station (0 = a free port each); default 5986, or 0 when port is 0 */
  httpsPort?: number;
  /** the WinRM account the stations accept */
  winrmUser?: string;
  /** per-call latency of a real station (benchmarks): LabStation.exe commands and PowerShell invocations */
  latency?: { commandMs?: number; powershellMs?: number };
  /** station faults and latency (station.winrm, station.command, station.powershell); a plan of its own when absent */
  faults?: FaultPlan;
}

export interface Simulator {
  stations: SimStation[];
  wolPort: number;
  wolAddress: string;
  inventoryPath: string;
  stateDir: string;
  /** file-source template for `labops heartbeat poll --source file` */
  heartbeatPathTemplate: string;
  /** the CA of the stations' HTTPS certificate (pass it with --ca) */
  caFile: string | undefined;
  /** the file holding the WinRM password (the inventory refers to it as file:<path>) */
  passwordFile: string | undefined;
  winrmUser: string;
  /** WinRM servers by station name (tests inspect received argv and shell events) */
  winrmServers: Map<string, SimWinRMServer>;
  /** the WinRM and LabStation.exe faults and latency of every station */
  faults: FaultPlan;
  /** the station faults in force (listener down, wrong credentials, heartbeat, local user, local mode, boot delay) */
  stationFaults: StationFaults;
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

function stationsOn(o: SimulatorOptions, addresses: string[]): SimStation[] {
  const prefix = o.namePrefix ?? 'sim-ws-';
  const width = Math.max(3, String(o.hosts).length);
  return addresses.map(
    (address, i) => new SimStation({ name: `${prefix}${String(i + 1).padStart(width, '0')}`, address, mac: simMac(i + 1), port: o.port ?? 5985, bootDelayMs: o.bootDelayMs ?? 2000 }),
  );
}

/** The WinRM password of the simulated fleet, made once per state directory. */
function fleetPassword(stateDir: string): { password: string; passwordFile: string } {
  mkdirSync(stateDir, { recursive: true });
  const passwordFile = join(stateDir, 'winrm-password');
  if (!existsSync(passwordFile)) {
    writeFileSync(passwordFile, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
    chmodSync(passwordFile, 0o600);
  }
  return { password: readFileSync(passwordFile, 'utf8').trim(), passwordFile };
}

/** Gives every station its LabStation.exe runtime and its WinRM service. */
async function attachWindows(o: SimulatorOptions, stations: SimStation[], addresses: string[], winrmUser: string, faults: FaultPlan) {
  const { password, passwordFile } = fleetPassword(o.stateDir);
  const certs = await ensureSimCertificates(o.stateDir, addresses);
  const clock = o.clock ?? new ScaledClock(o.timeScale ?? 1);
  const httpsPort = o.httpsPort ?? (o.port === 0 ? 0 : 5986);
  const winrmServers = new Map<string, SimWinRMServer>();
  for (const s of stations) {
    const runtime = createStationRuntime({ name: s.name, stateDir: o.stateDir, clock, power: o.poweredOn ? 'on' : 'off', bootDelayMs: o.bootDelayMs ?? 2000, fsync: false, legacyMirror: false });
    s.attachRuntime(runtime);
    const server = new SimWinRMServer({
      address: s.spec.address,
      httpPort: s.port,
      httpsPort,
      tls: { cert: certs.cert, key: certs.key },
      users: { [winrmUser]: password },
      handler: new StationCommandHandler(runtime, undefined, o.latency, faults),
      computerName: s.name.toUpperCase().slice(0, 15),
      faults,
      host: s.name,
    });
    winrmServers.set(s.name, server);
    s.winrm = server;
  }
  return { winrmServers, caFile: certs.caFile, passwordFile };
}

function writeInventory(o: SimulatorOptions, stations: SimStation[], wol: WolListener, wolAddress: string, winrmUser: string, passwordFile: string | undefined): string {
  const inventoryPath = join(o.stateDir, 'hosts.json');
  const inventory = {
    hosts: stations.map((s, i) => ({
      name: s.name,
      address: s.spec.address,
      mac: s.spec.mac,
      ...(o.networkOnly ? {} : { winrm_user: winrmUser, winrm_pass: `file:${passwordFile}` }),
      winrm_transport: 'ntlm',
      winrm_port: s.port,
      broadcast: wolAddress,
      wol_port: wol.port,
      probe: `tcp:${s.port}`,
      labs: [String(i + 1)],
    })),
  };
  mkdirSync(o.stateDir, { recursive: true });
  const tmp = `${inventoryPath}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(inventory, null, 2)}\n`);
  renameSync(tmp, inventoryPath);
  return inventoryPath;
}

export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const addresses = loopbackAddresses(o.baseAddress ?? '127.0.1.1', o.hosts);
  const stations = stationsOn(o, addresses);
  const winrmUser = o.winrmUser ?? 'labops';
  const faults = o.faults ?? new FaultPlan('station');
  const windows = o.networkOnly ? undefined : await attachWindows(o, stations, addresses, winrmUser, faults);
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
  const winrmServers = windows?.winrmServers ?? new Map<string, SimWinRMServer>();
  return {
    stations,
    wolPort: wol.port,
    wolAddress,
    inventoryPath: writeInventory(o, stations, wol, wolAddress, winrmUser, windows?.passwordFile),
    stateDir: o.stateDir,
    heartbeatPathTemplate: join(o.stateDir, 'stations', '{host}', 'labstation', 'data', 'telemetry', 'heartbeat.json'),
    caFile: windows?.caFile,
    passwordFile: windows?.passwordFile,
    winrmUser,
    winrmServers,
    faults,
    stationFaults: new StationFaults(stations, winrmServers),
    station: (name) => stations.find((s) => s.name.toLowerCase() === name.toLowerCase()),
    close: cleanup,
  };
}
