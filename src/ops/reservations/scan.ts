// The reservation orchestrator: find lab_reservations due to start or end, claim each (one conditional UPDATE:
// exactly one instance wins), map lab_id to a host, run start/end, and record the outcome in one transaction:
// the scheduler:start|end row, the status move along an allowed transition, and the claim (done, or released
// with a capped exponential backoff). Safe with any number of instances on any number of machines.
import { backoffDelayMs, type BackoffPolicy } from '../../domain/backoff.js';
import { allowedFrom, type ReservationStatus } from '../../domain/reservations/plan.js';
import { schedulerRow, unmappedRow, type JournalRow } from '../../domain/reservations/steps.js';
import { mapPool } from '../../domain/pool.js';
import { MissingTable, TempFail } from '../../domain/errors.js';
import type { HostIndex } from '../../core/config/inventory.js';
import type { Database } from '../../core/db/database.js';
import * as store from '../../core/db/reservation-store.js';
import { endReservation, startReservation, type ReservationPorts, type ReservationSettings } from './run.js';

export interface ScanConfig {
  startLeadMs: number;
  endDelayMs: number;
  lookbackMs: number;
  batch: number;
  concurrency: number;
  leaseMs: number;
  backoff: BackoffPolicy;
  guardGrace: number;
  rebootTimeout: number;
}

export interface ScanDeps {
  db: Database;
  index: HostIndex;
  ports: ReservationPorts;
  settings: ReservationSettings;
  /** who claims: host:pid */
  instance: string;
}

export type ScanOutcome = 'started' | 'ended' | 'failed' | 'unmapped' | 'db-error';

export interface ScanItem {
  reservationId: string;
  labId: string | null;
  phase: store.Phase;
  host: string | null;
  outcome: ScanOutcome;
  /** the reservation's status afterwards, as far as this instance knows */
  status: string;
  httpStatus: number | null;
  message: string;
  attempts: number;
  nextAttemptAt: string | null;
  /** ms from the start of the scan pass to this reservation's prepare (start) or its end */
  msFromScan: number;
}

export interface ScanResult {
  instance: string;
  items: ScanItem[];
  /** candidates another instance claimed first */
  taken: number;
}

const TARGET: Record<store.Phase, { to: ReservationStatus; from: readonly ReservationStatus[] }> = {
  start: { to: 'ACTIVE', from: allowedFrom('ACTIVE') },
  end: { to: 'COMPLETED', from: allowedFrom('COMPLETED') },
};

async function dispatch(deps: ScanDeps, cfg: ScanConfig, c: store.Candidate, phase: store.Phase, t0: number, signal?: AbortSignal): Promise<ScanItem | 'taken'> {
  const now = () => deps.ports.now();
  const won = await store.claim(deps.db, { reservationId: c.reservationId, phase, instance: deps.instance, nowMs: now(), leaseMs: cfg.leaseMs, statuses: TARGET[phase].from });
  if (!won) return 'taken';
  const item = (x: Partial<ScanItem> & Pick<ScanItem, 'outcome' | 'message'>): ScanItem => ({
    reservationId: c.reservationId,
    labId: c.labId,
    phase,
    host: null,
    status: c.status,
    httpStatus: null,
    attempts: c.attempts,
    nextAttemptAt: null,
    msFromScan: Math.round(now() - t0),
    ...x,
  });
  const finish = async (row: JournalRow, ok: boolean, error: string, extra: Partial<ScanItem>): Promise<ScanItem> => {
    const attempts = ok ? c.attempts : c.attempts + 1;
    const nextAttemptMs = now() + backoffDelayMs(attempts, cfg.backoff);
    try {
      const r = await store.finishClaim(deps.db, {
        reservationId: c.reservationId,
        phase,
        instance: deps.instance,
        nowMs: now(),
        row,
        transition: ok ? { to: TARGET[phase].to, from: TARGET[phase].from } : undefined,
        retry: ok ? undefined : { attempts, nextAttemptMs, error },
      });
      return item({
        ...extra,
        outcome: ok ? (phase === 'start' ? 'started' : 'ended') : (extra.outcome ?? 'failed'),
        message: ok ? (r.moved ? `${c.status} -> ${TARGET[phase].to}` : `done; status left ${c.status} (changed meanwhile)`) : error,
        status: ok && r.moved ? TARGET[phase].to : c.status,
        attempts,
        nextAttemptAt: ok ? null : new Date(nextAttemptMs).toISOString(),
      });
    } catch (e) {
      // Nothing of the transaction happened: the status is unchanged and the lease runs out for a later retry.
      return item({ ...extra, outcome: 'db-error', message: `recording the outcome failed, status unchanged: ${(e as Error).message.split('\n')[0]}` });
    }
  };

  const host = c.labId ? deps.index.forLab(c.labId) : undefined;
  if (!host || host.quarantined) {
    const row = unmappedRow(c.reservationId, c.labId, phase);
    return finish(row, false, row.message!, { outcome: 'unmapped' });
  }
  const req = { reservationId: c.reservationId, labId: c.labId, host };
  let run;
  try {
    run =
      phase === 'start'
        ? await startReservation(req, { wake: true, prepare: true, guardGrace: cfg.guardGrace, force: false }, deps.ports, deps.settings, signal)
        : await endReservation(req, { release: true, rebootTimeout: cfg.rebootTimeout, force: false }, deps.ports, deps.settings, signal);
  } catch (e) {
    await store.releaseClaim(deps.db, c.reservationId, phase, deps.instance, now()).catch(() => {});
    return item({ host: host.name, outcome: 'db-error', message: (e as Error).message });
  }
  const msFromScan = Math.round((phase === 'start' && run.preparedAt !== undefined ? run.preparedAt : now()) - t0);
  if (run.journal.error) {
    await store.releaseClaim(deps.db, c.reservationId, phase, deps.instance, now()).catch(() => {});
    return item({ host: host.name, outcome: 'db-error', httpStatus: run.httpStatus, message: `${run.journal.error}; status unchanged`, msFromScan });
  }
  const row = schedulerRow({ reservationId: c.reservationId, labId: c.labId, host: host.name }, phase, run.body as unknown as Record<string, unknown>, run.httpStatus);
  const failedStep = run.body.steps.find((s) => !s.success);
  return finish(row, run.body.success, failedStep ? `${failedStep.action}: ${failedStep.message}` : row.message ?? 'failed', { host: host.name, httpStatus: run.httpStatus, msFromScan });
}

async function select(deps: ScanDeps, cfg: ScanConfig, exclude: readonly string[], limit: number): Promise<{ c: store.Candidate; phase: store.Phase }[]> {
  const w = { nowMs: deps.ports.now(), startLeadMs: cfg.startLeadMs, endDelayMs: cfg.endDelayMs, lookbackMs: cfg.lookbackMs, limit, exclude };
  try {
    const ends = await store.candidates(deps.db, 'end', w);
    const starts = await store.candidates(deps.db, 'start', { ...w, limit: Math.max(0, limit - ends.length) });
    return [...ends.map((c) => ({ c, phase: 'end' as const })), ...starts.map((c) => ({ c, phase: 'start' as const }))];
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof MissingTable) throw new TempFail(`reservation tables missing: ${msg}`, { suggestion: 'run labops db migrate (lab_reservations belongs to the auth service)' });
    throw new TempFail(`database unavailable: ${msg.split('\n')[0]}`);
  }
}

/**
 * One pass: select, claim and dispatch everything due now, and wait for it. `stop` ends claiming (in-flight work
 * finishes); `abort` cancels in-flight work too (default: the same signal).
 */
export async function scanOnce(deps: ScanDeps, cfg: ScanConfig, stop?: AbortSignal, onItem?: (i: ScanItem) => void, abort: AbortSignal | undefined = stop): Promise<ScanResult> {
  const signal = stop;
  const t0 = deps.ports.now();
  const due = await select(deps, cfg, [], cfg.batch);
  const items: ScanItem[] = [];
  let taken = 0;
  await mapPool(
    due,
    cfg.concurrency,
    async ({ c, phase }) => {
      if (signal?.aborted) return;
      let r: ScanItem | 'taken';
      try {
        r = await dispatch(deps, cfg, c, phase, t0, abort);
      } catch (e) {
        r = { reservationId: c.reservationId, labId: c.labId, phase, host: null, outcome: 'db-error', status: c.status, httpStatus: null, message: (e as Error).message.split('\n')[0]!, attempts: c.attempts, nextAttemptAt: null, msFromScan: Math.round(deps.ports.now() - t0) };
      }
      if (r === 'taken') taken++;
      else {
        items.push(r);
        onItem?.(r);
      }
    },
    signal,
  );
  return { instance: deps.instance, items, taken };
}

/**
 * The daemon loop: every interval, select what is due and dispatch it without waiting for the work already in
 * flight (a 90 s prepare never delays another reservation's start), at most `concurrency` at once. `stop` ends
 * claiming and the loop waits for what is in flight; `abort` cancels that too (default: the same signal).
 */
export async function scanLoop(
  deps: ScanDeps,
  cfg: ScanConfig & { intervalMs: number },
  stop: AbortSignal,
  events: { onItem(i: ScanItem): void; onError(e: unknown): void },
  abort: AbortSignal = stop,
): Promise<void> {
  const signal = stop;
  const inflight = new Map<string, Promise<void>>();
  while (!signal.aborted) {
    const t0 = deps.ports.now();
    try {
      const free = cfg.concurrency - inflight.size;
      if (free > 0) {
        for (const { c, phase } of await select(deps, cfg, [...inflight.keys()], Math.min(free, cfg.batch))) {
          const p = dispatch(deps, cfg, c, phase, t0, abort)
            .then((r) => {
              if (r !== 'taken') events.onItem(r);
            })
            .catch((e) => events.onError(e))
            .finally(() => inflight.delete(c.reservationId));
          inflight.set(c.reservationId, p);
        }
      }
    } catch (e) {
      events.onError(e);
    }
    await deps.ports.sleep(cfg.intervalMs, signal);
  }
  // SIGTERM: stop claiming, finish what is in flight.
  await Promise.allSettled([...inflight.values()]);
}
