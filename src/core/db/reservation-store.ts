// Reservations in the database: the `reservation_operations` journal (rows as the ops-worker writes them, with
// an explicit UTC created_at), `lab_reservations` reads and guarded status moves, and the orchestrator's claims
// (labops_reservation_claims): won by one conditional UPDATE each, never by read-then-act.
import { withTxRetry } from './retry.js';
import { sql, type NotNull } from 'kysely';
import type { Database } from './database.js';
import { fromDbDateTime, toDbDateTime } from './time.js';
import { pythonDumps } from '../../domain/reservations/wire.js';
import type { JournalRow } from '../../domain/reservations/steps.js';
import type { ReservationStatus } from '../../domain/reservations/plan.js';

export interface OperationRecord {
  id: number;
  reservationId: string;
  labId: string | null;
  host: string;
  action: string;
  status: string;
  success: boolean;
  responseCode: number | null;
  durationMs: number | null;
  payload: unknown;
  message: string | null;
  /** ISO UTC */
  createdAt: string | null;
}

export interface ReservationRecord {
  reservationId: string;
  labId: string | null;
  status: string | null;
  start: string | null;
  end: string | null;
  walletAddress: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

const parsePayload = (v: unknown): unknown => {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};

export async function insertOperation(db: Database, row: JournalRow, createdAtMs: number): Promise<void> {
  await db.kysely
    .insertInto('reservation_operations')
    .values({
      reservation_id: row.reservation_id,
      lab_id: row.lab_id,
      host: row.host,
      action: row.action,
      status: row.status,
      success: row.success ? 1 : 0,
      response_code: row.response_code,
      duration_ms: row.duration_ms === null ? null : Math.round(row.duration_ms),
      payload: row.payload === null ? null : pythonDumps(row.payload),
      message: row.message,
      created_at: toDbDateTime(createdAtMs),
    })
    .execute();
}

function toRecord(r: Record<string, unknown>): OperationRecord {
  return {
    id: Number(r.id),
    reservationId: String(r.reservation_id),
    labId: (r.lab_id as string | null) ?? null,
    host: String(r.host),
    action: String(r.action),
    status: String(r.status),
    success: Boolean(Number(r.success)),
    responseCode: r.response_code === null || r.response_code === undefined ? null : Number(r.response_code),
    durationMs: r.duration_ms === null || r.duration_ms === undefined ? null : Number(r.duration_ms),
    payload: parsePayload(r.payload),
    message: (r.message as string | null) ?? null,
    createdAt: fromDbDateTime(r.created_at),
  };
}

/** Every journal row of a reservation, oldest first. */
export async function operationsOf(db: Database, reservationId: string, page?: { limit: number; offset: number }): Promise<OperationRecord[]> {
  let q = db.kysely.selectFrom('reservation_operations').selectAll().where('reservation_id', '=', reservationId).orderBy('created_at', 'asc').orderBy('id', 'asc');
  if (page) q = q.limit(page.limit).offset(page.offset);
  return (await q.execute()).map((r) => toRecord(r as unknown as Record<string, unknown>));
}

export async function countOperations(db: Database, reservationId: string): Promise<number> {
  const r = await db.kysely.selectFrom('reservation_operations').select(sql<number>`count(*)`.as('n')).where('reservation_id', '=', reservationId).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** The newest `limit` rows, oldest first (the phases take the last match among them). */
export async function newestOperations(db: Database, reservationId: string, limit: number): Promise<OperationRecord[]> {
  const rows = await db.kysely.selectFrom('reservation_operations').selectAll().where('reservation_id', '=', reservationId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => toRecord(r as unknown as Record<string, unknown>)).reverse();
}

export interface OperationFilter {
  /** the host column as labops writes it (the inventory name) */
  host?: string;
  reservationId?: string;
}

/** Journal rows of every reservation, newest first (the Lab Manager's activity feed). */
export async function recentOperations(db: Database, f: OperationFilter & { limit: number; offset: number }): Promise<OperationRecord[]> {
  const rows = await db.kysely
    .selectFrom('reservation_operations')
    .selectAll()
    .$if(f.host !== undefined, (q) => q.where('host', '=', f.host!))
    .$if(f.reservationId !== undefined, (q) => q.where('reservation_id', '=', f.reservationId!))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit)
    .offset(f.offset)
    .execute();
  return rows.map((r) => toRecord(r as unknown as Record<string, unknown>));
}

export async function countRecentOperations(db: Database, f: OperationFilter): Promise<number> {
  const r = await db.kysely
    .selectFrom('reservation_operations')
    .select(sql<number>`count(*)`.as('n'))
    .$if(f.host !== undefined, (q) => q.where('host', '=', f.host!))
    .$if(f.reservationId !== undefined, (q) => q.where('reservation_id', '=', f.reservationId!))
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function findReservation(db: Database, reservationId: string): Promise<ReservationRecord | undefined> {
  const r = await db.kysely.selectFrom('lab_reservations').selectAll().where('transaction_hash', '=', reservationId).executeTakeFirst();
  if (!r) return undefined;
  return {
    reservationId: r.transaction_hash,
    labId: r.lab_id,
    status: r.status,
    start: fromDbDateTime(r.start_time),
    end: fromDbDateTime(r.end_time),
    walletAddress: r.wallet_address ?? null,
    createdAt: fromDbDateTime(r.created_at),
    updatedAt: fromDbDateTime(r.updated_at),
  };
}

export type Phase = 'start' | 'end';

/** InnoDB deadlock or lock wait timeout (two instances claiming and finishing side by side): restart the statement. */
const withRetry = <T>(fn: () => Promise<T>) => withTxRetry(fn, 6);

export interface Candidate {
  reservationId: string;
  labId: string | null;
  status: string;
  start: string | null;
  end: string | null;
  /** failed attempts so far (for the backoff) */
  attempts: number;
}

export interface CandidateWindow {
  nowMs: number;
  startLeadMs: number;
  endDelayMs: number;
  lookbackMs: number;
  limit: number;
  exclude?: readonly string[];
}

/**
 * Reservations due for a start (CONFIRMED, starting within the lead window, not yet ended) or an end (CONFIRMED
 * or ACTIVE, ended END_DELAY ago), without a finished, leased or backing-off claim for that phase.
 */
export async function candidates(db: Database, phase: Phase, w: CandidateWindow): Promise<Candidate[]> {
  const now = toDbDateTime(w.nowMs);
  let q = db.kysely
    .selectFrom('lab_reservations as r')
    .leftJoin('labops_reservation_claims as c', (j) => j.onRef('c.reservation_id', '=', 'r.transaction_hash').on('c.phase', '=', phase))
    .select(['r.transaction_hash', 'r.lab_id', 'r.status', 'r.start_time', 'r.end_time', 'c.attempts'])
    .where((eb) =>
      eb.or([
        eb('c.reservation_id', 'is', null),
        eb.and([eb('c.done_at', 'is', null), eb.or([eb('c.lease_until', 'is', null), eb('c.lease_until', '<', now)]), eb.or([eb('c.next_attempt_at', 'is', null), eb('c.next_attempt_at', '<=', now)])]),
      ]),
    );
  if (phase === 'start') {
    q = q
      .where('r.status', '=', 'CONFIRMED')
      .where('r.start_time', '>=', toDbDateTime(w.nowMs - w.lookbackMs))
      .where('r.start_time', '<=', toDbDateTime(w.nowMs + w.startLeadMs))
      // a booking already over is ended, not started
      .where((eb) => eb.or([eb('r.end_time', 'is', null), eb('r.end_time', '>', toDbDateTime(w.nowMs - w.endDelayMs))]))
      .orderBy('r.start_time', 'asc');
  } else {
    q = q
      .where('r.status', 'in', ['CONFIRMED', 'ACTIVE'])
      .where('r.end_time', '<=', toDbDateTime(w.nowMs - w.endDelayMs))
      .where('r.end_time', '>=', toDbDateTime(w.nowMs - w.lookbackMs))
      .orderBy('r.end_time', 'asc');
  }
  if (w.exclude?.length) q = q.where('r.transaction_hash', 'not in', [...w.exclude]);
  const rows = await q.$narrowType<{ status: NotNull }>().limit(w.limit).execute();
  return rows.map((r) => ({
    reservationId: r.transaction_hash,
    labId: r.lab_id,
    status: r.status,
    start: fromDbDateTime(r.start_time),
    end: fromDbDateTime(r.end_time),
    attempts: Number(r.attempts ?? 0),
  }));
}

export interface ClaimRequest {
  reservationId: string;
  phase: Phase;
  instance: string;
  nowMs: number;
  leaseMs: number;
  /** the reservation must still be in one of these */
  statuses: readonly ReservationStatus[];
}

/**
 * Claims a reservation's phase for this instance. One conditional UPDATE decides: it changes the row only when
 * no live lease, no backoff and no finished claim stand in the way and the reservation is still in a status the
 * phase starts from; exactly one instance sees one affected row.
 */
export async function claim(db: Database, c: ClaimRequest): Promise<boolean> {
  return withRetry(() => claimOnce(db, c));
}

async function claimOnce(db: Database, c: ClaimRequest): Promise<boolean> {
  const now = toDbDateTime(c.nowMs);
  const seed = { reservation_id: c.reservationId, phase: c.phase, attempts: 0, updated_at: now };
  if (db.dialect === 'mysql') await db.kysely.insertInto('labops_reservation_claims').ignore().values(seed).execute();
  else await db.kysely.insertInto('labops_reservation_claims').values(seed).onConflict((oc) => oc.doNothing()).execute();
  const r = await db.kysely
    .updateTable('labops_reservation_claims')
    .set({ claimed_by: c.instance, claimed_at: now, lease_until: toDbDateTime(c.nowMs + c.leaseMs), updated_at: now })
    .where('reservation_id', '=', c.reservationId)
    .where('phase', '=', c.phase)
    .where('done_at', 'is', null)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('lab_reservations as r')
          .select(sql`1`.as('one'))
          .where('r.transaction_hash', '=', c.reservationId)
          .where('r.status', 'in', [...c.statuses]),
      ),
    )
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export interface FinishRequest {
  reservationId: string;
  phase: Phase;
  instance: string;
  nowMs: number;
  /** the scheduler row (always written) */
  row: JournalRow;
  /** on success: the status to move to, from the statuses allowed to reach it */
  transition?: { to: ReservationStatus; from: readonly ReservationStatus[] };
  /** on failure: when to try again */
  retry?: { attempts: number; nextAttemptMs: number; error: string };
}

export interface FinishResult {
  /** the reservation's status was moved */
  moved: boolean;
}

/**
 * Records the outcome in one transaction: the scheduler row, the status move (only along an allowed transition)
 * and the claim (done, or released with its backoff). Either all of it happens or none.
 */
export async function finishClaim(db: Database, f: FinishRequest): Promise<FinishResult> {
  const now = toDbDateTime(f.nowMs);
  return withRetry(() => db.kysely.transaction().execute(async (tx) => {
    // Only the holder of the claim may finish it; a lease that expired and was taken over is not ours.
    const held = await tx
      .updateTable('labops_reservation_claims')
      .set({ updated_at: now })
      .where('reservation_id', '=', f.reservationId)
      .where('phase', '=', f.phase)
      .where('claimed_by', '=', f.instance)
      .where('done_at', 'is', null)
      .executeTakeFirst();
    if (Number(held.numUpdatedRows) !== 1) throw new Error(`the ${f.phase} claim of ${f.reservationId} is no longer held by this instance`);
    await tx
      .insertInto('reservation_operations')
      .values({
        reservation_id: f.row.reservation_id,
        lab_id: f.row.lab_id,
        host: f.row.host,
        action: f.row.action,
        status: f.row.status,
        success: f.row.success ? 1 : 0,
        response_code: f.row.response_code,
        duration_ms: f.row.duration_ms,
        payload: f.row.payload === null ? null : pythonDumps(f.row.payload),
        message: f.row.message,
        created_at: now,
      })
      .execute();
    let moved = false;
    if (f.transition) {
      const r = await tx
        .updateTable('lab_reservations')
        .set({ status: f.transition.to, updated_at: now })
        .where('transaction_hash', '=', f.reservationId)
        .where('status', 'in', [...f.transition.from])
        .executeTakeFirst();
      moved = Number(r.numUpdatedRows) === 1;
    }
    if (f.retry) {
      await tx
        .updateTable('labops_reservation_claims')
        .set({ claimed_by: null, claimed_at: null, lease_until: null, attempts: f.retry.attempts, next_attempt_at: toDbDateTime(f.retry.nextAttemptMs), last_error: f.retry.error.slice(0, 2000), updated_at: now })
        .where('reservation_id', '=', f.reservationId)
        .where('phase', '=', f.phase)
        .execute();
    } else {
      await tx
        .updateTable('labops_reservation_claims')
        .set({ claimed_by: null, lease_until: null, done_at: now, last_error: null, updated_at: now })
        .where('reservation_id', '=', f.reservationId)
        .where('phase', '=', f.phase)
        .execute();
    }
    return { moved };
  }));
}

/** Gives a claim back without recording anything (shutdown, a database error before any work). */
export async function releaseClaim(db: Database, reservationId: string, phase: Phase, instance: string, nowMs: number): Promise<void> {
  await withRetry(() => db.kysely
    .updateTable('labops_reservation_claims')
    .set({ claimed_by: null, claimed_at: null, lease_until: null, updated_at: toDbDateTime(nowMs) })
    .where('reservation_id', '=', reservationId)
    .where('phase', '=', phase)
    .where('claimed_by', '=', instance)
    .where('done_at', 'is', null)
    .execute());
}

/** The reservations with the most recently journalled steps, newest first (the daemon's status page). */
export async function recentReservationIds(db: Database, limit: number): Promise<string[]> {
  const rows = await db.kysely
    .selectFrom('reservation_operations')
    .select(['reservation_id', sql<number>`max(id)`.as('last_id')])
    .groupBy('reservation_id')
    .orderBy('last_id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.reservation_id);
}
