// The ops-worker's HTTP API (reference NOTES §5.4): same paths, request fields and bodies as the Flask worker, so
// the Lab Gateway's /ops/ proxy and the Lab Manager UI work unchanged. Stricter than upstream: no credentials or
// transport overrides in bodies, the LabStation allow-list, validated wake targets and args, no secrets echoed,
// an optional X-Ops-Internal-Token (constant-time compare), no exception text in 500 bodies.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { parseMac } from '../../domain/mac.js';
import { isAllowedCommandWord, parseLabStationCommand } from '../../domain/labstation-commands.js';
import type { HostIndex, InventoryHost } from '../../core/config/inventory.js';
import type { Database } from '../../core/db/database.js';
import { wake, type WakeTarget } from '../wake.js';
import { pollHeartbeats, type HeartbeatSink, type HeartbeatSource } from '../heartbeat/poll.js';
import { endReservation, guardGraceOf, startReservation, type ReservationPorts, type ReservationSettings, type WakeOverrides } from '../reservations/run.js';
import { reservationTimeline } from '../reservations/timeline.js';

export interface ApiRequest {
  method: string;
  /** path without the query */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface OpsApiDeps {
  /** the current inventory (replaced by /api/hosts/reload) */
  index(): HostIndex;
  reloadHosts(): Promise<number>;
  db?: Database;
  /** the journal in `ports` writes to db when there is one */
  ports: ReservationPorts;
  settings: ReservationSettings;
  guardGrace: number;
  rebootTimeout: number;
  heartbeat: { source: HeartbeatSource; sink?: HeartbeatSink };
  /** X-Ops-Internal-Token; none = not required */
  token?: string;
  log?(level: 'info' | 'warn' | 'error', message: string): void;
  signal?: AbortSignal;
  /** labops daemon: fields added to /health (loops, leases) and whether it is degraded (503, as the head ops-worker) */
  health?(): Promise<{ extra: Record<string, unknown>; degraded: boolean }>;
  /** labops daemon: the Prometheus text served at /metrics */
  metrics?(): Promise<string>;
}

const err = (status: number, error: string): ApiResponse => ({ status, body: { error } });

function internal(req: ApiRequest, deps: OpsApiDeps, e: unknown, where: string): ApiResponse {
  const header = req.headers['x-request-id'];
  const requestId = (typeof header === 'string' && /^[\w.-]{1,64}$/.test(header) ? header : undefined) ?? randomBytes(8).toString('hex');
  deps.log?.('error', `${where} [${requestId}]: ${(e as Error).message ?? String(e)}`);
  return { status: 500, body: { code: 'INTERNAL_ERROR', error: 'Internal server error', requestId } };
}

/** get_json(force=True, silent=True): anything that is not a JSON object is {}. */
function jsonBody(req: ApiRequest): Record<string, unknown> {
  try {
    const v = JSON.parse(req.body.toString('utf8') || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The ops-worker's flag parsing, without its bug: the strings false/0/no/off (any case) are false. */
function flag(v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') return !['false', '0', 'no', 'off', ''].includes(v.trim().toLowerCase());
  return Boolean(v);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Host names and addresses only: DNS labels (letters, digits, hyphens) or an IP (the head worker's rule). */
export function validPingTarget(t: string): boolean {
  if (isIP(t)) return true;
  if (t.length > 253) return false;
  return t.split('.').every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

class BadRequest extends Error {}

const hasControl = (s: string): boolean => [...s].some((c) => c.charCodeAt(0) < 0x20);

function argList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > 32 || !v.every((a) => typeof a === 'string' && a.length <= 512 && !hasControl(a))) {
    throw new BadRequest(`${what} must be a list of at most 32 strings`);
  }
  return v as string[];
}

function num(v: unknown, what: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new BadRequest(`${what} must be a number from ${min} to ${max}`);
  return n;
}

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

function reservationIds(body: Record<string, unknown>): { reservationId?: string; host?: string; labId: string | null } {
  const reservationId = str(body.reservationId ?? body.reservation_id);
  const host = str(body.host ?? body.hostName);
  if (reservationId && (reservationId.length > 128 || hasControl(reservationId))) throw new BadRequest('reservationId is invalid');
  return { reservationId, host, labId: str(body.labId ?? body.lab_id) ?? null };
}

function deadlineFor(deps: OpsApiDeps, command: string, args: readonly string[]): number {
  if (command !== 'prepare-session') return deps.settings.commandTimeoutMs;
  return deps.settings.commandTimeoutMs + guardGraceOf(args) * 1000;
}

async function routeWol(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  const host = str(body.host) ? deps.index().find(str(body.host)!) : undefined;
  const macText = str(body.mac) ?? host?.mac;
  if (!macText) return err(400, 'mac is required');
  const mac = parseMac(macText);
  if (!mac) return err(400, 'mac is invalid');
  const pingTarget = str(body.ping_target) ?? host?.pingTarget ?? host?.address ?? (str(body.host) && !host ? str(body.host) : undefined);
  if (!pingTarget) return err(400, 'ping_target or host address is required');
  if (!validPingTarget(pingTarget)) return err(400, 'ping_target is invalid');
  const broadcast = str(body.broadcast);
  if (broadcast && !isIP(broadcast)) return err(400, 'broadcast is invalid');
  const d = deps.settings.wake;
  const port = num(body.port, 'port', 1, 65535) ?? host?.wolPort ?? d.port;
  const attempts = num(body.attempts, 'attempts', 1, 20) ?? 3;
  const timeout = num(body.ping_timeout, 'ping_timeout', 0.05, 120);
  const intervalMs = timeout !== undefined ? Math.round(timeout * 1000) : d.intervalMs;
  const target: WakeTarget = { host: host?.name ?? pingTarget, mac, pingTarget, broadcast: broadcast ?? host?.broadcast ?? d.broadcast, port, attempts: Math.round(attempts), probe: host?.probe ?? d.probe };
  const r = await wake([target], { repeat: d.repeat, intervalMs, timeoutMs: timeout !== undefined ? intervalMs : d.timeoutMs, concurrency: 1, noWait: false }, deps.ports.wake, deps.signal);
  const h = r.hosts[0]!;
  if (h.status === 'error') throw new Error(h.message);
  return { status: 200, body: { attempts_used: h.success ? Math.max(1, h.attemptsUsed) : h.attemptsUsed, duration_ms: h.durationMs, ping_target: pingTarget, success: h.success } };
}

async function routeWinrm(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  rejectOverrides(body);
  const hostName = str(body.host);
  const command = typeof body.command === 'string' ? body.command.trim() : undefined;
  if (!hostName || !command) return err(400, 'host and command are required');
  if (!isAllowedCommandWord(command)) return err(400, `command '${command}' not allowed`);
  const args = argList(body.args, 'args') ?? [];
  const parsed = parseLabStationCommand([command, ...args]);
  if (typeof parsed === 'string') return err(400, parsed);
  const host = deps.index().find(hostName);
  if (!host) return err(404, `host '${hostName}' not found in config`);
  const client = deps.ports.connect(host);
  try {
    const r = await client.run(host.labstationExe, parsed.argv, { signal: deps.signal, deadlineMs: deadlineFor(deps, command, args) });
    return { status: 200, body: { duration_ms: Math.round(r.durationMs), exit_code: r.exitCode, stderr: r.stderr, stdout: r.stdout } };
  } finally {
    await client.close();
  }
}

async function routePoll(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  const hostName = str(body.host);
  if (!hostName) return err(400, 'host is required');
  const host = deps.index().find(hostName);
  if (!host) return err(404, `host '${hostName}' not found in config`);
  const sink = deps.heartbeat.sink;
  // The ops-worker only logs database failures here; the poll answer does not depend on them.
  const safeSink: HeartbeatSink | undefined = sink && {
    store: async (i) => {
      try {
        return await sink.store(i);
      } catch (e) {
        deps.log?.('warn', `heartbeat of ${host.name} not stored: ${(e as Error).message}`);
        return { heartbeatStored: false, eventsStored: 0, forcedLogoffs: [] };
      }
    },
  };
  const r = await pollHeartbeats(
    { hosts: [host], allHosts: deps.index().hosts, events: flag(body.include_events, true), concurrency: 1, includeRaw: true },
    { source: deps.heartbeat.source, sink: safeSink, now: deps.ports.now },
    deps.signal,
  );
  const h = r.hosts[0]!;
  if (!h.ok) throw new Error(h.error?.message ?? 'heartbeat poll failed');
  return { status: 200, body: { duration_ms: h.durationMs, heartbeat: h.heartbeat ?? null, host: hostName, last_event: h.lastEvent ?? null } };
}

function findHost(deps: OpsApiDeps, name: string): InventoryHost | undefined {
  return deps.index().find(name);
}

async function routeStart(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  rejectOverrides(body);
  const { reservationId, host: hostName, labId } = reservationIds(body);
  if (!reservationId || !hostName) return err(400, 'reservationId and host are required');
  const host = findHost(deps, hostName);
  if (!host) return err(404, `host '${hostName}' not found`);
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

async function routeEnd(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  rejectOverrides(body);
  const { reservationId, host: hostName, labId } = reservationIds(body);
  if (!reservationId || !hostName) return err(400, 'reservationId and host are required');
  const host = findHost(deps, hostName);
  if (!host) return err(404, `host '${hostName}' not found`);
  const releaseArgs = argList(body.releaseArgs, 'releaseArgs');
  let power: { mode: 'shutdown' | 'hibernate'; args: string[] } | undefined;
  if (body.powerAction !== undefined && body.powerAction !== null && body.powerAction !== false) {
    if (typeof body.powerAction !== 'object' || Array.isArray(body.powerAction)) return err(400, 'powerAction must be an object');
    const pa = body.powerAction as Record<string, unknown>;
    const mode = str(pa.mode) ?? 'shutdown';
    if (mode !== 'shutdown' && mode !== 'hibernate') return err(400, 'powerAction.mode must be shutdown or hibernate');
    power = { mode, args: argList(pa.args, 'powerAction.args') ?? [] };
  }
  const run = await endReservation(
    { reservationId, labId, host },
    { release: flag(body.release, true), releaseArgs, power, rebootTimeout: deps.rebootTimeout, force: body.force === true },
    deps.ports,
    deps.settings,
    deps.signal,
  );
  if (run.journal.error) deps.log?.('error', `${reservationId}: ${run.journal.error}`);
  return { status: run.httpStatus, body: run.body };
}

async function routeTimeline(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const reservationId = req.query.get('reservationId')?.trim();
  if (!reservationId) return err(400, 'reservationId is required');
  if (!deps.db) return err(500, 'Database not configured');
  const int = (name: string, fallback: number, max: number) => {
    const v = req.query.get(name);
    if (v === null || v === '') return fallback;
    if (!/^\d+$/.test(v)) throw new BadRequest(`${name} must be a whole number`);
    return Math.min(max, Number(v));
  };
  const limit = Math.max(1, int('limit', 100, 500));
  const offset = int('offset', 0, Number.MAX_SAFE_INTEGER);
  const t = await reservationTimeline(deps.db, deps.index(), { reservationId, limit, offset, phaseLookback: 500 });
  if (!t || !t.reservation) return err(404, 'Reservation not found');
  const { forcedLogoffs: _omitted, ...body } = t;
  return { status: 200, body };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time: both sides hashed to the same length first, so neither length nor content leaks by timing. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  return timingSafeEqual(sha256(given ?? ''), sha256(expected)) && given !== undefined;
}

type Route = (req: ApiRequest, deps: OpsApiDeps) => Promise<ApiResponse>;

const ROUTES: Record<string, { method: string; run: Route }> = {
  '/health': {
    method: 'GET',
    run: async (_req, deps) => {
      const h = (await deps.health?.()) ?? { extra: {}, degraded: false };
      return { status: h.degraded ? 503 : 200, body: { ...h.extra, db: Boolean(deps.db), hosts_loaded: deps.index().hosts.length, status: h.degraded ? 'degraded' : 'ok' } };
    },
  },
  '/api/wol': { method: 'POST', run: routeWol },
  '/api/winrm': { method: 'POST', run: routeWinrm },
  '/api/heartbeat/poll': { method: 'POST', run: routePoll },
  '/api/reservations/start': { method: 'POST', run: routeStart },
  '/api/reservations/end': { method: 'POST', run: routeEnd },
  '/api/reservations/timeline': { method: 'GET', run: routeTimeline },
  '/api/hosts/reload': { method: 'POST', run: async (_req, deps) => ({ status: 200, body: { hosts: await deps.reloadHosts(), reloaded: true } }) },
};

export async function handleApi(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const route = ROUTES[req.path.replace(/\/+$/, '') || '/'];
  if (!route) return err(404, 'Not found');
  if (req.path.startsWith('/api/') && deps.token !== undefined) {
    const h = req.headers['x-ops-internal-token'];
    if (!tokenMatches(typeof h === 'string' ? h : undefined, deps.token)) return { status: 401, body: { error: 'Unauthorized', success: false } };
  }
  if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) return err(405, 'Method not allowed');
  try {
    return await route.run(req, deps);
  } catch (e) {
    if (e instanceof BadRequest) return err(400, e.message);
    return internal(req, deps, e, req.path);
  }
}
