// The API v0 routes of the simulated CML controller: method, path, the request kind faults and latency name
// (faults.ts ENDPOINTS.cml), and what each answers. Authentication, faults and the HTTP framing are the
// controller's (controller.ts); a route sees the authenticated user and answers a status and a JSON body.
import type { CmlWorld, SimLab, SimUser } from './world.js';
import {
  computeHostsBody,
  elementStateBody,
  elementsBody,
  groupBody,
  labBody,
  licensingBody,
  nodeBody,
  systemHealthBody,
  systemStatsBody,
  tileBody,
  topologyBody,
  userBody,
  type Flavor,
} from './bodies.js';

export interface Reply {
  status: number;
  /** undefined: no body (204) */
  body?: unknown;
}

export interface RouteContext {
  world: CmlWorld;
  user: SimUser;
  params: string[];
  query: URLSearchParams;
  flavor: Flavor;
}

export interface Route {
  method: string;
  path: RegExp;
  endpoint: string;
  handle(c: RouteContext): Reply;
}

export const error = (status: number, description: string): Reply => ({ status, body: { code: status, description } });
const ok = (body: unknown): Reply => ({ status: 200, body });
const UUID4 = /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;
const bool = (q: URLSearchParams, name: string) => q.get(name) === 'true';

/** The lab a path names, if the user may see it; CML answers 404 for a lab the user has no permission on too. */
function withLab(c: RouteContext, fn: (lab: SimLab) => Reply): Reply {
  const id = c.params[0]!;
  const lab = c.world.labs.get(id);
  if (!lab || c.world.permissions(lab, c.user).length === 0) return error(404, `Lab not found: ${id}`);
  return fn(lab);
}

function labAction(c: RouteContext, action: 'start' | 'stop' | 'wipe'): Reply {
  return withLab(c, (lab) => {
    if (!c.world.permissions(lab, c.user).includes(action === 'wipe' ? 'lab_edit' : 'lab_exec')) return error(403, 'User does not have write permission to lab.');
    if (action === 'wipe' && lab.state === 'STARTED') return error(400, 'Lab must be stopped before it can be wiped');
    c.world.updateLab(lab.id, { state: action === 'start' ? 'STARTED' : action === 'stop' ? 'STOPPED' : 'DEFINED_ON_CORE' });
    return { status: 204 };
  });
}

const adminOnly = (c: RouteContext, fn: () => Reply): Reply => (c.user.admin ? fn() : error(403, 'User does not have admin rights.'));

const LAB = '([^/]+)';

export const ROUTES: Route[] = [
  { method: 'GET', path: /^\/authok$/, endpoint: 'authok', handle: () => ok('OK') },
  { method: 'GET', path: /^\/labs$/, endpoint: 'list', handle: (c) => ok(c.world.visibleLabs(c.user, bool(c.query, 'show_all')).map((l) => l.id)) },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}$`), endpoint: 'detail', handle: (c) => withLab(c, (lab) => ok(labBody(c.world, lab, c.user, c.flavor))) },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}/state$`), endpoint: 'state', handle: (c) => withLab(c, (lab) => ok(lab.state)) },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}/topology$`), endpoint: 'topology', handle: (c) => withLab(c, (lab) => ok(topologyBody(c.world, lab, bool(c.query, 'exclude_configurations')))) },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}/tile$`), endpoint: 'tiles', handle: (c) => withLab(c, (lab) => ok(tileBody(c.world, lab, c.user))) },
  { method: 'GET', path: /^\/populate_lab_tiles$/, endpoint: 'tiles', handle: (c) => ok({ lab_tiles: Object.fromEntries(c.world.visibleLabs(c.user, true).map((l) => [l.id, tileBody(c.world, l, c.user)])) }) },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}/lab_element_state$`), endpoint: 'elements', handle: (c) => withLab(c, (lab) => ok(elementStateBody(c.world, lab))) },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}/(nodes|links)$`), endpoint: 'elements', handle: (c) => withLab(c, (lab) => ok(elementsBody(c.world, lab, c.params[1] as 'nodes' | 'links', bool(c.query, 'data') || bool(c.query, 'operational')))) },
  {
    method: 'GET',
    path: new RegExp(`^/labs/${LAB}/nodes/([^/]+)$`),
    endpoint: 'elements',
    handle: (c) =>
      withLab(c, (lab) => {
        const n = c.world.topologies.get(lab.id)!.nodes.find((x) => x.id === c.params[1]);
        return n ? ok(nodeBody(lab, n)) : error(404, `Node not found: ${c.params[1]}`);
      }),
  },
  { method: 'GET', path: new RegExp(`^/labs/${LAB}/check_if_converged$`), endpoint: 'elements', handle: (c) => withLab(c, () => ok(true)) },
  { method: 'PUT', path: new RegExp(`^/labs/${LAB}/(start|stop|wipe)$`), endpoint: 'actions', handle: (c) => labAction(c, c.params[1] as 'start') },
  {
    method: 'DELETE',
    path: new RegExp(`^/labs/${LAB}$`),
    endpoint: 'actions',
    handle: (c) =>
      withLab(c, (lab) => {
        if (!c.world.permissions(lab, c.user).includes('lab_admin')) return error(403, 'User does not have admin permission to lab.');
        if (lab.state === 'STARTED') return error(400, 'Lab must be stopped and wiped before it can be removed');
        c.world.deleteLab(lab.id);
        return { status: 204 };
      }),
  },
  { method: 'GET', path: /^\/users$/, endpoint: 'users', handle: (c) => ok(c.world.users.map((u) => userBody(c.world, u))) },
  { method: 'GET', path: /^\/users\/([^/]+)\/id$/, endpoint: 'users', handle: (c) => lookup(c.world.users.find((u) => u.username === c.params[0])?.id, `User not found: ${c.params[0]}`) },
  { method: 'GET', path: /^\/users\/([^/]+)$/, endpoint: 'users', handle: (c) => byId(c, c.world.users.find((u) => u.id === c.params[0]), (u) => userBody(c.world, u), 'User') },
  { method: 'GET', path: /^\/groups$/, endpoint: 'groups', handle: (c) => ok(c.world.groups.map((g) => groupBody(c.world, g.id))) },
  { method: 'GET', path: /^\/groups\/([^/]+)\/id$/, endpoint: 'groups', handle: (c) => lookup(c.world.groups.find((g) => g.name === c.params[0])?.id, `Group not found: ${c.params[0]}`) },
  { method: 'GET', path: /^\/groups\/([^/]+)$/, endpoint: 'groups', handle: (c) => byId(c, c.world.groups.find((g) => g.id === c.params[0]), (g) => groupBody(c.world, g.id), 'Group') },
  { method: 'GET', path: /^\/system\/compute_hosts$/, endpoint: 'compute', handle: (c) => adminOnly(c, () => ok(computeHostsBody(c.world))) },
  { method: 'GET', path: /^\/system_health$/, endpoint: 'health', handle: (c) => adminOnly(c, () => ok(systemHealthBody(c.world))) },
  { method: 'GET', path: /^\/system_stats$/, endpoint: 'stats', handle: (c) => adminOnly(c, () => ok(systemStatsBody(c.world))) },
  { method: 'GET', path: /^\/licensing$/, endpoint: 'licensing', handle: (c) => adminOnly(c, () => ok(licensingBody(c.world))) },
];

function lookup(id: string | undefined, missing: string): Reply {
  return id ? ok(id) : error(404, missing);
}

function byId<T>(c: RouteContext, item: T | undefined, body: (t: T) => unknown, what: string): Reply {
  if (!UUID4.test(c.params[0]!)) return error(400, `${what} ID is not a valid UUID4: ${c.params[0]}`);
  return item ? ok(body(item)) : error(404, `${what} not found: ${c.params[0]}`);
}

/** The route for a method and a path below /api/v0; `methodNotAllowed` when the path exists with other methods only. */
export function findRoute(method: string, path: string): { route: Route; params: string[] } | 'methodNotAllowed' | undefined {
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.path.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method === method) return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return pathMatched ? 'methodNotAllowed' : undefined;
}

/** The request kind of a path, for faults and latency before authentication (unknown paths count as `any`). */
export function endpointOf(method: string, path: string): string {
  const r = findRoute(method, path);
  return r && r !== 'methodNotAllowed' ? r.route.endpoint : 'any';
}
