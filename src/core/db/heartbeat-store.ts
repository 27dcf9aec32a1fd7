// Heartbeat persistence, wire-compatible with the ops-worker (lab_hosts upsert, lab_host_heartbeat with the
// denormalised columns and raw_json as Python json.dumps writes it, lab_host_events kind='session-guard'),
// and better than it: an unchanged heartbeat adds no row, an event is stored once, times are UTC, and two
// pollers never duplicate rows (the host row is locked for the length of the transaction).
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from './schema.js';
import type { Database } from './database.js';
import { fromDbDateTime, toDbDateTime } from './time.js';
import { pythonJsonDumps } from '../../domain/python-json.js';
import type { HeartbeatSnapshot } from '../../domain/heartbeat/normalize.js';
import type { GuardEvent } from '../../domain/heartbeat/events.js';

export interface StoreHeartbeatInput {
  host: { name: string; address: string; mac?: string; labs: readonly string[] };
  snapshot: HeartbeatSnapshot;
  /** every event read from the file; only those newer than the last stored one are written */
  events: readonly GuardEvent[];
  /** ISO UTC */
  pollTime: string;
}

export interface LinkedForcedLogoff {
  timestamp: string;
  user: string | null;
  sessionId: string | null;
  reservationId: string | null;
}

export interface StoreHeartbeatResult {
  hostId: number;
  heartbeatStored: boolean;
  eventsStored: number;
  forcedLogoffs: LinkedForcedLogoff[];
}

type Tx = Kysely<DB> | Transaction<DB>;

/** Booleans as 0/1: SQLite binds no booleans, and MySQL BOOLEAN is TINYINT(1) anyway. */
const bit = (v: boolean | null | undefined): number | null => (v === null || v === undefined ? null : v ? 1 : 0);

async function ensureHost(tx: Tx, dialect: Database['dialect'], h: StoreHeartbeatInput['host']): Promise<number> {
  const values = { name: h.name, address: h.address, mac: h.mac ?? null };
  if (dialect === 'mysql') await tx.insertInto('lab_hosts').ignore().values(values).execute();
  else await tx.insertInto('lab_hosts').values(values).onConflict((oc) => oc.column('name').doNothing()).execute();
  let q = tx.selectFrom('lab_hosts').select('id').where('name', '=', h.name);
  if (dialect === 'mysql') q = q.forUpdate();
  const row = await q.executeTakeFirstOrThrow();
  return Number(row.id);
}

/** The reservation an eviction belongs to: the prepare that ran on this host around it, else the lab's booking. */
async function findReservation(tx: Tx, host: string, labs: readonly string[], ts: string, graceSec: number): Promise<{ reservationId: string; labId: string | null } | null> {
  const t = new Date(ts).getTime();
  const from = toDbDateTime(t - (graceSec + 600) * 1000);
  const to = toDbDateTime(t + 600_000);
  const prepare = await tx
    .selectFrom('reservation_operations')
    .select(['reservation_id', 'lab_id', 'created_at'])
    .where('host', '=', host)
    .where('action', '=', 'prepare')
    .where('created_at', '>=', from)
    .where('created_at', '<=', to)
    .orderBy('created_at', 'asc')
    .execute();
  if (prepare.length) {
    const best = prepare.reduce((a, b) => (Math.abs(new Date(fromDbDateTime(a.created_at)!).getTime() - t) <= Math.abs(new Date(fromDbDateTime(b.created_at)!).getTime() - t) ? a : b));
    return { reservationId: best.reservation_id, labId: best.lab_id };
  }
  if (!labs.length) return null;
  const booking = await tx
    .selectFrom('lab_reservations')
    .select(['transaction_hash', 'lab_id'])
    .where('lab_id', 'in', [...labs])
    .where('status', 'in', ['CONFIRMED', 'ACTIVE', 'COMPLETED'])
    .where('start_time', '<=', toDbDateTime(t + 30 * 60_000))
    .where('end_time', '>=', toDbDateTime(t))
    .orderBy('start_time', 'asc')
    .executeTakeFirst()
    .catch(() => undefined); // the reservations table may not exist on an ops-only database
  return booking ? { reservationId: booking.transaction_hash, labId: booking.lab_id } : null;
}

export async function storeHeartbeat(db: Database, input: StoreHeartbeatInput): Promise<StoreHeartbeatResult> {
  const s = input.snapshot;
  const ts = toDbDateTime(s.timestamp ?? input.pollTime);
  const pollTs = toDbDateTime(input.pollTime);
  return db.kysely.transaction().execute(async (tx) => {
    const hostId = await ensureHost(tx, db.dialect, input.host);
    await tx.updateTable('lab_hosts').set({ address: input.host.address, mac: input.host.mac ?? null, last_seen: ts }).where('id', '=', hostId).execute();
    const latest = await tx.selectFrom('lab_host_heartbeat').select('timestamp_utc').where('host_id', '=', hostId).orderBy('timestamp_utc', 'desc').limit(1).executeTakeFirst();
    const latestTs = latest ? toDbDateTime(fromDbDateTime(latest.timestamp_utc)!) : null;
    const heartbeatStored = latestTs === null || ts > latestTs;
    if (heartbeatStored) {
      await tx
        .insertInto('lab_host_heartbeat')
        .values({
          host_id: hostId,
          timestamp_utc: ts,
          ready: bit(s.ready),
          local_mode: bit(s.localMode),
          local_session: bit(s.localSession),
          last_forced_logoff_ts: s.lastForcedLogoff?.timestamp ? toDbDateTime(s.lastForcedLogoff.timestamp) : null,
          last_forced_logoff_user: s.lastForcedLogoff?.user ?? null,
          last_power_action_ts: s.lastPowerAction?.timestamp ? toDbDateTime(s.lastPowerAction.timestamp) : null,
          last_power_action_mode: s.lastPowerAction?.mode ?? null,
          raw_json: pythonJsonDumps(s.raw),
        })
        .execute();
    }
    const lastEvent = await tx
      .selectFrom('lab_host_events')
      .select('timestamp_utc')
      .where('host_id', '=', hostId)
      .where('kind', '=', 'session-guard')
      .orderBy('timestamp_utc', 'desc')
      .limit(1)
      .executeTakeFirst();
    const lastEventTs = lastEvent ? toDbDateTime(fromDbDateTime(lastEvent.timestamp_utc)!) : null;
    const fresh = input.events.filter((e) => e.timestamp && (lastEventTs === null || toDbDateTime(e.timestamp) > lastEventTs));
    const forcedLogoffs: LinkedForcedLogoff[] = [];
    for (const e of fresh) {
      const eventTs = toDbDateTime(e.timestamp!);
      const inserted = await tx.insertInto('lab_host_events').values({ host_id: hostId, kind: 'session-guard', timestamp_utc: eventTs, payload: JSON.stringify(e.payload) }).executeTakeFirst();
      const match = await findReservation(tx, input.host.name, input.host.labs, e.timestamp!, e.grace ?? 90);
      const row = {
        reservation_id: match?.reservationId ?? null,
        lab_id: match?.labId ?? null,
        host: input.host.name,
        event_id: inserted.insertId === undefined ? null : Number(inserted.insertId),
        timestamp_utc: eventTs,
        user: e.user,
        session_id: e.sessionId,
        grace: e.grace,
        message: e.message,
        force_logoff: bit(e.force),
      };
      if (db.dialect === 'mysql') await tx.insertInto('reservation_forced_logoffs').ignore().values(row).execute();
      else await tx.insertInto('reservation_forced_logoffs').values(row).onConflict((oc) => oc.doNothing()).execute();
      forcedLogoffs.push({ timestamp: e.timestamp!, user: e.user, sessionId: e.sessionId, reservationId: row.reservation_id });
    }
    const state = { last_poll_at: pollTs, last_heartbeat_ts: ts, reported_host: s.host, last_error: null, consecutive_failures: 0 };
    const changed = heartbeatStored ? { last_change_at: pollTs } : {};
    if (db.dialect === 'mysql') {
      await tx.insertInto('labops_host_poll_state').values({ host_id: hostId, ...state, last_change_at: pollTs }).onDuplicateKeyUpdate({ ...state, ...changed }).execute();
    } else {
      await tx.insertInto('labops_host_poll_state').values({ host_id: hostId, ...state, last_change_at: pollTs }).onConflict((oc) => oc.column('host_id').doUpdateSet({ ...state, ...changed })).execute();
    }
    return { hostId, heartbeatStored, eventsStored: fresh.length, forcedLogoffs };
  });
}

export interface HostHeartbeatRow {
  host: string;
  address: string;
  timestampUtc: string | null;
  ready: boolean | null;
  localMode: boolean | null;
  localSession: boolean | null;
  lastForcedLogoffTs: string | null;
  lastForcedLogoffUser: string | null;
  lastPowerActionTs: string | null;
  lastPowerActionMode: string | null;
  lastPollAt: string | null;
  lastChangeAt: string | null;
  reportedHost: string | null;
  rawJson: string | null;
}

const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : Boolean(Number(v)));

/** The latest stored heartbeat of each host (all hosts, or the named ones). */
export async function latestHeartbeats(db: Database, names?: readonly string[]): Promise<HostHeartbeatRow[]> {
  let q = db.kysely
    .selectFrom('lab_hosts as h')
    .leftJoin('lab_host_heartbeat as hb', (j) =>
      j.onRef('hb.host_id', '=', 'h.id').on('hb.id', '=', (eb) => eb.selectFrom('lab_host_heartbeat as x').select(sql<number>`max(x.id)`.as('m')).whereRef('x.host_id', '=', 'h.id')),
    )
    .leftJoin('labops_host_poll_state as ps', 'ps.host_id', 'h.id')
    .select([
      'h.name', 'h.address', 'hb.timestamp_utc', 'hb.ready', 'hb.local_mode', 'hb.local_session', 'hb.last_forced_logoff_ts', 'hb.last_forced_logoff_user',
      'hb.last_power_action_ts', 'hb.last_power_action_mode', 'hb.raw_json', 'ps.last_poll_at', 'ps.last_change_at', 'ps.reported_host',
    ])
    .orderBy('h.name');
  if (names?.length) q = q.where('h.name', 'in', [...names]);
  const rows = await q.execute();
  return rows.map((r) => ({
    host: r.name,
    address: r.address,
    timestampUtc: fromDbDateTime(r.timestamp_utc),
    ready: bool(r.ready),
    localMode: bool(r.local_mode),
    localSession: bool(r.local_session),
    lastForcedLogoffTs: fromDbDateTime(r.last_forced_logoff_ts),
    lastForcedLogoffUser: r.last_forced_logoff_user ?? null,
    lastPowerActionTs: fromDbDateTime(r.last_power_action_ts),
    lastPowerActionMode: r.last_power_action_mode ?? null,
    lastPollAt: fromDbDateTime(r.last_poll_at),
    lastChangeAt: fromDbDateTime(r.last_change_at),
    reportedHost: r.reported_host ?? null,
    rawJson: r.raw_json ?? null,
  }));
}

export interface ForcedLogoffRow {
  host: string;
  timestampUtc: string;
  user: string | null;
  sessionId: string | null;
  grace: number | null;
  message: string | null;
  force: boolean | null;
  reservationId: string | null;
  labId: string | null;
}

export async function forcedLogoffs(db: Database, opts: { hosts?: readonly string[]; reservationId?: string; limit?: number } = {}): Promise<ForcedLogoffRow[]> {
  let q = db.kysely.selectFrom('reservation_forced_logoffs').selectAll().orderBy('timestamp_utc', 'desc').limit(opts.limit ?? 100);
  if (opts.hosts?.length) q = q.where('host', 'in', [...opts.hosts]);
  if (opts.reservationId) q = q.where('reservation_id', '=', opts.reservationId);
  const rows = await q.execute();
  return rows.map((r) => ({
    host: r.host,
    timestampUtc: fromDbDateTime(r.timestamp_utc)!,
    user: r.user,
    sessionId: r.session_id,
    grace: r.grace,
    message: r.message,
    force: bool(r.force_logoff),
    reservationId: r.reservation_id,
    labId: r.lab_id,
  }));
}
