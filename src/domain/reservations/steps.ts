// Reservation steps and the `reservation_operations` rows, exactly as the ops-worker builds them (reference
// NOTES §5.4, §5.5): the step objects of the /api/reservations/* bodies, and one journal row per step.

export type StepAction = 'wake' | 'prepare' | 'release' | `power:${string}`;

export interface WakeDetails {
  mac: string | null;
  pingTarget: string | null;
  attemptsRequested: number;
  attemptsUsed: number;
  waitSeconds: number;
  port: number;
  broadcast: string | null;
}

export interface CommandDetails {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  args: string[];
  durationMs: number;
}

/** A step in the API body. `status: 'skipped'` is labops': a step that succeeded before and was not repeated. */
export interface Step {
  action: StepAction;
  success: boolean;
  status: 'completed' | 'failed' | 'skipped';
  message: string;
  durationMs?: number;
  details: WakeDetails | CommandDetails | Record<string, never> | Record<string, unknown>;
}

/** What went wrong, for the exit code: the journal and the body stay upstream-shaped. */
export type StepFailure = 'config' | 'unreachable' | 'auth' | 'failed' | 'timeout' | 'interrupted';

export interface StepOutcome {
  step: Step;
  /** the journal row for this step (null for a skipped step: nothing ran) */
  row: JournalRow | null;
  failure?: StepFailure;
}

export interface JournalRow {
  reservation_id: string;
  lab_id: string | null;
  host: string;
  action: string;
  status: 'completed' | 'failed';
  success: boolean;
  response_code: number | null;
  duration_ms: number | null;
  /** the object stored as JSON (null for none) */
  payload: unknown;
  message: string | null;
}

export interface StepContext {
  reservationId: string;
  labId: string | null;
  host: string;
}

export interface WakeObservation {
  success: boolean;
  message: string;
  durationMs: number;
  details: WakeDetails;
  /** no MAC or no address: the step never started */
  configError?: boolean;
  aborted?: boolean;
}

export function wakeOutcome(ctx: StepContext, w: WakeObservation): StepOutcome {
  if (w.configError) {
    const step: Step = { action: 'wake', success: false, status: 'failed', message: w.message, details: {} };
    return { step, row: { ...base(ctx, 'wake'), status: 'failed', success: false, response_code: null, duration_ms: null, payload: null, message: w.message }, failure: 'config' };
  }
  // Key order as the ops-worker's dict, so the stored payload text matches.
  const details: WakeDetails = {
    mac: w.details.mac,
    pingTarget: w.details.pingTarget,
    attemptsRequested: w.details.attemptsRequested,
    attemptsUsed: w.details.attemptsUsed,
    waitSeconds: w.details.waitSeconds,
    port: w.details.port,
    broadcast: w.details.broadcast,
  };
  const status = w.success ? 'completed' : 'failed';
  const step: Step = { action: 'wake', success: w.success, status, message: w.message, durationMs: w.durationMs, details };
  return {
    step,
    row: { ...base(ctx, 'wake'), status, success: w.success, response_code: w.success ? 200 : 504, duration_ms: w.durationMs, payload: details, message: w.message },
    failure: w.success ? undefined : w.aborted ? 'interrupted' : 'unreachable',
  };
}

export interface CommandObservation {
  args: string[];
  /** the station answered */
  result?: { exitCode: number; stdout: string; stderr: string; durationMs: number };
  /** the call failed before an exit code (unreachable, timeout, auth, …) */
  error?: { message: string; kind: StepFailure; durationMs: number };
  /** labops: a non-zero exit that is not a failure, and why (e.g. nothing to release) */
  acceptedBecause?: string;
}

export function commandOutcome(ctx: StepContext, action: StepAction, o: CommandObservation): StepOutcome {
  if (!o.result) {
    const e = o.error ?? { message: 'no result', kind: 'failed' as const, durationMs: 0 };
    const details: CommandDetails = { exitCode: null, stdout: '', stderr: '', args: o.args, durationMs: e.durationMs };
    const step: Step = { action, success: false, status: 'failed', message: e.message, details };
    return { step, row: { ...base(ctx, action), status: 'failed', success: false, response_code: null, duration_ms: e.durationMs, payload: details, message: e.message }, failure: e.kind };
  }
  const r = o.result;
  const success = r.exitCode === 0 || o.acceptedBecause !== undefined;
  const details: CommandDetails = { exitCode: r.exitCode, stdout: r.stdout.trim(), stderr: r.stderr.trim(), args: o.args, durationMs: r.durationMs };
  const message = `Exit code ${r.exitCode}${o.acceptedBecause ? ` (${o.acceptedBecause})` : ''}`;
  const status = success ? 'completed' : 'failed';
  const step: Step = { action, success, status, message, details };
  return {
    step,
    row: { ...base(ctx, action), status, success, response_code: r.exitCode, duration_ms: r.durationMs, payload: details, message },
    failure: success ? undefined : 'failed',
  };
}

export function skippedStep(action: StepAction, at: string | null): Step {
  return { action, success: true, status: 'skipped', message: `already completed${at ? ` at ${at}` : ''}; not repeated (use --force)`, details: {} };
}

function base(ctx: StepContext, action: string) {
  return { reservation_id: ctx.reservationId, lab_id: ctx.labId, host: ctx.host, action };
}

export type SchedulerKind = 'start' | 'end';

/** The orchestrator's `scheduler:start|end` row: the inner handler's body and HTTP status. */
export function schedulerRow(ctx: StepContext, kind: SchedulerKind, response: Record<string, unknown>, statusCode: number): JournalRow {
  const ok = response.success === true && statusCode === 200;
  const error = typeof response.error === 'string' ? response.error : kind === 'start' ? 'Reservation start failed' : 'Reservation end failed';
  return {
    ...base(ctx, `scheduler:${kind}`),
    status: ok ? 'completed' : 'failed',
    success: ok,
    response_code: statusCode,
    duration_ms: null,
    payload: { response, status_code: statusCode },
    message: ok ? null : error,
  };
}

export function unmappedRow(reservationId: string, labId: string | null, kind: SchedulerKind): JournalRow {
  return {
    reservation_id: reservationId,
    lab_id: labId,
    host: 'unmapped',
    action: `scheduler:${kind}`,
    status: 'failed',
    success: false,
    response_code: null,
    duration_ms: null,
    payload: null,
    message: `No host mapping for lab ${labId ?? ''}`.trimEnd(),
  };
}

/** The body of /api/reservations/start|end, and its HTTP status: 200, or 502 when any step failed. */
export interface ReservationBody {
  success: boolean;
  reservationId: string;
  host: string;
  labId: string | null;
  steps: Step[];
}

export function reservationBody(ctx: StepContext, steps: Step[]): { body: ReservationBody; httpStatus: 200 | 502 } {
  const success = steps.every((s) => s.success);
  return { body: { success, reservationId: ctx.reservationId, host: ctx.host, labId: ctx.labId, steps }, httpStatus: success ? 200 : 502 };
}
