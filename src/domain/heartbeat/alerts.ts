// Alert rules over the stored heartbeats (Lab Station telemetry doc §4, plus wake/NIC and sleep/hibernate
// compliance), and the lifecycle plan: open once, keep while the condition holds, resolve when it clears.

export interface AlertThresholds {
  /** summary.ready=false for longer than this */
  notReadyMs: number;
  /** a local session this close to a reservation start */
  localSessionLeadMs: number;
  /** local mode on while a reservation starts within this window */
  localModeLookaheadMs: number;
  /** last forced logoff more than this before a reservation start */
  staleEvictionMs: number;
  /** heartbeat missing or unchanged for more than this many heartbeat intervals */
  missingIntervals: number;
  /** how often a stored heartbeat can change: the longer of the poll interval and the station's own write interval */
  heartbeatIntervalMs: number;
  /** the heartbeat dated more than this ahead of the poll that stored it (heartbeat.clock-skew) */
  clockSkewMs: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  notReadyMs: 120_000,
  localSessionLeadMs: 15 * 60_000,
  localModeLookaheadMs: 24 * 3_600_000,
  staleEvictionMs: 15 * 60_000,
  missingIntervals: 3,
  heartbeatIntervalMs: 60_000,
  clockSkewMs: 120_000,
};

export interface ReservationWindow {
  id: string;
  start: string;
  end: string | null;
  status: string;
}

export interface HostAlertInput {
  host: string;
  /** latest stored heartbeat, or null when none was ever stored */
  latest: {
    /** the stored time: the heartbeat's own, or the poll's when the station's clock ran ahead */
    timestampUtc: string | null;
    /** the heartbeat's own time as the station wrote it */
    stationTimestamp?: string | null;
    ready: boolean | null;
    localMode: boolean | null;
    localSession: boolean | null;
    lastForcedLogoffTs: string | null;
    nonCompliantNics: string[];
    armedCount: number | null;
    sleepCompliant: boolean | null;
    hibernateCompliant: boolean | null;
  } | null;
  /** start of the current run of ready=false heartbeats, if the latest is not ready */
  notReadySince: string | null;
  /** reservations of the host's labs that are upcoming or running */
  reservations: ReservationWindow[];
}

export type AlertRule =
  | 'not-ready'
  | 'heartbeat-missing'
  | 'local-session-before-reservation'
  | 'local-mode-with-reservations'
  | 'stale-eviction'
  | 'wake-compliance'
  | 'power-compliance'
  | 'clock-skew';

export interface AlertCondition {
  host: string;
  rule: AlertRule;
  message: string;
  details: Record<string, unknown>;
}

const ms = (iso: string | null) => (iso ? new Date(iso).getTime() : NaN);
const mins = (n: number) => `${Math.round(n / 60_000)} min`;

/** A clock skew for people: minutes, hours or days. */
export function skewText(ms: number): string {
  if (ms >= 2 * 86_400_000) return `${Math.round(ms / 86_400_000)} days`;
  if (ms >= 2 * 3_600_000) return `${Math.round(ms / 3_600_000)} h`;
  return mins(ms);
}

/** How far the latest heartbeat was dated ahead of the poll that stored it (the station's clock, or this one's, is off). */
function clockSkew(l: NonNullable<HostAlertInput['latest']>, t: AlertThresholds): { message: string; details: Record<string, unknown> } | undefined {
  if (!l.stationTimestamp || !l.timestampUtc) return undefined;
  const ahead = ms(l.stationTimestamp) - ms(l.timestampUtc);
  if (!(ahead > t.clockSkewMs)) return undefined;
  return {
    message: `the station's clock is ${skewText(ahead)} ahead (heartbeat dated ${l.stationTimestamp}, read at ${l.timestampUtc}): fix its time sync; last_seen is the poll time meanwhile`,
    details: { stationTimestamp: l.stationTimestamp, polledAt: l.timestampUtc, aheadMs: ahead },
  };
}

export function evaluateAlerts(inputs: readonly HostAlertInput[], now: number, t: AlertThresholds = DEFAULT_THRESHOLDS): AlertCondition[] {
  const out: AlertCondition[] = [];
  for (const h of inputs) {
    const l = h.latest;
    const add = (rule: AlertRule, message: string, details: Record<string, unknown> = {}) => out.push({ host: h.host, rule, message, details });
    const limit = t.missingIntervals * t.heartbeatIntervalMs;
    if (!l || !l.timestampUtc) {
      add('heartbeat-missing', 'no heartbeat has ever been stored for this host', {});
      continue;
    }
    const skew = clockSkew(l, t);
    if (skew) add('clock-skew', skew.message, skew.details);
    const age = now - ms(l.timestampUtc);
    if (age > limit) add('heartbeat-missing', `heartbeat missing or unchanged for ${mins(age)} (more than ${t.missingIntervals} intervals)`, { lastHeartbeat: l.timestampUtc });
    if (l.ready === false && h.notReadySince && now - ms(h.notReadySince) > t.notReadyMs) {
      add('not-ready', `station not ready for ${mins(now - ms(h.notReadySince))}`, { since: h.notReadySince });
    }
    const upcoming = h.reservations.filter((r) => ms(r.start) >= now - 60_000);
    const soon = upcoming.filter((r) => ms(r.start) - now <= t.localSessionLeadMs);
    if (l.localSession && soon.length) {
      add('local-session-before-reservation', `a local session is active and reservation ${soon[0]!.id} starts in ${mins(Math.max(0, ms(soon[0]!.start) - now))}`, { reservationId: soon[0]!.id, start: soon[0]!.start });
    }
    const pending = upcoming.filter((r) => ms(r.start) - now <= t.localModeLookaheadMs);
    if (l.localMode && pending.length) {
      add('local-mode-with-reservations', `local mode is on while ${pending.length} reservation(s) are pending`, { reservations: pending.map((r) => r.id) });
    }
    if (l.lastForcedLogoffTs) {
      const starting = h.reservations.filter((r) => Math.abs(ms(r.start) - now) <= t.localSessionLeadMs);
      for (const r of starting) {
        const gap = ms(r.start) - ms(l.lastForcedLogoffTs);
        if (gap > t.staleEvictionMs) {
          add('stale-eviction', `last forced logoff was ${mins(gap)} before reservation ${r.id}: run the session guard again`, { reservationId: r.id, lastForcedLogoff: l.lastForcedLogoffTs });
          break;
        }
      }
    }
    if (l.nonCompliantNics.length || l.armedCount === 0) {
      const parts = [];
      if (l.nonCompliantNics.length) parts.push(`NIC power settings non-compliant: ${l.nonCompliantNics.join(', ')}`);
      if (l.armedCount === 0) parts.push('no wake-armed devices');
      add('wake-compliance', parts.join('; '), { nics: l.nonCompliantNics, armedCount: l.armedCount });
    }
    if (l.sleepCompliant === false || l.hibernateCompliant === false) {
      const parts = [];
      if (l.sleepCompliant === false) parts.push('sleep timeout is not disabled');
      if (l.hibernateCompliant === false) parts.push('hibernate timeout is not disabled');
      add('power-compliance', parts.join('; '), {});
    }
  }
  return out;
}

export interface OpenAlert {
  id: number;
  host: string;
  rule: string;
  message: string;
}

export interface AlertPlan {
  open: AlertCondition[];
  keep: { id: number; condition: AlertCondition }[];
  resolve: OpenAlert[];
}

export function alertKey(host: string, rule: string): string {
  return `${host.toLowerCase()}|${rule}`;
}

/** Open what is new, keep what still holds, resolve what cleared. Hosts not evaluated keep their alerts. */
export function planAlerts(current: readonly OpenAlert[], active: readonly AlertCondition[], evaluatedHosts: readonly string[]): AlertPlan {
  const openByKey = new Map(current.map((a) => [alertKey(a.host, a.rule), a]));
  const activeKeys = new Set(active.map((c) => alertKey(c.host, c.rule)));
  const evaluated = new Set(evaluatedHosts.map((h) => h.toLowerCase()));
  return {
    open: active.filter((c) => !openByKey.has(alertKey(c.host, c.rule))),
    keep: active.filter((c) => openByKey.has(alertKey(c.host, c.rule))).map((c) => ({ id: openByKey.get(alertKey(c.host, c.rule))!.id, condition: c })),
    resolve: current.filter((a) => evaluated.has(a.host.toLowerCase()) && !activeKeys.has(alertKey(a.host, a.rule))),
  };
}
