// Child process for the scale benchmark: N simulated Lab Stations writing their telemetry into a share tree
// (<share>/<host>/labstation/data/…) on their own schedules, byte for byte as the station does (the simulator's
// StationFiles: BOM, one-line LS_ToJson, temp file + rename, events appended with a BOM at creation,
// service-state.ini in UTF-16LE). Each station rewrites heartbeat.json every interval at its own phase (spread
// over the interval, with a small jitter per write); now and then one appends a session-guard event (and, for
// the stations that keep one, rewrites service-state.ini). A few stations are hostile: a heartbeat.json
// written in place in two parts with a pause, one that vanishes for a while, one replaced by a directory.
// argv: one JSON document (WriterOptions). Prints one JSON line when every station has written once; logs
// every write to `log` (TSV: host, heartbeat timestamp, write time ms, kind); exits when stdin closes.
import { createWriteStream, mkdirSync, openSync, closeSync, writeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StationFiles, encodeStationJson } from '../src/sim/labstation/files.js';
import { IniDocument } from '../src/sim/labstation/ini.js';
import { buildHeartbeat, buildStatus, defaultStationConfig, stationTimestamp, type StationConfig } from '../src/sim/labstation/status.js';

export interface WriterOptions {
  share: string;
  stations: number;
  intervalMs: number;
  /** share of stations that misbehave (0.005) */
  hostileFraction: number;
  log: string;
}

export type HostileKind = 'torn' | 'vanish' | 'dir';

export const stationName = (i: number): string => `st${String(i + 1).padStart(5, '0')}`;
/** the hostile stations: every 1/fraction-th, at least one */
export function hostileStations(o: Pick<WriterOptions, 'stations' | 'hostileFraction'>): number[] {
  const every = Math.max(1, Math.round(1 / o.hostileFraction));
  const out: number[] = [];
  for (let i = Math.floor(every / 2); i < o.stations; i += every) out.push(i);
  return out.length ? out : [0];
}

interface Station {
  name: string;
  files: StationFiles;
  config: StationConfig;
  ini?: IniDocument;
  phaseMs: number;
  /** writes are skipped until then (the file vanished or is a directory) */
  blockedUntil: number;
  hostile: boolean;
  acts: number;
  /** the interval of the next write (0: the first one on its own phase, after the write at start) */
  k: number;
  index: number;
}

const JITTER_MS = 500;
const EVENT_PROBABILITY = 1 / 300;
const WITH_INI_EVERY = 10;

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as WriterOptions;
  const log = createWriteStream(o.log, { flags: 'a' });
  const hostile = new Set(hostileStations(o));
  const start = Date.now();
  const stations: Station[] = [];
  for (let i = 0; i < o.stations; i++) {
    const name = stationName(i);
    const hostDir = join(o.share, name);
    mkdirSync(hostDir, { recursive: true });
    const ini = i % WITH_INI_EVERY === 0 ? new IniDocument() : undefined;
    stations.push({ name, files: new StationFiles(hostDir, 'current', '3.2.0', false, false, false), config: defaultStationConfig({ computerName: name.toUpperCase() }), ini, phaseMs: (i / o.stations) * o.intervalMs, blockedUntil: 0, hostile: hostile.has(i), acts: 0, k: 0, index: i });
  }
  const heartbeatOf = (s: Station, now: number) => buildHeartbeat(buildStatus({ config: s.config, sessions: [], ini: s.ini ?? new IniDocument(), localModeEnabled: false, collectedAt: now }), s.config, now);
  const record = (s: Station, now: number, kind: string) => log.write(`${s.name}\t${stationTimestamp(now)}\t${now}\t${kind}\n`);
  const appendEvent = (s: Station, now: number) => {
    const ts = stationTimestamp(now);
    s.files.appendEvent({ force: true, grace: 60, message: 'Session ended by the lab reservation', sessionId: '2', source: 'session-guard', state: 'Active', timestamp: ts, user: 'student' });
    if (s.ini) {
      s.ini.writeSection('forced-logoff', { grace: 60, sessionId: 2, source: 'session-guard', state: 'Active', success: true, user: 'student', timestamp: ts });
      s.files.writeIni(s.ini);
    }
  };
  // every station once, before the daemons start
  for (const s of stations) {
    if (s.ini) {
      s.ini.writeSection('safeguard-reboot', { message: 'healthy', reason: 'healthy', rebooted: false, success: true, timestamp: stationTimestamp(start) });
      s.files.writeIni(s.ini);
    }
    s.files.writeHeartbeat(heartbeatOf(s, start));
  }
  process.stdout.write(`${JSON.stringify({ ready: true, hostile: stations.filter((s) => s.hostile).map((s) => s.name) })}\n`);

  // A hostile act instead of a normal write, for every third write of a hostile station, in turn.
  const hostileAct = (s: Station, now: number): boolean => {
    if (!s.hostile || s.acts++ % 3 !== 1) return false;
    // each station starts the cycle elsewhere, so that every kind happens in a short run
    const kind: HostileKind = (['torn', 'vanish', 'dir'] as const)[(Math.floor(s.acts / 3) + s.index) % 3]!;
    record(s, now, `hostile-${kind}`);
    if (kind === 'torn') {
      // the station's own code before the temp+rename fix: truncate, write, a pause (antivirus, a full share), write the rest
      const bytes = encodeStationJson(heartbeatOf(s, now));
      const cut = Math.floor(bytes.length / 2);
      const fd = openSync(s.files.heartbeatPath, 'w');
      writeSync(fd, bytes, 0, cut);
      setTimeout(() => {
        writeSync(fd, bytes, cut, bytes.length - cut);
        closeSync(fd);
      }, o.intervalMs / 4).unref();
    } else if (kind === 'vanish') {
      rmSync(s.files.heartbeatPath, { force: true });
      s.blockedUntil = now + o.intervalMs * 1.5;
    } else {
      rmSync(s.files.heartbeatPath, { force: true });
      mkdirSync(s.files.heartbeatPath);
      s.blockedUntil = now + o.intervalMs * 1.5;
      setTimeout(() => rmSync(s.files.heartbeatPath, { recursive: true, force: true }), o.intervalMs * 1.5 - 1000).unref();
    }
    return true;
  };

  // due writes in 100 ms slots; each station's next write: its phase in the next interval, plus jitter
  const SLOT = 100;
  const slots = new Map<number, Station[]>();
  const schedule = (s: Station, at: number) => {
    const slot = Math.floor(at / SLOT);
    const list = slots.get(slot);
    if (list) list.push(s);
    else slots.set(slot, [s]);
  };
  // counted, not derived from the clock: a slot runs up to 100 ms early, which must not schedule the same interval twice
  const nextAt = (s: Station) => start + s.phaseMs + s.k++ * o.intervalMs + Math.random() * JITTER_MS;
  for (const s of stations) schedule(s, nextAt(s));
  // from the start: the slots that fell due while every station wrote its first heartbeat run on the first tick
  let doneSlot = Math.floor(start / SLOT);
  const tick = () => {
    const nowSlot = Math.floor(Date.now() / SLOT);
    for (let slot = doneSlot; slot <= nowSlot; slot++) {
      const due = slots.get(slot);
      if (!due) continue;
      slots.delete(slot);
      for (const s of due) {
        const now = Date.now();
        try {
          if (now < s.blockedUntil) record(s, now, 'blocked');
          else if (!hostileAct(s, now)) {
            s.files.writeHeartbeat(heartbeatOf(s, now));
            record(s, now, s.hostile ? 'disturbed' : 'write');
            if (Math.random() < EVENT_PROBABILITY) appendEvent(s, now);
          }
        } catch (e) {
          record(s, now, `error-${(e as NodeJS.ErrnoException).code ?? 'unknown'}`);
        }
        schedule(s, nextAt(s));
      }
    }
    doneSlot = nowSlot + 1;
  };
  const timer = setInterval(tick, SLOT / 2);
  process.stdin.resume();
  process.stdin.on('end', () => {
    clearInterval(timer);
    log.end(() => process.exit(0));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
