// The reservation routes: POST /api/reservations/start|end (NOTES §5.4), GET /api/reservations/timeline and
// GET /api/operations/recent (HEAD-API §3.11–3.12). Bodies of start and end take no credentials or transport
// overrides; the operations feed carries the `host` (and reservation) of each row, which upstream selects but
// never sends although its UI shows it.
import { isIP } from 'node:net';
import { parseMac } from '../../domain/mac.js';
import { endReservation, startReservation, type WakeOverrides } from '../reservations/run.js';
import { pyIso, reservationTimeline } from '../reservations/timeline.js';
import { countRecentOperations, recentOperations } from '../../core/db/reservation-store.js';
import { validPingTarget } from './station-routes.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import { BadRequest, argList, err, flag, hasControl, jsonBody, num, page, pagination, str, type ApiRequest, type ApiResponse, type OpsApiDeps } from './request.js';

const CREDENTIAL_FIELDS = ['user', 'password', 'transport', 'use_ssl', 'port', 'winrm_user', 'winrm_pass', 'winrm_transport', 'winrm_port', 'winrm_use_ssl', 'credential_ref'];

function rejectOverrides(body: Record<string, unknown>): void {
  const given = CREDENTIAL_FIELDS.filter((k) => Object.hasOwn(body, k));
  if (given.length) throw new BadRequest(`credentials and transport overrides are not accepted (${given.join(', ')}); they come from the host configuration`);
}

function wakeOverrides(v: unknown): WakeOverrides {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadRequest('wakeOptions must be an object');
  const o = v as Record<string, unknown>;
  rejectOverrides(Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'port')));
  const out: WakeOverrides = {};
  if (o.mac !== undefined && o.mac !== null) {
    const mac = typeof o.mac === 'string' ? parseMac(o.mac) : undefined;
    if (!mac) throw new BadRequest('wakeOptions.mac is invalid');
    out.mac = mac;
  }
  if (o.ping_target !== undefined && o.ping_target !== null) {
    if (typeof o.ping_target !== 'string' || !validPingTarget(o.ping_target)) throw new BadRequest('ping_target is invalid');
    out.pingTarget = o.ping_target;
  }
  if (o.broadcast !== undefined && o.broadcast !== null) {
    if (typeof o.broadcast !== 'string' || !isIP(o.broadcast)) throw new BadRequest('broadcast is invalid');
    out.broadcast = o.broadcast;
  }
  out.attempts = num(o.attempts, 'attempts', 1, 20);
  const t = num(o.ping_timeout, 'ping_timeout', 0.05, 120);
  if (t !== undefined) out.timeoutMs = Math.round(t * 1000);
  out.port = num(o.port, 'port', 1, 65535);
  return out;
}

/** What start and end share: the body without overrides, the reservation's ids and its inventory host (or the error answer). */
function reservationTarget(req: ApiRequest, deps: OpsApiDeps): { body: Record<string, unknown>; reservationId: string; labId: string | null; host: InventoryHost } | ApiResponse {
  const body = jsonBody(req);
  rejectOverrides(body);
  const reservationId = str(body.reservationId ?? body.reservation_id);
  const hostName = str(body.host ?? body.hostName);
  if (reservationId && (reservationId.length > 128 || hasControl(reservationId))) throw new BadRequest('reservationId is invalid');
  if (!reservationId || !hostName) return err(400, 'reservationId and host are required');
  const host = deps.index().find(hostName);
  if (!host) return err(404, `host '${hostName}' not found`);
  return { body, reservationId, labId: str(body.labId ?? body.lab_id) ?? null, host };
}

export async function routeStart(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const target = reservationTarget(req, deps);
  if ('status' in target) return target;
  const { body, reservationId, labId, host } = target;
  const prepareArgs = argList(body.prepareArgs, 'prepareArgs');
  const guardGrace = num(body.guardGrace, 'guardGrace', 30, 3600) ?? deps.guardGrace;
  const run = await startReservation(
    { reservationId, labId, host },
    { wake: flag(body.wake, true), prepare: flag(body.prepare, true), prepareArgs, guardGrace: Math.round(guardGrace), force: body.force === true, wakeOptions: wakeOverrides(body.wakeOptions) },
    deps.ports,
    deps.settings,
    deps.signal,
  );
  if (run.journal.error) deps.log?.('error', `${reservationId}: ${run.journal.error}`);
  return { status: run.httpStatus, body: run.body };
}

function powerActionOf(v: unknown): { mode: 'shutdown' | 'hibernate'; args: string[] } | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadRequest('powerAction must be an object');
  const pa = v as Record<string, unknown>;
  const mode = str(pa.mode) ?? 'shutdown';
  if (mode !== 'shutdown' && mode !== 'hibernate') throw new BadRequest('powerAction.mode must be shutdown or hibernate');
  return { mode, args: argList(pa.args, 'powerAction.args') ?? [] };
}

export async function routeEnd(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const target = reservationTarget(req, deps);
  if ('status' in target) return target;
  const { body, reservationId, labId, host } = target;
  const releaseArgs = argList(body.releaseArgs, 'releaseArgs');
  const run = await endReservation(
    { reservationId, labId, host },
    { release: flag(body.release, true), releaseArgs, power: powerActionOf(body.powerAction), rebootTimeout: deps.rebootTimeout, force: body.force === true },
    deps.ports,
    deps.settings,
    deps.signal,
  );
  if (run.journal.error) deps.log?.('error', `${reservationId}: ${run.journal.error}`);
  return { status: run.httpStatus, body: run.body };
}

const reservationIdOf = (q: URLSearchParams) => (q.get('reservationId') ?? q.get('reservation_id'))?.trim() || undefined;

export async function routeTimeline(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  if (!deps.db) return err(500, 'Database not configured');
  const reservationId = reservationIdOf(req.query);
  if (!reservationId) return err(400, 'reservationId is required');
  const { limit, offset } = page(req.query, deps.policy.timeline);
  const t = await reservationTimeline(deps.db, deps.index(), { reservationId, limit, offset, phaseLookback: deps.policy.timeline.phaseLookback });
  if (!t || !t.reservation) return err(404, 'Reservation not found');
  const { forcedLogoffs: _omitted, ...body } = t;
  return { status: 200, body };
}

/** The newest journal rows of every reservation, optionally of one host or one reservation. */
export async function routeRecentOperations(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  if (!deps.db) return err(500, 'Database not configured');
  const sent = req.query.get('host')?.trim();
  const host = sent ? deps.index().find(sent) : undefined;
  if (sent && !host) return err(404, `host '${sent}' not found`);
  const p = page(req.query, deps.policy.timeline);
  const filter = { host: host?.name, reservationId: reservationIdOf(req.query) };
  const [rows, total] = await Promise.all([recentOperations(deps.db, { ...filter, ...p }), countRecentOperations(deps.db, filter)]);
  const operations = rows.map((r) => ({
    action: r.action,
    createdAt: pyIso(r.createdAt),
    durationMs: r.durationMs,
    host: r.host,
    labId: r.labId,
    message: r.message,
    payload: r.payload,
    reservationId: r.reservationId,
    responseCode: r.responseCode,
    status: r.status,
    success: r.success,
  }));
  return { status: 200, body: { operations, pagination: pagination(p, operations.length, total) } };
}
