// The station's files on disk, in its per-host directory, byte for byte as Lab Station writes them
// (reference NOTES §3.1, §3.2, §3.5): heartbeat.json and status.json (UTF-8 BOM, one line, no newline),
// session-guard-events.jsonl (BOM when created, one compact object per LF-terminated line, appended),
// service-state.ini (UTF-16LE with BOM, CRLF). Whole-file writes are atomic: temp file, fsync, rename.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toStationJson, type JsonDialect } from './serializer.js';
import { IniDocument } from './ini.js';
import type { ForcedLogoffEvent } from './machine.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** 'current': 3.2.0's labstation\data plus the legacy mirror of heartbeat/status; 'legacy': data\ only (before 3816f8f). */
export type StationLayout = 'current' | 'legacy';

let tmpCounter = 0;

export function atomicWrite(path: string, data: Buffer, fsync = true, knownDirs?: Set<string>): void {
  const dir = dirname(path);
  if (!knownDirs?.has(dir)) {
    mkdirSync(dir, { recursive: true });
    knownDirs?.add(dir);
  }
  // the station's own temp naming is heartbeat.json.tmp-<tick>-<rand>; pid and a counter keep ours unique
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** heartbeat.json / status.json bytes: a UTF-8 BOM, then the one-line document, no trailing newline. */
export function encodeStationJson(doc: unknown, dialect: JsonDialect = '3.2.0'): Buffer {
  return Buffer.concat([BOM, Buffer.from(toStationJson(doc, dialect), 'utf8')]);
}

/** One session-guard-events.jsonl line (LF-terminated). */
export function encodeEventLine(e: ForcedLogoffEvent): Buffer {
  return Buffer.from(`${toStationJson(e)}\n`, 'utf8');
}

export class StationFiles {
  /** where labstation\data lives: <hostDir>/labstation/data (current) or <hostDir>/data (legacy) */
  readonly dataDir: string;
  /** C:\LabStation\data, where 3.2.0 mirrors heartbeat.json and status.json */
  readonly legacyDataDir: string;

  private readonly dirs = new Set<string>();

  /**
   * fsync: service-state.ini and the events file are fsynced (state that must survive a restart of the
   * simulator); heartbeat.json and status.json, rewritten every simulated minute by hundreds of stations,
   * only when `fsyncHeartbeat` is set: the rename alone already keeps readers from seeing a partial file.
   */
  constructor(
    readonly hostDir: string,
    readonly layout: StationLayout = 'current',
    readonly dialect: JsonDialect = '3.2.0',
    private readonly fsync = true,
    private readonly fsyncHeartbeat = false,
    /** 3.2.0 mirrors heartbeat.json and status.json into C:\LabStation\data; off halves the write cost of a tick */
    private readonly legacyMirror = true,
  ) {
    this.legacyDataDir = join(hostDir, 'data');
    this.dataDir = layout === 'current' ? join(hostDir, 'labstation', 'data') : this.legacyDataDir;
  }

  get heartbeatPath(): string {
    return join(this.dataDir, 'telemetry', 'heartbeat.json');
  }
  get statusPath(): string {
    return join(this.dataDir, 'status.json');
  }
  get eventsPath(): string {
    return join(this.dataDir, 'telemetry', 'session-guard-events.jsonl');
  }
  get iniPath(): string {
    return join(this.dataDir, 'service-state.ini');
  }
  get localModeFlagPaths(): string[] {
    return this.layout === 'current' ? [join(this.dataDir, 'local-mode.flag'), join(this.legacyDataDir, 'local-mode.flag')] : [join(this.dataDir, 'local-mode.flag')];
  }

  writeHeartbeat(heartbeat: Record<string, unknown>): void {
    const hb = encodeStationJson(heartbeat, this.dialect);
    const st = encodeStationJson(heartbeat.status, this.dialect);
    const f = this.fsync && this.fsyncHeartbeat;
    atomicWrite(this.heartbeatPath, hb, f, this.dirs);
    atomicWrite(this.statusPath, st, f, this.dirs);
    if (this.layout === 'current' && this.legacyMirror) {
      atomicWrite(join(this.legacyDataDir, 'telemetry', 'heartbeat.json'), hb, f, this.dirs);
      atomicWrite(join(this.legacyDataDir, 'status.json'), st, f, this.dirs);
    }
  }

  /** heartbeat.json (and its legacy mirror) as a fault leaves it: gone, or cut off mid-document as a crash during a non-atomic write would. */
  breakHeartbeat(how: 'missing' | 'corrupt'): void {
    const paths = [this.heartbeatPath, ...(this.layout === 'current' && this.legacyMirror ? [join(this.legacyDataDir, 'telemetry', 'heartbeat.json')] : [])];
    for (const p of paths) {
      if (how === 'missing') rmSync(p, { force: true });
      else if (existsSync(p)) {
        const bytes = readFileSync(p);
        atomicWrite(p, bytes.subarray(0, Math.max(4, Math.floor(bytes.length / 3))), false, this.dirs);
      }
    }
  }

  writeIni(ini: IniDocument): void {
    atomicWrite(this.iniPath, ini.encode(), this.fsync, this.dirs);
  }

  /** Append one event; the BOM goes in only when the file is created. */
  appendEvent(e: ForcedLogoffEvent): void {
    mkdirSync(dirname(this.eventsPath), { recursive: true });
    const line = encodeEventLine(e);
    const data = existsSync(this.eventsPath) ? line : Buffer.concat([BOM, line]);
    const fd = openSync(this.eventsPath, 'a');
    try {
      writeSync(fd, data);
      if (this.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** service-state.ini from an earlier run, if there is one. */
  loadIni(): IniDocument | undefined {
    try {
      return IniDocument.decode(readFileSync(this.iniPath));
    } catch {
      return undefined;
    }
  }

  localModeFlagExists(): boolean {
    return this.localModeFlagPaths.some((p) => existsSync(p));
  }

  /** The GUI toggle: writes "local-mode" to the flag, or removes it from both places. */
  setLocalModeFlag(on: boolean): void {
    if (on) atomicWrite(this.localModeFlagPaths[0]!, Buffer.from('local-mode', 'utf8'), this.fsync);
    else for (const p of this.localModeFlagPaths) rmSync(p, { force: true });
  }
}
