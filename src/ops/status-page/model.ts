// What the daemon's status page shows, as plain data: the fleet with each host's state, open alerts, the loops
// and their health, the DC job queue (where that loop runs) and the last reservations with their steps. Pure.

export type HostState = 'ready' | 'not-ready' | 'stale' | 'never';

export interface StatusHost {
  name: string;
  address: string;
  state: HostState;
  /** the station's own heartbeat time (ISO UTC) */
  heartbeatAt: string | null;
  localMode: boolean | null;
  localSession: boolean | null;
  issues: string[];
}

export interface StatusAlert {
  host: string;
  rule: string;
  message: string;
  openedAt: string;
}

export interface StatusLoop {
  name: string;
  kind: 'periodic' | 'service';
  intervalMs: number;
  running: boolean;
  healthy: boolean;
  runs: number;
  failures: number;
  lastFinishedAt: string | null;
  lastDurationMs: number | null;
  lastSuccessAt: string | null;
  lastError: string | null;
}

export interface StatusDcQueue {
  /** entries the consumer group has not read yet, null when Redis cannot say (before 7.0) */
  waiting: number | null;
  /** read but not acknowledged */
  pending: number | null;
  deadLetters: number | null;
  error?: string;
}

export interface StatusStep {
  action: string;
  status: string;
  success: boolean;
  /** when the step was journalled (its end), ISO UTC */
  at: string | null;
  durationMs: number | null;
  message: string | null;
}

export interface StatusReservation {
  id: string;
  host: string;
  labId: string | null;
  steps: StatusStep[];
}

export interface StatusSnapshot {
  instance: string;
  hosts: StatusHost[];
  alerts: StatusAlert[];
  loops: StatusLoop[];
  /** absent when this instance does not run the DC loop */
  dc?: StatusDcQueue;
  reservations: StatusReservation[];
  /** parts that could not be read (the database down, …), shown instead of silently empty sections */
  problems: string[];
}

export interface HeartbeatFacts {
  reported: boolean;
  ready: boolean | null;
  timestampUtc: string | null;
}

/**
 * A host that never reported; stale when its heartbeat is older than `staleAfterMs` (the heartbeat-missing alert's
 * bound: missing-intervals × interval); else ready or not by the heartbeat's own summary.
 */
export function hostState(h: HeartbeatFacts, now: number, staleAfterMs: number): HostState {
  if (!h.reported) return 'never';
  const at = h.timestampUtc ? Date.parse(h.timestampUtc) : NaN;
  if (!Number.isFinite(at) || now - at > staleAfterMs) return 'stale';
  return h.ready === true ? 'ready' : 'not-ready';
}

export function fleetCounts(hosts: readonly StatusHost[]): Record<HostState, number> {
  const c: Record<HostState, number> = { ready: 0, 'not-ready': 0, stale: 0, never: 0 };
  for (const h of hosts) c[h.state]++;
  return c;
}
