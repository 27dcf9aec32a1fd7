// The reservation step machine: which steps a start or an end runs, in which order, what stops the chain,
// which steps a re-run skips (they succeeded before), the allowed status transitions, and the checks that
// make labops better than the ops-worker (NOTES §5.9 items 7, 8 and 14).
import type { StepAction } from './steps.js';

export interface StartOptions {
  wake: boolean;
  prepare: boolean;
  /** explicit prepare-session args; default ["--guard-grace=<guardGrace>"] */
  prepareArgs?: string[];
  guardGrace: number;
  force: boolean;
}

export interface EndOptions {
  release: boolean;
  /** explicit release-session args; default: see defaultReleaseArgs */
  releaseArgs?: string[];
  power?: { mode: 'shutdown' | 'hibernate'; args: string[] };
  /** seconds for --reboot-timeout in the default release args */
  rebootTimeout: number;
  force: boolean;
}

export interface PlannedStep {
  action: StepAction;
  /** LabStation.exe argv after the exe (none for wake) */
  argv?: string[];
  /** the args recorded in the step details (argv without the command word) */
  args?: string[];
  /** succeeded before (journal) and not forced: reported, not run */
  skip?: { at: string | null };
}

/** A journal row as the planner needs it. */
export interface PastOperation {
  action: string;
  host: string;
  success: boolean;
  createdAt: string | null;
}

function lastSuccess(past: readonly PastOperation[], action: string, host: string): PastOperation | undefined {
  // The latest row for the action on this host decides: a later failure means it is not done.
  const rows = past.filter((p) => p.action === action && p.host.toLowerCase() === host.toLowerCase());
  const last = rows.at(-1);
  return last?.success ? last : undefined;
}

/**
 * Start: wake, then prepare-session. A prepare that already succeeded for this reservation on this host is
 * not repeated (it would evict users again); the wake before it is then not needed either. A wake that
 * succeeded without its prepare is re-checked (a probe; no packet when the host is up).
 */
export function planStart(o: StartOptions, host: string, past: readonly PastOperation[]): PlannedStep[] {
  const args = o.prepareArgs ?? [`--guard-grace=${o.guardGrace}`];
  const prepared = o.force ? undefined : lastSuccess(past, 'prepare', host);
  const woke = o.force ? undefined : lastSuccess(past, 'wake', host);
  const steps: PlannedStep[] = [];
  if (o.wake) {
    // The wake is done when the chain it leads to is done: the prepare (or the wake itself without one).
    const done = o.prepare ? prepared : woke;
    steps.push({ action: 'wake', ...(done ? { skip: { at: (woke ?? done).createdAt } } : {}) });
  }
  if (o.prepare) steps.push({ action: 'prepare', argv: ['prepare-session', ...args], args, ...(prepared ? { skip: { at: prepared.createdAt } } : {}) });
  return steps;
}

/**
 * The default release args. `release-session --reboot` alone means `shutdown /r /t 0`: the station reboots
 * while LabStation.exe is still answering the WinRM call (NOTES §5.9 item 8). labops asks for a delayed
 * reboot instead, and for no reboot at all when a power action follows (the host is going down anyway, and
 * Windows refuses a second pending shutdown).
 */
export function defaultReleaseArgs(o: Pick<EndOptions, 'power' | 'rebootTimeout'>): string[] {
  if (o.power) return [];
  return ['--reboot', `--reboot-timeout=${Math.max(1, Math.round(o.rebootTimeout))}`];
}

/** End: release-session, then (only if it succeeded) the power action. */
export function planEnd(o: EndOptions, host: string, past: readonly PastOperation[]): PlannedStep[] {
  const steps: PlannedStep[] = [];
  if (o.release) {
    const args = o.releaseArgs ?? defaultReleaseArgs(o);
    const done = o.force ? undefined : lastSuccess(past, 'release', host);
    steps.push({ action: 'release', argv: ['release-session', ...args], args, ...(done ? { skip: { at: done.createdAt } } : {}) });
  }
  if (o.power) {
    const action: StepAction = `power:${o.power.mode}`;
    const args = [o.power.mode, ...o.power.args];
    const done = o.force ? undefined : lastSuccess(past, action, host);
    steps.push({ action, argv: ['power', ...args], args, ...(done ? { skip: { at: done.createdAt } } : {}) });
  }
  return steps;
}

/** Does a release-session args list ask for an immediate reboot (the one that cuts off its own answer)? */
export function releaseRebootsImmediately(args: readonly string[]): boolean {
  const reboot = args.some((a) => a.toLowerCase() === '--reboot' || a.toLowerCase() === 'reboot');
  const timeout = args.find((a) => a.toLowerCase().startsWith('--reboot-timeout='));
  if (timeout) return Number(timeout.split('=')[1]) <= 0;
  return reboot;
}

/**
 * release-session exits 1 when the lab user has no session to log off (NOTES §5.9 item 7). When the station's
 * own heartbeat shows no lab-user session, that exit is "nothing to release", not a failed reservation end.
 * Returns the reason to accept the exit, or undefined when the heartbeat does not prove it.
 */
export function nothingToRelease(exitCode: number, stdout: string, heartbeat: unknown): string | undefined {
  if (exitCode !== 1 || !/Release-session finished with warnings/i.test(stdout)) return undefined;
  if (!heartbeat || typeof heartbeat !== 'object') return undefined;
  const hb = heartbeat as Record<string, unknown>;
  const status = (hb.status && typeof hb.status === 'object' ? hb.status : hb) as Record<string, unknown>;
  const sessions = status.sessions;
  if (!sessions || typeof sessions !== 'object' || Array.isArray(sessions)) return undefined;
  const s = sessions as Record<string, unknown>;
  const id = s.labUserSessionId;
  // The serializer writes "" (or false for 0) when there is none; a real id is a non-empty string or number.
  const hasId = (typeof id === 'string' && id.trim() !== '') || (typeof id === 'number' && id > 0) || id === true;
  if (hasId) return undefined;
  const identity = (status.identity && typeof status.identity === 'object' ? status.identity : {}) as Record<string, unknown>;
  const labUser = String(identity.labUserNormalized ?? identity.labUser ?? 'labuser').toLowerCase();
  const entries = Array.isArray(s.entries) ? (s.entries as Record<string, unknown>[]) : [];
  if (entries.some((e) => String(e.user ?? '').toLowerCase() === labUser)) return undefined;
  return 'no lab-user session to release';
}

export type ReservationStatus = 'PENDING' | 'CONFIRMED' | 'ACTIVE' | 'COMPLETED' | 'CANCELLED';

const ALLOWED: Readonly<Record<string, readonly ReservationStatus[]>> = {
  CONFIRMED: ['ACTIVE', 'COMPLETED', 'CANCELLED'],
  ACTIVE: ['COMPLETED', 'CANCELLED'],
};

/** The ops-worker's allowed transitions: CONFIRMED→ACTIVE, CONFIRMED→COMPLETED, ACTIVE→COMPLETED, either→CANCELLED. */
export function canTransition(from: string, to: ReservationStatus): boolean {
  return ALLOWED[from]?.includes(to) ?? false;
}

/** The statuses a reservation may be in for a move to `to`. */
export function allowedFrom(to: ReservationStatus): ReservationStatus[] {
  return (Object.keys(ALLOWED) as ReservationStatus[]).filter((from) => canTransition(from, to));
}
