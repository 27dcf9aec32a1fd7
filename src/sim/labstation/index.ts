// One simulated Lab Station as the rest of the simulator sees it: the LabStation.exe state machine,
// its files in <stateDir>/stations/<name>/ (a "file share" mirror of C:\LabStation), and the service
// loop's heartbeat tick every 60 s of simulated time. The network side (WinRM server, WoL, TCP) wires
// itself to execute(), readFile() and the power events.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { ScaledClock, type SimClock, type SimTimer } from './clock.js';
import { LabStationMachine, type ExecResult, type LabStationMachineOptions, type PowerCause, type PowerState } from './machine.js';
import { StationFiles, atomicWrite, type StationLayout } from './files.js';
import { stationDir, windowsPathToHostPath } from './paths.js';
import type { StationConfig } from './status.js';

export { ManualClock, ScaledClock, type SimClock, type SimTimer } from './clock.js';
export { LabStationMachine, StationUnavailableError, MESSAGES, HELP_TEXT, type ExecResult, type PowerState, type PowerCause, type ForcedLogoffEvent } from './machine.js';
export { toStationJson, type JsonDialect } from './serializer.js';
export { IniDocument, typeIniValue } from './ini.js';
export { StationFiles, encodeStationJson, encodeEventLine, atomicWrite } from './files.js';
export { stationDir, windowsPathToHostPath } from './paths.js';
export { defaultStationConfig, stationTimestamp, type StationConfig } from './status.js';

/**
 * Which Lab Station build's files to imitate:
 * - '3.2.0' (default): valid JSON, summary.ready, data under labstation\data mirrored to data\
 * - 'pre-3.2': the same valid JSON without summary.ready (a test shape for consumers of schemaVersion 1.0.0
 *   files that predate summary.ready)
 * - 'nov-2025': Lab Station 3.0.0 of Nov 2025: invalid JSON (raw backslashes and newlines, arrays as
 *   {"1":…}), no summary.ready, version 1.0.0-alpha, data under C:\LabStation\data only
 */
export type HeartbeatShape = '3.2.0' | 'pre-3.2' | 'nov-2025';

export const HEARTBEAT_INTERVAL_MS = 60_000;

export interface StationRuntimeOptions {
  name: string;
  stateDir: string;
  /** shared simulated clock; default: a ScaledClock at timeScale */
  clock?: SimClock;
  /** simulated seconds per real second when no clock is given (labops sim --time-scale) */
  timeScale?: number;
  /** simulated ms a station-initiated reboot stays down */
  bootDelayMs?: number;
  power?: 'on' | 'off';
  config?: Partial<StationConfig>;
  heartbeatShape?: HeartbeatShape;
  /** before 2025-11-24 the files had no schemaVersion */
  withoutSchemaVersion?: boolean;
  layout?: StationLayout;
  /** write heartbeat.json at once when something changes, not only on the 60 s tick (default true) */
  writeOnChange?: boolean;
  /** phase of the 60 s tick; default derived from the name so that many stations do not write at once */
  tickOffsetMs?: number;
  /** fsync service-state.ini, exported files and the events file (default true) */
  fsync?: boolean;
  /** mirror heartbeat.json and status.json into C:\LabStation\data as 3.2.0 does (default true) */
  legacyMirror?: boolean;
  /** also fsync heartbeat.json and status.json on every tick (default false: rename is enough for readers) */
  fsyncHeartbeat?: boolean;
  /** passed through to the machine */
  machine?: Omit<LabStationMachineOptions, 'clock' | 'name' | 'config' | 'ini' | 'power' | 'bootDelayMs' | 'localModeFlag' | 'writeFile' | 'withoutReady' | 'withoutSchemaVersion'>;
}

export interface StationRuntime {
  readonly name: string;
  readonly dir: string;
  readonly machine: LabStationMachine;
  readonly files: StationFiles;
  readonly clock: SimClock;
  readonly power: PowerState;
  /** Does a magic packet bring the station back (wake-armed NIC with Wake on Magic Packet)? */
  readonly wakeOnLanWorks: boolean;
  /** every argv the station received */
  readonly receivedArgv: string[][];
  /** why the last heartbeat write failed, until one succeeds again */
  readonly lastWriteError: Error | undefined;
  /** `LabStation.exe <argv>`; rejects with StationUnavailableError when the station is not running */
  execute(argv: string[]): Promise<ExecResult>;
  /** the bytes of a Windows path on this station (e.g. C:\LabStation\labstation\data\telemetry\heartbeat.json) */
  readFile(windowsPath: string): Buffer | undefined;
  /** write a file on the station (Set-Content over WinRM); local-mode.flag updates the heartbeat */
  writeFile(windowsPath: string, data: Buffer | string): boolean;
  deleteFile(windowsPath: string): boolean;
  /** the station finished booting (magic packet plus boot delay handled by the network side) */
  powerOn(): void;
  /** power events: 'off'/'hibernated' when it goes down, 'booting' during a reboot, 'on' when running */
  onPower(fn: (state: PowerState, cause: PowerCause) => void): () => void;
  /** write heartbeat.json and status.json now */
  writeHeartbeat(): void;
  /** a fault of the station's service loop: heartbeat.json gone, no longer updated, or cut off; undefined = healthy */
  heartbeatFault: HeartbeatFault | undefined;
  close(): void;
}

export type HeartbeatFault = 'missing' | 'stale' | 'corrupt';

function nameHash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** The service loop's heartbeat writes: on change (once per burst) and every 60 s of simulated time, as the fault allows. */
class HeartbeatWriter {
  closed = false;
  fault: HeartbeatFault | undefined;
  lastWriteError: Error | undefined;
  private dirty = false;
  private tick: SimTimer | undefined;

  constructor(
    private readonly machine: LabStationMachine,
    private readonly files: StationFiles,
    private readonly clock: SimClock,
    private readonly offset: number,
  ) {}

  write = (): void => {
    this.dirty = false;
    if (this.closed || this.machine.power !== 'on' || this.fault === 'stale') return;
    try {
      if (this.fault === 'missing') return this.files.breakHeartbeat('missing');
      this.files.writeHeartbeat(this.machine.heartbeat());
      if (this.fault === 'corrupt') this.files.breakHeartbeat('corrupt');
      this.lastWriteError = undefined;
    } catch (e) {
      // a full or vanished state dir must not crash the simulator from a timer; the next tick retries
      this.lastWriteError = e as Error;
    }
  };

  /** Several changes inside one command give one write. */
  changed(): void {
    if (this.dirty) return;
    this.dirty = true;
    queueMicrotask(this.write);
  }

  /** The service loop: a heartbeat every 60 s of simulated time, at this station's phase. */
  schedule(): void {
    if (this.closed) return;
    const now = this.clock.now();
    const next = now - ((((now - this.offset) % HEARTBEAT_INTERVAL_MS) + HEARTBEAT_INTERVAL_MS) % HEARTBEAT_INTERVAL_MS) + HEARTBEAT_INTERVAL_MS;
    this.tick = this.clock.schedule(next, () => {
      this.write();
      this.schedule();
    });
  }

  close(): void {
    this.closed = true;
    this.tick?.cancel();
  }
}

function stationMachine(o: StationRuntimeOptions, clock: SimClock, files: StationFiles, writeStationFile: (p: string, b: Buffer) => boolean): LabStationMachine {
  const shape = o.heartbeatShape ?? '3.2.0';
  const config: Partial<StationConfig> = { computerName: o.name.toUpperCase().slice(0, 15), ...(shape === 'nov-2025' ? { version: '1.0.0-alpha' } : {}), ...o.config };
  return new LabStationMachine({
    ...o.machine,
    clock,
    name: o.name,
    config,
    ini: files.loadIni(),
    power: o.power ?? 'on',
    bootDelayMs: o.bootDelayMs,
    withoutReady: shape !== '3.2.0',
    withoutSchemaVersion: o.withoutSchemaVersion,
    localModeFlag: { exists: () => files.localModeFlagExists(), set: (on) => files.setLocalModeFlag(on) },
    writeFile: writeStationFile,
  });
}

export function createStationRuntime(o: StationRuntimeOptions): StationRuntime {
  const clock = o.clock ?? new ScaledClock(o.timeScale ?? 1);
  const dir = stationDir(o.stateDir, o.name);
  const shape = o.heartbeatShape ?? '3.2.0';
  const layout = o.layout ?? (shape === 'nov-2025' ? 'legacy' : 'current');
  const files = new StationFiles(dir, layout, shape === 'nov-2025' ? 'nov-2025' : '3.2.0', o.fsync ?? true, o.fsyncHeartbeat ?? false, o.legacyMirror ?? true);
  const writeStationFile = (windowsPath: string, data: Buffer): boolean => {
    const path = windowsPathToHostPath(dir, windowsPath);
    if (!path) return false;
    try {
      atomicWrite(path, data, o.fsync ?? true);
      return true;
    } catch {
      return false;
    }
  };
  const machine = stationMachine(o, clock, files, writeStationFile);
  const heartbeat = new HeartbeatWriter(machine, files, clock, o.tickOffsetMs ?? nameHash(o.name) % HEARTBEAT_INTERVAL_MS);
  machine.on('ini', () => files.writeIni(machine.ini));
  machine.on('forced-logoff', (e) => files.appendEvent(e));
  if (o.writeOnChange ?? true) machine.on('change', () => heartbeat.changed());
  heartbeat.schedule();
  if (machine.power === 'on') heartbeat.write();
  return runtimeApi(o.name, dir, machine, files, clock, heartbeat, writeStationFile);
}

function runtimeApi(name: string, dir: string, machine: LabStationMachine, files: StationFiles, clock: SimClock, heartbeat: HeartbeatWriter, writeStationFile: (p: string, b: Buffer) => boolean): StationRuntime {
  const isLocalModeFlag = (p: string) => files.localModeFlagPaths.includes(p);
  return {
    name,
    dir,
    machine,
    files,
    clock,
    get power() {
      return machine.power;
    },
    get wakeOnLanWorks() {
      return machine.wakeOnLanWorks;
    },
    get lastWriteError() {
      return heartbeat.lastWriteError;
    },
    get heartbeatFault() {
      return heartbeat.fault;
    },
    set heartbeatFault(f) {
      heartbeat.fault = f;
      heartbeat.write();
    },
    receivedArgv: machine.receivedArgv,
    execute: (argv) => machine.execute(argv),
    readFile(windowsPath) {
      const path = windowsPathToHostPath(dir, windowsPath);
      if (!path || !existsSync(path) || !statSync(path).isFile()) return undefined;
      return readFileSync(path);
    },
    writeFile(windowsPath, data) {
      const path = windowsPathToHostPath(dir, windowsPath);
      const ok = writeStationFile(windowsPath, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (ok && path && isLocalModeFlag(path)) machine.localModeChanged();
      return ok;
    },
    deleteFile(windowsPath) {
      const path = windowsPathToHostPath(dir, windowsPath);
      if (!path || !existsSync(path)) return false;
      rmSync(path, { force: true });
      if (isLocalModeFlag(path)) machine.localModeChanged();
      return true;
    },
    powerOn: () => machine.powerOn(),
    onPower: (fn) => machine.on('power', fn),
    writeHeartbeat: heartbeat.write,
    close() {
      heartbeat.close();
      machine.close();
    },
  };
}
