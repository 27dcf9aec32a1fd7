// What labops reads of a host's latest heartbeat document besides the stored columns: the issues and last prepare
// a listing shows, and the facts the alert rules judge. Worked out once when the heartbeat is stored
// (labops_host_digest), so listings and alert runs over 10 000 hosts need not parse every stored document.
import { asBool, asNumber, toUtcIso, type HeartbeatSnapshot } from './normalize.js';

export interface HeartbeatDigest {
  /** summary.issues */
  issues: string[];
  /** operations.lastPrepareSession.timestamp, ISO UTC */
  lastPrepareTs: string | null;
  /** the heartbeat's own time as the station wrote it (the stored time is the poll's when its clock ran ahead) */
  stationTimestamp: string | null;
  nonCompliantNics: string[];
  armedCount: number | null;
  sleepCompliant: boolean | null;
  hibernateCompliant: boolean | null;
}

export const EMPTY_DIGEST: HeartbeatDigest = { issues: [], lastPrepareTs: null, stationTimestamp: null, nonCompliantNics: [], armedCount: null, sleepCompliant: null, hibernateCompliant: null };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

/** The digest of a heartbeat as the poll normalised it; the alert facts come from the document as written. */
export function digestHeartbeat(s: Pick<HeartbeatSnapshot, 'issues' | 'lastPrepare' | 'raw'>): HeartbeatDigest {
  const d = s.raw;
  const status = obj(d.status);
  const wake = obj(status.wake ?? d.wake);
  const nics = Array.isArray(wake.nicNonCompliant) ? wake.nicNonCompliant : Array.isArray(wake.nicPower) ? wake.nicPower.filter((n) => asBool(obj(n).wolReady) === false) : [];
  const prepare = s.lastPrepare?.timestamp ? Date.parse(s.lastPrepare.timestamp) : NaN;
  return {
    issues: s.issues,
    lastPrepareTs: Number.isNaN(prepare) ? null : new Date(prepare).toISOString(),
    stationTimestamp: toUtcIso(d.timestamp ?? status.timestamp),
    nonCompliantNics: nics.map((n) => String(obj(n).name ?? '?')),
    armedCount: asNumber(wake.armedCount),
    sleepCompliant: asBool(obj(status.power).sleepCompliant),
    hibernateCompliant: asBool(obj(status.power).hibernateCompliant),
  };
}
