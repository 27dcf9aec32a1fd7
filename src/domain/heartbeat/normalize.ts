// One typed snapshot from every heartbeat shape: Lab Station 3.2.0 (schemaVersion 1.x, serializer quirks:
// 0/1 as booleans, [] for empty objects), the Nov-2025 station (invalid JSON, repaired by the parser, no
// summary.ready), and the future contracts 2.0.0 and 3.0.0.
import { decodeStationText, deeperThan, DecodeError, lineColumn, MAX_DEPTH } from './decode.js';
import { LenientJsonError, parseLenientJson, unAhkArrays } from './lenient-json.js';
import { utcIsoFast } from '../utc-iso.js';

export class HeartbeatFormatError extends Error {
  constructor(
    message: string,
    /** 1-based line and column in the file, when the problem has a position */
    readonly position?: { line: number; column: number; offset: number },
  ) {
    super(message);
  }
}

export interface ForcedLogoff {
  timestamp: string | null;
  user: string | null;
  sessionId: string | null;
  state: string | null;
  message: string | null;
  grace: number | null;
  force: boolean | null;
  source: string | null;
}

export interface PowerAction {
  timestamp: string | null;
  mode: string | null;
  success: boolean | null;
  delay: number | null;
  force: boolean | null;
  reason: string | null;
  wakeReady: boolean | null;
}

export interface OperationStamp {
  timestamp: string | null;
  success: boolean | null;
  durationMs: number | null;
  user: string | null;
}

export interface NicStatus {
  name: string;
  macAddress: string | null;
  wolReady: boolean | null;
  issues: string[];
}

export interface HeartbeatSnapshot {
  schemaVersion: string | null;
  /** major version of the contract: 1 (3.x stations and older), 2, 3 */
  contract: number;
  /** the heartbeat's own time, ISO-8601 UTC; null when missing or unparsable */
  timestamp: string | null;
  /** the station's own name (NetBIOS, upper case), not necessarily the inventory name */
  host: string | null;
  version: string | null;
  profile: string | null;
  /** summary.ready as written; null when the station predates it (then see readyEffective) */
  ready: boolean | null;
  /** ready, or derived from summary.state when the flag is missing */
  readyEffective: boolean | null;
  state: string | null;
  issues: string[];
  localMode: boolean | null;
  localSession: boolean | null;
  lastForcedLogoff: ForcedLogoff | null;
  lastPowerAction: PowerAction | null;
  lastPrepare: OperationStamp | null;
  lastRelease: OperationStamp | null;
  wake: { armedCount: number | null; nics: NicStatus[]; nonCompliant: string[] };
  power: { sleepCompliant: boolean | null; hibernateCompliant: boolean | null };
  /** the document had to be repaired (Nov-2025 station) */
  repaired: boolean;
  /** the parsed document, quirks as written (stored as raw_json) */
  raw: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
/** An empty AHK Map arrives as []; treat it as an empty object. */
const obj = (v: unknown): Obj | null => (isObj(v) ? v : Array.isArray(v) && v.length === 0 ? {} : null);
const firstDefined = (...vs: unknown[]) => vs.find((v) => v !== undefined);

export function asBool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
  }
  return null;
}

/** The serializer writes 0 and 1 as false/true where numbers are meant: coerce back. */
export function asNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return null;
}

export function asString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  return null;
}

/**
 * Lenient timestamp → ISO-8601 UTC with milliseconds: `Z`, offsets, none (= UTC, not local time as the
 * v0 ops-worker assumed), fractional seconds or not, a space instead of `T`. Null when absent, not a time, or a
 * time no clock shows (month 13, Feb 30, 25:00): never rolled over into another date.
 */
export function toUtcIso(v: unknown): string | null {
  const t = readTime(v);
  return t === IMPOSSIBLE ? null : t;
}

const IMPOSSIBLE = Symbol('impossible');
const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** ISO UTC; null when absent or not shaped like a time (or before year 1000); IMPOSSIBLE when shaped like one but no clock shows it. */
function readTime(v: unknown): string | null | typeof IMPOSSIBLE {
  if (typeof v !== 'string') return null;
  const fast = utcIsoFast(v);
  if (fast !== undefined) return fast;
  const m = TIME.exec(v.trim());
  if (!m || Number(m[1]) < 1000) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (mo < 1 || mo > 12 || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return IMPOSSIBLE;
  let ms = day.getTime() + ((h * 60 + mi) * 60 + s) * 1000 + Math.floor(Number(`0.${m[7] ?? '0'}`) * 1000);
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const [zh, zm] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
    if (zh > 14 || zm > 59) return IMPOSSIBLE;
    ms -= (zone.startsWith('-') ? -1 : 1) * (zh * 60 + zm) * 60_000;
  }
  return new Date(ms).toISOString();
}

/** A time of the heartbeat at `path`: null when absent or unreadable, a format error when no clock can show it. */
function time(v: unknown, path: string): string | null {
  const t = readTime(v);
  if (t === IMPOSSIBLE) throw new HeartbeatFormatError(`not a heartbeat: ${path} ${JSON.stringify(v)} is not a real date and time`);
  return t;
}

/** The heartbeat's own time: when present it must be a real date and time, or the document is not a heartbeat. */
function ownTime(d: Obj, status: Obj): string | null {
  const [v, path] = d.timestamp !== undefined && d.timestamp !== null ? [d.timestamp, 'timestamp'] : [status.timestamp, 'status.timestamp'];
  if (v === undefined || v === null) return null;
  const t = time(v, path);
  if (t === null) throw new HeartbeatFormatError(`not a heartbeat: ${path} ${JSON.stringify(v).slice(0, 80)} is not a date and time`);
  return t;
}

function forcedLogoff(v: unknown, path: string): ForcedLogoff | null {
  const o = obj(v);
  if (!o || Object.keys(o).length === 0) return null;
  return {
    timestamp: time(o.timestamp, `${path}.timestamp`),
    user: asString(o.user),
    sessionId: asString(o.sessionId),
    state: asString(o.state),
    message: asString(o.message),
    grace: asNumber(o.grace),
    force: asBool(o.force),
    source: asString(o.source),
  };
}

function powerAction(v: unknown, path: string): PowerAction | null {
  const o = obj(v);
  if (!o || Object.keys(o).length === 0) return null;
  return {
    timestamp: time(o.timestamp, `${path}.timestamp`),
    mode: asString(o.mode),
    success: asBool(o.success),
    delay: asNumber(o.delay),
    force: asBool(o.force),
    reason: asString(o.reason),
    wakeReady: asBool(o.wakeReady),
  };
}

function stamp(v: unknown, path: string): OperationStamp | null {
  const o = obj(v);
  if (!o || Object.keys(o).length === 0) return null;
  return { timestamp: time(o.timestamp, `${path}.timestamp`), success: asBool(o.success), durationMs: asNumber(o.durationMs), user: asString(o.user) };
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function readyFromState(state: string | null): boolean | null {
  if (state === null) return null;
  return state === 'ready';
}

/** Normalises a parsed heartbeat document (any supported shape). */
export function normalizeHeartbeat(doc: unknown, repaired = false): HeartbeatSnapshot {
  const d = obj(doc);
  if (!d) throw new HeartbeatFormatError('the document is not a JSON object');
  const status = obj(d.status) ?? {};
  const schemaVersion = asString(firstDefined(d.schemaVersion, status.schemaVersion)) ;
  const major = schemaVersion ? Number(/^(\d+)/.exec(schemaVersion)?.[1] ?? 1) : 1;
  if (major > 3) throw new HeartbeatFormatError(`unsupported schemaVersion ${schemaVersion} (labops reads 1.x, 2.0.0 and 3.0.0)`);
  const looksLikeHeartbeat = ['timestamp', 'summary', 'status', 'host', 'schemaVersion', 'operations'].some((k) => k in d);
  if (!looksLikeHeartbeat) throw new HeartbeatFormatError('not a Lab Station heartbeat (none of timestamp, host, summary, status, operations)');
  const summary = obj(firstDefined(d.summary, status.summary)) ?? {};
  const operations = obj(firstDefined(d.operations, status.operations)) ?? {};
  const sessions = obj(status.sessions) ?? obj(d.sessions) ?? {};
  const wake = obj(firstDefined(d.wake, status.wake)) ?? {};
  const power = obj(status.power) ?? {};
  const ready = asBool(summary.ready);
  const state = asString(summary.state);
  const nics: NicStatus[] = (Array.isArray(wake.nicPower) ? wake.nicPower : [])
    .map((n) => obj(n))
    .filter((n): n is Obj => n !== null)
    .map((n) => ({
      name: asString(firstDefined(n.name, n.interfaceAlias)) ?? '?',
      macAddress: asString(firstDefined(n.macAddress, n.mac, n.physicalAddress)),
      wolReady: asBool(n.wolReady),
      issues: strings(n.complianceIssues),
    }));
  return {
    schemaVersion,
    contract: major,
    timestamp: ownTime(d, status),
    host: asString(firstDefined(d.host, status.host)),
    version: asString(firstDefined(d.version, status.version)),
    profile: asString(firstDefined(d.profile, status.stationProfile, status.profile)),
    ready,
    readyEffective: ready ?? readyFromState(state),
    state,
    issues: strings(summary.issues),
    localMode: asBool(firstDefined(d.localModeEnabled, status.localModeEnabled)),
    localSession: asBool(firstDefined(status.localSessionActive, sessions.localSessionActive, d.localSessionActive)),
    lastForcedLogoff: forcedLogoff(firstDefined(operations.lastForcedLogoff, status.lastForcedLogoff), 'operations.lastForcedLogoff'),
    lastPowerAction: powerAction(operations.lastPowerAction, 'operations.lastPowerAction'),
    lastPrepare: stamp(operations.lastPrepareSession, 'operations.lastPrepareSession'),
    lastRelease: stamp(operations.lastReleaseSession, 'operations.lastReleaseSession'),
    wake: {
      armedCount: asNumber(wake.armedCount),
      nics,
      nonCompliant: nics.filter((n) => n.wolReady === false).map((n) => n.name),
    },
    power: { sleepCompliant: asBool(power.sleepCompliant), hibernateCompliant: asBool(power.hibernateCompliant) },
    repaired,
    raw: d,
  };
}

/** Bytes of heartbeat.json (as read from a share or over WinRM) to a snapshot. */
export function parseHeartbeat(bytes: Uint8Array): HeartbeatSnapshot {
  let text: string;
  try {
    text = decodeStationText(bytes);
  } catch (e) {
    if (e instanceof DecodeError) throw new HeartbeatFormatError(e.message, { ...lineColumnSafe('', e.position), offset: e.position });
    throw e;
  }
  if (text.trim() === '') throw new HeartbeatFormatError('the file is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined) {
    // JSON.parse takes any depth; what walks the document afterwards (normalising, storing) recurses
    if (deeperThan(parsed, MAX_DEPTH)) throw new HeartbeatFormatError(`not a heartbeat: nested deeper than ${MAX_DEPTH} levels`);
    return normalizeHeartbeat(parsed);
  }
  try {
    return normalizeHeartbeat(unAhkArrays(parseLenientJson(text)), true);
  } catch (e) {
    if (e instanceof LenientJsonError) {
      const lc = lineColumn(text, e.position);
      throw new HeartbeatFormatError(`not valid JSON: ${e.message.replace(/ at position \d+$/, '')} (line ${lc.line}, column ${lc.column})`, { ...lc, offset: e.position });
    }
    throw e;
  }
}

function lineColumnSafe(text: string, offset: number) {
  return text ? lineColumn(text, offset) : { line: 0, column: 0 };
}
