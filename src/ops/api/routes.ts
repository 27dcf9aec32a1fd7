// The ops-worker's HTTP API (reference NOTES §5.4, HEAD-API §2–3): the paths, request fields and bodies of the
// head worker, so the Lab Gateway's /ops/ proxy and the Lab Manager UI work unchanged. The internal-token gate
// runs on the headers alone, before any body is read; routes of features labops does not provide answer 501.
// Stricter than upstream: quoted LabStation arguments, validated wake targets, no secrets echoed, 400 with the
// reason for a policy violation, no exception text in 500 bodies.
import { createHash, timingSafeEqual } from 'node:crypto';
import { BadRequest, err, internal, type ApiRequest, type ApiResponse, type OpsApiDeps } from './request.js';
import { routeLocalMode, routePoll, routeWinrm, routeWol } from './station-routes.js';
import { routeEnd, routeRecentOperations, routeStart, routeTimeline } from './reservation-routes.js';
import { routeHosts, routeReload, unprovided } from './host-routes.js';

export type { ApiRequest, ApiResponse, OpsApiDeps, ApiPolicy } from './request.js';
export { validPingTarget } from './station-routes.js';

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time: both sides hashed to the same length first, so neither length nor content leaks by timing. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  return timingSafeEqual(sha256(given ?? ''), sha256(expected)) && given !== undefined;
}

type Route = (req: ApiRequest, deps: OpsApiDeps) => Promise<ApiResponse>;

async function routeHealth(_req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const h = (await deps.health?.()) ?? { extra: {}, degraded: false };
  return { status: h.degraded ? 503 : 200, body: { ...h.extra, db: Boolean(deps.db), hosts_loaded: deps.index().hosts.length, status: h.degraded ? 'degraded' : 'ok' } };
}

/** `stream`: answered by the event-stream hub, not with a JSON body. */
export type RouteDef = { method: string; run: Route } | { method: 'GET'; stream: true };

export const HEARTBEAT_STREAM = '/api/heartbeat/stream';

const ROUTES: Record<string, RouteDef> = {
  '/health': { method: 'GET', run: routeHealth },
  '/api/hosts': { method: 'GET', run: routeHosts },
  '/api/hosts/reload': { method: 'POST', run: routeReload },
  '/api/hosts/local-mode': { method: 'POST', run: routeLocalMode },
  '/api/wol': { method: 'POST', run: routeWol },
  '/api/winrm': { method: 'POST', run: routeWinrm },
  '/api/heartbeat/poll': { method: 'POST', run: routePoll },
  [HEARTBEAT_STREAM]: { method: 'GET', stream: true },
  '/api/operations/recent': { method: 'GET', run: routeRecentOperations },
  '/api/reservations/start': { method: 'POST', run: routeStart },
  '/api/reservations/end': { method: 'POST', run: routeEnd },
  '/api/reservations/timeline': { method: 'GET', run: routeTimeline },
};

export const normalPath = (path: string): string => path.replace(/\/+$/, '') || '/';

/**
 * What the headers alone decide, before any body is read: the token gate of /api/* and /aas-admin/* (unknown
 * paths too, as upstream), then unknown path (404), unprovided feature (501) and wrong method (405). undefined:
 * the route may run.
 */
export function preflight(method: string, path: string, headers: ApiRequest['headers'], deps: OpsApiDeps): ApiResponse | undefined {
  const p = normalPath(path);
  if ((p.startsWith('/api/') || p.startsWith('/aas-admin/')) && deps.token !== undefined) {
    const h = headers[deps.tokenHeader ?? 'x-ops-internal-token'];
    if (!tokenMatches(typeof h === 'string' ? h : undefined, deps.token)) return { status: 401, body: { error: 'Unauthorized', success: false } };
  }
  const route = ROUTES[p];
  if (!route) return unprovided(p) ?? err(404, 'Not found');
  if (method !== route.method && !(route.method === 'GET' && method === 'HEAD')) return err(405, 'Method not allowed');
  return undefined;
}

export function isStream(path: string): boolean {
  return normalPath(path) === HEARTBEAT_STREAM;
}

/** One JSON route, after preflight passed and the body was read. */
export async function runRoute(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const route = ROUTES[normalPath(req.path)];
  if (!route || !('run' in route)) return err(404, 'Not found');
  try {
    return await route.run(req, deps);
  } catch (e) {
    if (e instanceof BadRequest) return err(400, e.message);
    return internal(req, deps, e, req.path);
  }
}

/** preflight, then the route: the whole API for a request whose body is in hand (tests, the server). */
export async function handleApi(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  return preflight(req.method, req.path, req.headers, deps) ?? (isStream(req.path) ? err(400, 'an event stream needs the HTTP server') : runRoute(req, deps));
}
