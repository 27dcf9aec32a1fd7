// Alert lifecycle in labops_alerts: one open row per (host, rule), enforced by a unique open_key that is
// cleared on resolve, so concurrent evaluators cannot open the same alert twice.
import { sql, type NotNull } from 'kysely';
import type { Database } from './database.js';
import { fromDbDateTime, toDbDateTime } from './time.js';
import { hostKey, hostNameIn } from './host-names.js';
import { alertKey, type AlertCondition, type AlertPlan, type OpenAlert, type ReservationWindow } from '../../domain/heartbeat/alerts.js';

export interface StoredAlert {
  id: number;
  host: string;
  rule: string;
  state: 'open' | 'resolved';
  message: string;
  details: unknown;
  openedAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
}

function parseDetails(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export async function openAlerts(db: Database): Promise<StoredAlert[]> {
  const rows = await db.kysely.selectFrom('labops_alerts').selectAll().where('state', '=', 'open').orderBy('host').orderBy('rule').execute();
  return rows.map((r) => ({
    id: Number(r.id),
    host: r.host,
    rule: r.rule,
    state: 'open' as const,
    message: r.message,
    details: parseDetails(r.details),
    openedAt: fromDbDateTime(r.opened_at)!,
    lastSeenAt: fromDbDateTime(r.last_seen_at)!,
    resolvedAt: null,
  }));
}

export interface AppliedPlan {
  opened: AlertCondition[];
  resolved: OpenAlert[];
}

/** Applies a lifecycle plan; an alert another evaluator opened meanwhile is not opened twice. */
export async function applyAlertPlan(db: Database, plan: AlertPlan, now: number): Promise<AppliedPlan> {
  const ts = toDbDateTime(now);
  const opened: AlertCondition[] = [];
  for (const c of plan.open) {
    const row = { host: c.host, rule: c.rule, open_key: alertKey(c.host, c.rule), state: 'open', message: c.message, details: JSON.stringify(c.details), opened_at: ts, last_seen_at: ts };
    const r =
      db.dialect === 'mysql'
        ? await db.kysely.insertInto('labops_alerts').ignore().values(row).executeTakeFirst()
        : await db.kysely.insertInto('labops_alerts').values(row).onConflict((oc) => oc.doNothing()).executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) opened.push(c);
  }
  for (const k of plan.keep) {
    await db.kysely.updateTable('labops_alerts').set({ last_seen_at: ts, message: k.condition.message, details: JSON.stringify(k.condition.details) }).where('id', '=', k.id).execute();
  }
  const resolved: OpenAlert[] = [];
  for (const a of plan.resolve) {
    const r = await db.kysely.updateTable('labops_alerts').set({ state: 'resolved', resolved_at: ts, open_key: null }).where('id', '=', a.id).where('state', '=', 'open').executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) resolved.push(a);
  }
  return { opened, resolved };
}

/** Start of the current run of ready=false heartbeats of each host (null when the latest is ready), by the names asked for. */
export async function notReadySince(db: Database, hostNames: readonly string[], now: number): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (!hostNames.length) return out;
  const rows = await db.kysely
    .selectFrom('lab_host_heartbeat as hb')
    .innerJoin('lab_hosts as h', 'h.id', 'hb.host_id')
    .select(['h.name', 'hb.timestamp_utc', 'hb.ready'])
    .where(hostNameIn(db.dialect, 'h.name', hostNames))
    .where('hb.timestamp_utc', '>=', sql<string>`${toDbDateTime(now - 7 * 86_400_000)}`)
    .orderBy('h.name')
    .orderBy('hb.timestamp_utc', 'desc')
    .execute();
  const byHost = new Map<string, { ts: string; ready: unknown }[]>();
  for (const r of rows) {
    const list = byHost.get(hostKey(r.name)) ?? [];
    list.push({ ts: fromDbDateTime(r.timestamp_utc)!, ready: r.ready });
    byHost.set(hostKey(r.name), list);
  }
  for (const name of hostNames) {
    const list = byHost.get(hostKey(name)) ?? [];
    let since: string | null = null;
    for (const row of list) {
      if (row.ready === null || Number(row.ready) !== 0) break;
      since = row.ts;
    }
    out.set(name, since);
  }
  return out;
}

/** Upcoming or running reservations of the given labs (the table may be absent on an ops-only database). */
export async function reservationsForLabs(db: Database, labs: readonly string[], now: number, horizonMs: number): Promise<Map<string, ReservationWindow[]>> {
  const out = new Map<string, ReservationWindow[]>();
  if (!labs.length) return out;
  try {
    const rows = await db.kysely
      .selectFrom('lab_reservations')
      .select(['transaction_hash', 'lab_id', 'start_time', 'end_time', 'status'])
      .where('lab_id', 'in', [...labs])
      .where('status', 'in', ['PENDING', 'CONFIRMED', 'ACTIVE'])
      .$narrowType<{ status: NotNull }>()
      .where('start_time', '<=', toDbDateTime(now + horizonMs))
      .where((eb) => eb.or([eb('end_time', '>=', toDbDateTime(now)), eb('end_time', 'is', null)]))
      .orderBy('start_time')
      .execute();
    for (const r of rows) {
      const key = (r.lab_id ?? '').toLowerCase();
      const list = out.get(key) ?? [];
      list.push({ id: r.transaction_hash, start: fromDbDateTime(r.start_time)!, end: fromDbDateTime(r.end_time), status: r.status });
      out.set(key, list);
    }
  } catch {
    // no lab_reservations table: reservation-based rules have nothing to look at
  }
  return out;
}
