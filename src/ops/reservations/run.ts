// Reservation start and end as the ops-worker runs them (wake → prepare-session; release-session → power),
// one journal row per step, and three improvements: a default release that does not reboot under its own
// WinRM call, a release with nothing to release that is not a failure (the station's heartbeat proves it),
// and re-runs that skip steps which already succeeded (unless forced).
import { wake, type WakeDefaults, type WakePorts, type WakeTarget } from '../wake.js';
import {
  commandOutcome,
  reservationBody,
  skippedStep,
  wakeOutcome,
  type JournalRow,
  type ReservationBody,
  type Step,
  type StepContext,
  type StepFailure,
  type StepOutcome,
} from '../../domain/reservations/steps.js';
import { nothingToRelease, planEnd, planStart, type EndOptions, type PastOperation, type PlannedStep, type StartOptions } from '../../domain/reservations/plan.js';
import type { InventoryHost } from '../../core/config/inventory.js';

export interface StationClient {
  run(exe: string, args: string[], opts: { signal?: AbortSignal; deadlineMs?: number }): Promise<{ exitCode: number; stdout: string; stderr: string; durationMs: number }>;
  /** the station's heartbeat.json, parsed; null when it cannot be read */
  readHeartbeat?(signal?: AbortSignal): Promise<unknown>;
  close(): Promise<void> | void;
}

export interface Journal {
  record(row: JournalRow): Promise<void>;
  /** the reservation's rows so far, oldest first */
  history(reservationId: string): Promise<PastOperation[]>;
}

export interface ReservationPorts {
  wake: WakePorts;
  connect(host: InventoryHost): StationClient;
  /** absent: nothing is recorded (the ops-worker without MYSQL_DSN) */
  journal?: Journal;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A reservation wakes one host: the wake defaults without the fleet concurrency. */
export type WakeSettings = Omit<WakeDefaults, 'concurrency'>;

export interface ReservationSettings {
  wake: WakeSettings;
  /** WinRM deadline of a command, on top of the guard grace for prepare-session */
  commandTimeoutMs: number;
  /** waits between retries of a journal write while the database is away */
  journalRetryMs: readonly number[];
}

/** /api/reservations/start's wakeOptions; labops validates them before they get here. */
export interface WakeOverrides {
  mac?: string;
  pingTarget?: string;
  attempts?: number;
  timeoutMs?: number;
  broadcast?: string;
  port?: number;
}

export interface ReservationRequest {
  reservationId: string;
  labId: string | null;
  host: InventoryHost;
}

export interface ReservationRunResult {
  body: ReservationBody;
  httpStatus: 200 | 502;
  /** the first failing step's kind (for the exit code) */
  failure?: StepFailure;
  /** journal rows written, and those the database would not take */
  journal: { recorded: number; unrecorded: JournalRow[]; error?: string };
  /** ms (ports.now) when the prepare step completed */
  preparedAt?: number;
}

class JournalDown extends Error {}

function errorKind(e: unknown): StepFailure {
  const err = e as { kind?: string; message?: string; name?: string };
  if (err.kind === 'interrupted' || err.name === 'Interrupted') return 'interrupted';
  if (err.kind === 'auth') return 'auth';
  if (err.kind === 'unreachable') return /timed out|deadline|did not finish/i.test(err.message ?? '') ? 'timeout' : 'unreachable';
  if (err.kind === 'usage') return 'config';
  return 'failed';
}

/** Seconds the guard may wait inside prepare-session (none when the guard is off). */
export function guardGraceOf(args: readonly string[]): number {
  if (args.some((a) => /^--(no-guard|guard=(no|false|0|off))$/i.test(a))) return 0;
  const g = args.find((a) => a.toLowerCase().startsWith('--guard-grace='));
  const n = g ? Number(g.split('=')[1]) : 90;
  return Number.isFinite(n) ? Math.max(30, n) : 90;
}

class Runner {
  readonly steps: Step[] = [];
  recorded = 0;
  unrecorded: JournalRow[] = [];
  journalError: string | undefined;
  failure: StepFailure | undefined;
  preparedAt: number | undefined;
  private client: StationClient | undefined;

  constructor(
    readonly req: ReservationRequest,
    readonly ctx: StepContext,
    readonly ports: ReservationPorts,
    readonly settings: ReservationSettings,
    readonly signal?: AbortSignal,
  ) {}

  station(): StationClient {
    this.client ??= this.ports.connect(this.req.host);
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
  }

  /** Journals a row; while the database is away it retries, then stops the chain (nothing further runs unrecorded). */
  async record(row: JournalRow | null): Promise<void> {
    if (!row || !this.ports.journal) return;
    if (this.journalError) {
      this.unrecorded.push(row);
      return;
    }
    let last: unknown;
    for (let i = 0; i <= this.settings.journalRetryMs.length; i++) {
      try {
        await this.ports.journal.record(row);
        this.recorded++;
        return;
      } catch (e) {
        last = e;
        if (i < this.settings.journalRetryMs.length && !this.signal?.aborted) await this.ports.sleep(this.settings.journalRetryMs[i]!, this.signal);
      }
    }
    this.unrecorded.push(row);
    this.journalError = `the journal row for '${row.action}' could not be written: ${(last as Error).message}`;
    throw new JournalDown(this.journalError);
  }

  async take(o: StepOutcome): Promise<boolean> {
    this.steps.push(o.step);
    if (!o.step.success) this.failure ??= o.failure ?? 'failed';
    await this.record(o.row);
    return o.step.success;
  }

  async wakeStep(overrides: WakeOverrides): Promise<boolean> {
    const h = this.req.host;
    const d = this.settings.wake;
    const mac = overrides.mac ?? h.mac;
    const pingTarget = overrides.pingTarget ?? h.pingTarget ?? h.address;
    const broadcast = overrides.broadcast ?? h.broadcast;
    const target: WakeTarget = {
      host: h.name,
      mac,
      pingTarget,
      broadcast: broadcast ?? d.broadcast,
      port: overrides.port ?? h.wolPort ?? d.port,
      attempts: overrides.attempts ?? h.wakeAttempts ?? d.attempts,
      probe: h.probe ?? d.probe,
      configError: mac ? undefined : 'MAC address not configured',
    };
    const intervalMs = overrides.timeoutMs ?? d.intervalMs;
    const r = await wake([target], { repeat: d.repeat, intervalMs, timeoutMs: overrides.timeoutMs ?? d.timeoutMs, concurrency: 1, noWait: false }, this.ports.wake, this.signal);
    const w = r.hosts[0];
    if (!w) return this.take(wakeOutcome(this.ctx, { success: false, message: 'Interrupted', durationMs: 0, aborted: true, details: { mac: mac ?? null, pingTarget, attemptsRequested: target.attempts, attemptsUsed: 0, waitSeconds: intervalMs / 1000, port: target.port, broadcast: broadcast ?? null } }));
    return this.take(
      wakeOutcome(this.ctx, {
        success: w.success,
        // The ops-worker's texts: the journal and the Lab Manager UI show them (labops' own wol reports the probe).
        message: w.success ? 'Host reachable' : w.status === 'no-response' ? 'Host did not respond to ping' : w.message,
        durationMs: w.durationMs,
        configError: w.status === 'error' && Boolean(target.configError),
        aborted: w.status === 'aborted',
        details: { mac: w.mac, pingTarget: w.pingTarget, attemptsRequested: w.attemptsRequested, attemptsUsed: w.attemptsUsed, waitSeconds: w.waitSeconds, port: w.port, broadcast: broadcast ?? null },
      }),
    );
  }

  async commandStep(p: PlannedStep): Promise<boolean> {
    const args = p.args ?? [];
    const deadlineMs = this.settings.commandTimeoutMs + (p.action === 'prepare' ? guardGraceOf(args) * 1000 : 0);
    const started = this.ports.now();
    let outcome: StepOutcome;
    try {
      const r = await this.station().run(this.req.host.labstationExe, p.argv!, { signal: this.signal, deadlineMs });
      let acceptedBecause: string | undefined;
      if (p.action === 'release' && r.exitCode === 1) {
        const hb = await this.station().readHeartbeat?.(this.signal).catch(() => null);
        acceptedBecause = nothingToRelease(r.exitCode, r.stdout, hb);
      }
      outcome = commandOutcome(this.ctx, p.action, { args, result: r, acceptedBecause });
    } catch (e) {
      outcome = commandOutcome(this.ctx, p.action, { args, error: { message: (e as Error).message, kind: errorKind(e), durationMs: Math.round(this.ports.now() - started) } });
    }
    const ok = await this.take(outcome);
    if (ok && p.action === 'prepare') this.preparedAt = this.ports.now();
    return ok;
  }

  result(): ReservationRunResult {
    const { body, httpStatus } = reservationBody(this.ctx, this.steps);
    return { body, httpStatus, failure: this.failure, journal: { recorded: this.recorded, unrecorded: this.unrecorded, error: this.journalError }, preparedAt: this.preparedAt };
  }
}

async function history(ports: ReservationPorts, reservationId: string): Promise<PastOperation[]> {
  if (!ports.journal) return [];
  return ports.journal.history(reservationId);
}

async function runPlan(r: Runner, plan: PlannedStep[], wakeOverrides: WakeOverrides): Promise<ReservationRunResult> {
  try {
    for (const p of plan) {
      if (r.signal?.aborted) break;
      if (p.skip) {
        r.steps.push(skippedStep(p.action, p.skip.at));
        continue;
      }
      const ok = p.action === 'wake' ? await r.wakeStep(wakeOverrides) : await r.commandStep(p);
      // Each step runs only if the one before it succeeded.
      if (!ok) break;
    }
  } catch (e) {
    if (!(e instanceof JournalDown)) throw e;
  } finally {
    await r.close();
  }
  return r.result();
}

export async function startReservation(
  req: ReservationRequest,
  o: StartOptions & { wakeOptions?: WakeOverrides },
  ports: ReservationPorts,
  settings: ReservationSettings,
  signal?: AbortSignal,
): Promise<ReservationRunResult> {
  const ctx: StepContext = { reservationId: req.reservationId, labId: req.labId, host: req.host.name };
  const plan = planStart(o, req.host.name, await history(ports, req.reservationId));
  return runPlan(new Runner(req, ctx, ports, settings, signal), plan, o.wakeOptions ?? {});
}

export async function endReservation(req: ReservationRequest, o: EndOptions, ports: ReservationPorts, settings: ReservationSettings, signal?: AbortSignal): Promise<ReservationRunResult> {
  const ctx: StepContext = { reservationId: req.reservationId, labId: req.labId, host: req.host.name };
  const plan = planEnd(o, req.host.name, await history(ports, req.reservationId));
  return runPlan(new Runner(req, ctx, ports, settings, signal), plan, {});
}
