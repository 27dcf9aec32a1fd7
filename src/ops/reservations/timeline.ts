// The reservation timeline in the shape of the ops-worker's GET /api/reservations/timeline (NOTES §5.4): the
// reservation, its host (config without secrets: the v0 worker echoed winrm_user/winrm_pass), the journal
// page, the phases, the host's latest heartbeat; plus, for `reserve log`, the forced logoffs linked to it.
import { MissingTable } from '../../domain/errors.js';
import type { Database } from '../../core/db/database.js';
import type { HostIndex, InventoryHost } from '../../core/config/inventory.js';
import * as store from '../../core/db/reservation-store.js';
import { forcedLogoffs, latestHeartbeats, type ForcedLogoffRow } from '../../core/db/heartbeat-store.js';

export interface TimelineOperation {
  action: string;
  createdAt: string | null;
  durationMs: number | null;
  message: string | null;
  payload: unknown;
  responseCode: number | null;
  status: string;
  success: boolean;
}

export interface Timeline {
  reservation: {
    reservationId: string;
    labId: string | null;
    status: string | null;
    start: string | null;
    end: string | null;
    walletAddress: string | null;
    createdAt: string | null;
    updatedAt: string | null;
  } | null;
  host: { name: string; labId: string | null; config: Record<string, unknown> } | null;
  operations: TimelineOperation[];
  phases: { wake: TimelineOperation | null; prepare: TimelineOperation | null; release: TimelineOperation | null; power: TimelineOperation | null; schedulerEnd: TimelineOperation | null };
  heartbeat: {
    timestamp: string | null;
    ready: boolean | null;
    localMode: boolean | null;
    localSession: boolean | null;
    lastPower: { timestamp: string | null; mode: string | null };
    lastForcedLogoff: { timestamp: string | null; user: string | null };
    raw: unknown;
  } | null;
  pagination: { limit: number; offset: number; page: number; pageSize: number; returned: number; total: number; hasMore: boolean; nextOffset: number };
}

/** ISO-8601 UTC with `+00:00`, as Python's isoformat() of an aware datetime. */
export function pyIso(iso: string | null): string | null {
  if (!iso) return null;
  return iso.replace(/\.\d+Z$/, 'Z').replace(/Z$/, '+00:00');
}

/** The inventory entry as the ops-worker's hosts.json spells it, never with credentials. */
export function publicHostConfig(h: InventoryHost): Record<string, unknown> {
  const c: Record<string, unknown> = { name: h.name, address: h.address };
  if (h.mac) c.mac = h.mac;
  c.labs = h.labs;
  c.winrm_transport = h.winrmTransport;
  if (h.winrmPort !== undefined) c.winrm_port = h.winrmPort;
  if (h.winrmUseSsl !== undefined) c.winrm_use_ssl = h.winrmUseSsl;
  c.labstation_exe = h.labstationExe;
  c.heartbeat_path = h.heartbeatPath;
  c.events_path = h.eventsPath;
  if (h.pingTarget) c.ping_target = h.pingTarget;
  if (h.broadcast) c.broadcast = h.broadcast;
  if (h.wolPort !== undefined) c.wol_port = h.wolPort;
  if (h.wakeAttempts !== undefined) c.wake_attempts = h.wakeAttempts;
  return c;
}

function toOp(r: store.OperationRecord): TimelineOperation {
  return { action: r.action, createdAt: pyIso(r.createdAt), durationMs: r.durationMs, message: r.message, payload: r.payload, responseCode: r.responseCode, status: r.status, success: r.success };
}

export interface TimelineRequest {
  reservationId: string;
  limit: number;
  offset: number;
  /** the newest rows the phases are taken from */
  phaseLookback: number;
}

/** undefined: neither a reservation nor any journal row has this id. */
export async function reservationTimeline(db: Database, index: HostIndex, req: TimelineRequest): Promise<(Timeline & { forcedLogoffs: ForcedLogoffRow[] }) | undefined> {
  // lab_reservations belongs to the auth service: a database without it still has the journal
  const reservation = await store.findReservation(db, req.reservationId).catch((e: unknown) => {
    if (e instanceof MissingTable && e.table === 'lab_reservations') return undefined;
    throw e;
  });
  const total = await store.countOperations(db, req.reservationId);
  if (!reservation && total === 0) return undefined;
  const page = await store.operationsOf(db, req.reservationId, { limit: req.limit, offset: req.offset });
  const recent = await store.newestOperations(db, req.reservationId, req.phaseLookback);
  const last = (match: (a: string) => boolean) => {
    const r = [...recent].reverse().find((o) => match(o.action));
    return r ? toOp(r) : null;
  };
  const labId = reservation?.labId ?? recent.at(-1)?.labId ?? null;
  const hostName = recent.filter((o) => o.host !== 'unmapped').at(-1)?.host;
  const host = (labId ? index.forLab(labId) : undefined) ?? (hostName ? index.find(hostName) : undefined);
  let heartbeat: Timeline['heartbeat'] = null;
  const name = host?.name ?? hostName;
  if (name) {
    const hb = (await latestHeartbeats(db, [name]).catch(() => []))[0];
    if (hb?.timestampUtc) {
      let raw: unknown = null;
      try {
        raw = hb.rawJson ? JSON.parse(hb.rawJson) : null;
      } catch {
        raw = hb.rawJson;
      }
      heartbeat = {
        timestamp: pyIso(hb.timestampUtc),
        ready: hb.ready,
        localMode: hb.localMode,
        localSession: hb.localSession,
        lastPower: { timestamp: pyIso(hb.lastPowerActionTs), mode: hb.lastPowerActionMode },
        lastForcedLogoff: { timestamp: pyIso(hb.lastForcedLogoffTs), user: hb.lastForcedLogoffUser },
        raw,
      };
    }
  }
  const logoffs = await forcedLogoffs(db, { reservationId: req.reservationId }).catch(() => []);
  return {
    reservation: reservation
      ? {
          reservationId: reservation.reservationId,
          labId: reservation.labId,
          status: reservation.status,
          start: pyIso(reservation.start),
          end: pyIso(reservation.end),
          walletAddress: reservation.walletAddress,
          createdAt: pyIso(reservation.createdAt),
          updatedAt: pyIso(reservation.updatedAt),
        }
      : null,
    host: host ? { name: host.name, labId, config: publicHostConfig(host) } : hostName ? { name: hostName, labId, config: {} } : null,
    operations: page.map(toOp),
    phases: {
      wake: last((a) => a === 'wake'),
      prepare: last((a) => a === 'prepare'),
      release: last((a) => a === 'release'),
      power: last((a) => a.startsWith('power:')),
      schedulerEnd: last((a) => a === 'scheduler:end'),
    },
    heartbeat,
    pagination: {
      limit: req.limit,
      offset: req.offset,
      page: Math.floor(req.offset / req.limit) + 1,
      pageSize: req.limit,
      returned: page.length,
      total,
      hasMore: req.offset + page.length < total,
      nextOffset: req.offset + page.length,
    },
    forcedLogoffs: logoffs,
  };
}
