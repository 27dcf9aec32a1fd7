// Heartbeat persistence, wire-compatible with the ops-worker (lab_hosts upsert, lab_host_heartbeat with the
// denormalised columns and raw_json as Python json.dumps writes it, lab_host_events kind='session-guard'),
// and better than it: an unchanged heartbeat adds no row, an event is stored once, times are UTC, and two
// pollers never duplicate rows (the host row is locked for the length of the transaction).
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import { withTxRetry } from './retry.js';
import type { DB } from './schema.js';
import type { Database } from './database.js';
import { fromDbDateTime, toDbDateTime } from './time.js';
import { hostKey, hostNameIn } from './host-names.js';
import { pythonJsonDumps } from '../../domain/python-json.js';
import { normalizeHeartbeat, type HeartbeatSnapshot } from '../../domain/heartbeat/normalize.js';
import { digestHeartbeat, EMPTY_DIGEST, type HeartbeatDigest } from '../../domain/heartbeat/digest.js';
import { existingTables } from './migrations.js';
import type { GuardEvent } from '../../domain/heartbeat/events.js';

/** What storing a heartbeat needs (lab_reservations is optional: an ops-only database lacks it). */
export const HEARTBEAT_STORE_TABLES = ['lab_hosts', 'lab_host_heartbeat', 'lab_host_events', 'reservation_operations', 'reservation_forced_logoffs', 'labops_host_poll_state'] as const;

export interface StoreHeartbeatInput {
  host: { name: string; address: string; mac?: string; labs: readonly string[] };
  snapshot: HeartbeatSnapshot;
  /** every event read from the file; only those newer than the last stored one are written */
  events: readonly GuardEvent[];
  /** ISO UTC */
  pollTime: string;
  /** how far the station's clock runs ahead (measured at the poll): its events are linked to reservations at their real time */
  clockSkewMs?: number;
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

/** The reservation an eviction belongs to: the prepare that ran on this host around it, else the lab's booking. */
async function findReservation(tx: Tx, dialect: Dialect, host: string, labs: readonly string[], ts: string, graceSec: number): Promise<{ reservationId: string; labId: string | null } | null> {
  const t = new Date(ts).getTime();
  const from = toDbDateTime(t - (graceSec + 600) * 1000);
  const to = toDbDateTime(t + 600_000);
  const prepare = await tx
    .selectFrom('reservation_operations')
    .select(['reservation_id', 'lab_id', 'created_at'])
    .where(hostNameIn(dialect, 'host', [host]))
    .where('action', '=', 'prepare')
    .where('created_at', '>=', from)
    .where('created_at', '<=', to)
    .orderBy('created_at', 'asc')
    .execute();
  if (prepare.length) {
    const dist = (r: (typeof prepare)[number]) => Math.abs(new Date(fromDbDateTime(r.created_at)!).getTime() - t);
    const best = prepare.reduce((a, b) => (dist(a) <= dist(b) ? a : b));
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

const latestByHost = (rows: { host_id: number | string; ts: unknown }[]) => new Map(rows.map((r) => [Number(r.host_id), r.ts === null ? null : toDbDateTime(fromDbDateTime(r.ts)!)]));

/**
 * Stores the heartbeats of many hosts in one transaction: one upsert of lab_hosts, one read of the latest
 * heartbeat and event per host, one multi-row insert of what changed. The host rows are locked (in name
 * order, so concurrent pollers cannot deadlock each other) for the length of the transaction.
 */
export async function storeHeartbeats(db: Database, inputs: readonly StoreHeartbeatInput[]): Promise<StoreHeartbeatResult[]> {
  if (!inputs.length) return [];
  const order = inputs.map((input, i) => ({ input, i })).sort((a, b) => (a.input.host.name < b.input.host.name ? -1 : a.input.host.name > b.input.host.name ? 1 : 0));
  const digests = await hasDigestTable(db);
  return withTxRetry(() => db.kysely.transaction().execute((tx) => storeInTransaction(tx, db.dialect, order, inputs.length, digests)));
}

type Dialect = Database['dialect'];

/** storeHeartbeats' transaction, over the inputs in host name order; the results in the inputs' order. */
async function storeInTransaction(tx: Transaction<DB>, dialect: Dialect, order: readonly { input: StoreHeartbeatInput; i: number }[], count: number, digests: boolean): Promise<StoreHeartbeatResult[]> {
  const hosts = await upsertAndLockHosts(tx, dialect, order.map(({ input }) => input));
  const latest = await latestTimes(tx, [...new Set([...hosts.values()].map((h) => h.id))]);
  const results: StoreHeartbeatResult[] = new Array(count);
  const heartbeatRows: Insertable<DB['lab_host_heartbeat']>[] = [];
  const stateRows: Insertable<DB['labops_host_poll_state']>[] = [];
  const digestRows: Insertable<DB['labops_host_digest']>[] = [];
  for (const { input, i } of order) {
    const s = input.snapshot;
    const { id: hostId, name } = hosts.get(hostKey(input.host.name))!;
    const ts = toDbDateTime(s.timestamp ?? input.pollTime);
    const latestHeartbeat = latest.heartbeat.get(hostId) ?? null;
    const heartbeatStored = latestHeartbeat === null || ts > latestHeartbeat;
    if (heartbeatStored) {
      const row = heartbeatRow(hostId, ts, s);
      heartbeatRows.push(row);
      digestRows.push(digestRow(row, s));
    }
    const lastEventTs = latest.event.get(hostId) ?? null;
    const fresh = input.events.filter((e) => e.timestamp && (lastEventTs === null || toDbDateTime(e.timestamp) > lastEventTs));
    // rows keyed by host name carry the stored spelling, so a host renamed only in case stays one host
    const forcedLogoffs = await storeEvents(tx, dialect, hostId, { ...input.host, name }, fresh, input.clockSkewMs ?? 0);
    const pollTs = toDbDateTime(input.pollTime);
    stateRows.push({ host_id: hostId, last_poll_at: pollTs, last_change_at: heartbeatStored ? pollTs : null, last_heartbeat_ts: ts, reported_host: s.host, last_error: null, consecutive_failures: 0 });
    results[i] = { hostId, heartbeatStored, eventsStored: fresh.length, forcedLogoffs };
  }
  if (heartbeatRows.length) await tx.insertInto('lab_host_heartbeat').values(heartbeatRows).execute();
  await upsertPollStates(tx, dialect, stateRows);
  if (digests && digestRows.length) await upsertDigests(tx, dialect, digestRows);
  return results;
}

/** Each name's stored spelling (any case); the oldest row when an older labops stored two spellings. */
async function storedSpellings(tx: Transaction<DB>, dialect: Dialect, names: readonly string[]): Promise<Map<string, string>> {
  const rows = await tx.selectFrom('lab_hosts').select(['id', 'name']).where(hostNameIn(dialect, 'name', names)).orderBy('id').execute();
  const out = new Map<string, string>();
  for (const r of rows) if (!out.has(hostKey(r.name))) out.set(hostKey(r.name), r.name);
  return out;
}

/**
 * Inserts or updates the hosts' rows (in the given order) under the spelling already stored, and reads their ids,
 * locking the rows on MySQL in name order. Keyed by hostKey of the input name.
 */
async function upsertAndLockHosts(tx: Transaction<DB>, dialect: Dialect, inputs: readonly StoreHeartbeatInput[]): Promise<Map<string, { id: number; name: string }>> {
  // On MySQL the upsert itself finds the stored row (its collation ignores case), and a plain read before the
  // rows are locked would fix the transaction's snapshot too early: two pollers would both store a heartbeat.
  const stored = dialect === 'sqlite' ? await storedSpellings(tx, dialect, inputs.map((input) => input.host.name)) : new Map<string, string>();
  const hostRows = inputs.map((input) => ({
    name: stored.get(hostKey(input.host.name)) ?? input.host.name,
    address: input.host.address,
    mac: input.host.mac ?? null,
    last_seen: toDbDateTime(input.snapshot.timestamp ?? input.pollTime),
  }));
  if (dialect === 'mysql') {
    await tx
      .insertInto('lab_hosts')
      .values(hostRows)
      .onDuplicateKeyUpdate({ address: sql`VALUES(address)`, mac: sql`VALUES(mac)`, last_seen: sql`VALUES(last_seen)` })
      .execute();
  } else {
    await tx
      .insertInto('lab_hosts')
      .values(hostRows)
      .onConflict((oc) => oc.column('name').doUpdateSet({ address: sql`excluded.address`, mac: sql`excluded.mac`, last_seen: sql`excluded.last_seen` }))
      .execute();
  }
  let idq = tx.selectFrom('lab_hosts').select(['id', 'name']).where(hostNameIn(dialect, 'name', hostRows.map((h) => h.name))).orderBy('name');
  if (dialect === 'mysql') idq = idq.forUpdate();
  const rows = await idq.execute();
  const out = new Map<string, { id: number; name: string }>();
  for (const h of hostRows) {
    // the row written above; another poller may have inserted the host meanwhile under another spelling
    const row = rows.find((r) => r.name === h.name) ?? rows.find((r) => hostKey(r.name) === hostKey(h.name));
    if (row) out.set(hostKey(h.name), { id: Number(row.id), name: row.name });
  }
  return out;
}

/** The time of each host's latest stored heartbeat and latest session-guard event. */
async function latestTimes(tx: Transaction<DB>, hostIds: number[]): Promise<{ heartbeat: Map<number, string | null>; event: Map<number, string | null> }> {
  const heartbeat = latestByHost(
    await tx.selectFrom('lab_host_heartbeat').select(['host_id', sql<string>`max(timestamp_utc)`.as('ts')]).where('host_id', 'in', hostIds).groupBy('host_id').execute(),
  );
  const event = latestByHost(
    await tx
      .selectFrom('lab_host_events')
      .select(['host_id', sql<string>`max(timestamp_utc)`.as('ts')])
      .where('host_id', 'in', hostIds)
      .where('kind', '=', 'session-guard')
      .groupBy('host_id')
      .execute(),
  );
  return { heartbeat, event };
}

function heartbeatRow(hostId: number, ts: string, s: HeartbeatSnapshot): Insertable<DB['lab_host_heartbeat']> {
  return {
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
  };
}

/** Each new session-guard event as a lab_host_events row and a forced logoff linked to its reservation. */
async function storeEvents(tx: Transaction<DB>, dialect: Dialect, hostId: number, host: StoreHeartbeatInput['host'], events: readonly GuardEvent[], skewMs: number): Promise<LinkedForcedLogoff[]> {
  const forcedLogoffs: LinkedForcedLogoff[] = [];
  for (const e of events) {
    const eventTs = toDbDateTime(e.timestamp!);
    const inserted = await tx.insertInto('lab_host_events').values({ host_id: hostId, kind: 'session-guard', timestamp_utc: eventTs, payload: JSON.stringify(e.payload) }).executeTakeFirst();
    const realTime = skewMs ? new Date(Date.parse(e.timestamp!) - skewMs).toISOString() : e.timestamp!;
    const match = await findReservation(tx, dialect, host.name, host.labs, realTime, e.grace ?? 90);
    const row = {
      reservation_id: match?.reservationId ?? null,
      lab_id: match?.labId ?? null,
      host: host.name,
      event_id: inserted.insertId === undefined ? null : Number(inserted.insertId),
      timestamp_utc: eventTs,
      user: e.user,
      session_id: e.sessionId,
      grace: e.grace,
      message: e.message,
      force_logoff: bit(e.force),
    };
    if (dialect === 'mysql') await tx.insertInto('reservation_forced_logoffs').ignore().values(row).execute();
    else await tx.insertInto('reservation_forced_logoffs').values(row).onConflict((oc) => oc.doNothing()).execute();
    forcedLogoffs.push({ timestamp: e.timestamp!, user: e.user, sessionId: e.sessionId, reservationId: row.reservation_id });
  }
  return forcedLogoffs;
}

/** The poll state of each host; last_change_at keeps its old value when nothing changed (NULL in the VALUES row means "keep"). */
async function upsertPollStates(tx: Transaction<DB>, dialect: Dialect, stateRows: Insertable<DB['labops_host_poll_state']>[]): Promise<void> {
  if (dialect === 'mysql') {
    await tx
      .insertInto('labops_host_poll_state')
      .values(stateRows)
      .onDuplicateKeyUpdate({
        last_poll_at: sql`VALUES(last_poll_at)`,
        last_change_at: sql`COALESCE(VALUES(last_change_at), last_change_at)`,
        last_heartbeat_ts: sql`VALUES(last_heartbeat_ts)`,
        reported_host: sql`VALUES(reported_host)`,
        last_error: null,
        consecutive_failures: 0,
      })
      .execute();
  } else {
    await tx
      .insertInto('labops_host_poll_state')
      .values(stateRows)
      .onConflict((oc) =>
        oc.column('host_id').doUpdateSet({
          last_poll_at: sql`excluded.last_poll_at`,
          last_change_at: sql`COALESCE(excluded.last_change_at, labops_host_poll_state.last_change_at)`,
          last_heartbeat_ts: sql`excluded.last_heartbeat_ts`,
          reported_host: sql`excluded.reported_host`,
          last_error: null,
          consecutive_failures: 0,
        }),
      )
      .execute();
  }
}

function digestRow(hb: Insertable<DB['lab_host_heartbeat']>, s: HeartbeatSnapshot): Insertable<DB['labops_host_digest']> {
  const d = digestHeartbeat(s);
  const time = (iso: string | null) => (iso === null ? null : toDbDateTime(iso));
  const ts = hb.timestamp_utc;
  return {
    host_id: hb.host_id,
    heartbeat_ts: ts,
    ready: hb.ready,
    local_mode: hb.local_mode,
    local_session: hb.local_session,
    last_forced_logoff_ts: hb.last_forced_logoff_ts,
    last_forced_logoff_user: hb.last_forced_logoff_user,
    last_power_action_ts: hb.last_power_action_ts,
    last_power_action_mode: hb.last_power_action_mode,
    // this heartbeat's time when it is not ready; the upsert keeps an earlier start of the same run
    not_ready_since: s.ready === false ? ts : null,
    issues: JSON.stringify(d.issues),
    last_prepare_ts: time(d.lastPrepareTs),
    station_ts: time(d.stationTimestamp),
    non_compliant_nics: JSON.stringify(d.nonCompliantNics),
    armed_count: d.armedCount,
    sleep_compliant: bit(d.sleepCompliant),
    hibernate_compliant: bit(d.hibernateCompliant),
  };
}

/** Each host's digest now describes its newest heartbeat; a not-ready run keeps the time it began. */
async function upsertDigests(tx: Transaction<DB>, dialect: Dialect, rows: Insertable<DB['labops_host_digest']>[]): Promise<void> {
  const q = tx.insertInto('labops_host_digest').values(rows);
  const columns = Object.keys(rows[0]!).filter((c) => c !== 'host_id' && c !== 'not_ready_since');
  if (dialect === 'mysql') {
    const set = Object.fromEntries(columns.map((c) => [c, sql.raw(`VALUES(${c})`)]));
    await q.onDuplicateKeyUpdate({ ...set, not_ready_since: sql`CASE WHEN VALUES(not_ready_since) IS NULL THEN NULL ELSE COALESCE(not_ready_since, VALUES(not_ready_since)) END` }).execute();
  } else {
    const set = Object.fromEntries(columns.map((c) => [c, sql.raw(`excluded.${c}`)]));
    await q
      .onConflict((oc) =>
        oc.column('host_id').doUpdateSet({ ...set, not_ready_since: sql`CASE WHEN excluded.not_ready_since IS NULL THEN NULL ELSE COALESCE(labops_host_digest.not_ready_since, excluded.not_ready_since) END` }),
      )
      .execute();
  }
}

export async function storeHeartbeat(db: Database, input: StoreHeartbeatInput): Promise<StoreHeartbeatResult> {
  return (await storeHeartbeats(db, [input]))[0]!;
}

interface PendingStore {
  input: StoreHeartbeatInput;
  resolve(r: StoreHeartbeatResult): void;
  reject(e: unknown): void;
}

/** A batch whose transaction failed, host by host: one host's bad row fails that host alone. */
async function storeOneByOne(db: Database, batch: readonly PendingStore[]): Promise<void> {
  for (const b of batch) await storeHeartbeat(db, b.input).then(b.resolve, b.reject);
}

/**
 * A sink that gathers the hosts a poll finishes within a few milliseconds into one transaction, so a poll of
 * hundreds of stations costs tens of commits, not hundreds. Each caller gets its own host's result; when the
 * batch's transaction fails, each host is stored on its own, so only the host at fault fails.
 */
export function batchingHeartbeatSink(db: Database, opts: { maxBatch?: number; maxWaitMs?: number } = {}) {
  const maxBatch = opts.maxBatch ?? 100;
  const maxWaitMs = opts.maxWaitMs ?? 5;
  let pending: PendingStore[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    if (!batch.length) return;
    storeHeartbeats(db, batch.map((b) => b.input)).then(
      (rs) => batch.forEach((b, i) => b.resolve(rs[i]!)),
      (e) => (batch.length === 1 ? batch[0]!.reject(e) : storeOneByOne(db, batch)),
    );
  };
  return {
    store(input: StoreHeartbeatInput): Promise<StoreHeartbeatResult> {
      return new Promise((resolve, reject) => {
        pending.push({ input, resolve, reject });
        if (pending.length >= maxBatch) flush();
        else timer ??= setTimeout(flush, maxWaitMs);
      });
    },
  };
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

// Rows are built with Object.assign, not `{ ...row, more }`: on Node 20 a spread of a dozen properties followed by
// more costs ~30 µs per object (0.3 s of a 10 000-host listing; issue 28: heartbeat show < 1 s).
const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : Boolean(Number(v)));

/** The latest stored heartbeat of each host without its document, with the digest of that document. */
export interface HostStateRow extends Omit<HostHeartbeatRow, 'rawJson'>, HeartbeatDigest {
  /** start of the current run of not-ready heartbeats; undefined when only the heartbeat history can tell (no digest) */
  notReadySince: string | null | undefined;
}

/** The latest stored heartbeat of each host (all hosts, or the named ones), with its raw document. */
export async function latestHeartbeats(db: Database, names?: readonly string[]): Promise<HostHeartbeatRow[]> {
  const rows = await latestQuery(db, names).select('hb.raw_json').execute();
  return newestOnly(rows).map((r) => Object.assign(heartbeatState(r), { rawJson: r.raw_json ?? null }));
}

/**
 * The latest stored heartbeat of each host with the digest of its document from labops_host_digest (written with
 * each heartbeat); only heartbeats stored without one (by the ops-worker, or before that table existed) are parsed.
 */
export async function latestHeartbeatStates(db: Database, names?: readonly string[]): Promise<HostStateRow[]> {
  const undigested = (r: StateColumns & { raw_json: string | null }) => Object.assign(heartbeatState(r), digestOfDocument(r.raw_json), { notReadySince: undefined });
  if (!(await hasDigestTable(db))) return newestOnly(await latestQuery(db, names).select('hb.raw_json').execute()).map(undigested);
  // a host's heartbeat row is read only when no digest describes its newest heartbeat
  const either = (c: (typeof HEARTBEAT_COLUMNS)[number]) => sql.raw(`COALESCE(d.${c}, hb.${c})`);
  const rows = await newestQuery(db, names)
    .leftJoin('labops_host_digest as d', (j) => j.onRef('d.host_id', '=', 'h.id').onRef('d.heartbeat_ts', '=', 'm.ts'))
    .leftJoin('lab_host_heartbeat as hb', (j) => j.onRef('hb.host_id', '=', 'h.id').onRef('hb.timestamp_utc', '=', 'm.ts').on('d.host_id', 'is', null))
    .select([
      sql<string | null>`m.ts`.as('timestamp_utc'),
      either('ready').as('ready'), either('local_mode').as('local_mode'), either('local_session').as('local_session'),
      either('last_forced_logoff_ts').as('last_forced_logoff_ts'), either('last_forced_logoff_user').as('last_forced_logoff_user'),
      either('last_power_action_ts').as('last_power_action_ts'), either('last_power_action_mode').as('last_power_action_mode'),
      'd.host_id as digested', 'd.not_ready_since', 'd.issues', 'd.last_prepare_ts', 'd.station_ts', 'd.non_compliant_nics', 'd.armed_count', 'd.sleep_compliant', 'd.hibernate_compliant',
      'hb.raw_json',
    ])
    .orderBy('hb.id', 'desc')
    .execute();
  return newestOnly(rows as (typeof rows[number] & StateColumns)[]).map((r) => {
    if (r.digested === null) return undigested(r);
    return Object.assign(heartbeatState(r), {
      notReadySince: fromDbDateTime(r.not_ready_since),
      issues: jsonStrings(r.issues),
      lastPrepareTs: fromDbDateTime(r.last_prepare_ts),
      stationTimestamp: fromDbDateTime(r.station_ts),
      nonCompliantNics: jsonStrings(r.non_compliant_nics),
      armedCount: r.armed_count === null ? null : Number(r.armed_count),
      sleepCompliant: bool(r.sleep_compliant),
      hibernateCompliant: bool(r.hibernate_compliant),
    });
  });
}

const digestTables = new WeakMap<Database, Promise<boolean>>();

/** Whether labops_host_digest exists (a Gateway database not migrated since lacks it), asked once per connection. */
function hasDigestTable(db: Database): Promise<boolean> {
  let known = digestTables.get(db);
  if (!known) {
    known = existingTables(db.kysely, db.dialect).then((t) => t.has('labops_host_digest'));
    digestTables.set(db, known);
  }
  return known;
}

/** The digest of a stored document, parsed here as the poll would; a document that is not one gives an empty digest. */
function digestOfDocument(raw: string | null): HeartbeatDigest {
  try {
    return digestHeartbeat(normalizeHeartbeat(raw ? JSON.parse(raw) : {}));
  } catch {
    return EMPTY_DIGEST;
  }
}

/**
 * Each host with the time of its newest heartbeat (`m.ts`), from one grouped read of idx_host_ts (host_id,
 * timestamp_utc) that MariaDB answers with one index dive per host. A per-host subquery (max(id), or ORDER BY …
 * LIMIT 1) read the host's whole history instead: 2.4 s for 10 000 hosts with a day of it (1 440 rows a day each).
 */
function newestQuery(db: Database, names?: readonly string[]) {
  const q = db.kysely
    .selectFrom('lab_hosts as h')
    .leftJoin(
      (eb) => {
        const newest = eb.selectFrom('lab_host_heartbeat as x').select(['x.host_id', sql<string>`max(x.timestamp_utc)`.as('ts')]).groupBy('x.host_id');
        const named = names?.length ? newest.where('x.host_id', 'in', eb.selectFrom('lab_hosts as n').select('n.id').where(hostNameIn(db.dialect, 'n.name', names))) : newest;
        return named.as('m');
      },
      (j) => j.onRef('m.host_id', '=', 'h.id'),
    )
    .leftJoin('labops_host_poll_state as ps', 'ps.host_id', 'h.id')
    .select(['h.name', 'h.address', 'm.ts', 'ps.last_poll_at', 'ps.last_change_at', 'ps.reported_host'])
    .orderBy('h.name');
  return names?.length ? q.where(hostNameIn(db.dialect, 'h.name', names)) : q;
}

/** Each host with its newest heartbeat row; a time stored twice (the ops-worker stores every poll) gives a row per copy, newest first. */
function latestQuery(db: Database, names?: readonly string[]) {
  return newestQuery(db, names)
    .leftJoin('lab_host_heartbeat as hb', (j) => j.onRef('hb.host_id', '=', 'h.id').onRef('hb.timestamp_utc', '=', 'm.ts'))
    .select(HEARTBEAT_COLUMNS.map((c) => `hb.${c}` as const))
    .orderBy('hb.id', 'desc');
}

const HEARTBEAT_COLUMNS = ['timestamp_utc', 'ready', 'local_mode', 'local_session', 'last_forced_logoff_ts', 'last_forced_logoff_user', 'last_power_action_ts', 'last_power_action_mode'] as const;

/** One row per host (the query's rows are by name, the newest copy of a time first). */
function newestOnly<R extends { name: string }>(rows: R[]): R[] {
  return rows.filter((r, i) => i === 0 || rows[i - 1]!.name !== r.name);
}

type StateColumns = Awaited<ReturnType<ReturnType<typeof latestQuery>['execute']>>[number];

function heartbeatState(r: StateColumns): Omit<HostHeartbeatRow, 'rawJson'> {
  return {
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
  };
}

function jsonStrings(value: string | null): string[] {
  if (!value) return [];
  try {
    const v: unknown = JSON.parse(value);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
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
  if (opts.hosts?.length) q = q.where(hostNameIn(db.dialect, 'host', opts.hosts));
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
