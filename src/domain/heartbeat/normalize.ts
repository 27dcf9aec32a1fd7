// One typed snapshot from every heartbeat shape: Lab Station 3.2.0 (schemaVersion 1.x, serializer quirks:
// 0/1 as booleans, [] for empty objects), the Nov-2025 station (invalid JSON, repaired by the parser, no
// summary.ready), and the future contracts 2.0.0 and 3.0.0.
import { decodeStationText, DecodeError, lineColumn } from './decode.js';
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
 * v0 ops-worker assumed), fractional seconds or not, a space instead of `T`.
 */
export function toUtcIso(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const fast = utcIsoFast(v);
  if (fast !== undefined) return fast;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(v.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(`0.${frac}`) * 1000);
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function forcedLogoff(v: unknown): ForcedLogoff | null {
  const o = obj(v);
  if (!o || Object.keys(o).length === 0) return null;
  return {
    timestamp: toUtcIso(o.timestamp),
    user: asString(o.user),
    sessionId: asString(o.sessionId),
    state: asString(o.state),
    message: asString(o.message),
    grace: asNumber(o.grace),
    force: asBool(o.force),
    source: asString(o.source),
  };
}

function powerAction(v: unknown): PowerAction | null {
  const o = obj(v);
  if (!o || Object.keys(o).length === 0) return null;
  return {
    timestamp: toUtcIso(o.timestamp),
    mode: asString(o.mode),
    success: asBool(o.success),
    delay: asNumber(o.delay),
    force: asBool(o.force),
    reason: asString(o.reason),
    wakeReady: asBool(o.wakeReady),
  };
}

function stamp(v: unknown): OperationStamp | null {
  const o = obj(v);
  if (!o || Object.keys(o).length === 0) return null;
  return { timestamp: toUtcIso(o.timestamp), success: asBool(o.success), durationMs: asNumber(o.durationMs), user: asString(o.user) };
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
    timestamp: toUtcIso(d.timestamp) ?? toUtcIso(status.timestamp),
    host: asString(firstDefined(d.host, status.host)),
    version: asString(firstDefined(d.version, status.version)),
    profile: asString(firstDefined(d.profile, status.stationProfile, status.profile)),
    ready,
    readyEffective: ready ?? readyFromState(state),
    state,
    issues: strings(summary.issues),
    localMode: asBool(firstDefined(d.localModeEnabled, status.localModeEnabled)),
    localSession: asBool(firstDefined(status.localSessionActive, sessions.localSessionActive, d.localSessionActive)),
    lastForcedLogoff: forcedLogoff(firstDefined(operations.lastForcedLogoff, status.lastForcedLogoff)),
    lastPowerAction: powerAction(operations.lastPowerAction),
    lastPrepare: stamp(operations.lastPrepareSession),
    lastRelease: stamp(operations.lastReleaseSession),
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
  try {
    return normalizeHeartbeat(JSON.parse(text));
  } catch (e) {
    if (e instanceof HeartbeatFormatError) throw e;
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
