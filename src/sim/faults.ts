// Faults and latency for the simulators, from the same spec strings `labops sim --fault/--latency` and the control
// endpoint take: `<sim>.<endpoint>:<action>[@<schedule>]` and `<sim>.<kind>=<duration>[-<duration>],…`.
// A FaultPlan holds the rules of one simulator kind (all CML controllers, all stations, the LINBO API) and answers,
// per request, the latency to add and the fault to apply; each simulator applies it in its own protocol.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseDuration } from '../domain/duration.js';

export type SimKind = 'cml' | 'linbo' | 'station';

/** The endpoints (request kinds) faults and latency name, per simulator; `any` matches every request of that simulator. */
export const ENDPOINTS: Readonly<Record<SimKind, readonly string[]>> = {
  cml: ['any', 'auth', 'system', 'authok', 'list', 'detail', 'state', 'topology', 'elements', 'tiles', 'users', 'groups', 'compute', 'health', 'stats', 'licensing', 'actions'],
  linbo: ['any', 'get', 'status', 'retry', 'macct', 'health'],
  station: ['any', 'winrm', 'command', 'powershell'],
};

export type FaultAction =
  | { kind: 'status'; status: number }
  | { kind: 'html'; status: number }
  | { kind: 'malformed' }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'empty' }
  | { kind: 'expire-token' }
  | { kind: 'late'; ms: number };

export interface FaultSchedule {
  /** probability per matching request (0 < rate ≤ 1) */
  rate?: number;
  /** leave the first N matching requests alone */
  after?: number;
  /** fire at most N times, then the rule is gone */
  times?: number;
  /** fire on every Nth matching request */
  every?: number;
  /** active from this long after the rule was set */
  from?: number;
  /** active for this long (each period, with `period`) */
  for?: number;
  /** recurring: active for `for` at the start of every `period` */
  period?: number;
}

/** Which requests a rule applies to besides its endpoint: a controller (cml), a lab (cml), a station, a status (linbo PATCH). */
export interface FaultFilter {
  server?: string;
  lab?: string;
  host?: string;
  status?: string;
}

export interface FaultRule {
  spec: string;
  sim: SimKind;
  endpoint: string;
  action: FaultAction;
  schedule: FaultSchedule;
  filter: FaultFilter;
}

/** A spec the operator wrote that cannot be used; `option` names the flag (or control field) it came from. */
export class SimSpecError extends Error {
  constructor(
    readonly option: string,
    readonly value: string,
    reason: string,
  ) {
    super(value === '' ? `${option}: ${reason}` : `${option} '${value}': ${reason}`);
    this.name = 'SimSpecError';
  }
}

const ACTIONS = ['<status code>', 'html[=<status>]', 'malformed', 'hang', 'reset', 'empty', 'expire-token', 'late=<duration>'];

/** Which actions each simulator's endpoints can take; undefined = every endpoint of that simulator. */
const ACTION_SCOPE: Record<FaultAction['kind'], { sims: SimKind[]; endpoints?: string[] }> = {
  status: { sims: ['cml', 'linbo', 'station'] },
  html: { sims: ['cml', 'linbo', 'station'] },
  malformed: { sims: ['cml', 'linbo', 'station'] },
  hang: { sims: ['cml', 'linbo', 'station'] },
  reset: { sims: ['cml', 'linbo', 'station'] },
  empty: { sims: ['cml'], endpoints: ['list'] },
  'expire-token': { sims: ['cml'] },
  late: { sims: ['linbo'], endpoints: ['status', 'retry'] },
};

const FILTERS: Record<keyof FaultFilter, SimKind[]> = { server: ['cml'], lab: ['cml'], host: ['station'], status: ['linbo'] };

function duration(option: string, value: string, key: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw new SimSpecError(option, value, `${key}: expected a duration like 500ms, 5s or 2m, got '${v}'`);
  return ms;
}

function count(option: string, value: string, key: string, v: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new SimSpecError(option, value, `${key}: expected a whole number of at least ${min}, got '${v}'`);
  return Number(v);
}

/** `<sim>.<endpoint>`, checked against ENDPOINTS. */
export function parseTarget(option: string, value: string, target: string): { sim: SimKind; endpoint: string } {
  const m = /^([a-z]+)\.([a-z-]+)$/.exec(target);
  const sims = Object.keys(ENDPOINTS) as SimKind[];
  if (!m || !sims.includes(m[1] as SimKind)) throw new SimSpecError(option, value, `expected <simulator>.<endpoint> with a simulator of ${sims.join(', ')}, got '${target}'`);
  const sim = m[1] as SimKind;
  if (!ENDPOINTS[sim].includes(m[2]!)) throw new SimSpecError(option, value, `unknown ${sim} endpoint '${m[2]}' (known: ${ENDPOINTS[sim].join(', ')})`);
  return { sim, endpoint: m[2]! };
}

function parseAction(option: string, value: string, text: string): FaultAction {
  const [name, arg] = text.split('=', 2) as [string, string | undefined];
  if (/^[1-5]\d\d$/.test(name) && arg === undefined) return { kind: 'status', status: Number(name) };
  if (name === 'html') {
    const status = arg === undefined ? 502 : Number(arg);
    if (!/^[45]\d\d$/.test(String(status))) throw new SimSpecError(option, value, `html: expected a 4xx or 5xx status, got '${arg}'`);
    return { kind: 'html', status };
  }
  if (name === 'late') return { kind: 'late', ms: duration(option, value, 'late', arg ?? '') };
  if ((['malformed', 'hang', 'reset', 'empty', 'expire-token'] as const).includes(name as never) && arg === undefined) return { kind: name as 'hang' };
  throw new SimSpecError(option, value, `unknown fault '${text}' (known: ${ACTIONS.join(', ')})`);
}

function checkScope(option: string, value: string, sim: SimKind, endpoint: string, action: FaultAction): void {
  const scope = ACTION_SCOPE[action.kind];
  const where = scope.endpoints ? scope.endpoints.map((e) => `${scope.sims[0]}.${e}`).join(', ') : scope.sims.join(', ');
  if (!scope.sims.includes(sim) || (scope.endpoints && !scope.endpoints.includes(endpoint))) throw new SimSpecError(option, value, `${action.kind} applies to ${where} only`);
  if (sim === 'station' && endpoint === 'command' && action.kind !== 'hang') throw new SimSpecError(option, value, 'station.command takes hang only (a LabStation command that never finishes)');
}

function parseScheduleEntry(option: string, value: string, key: string, v: string, s: FaultSchedule, f: FaultFilter, sim: SimKind): void {
  switch (key) {
    case 'rate': {
      const r = Number(v);
      if (!/^(0|1)?(\.\d+)?$/.test(v) || !(r > 0 && r <= 1)) throw new SimSpecError(option, value, `rate: expected a probability above 0 and at most 1, got '${v}'`);
      s.rate = r;
      return;
    }
    case 'after':
      s.after = count(option, value, key, v, 0);
      return;
    case 'times':
    case 'every':
      s[key] = count(option, value, key, v, 1);
      return;
    case 'from':
    case 'for':
    case 'period':
      s[key] = duration(option, value, key, v);
      return;
  }
  const filter = key as keyof FaultFilter;
  if (!(filter in FILTERS)) throw new SimSpecError(option, value, `unknown schedule key '${key}' (known: rate, after, times, every, from, for, period, ${Object.keys(FILTERS).join(', ')})`);
  if (!FILTERS[filter].includes(sim)) throw new SimSpecError(option, value, `${key}= applies to ${FILTERS[filter].join(', ')} faults only`);
  if (!v) throw new SimSpecError(option, value, `${key}: expected a value`);
  f[filter] = v;
}

function parseSchedule(option: string, value: string, text: string | undefined, sim: SimKind): { schedule: FaultSchedule; filter: FaultFilter } {
  const schedule: FaultSchedule = {};
  const filter: FaultFilter = {};
  if (text === undefined) return { schedule, filter };
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SimSpecError(option, value, `malformed schedule '${part}': expected key=value (e.g. rate=0.1, times=3, every=5, from=10s, for=30s, period=2m)`);
    parseScheduleEntry(option, value, part.slice(0, eq), part.slice(eq + 1), schedule, filter, sim);
  }
  if (schedule.period !== undefined && (schedule.for === undefined || schedule.for >= schedule.period)) {
    throw new SimSpecError(option, value, 'period: needs for= shorter than the period (active for that long at the start of each period)');
  }
  return { schedule, filter };
}

/** `cml.detail:500@rate=0.1,times=5`, `linbo.status:hang@times=1`, `station.winrm:reset@rate=0.01,host=sim-ws-003`. */
export function parseFault(spec: string, option = '--fault'): FaultRule {
  const s = spec.trim();
  const colon = s.indexOf(':');
  if (colon < 0) throw new SimSpecError(option, spec, 'expected <simulator>.<endpoint>:<fault>[@<schedule>], e.g. cml.detail:500@rate=0.1');
  const { sim, endpoint } = parseTarget(option, spec, s.slice(0, colon));
  const rest = s.slice(colon + 1);
  const at = rest.indexOf('@');
  const action = parseAction(option, spec, at < 0 ? rest : rest.slice(0, at));
  checkScope(option, spec, sim, endpoint, action);
  const { schedule, filter } = parseSchedule(option, spec, at < 0 ? undefined : rest.slice(at + 1), sim);
  return { spec: s, sim, endpoint, action, schedule, filter };
}

/** Latency per request kind: `cml.detail=50ms,cml.auth=200ms-800ms,station.command=300ms`; `<sim>.any` sets the default of a simulator. */
export type LatencySpec = Map<string, { min: number; max: number }>;

export function parseLatency(spec: string, option = '--latency'): LatencySpec {
  const out: LatencySpec = new Map();
  if (spec.trim() === '' || spec.trim() === 'none') return out;
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SimSpecError(option, spec, `expected <simulator>.<kind>=<duration>[-<duration>], got '${part}'`);
    const { sim, endpoint } = parseTarget(option, spec, part.slice(0, eq).trim());
    const [lo, hi] = part.slice(eq + 1).trim().split('-', 2) as [string, string | undefined];
    const min = duration(option, spec, `${sim}.${endpoint}`, lo);
    const max = hi === undefined ? min : duration(option, spec, `${sim}.${endpoint}`, hi);
    if (max < min) throw new SimSpecError(option, spec, `${sim}.${endpoint}: the range ${lo}-${hi} runs backwards`);
    out.set(`${sim}.${endpoint}`, { min, max });
  }
  return out;
}

export function formatLatency(l: LatencySpec): string {
  const d = (ms: number) => `${ms}ms`;
  return [...l].map(([k, v]) => `${k}=${v.min === v.max ? d(v.min) : `${d(v.min)}-${d(v.max)}`}`).join(',');
}

/** A small seeded PRNG: the simulators' random choices repeat from run to run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule extends FaultRule {
  setAt: number;
  matched: number;
  fired: number;
}

/** What a request is, for matching: its endpoint and the instance, lab, station or status it concerns. */
export interface RequestInfo extends FaultFilter {
  endpoint: string;
}

export interface FaultState {
  spec: string;
  fired: number;
  /** firings left under times=, when given */
  remaining?: number;
}

/** The fault rules and latency of one simulator kind, shared by all its instances. */
export class FaultPlan {
  private rules: ActiveRule[] = [];
  private latency: LatencySpec = new Map();
  private readonly rnd: () => number;
  private readonly now: () => number;
  /** faults applied, per endpoint */
  readonly fired = new Map<string, number>();

  constructor(
    readonly sim: SimKind,
    o: { seed?: number; now?: () => number } = {},
  ) {
    this.rnd = mulberry32(o.seed ?? 0x5eed);
    this.now = o.now ?? Date.now;
  }

  /** Replaces every rule of this simulator (rules of other simulators in `rules` are ignored). */
  setFaults(rules: readonly FaultRule[]): void {
    this.rules = [];
    for (const r of rules) this.add(r);
  }

  add(rule: FaultRule): void {
    if (rule.sim === this.sim) this.rules.push({ ...rule, setAt: this.now(), matched: 0, fired: 0 });
  }

  clear(): void {
    this.rules = [];
  }

  /** Replaces the latency of this simulator's kinds (other simulators' entries are ignored). */
  setLatency(l: LatencySpec): void {
    this.latency = new Map([...l].filter(([k]) => k.startsWith(`${this.sim}.`)));
  }

  latencySpec(): LatencySpec {
    return new Map(this.latency);
  }

  /** Milliseconds to hold a request of this kind: its own entry, else `<sim>.any`, else 0. */
  latencyFor(endpoint: string): number {
    const l = this.latency.get(`${this.sim}.${endpoint}`) ?? this.latency.get(`${this.sim}.any`);
    if (!l) return 0;
    return l.min === l.max ? l.min : Math.round(l.min + this.rnd() * (l.max - l.min));
  }

  state(): FaultState[] {
    return this.rules.map((r) => ({ spec: r.spec, fired: r.fired, ...(r.schedule.times === undefined ? {} : { remaining: r.schedule.times - r.fired }) }));
  }

  private windowOpen(r: ActiveRule, now: number): boolean {
    const t = now - r.setAt - (r.schedule.from ?? 0);
    if (t < 0) return false;
    if (r.schedule.for === undefined) return true;
    return (r.schedule.period === undefined ? t : t % r.schedule.period) < r.schedule.for;
  }

  private matches(r: ActiveRule, q: RequestInfo, now: number): boolean {
    if (r.endpoint !== 'any' && r.endpoint !== q.endpoint) return false;
    for (const k of Object.keys(r.filter) as (keyof FaultFilter)[]) if (r.filter[k] !== q[k]) return false;
    return this.windowOpen(r, now);
  }

  private fires(r: ActiveRule): boolean {
    r.matched++;
    const s = r.schedule;
    if (s.after !== undefined && r.matched <= s.after) return false;
    if (s.every !== undefined && (r.matched - (s.after ?? 0)) % s.every !== 0) return false;
    return s.rate === undefined || this.rnd() < s.rate;
  }

  /** The fault for this request, if a rule fires; a rule whose times= are used up, or whose one window is over, is dropped. */
  take(q: RequestInfo, accept: (a: FaultAction) => boolean = () => true): FaultAction | undefined {
    const now = this.now();
    this.rules = this.rules.filter((r) => r.schedule.period !== undefined || r.schedule.for === undefined || now - r.setAt - (r.schedule.from ?? 0) < r.schedule.for);
    for (const r of this.rules) {
      if (!accept(r.action) || !this.matches(r, q, now) || !this.fires(r)) continue;
      r.fired++;
      this.fired.set(q.endpoint, (this.fired.get(q.endpoint) ?? 0) + 1);
      if (r.schedule.times !== undefined && r.fired >= r.schedule.times) this.rules.splice(this.rules.indexOf(r), 1);
      return r.action;
    }
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** The page a reverse proxy or load balancer in front of the service answers with when its upstream fails. */
export function htmlErrorPage(status: number): string {
  const reason = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' }[status] ?? 'Error';
  return `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/** A body cut off in the middle, as a connection dropped by a proxy or a crashed worker leaves it. */
export function truncated(body: string): string {
  return body.length < 2 ? '{' : body.slice(0, Math.max(1, Math.floor(body.length / 2)));
}

/** Responses held open by `hang`, closed when the simulator stops. */
export class HungResponses {
  private readonly held = new Set<ServerResponse>();
  hold(res: ServerResponse): void {
    this.held.add(res);
    res.on('close', () => this.held.delete(res));
  }
  release(): void {
    for (const r of this.held) r.destroy();
    this.held.clear();
  }
  get size(): number {
    return this.held.size;
  }
}

/** The connection is reset (RST) under the request, as a crashed or restarted server process does. */
export function resetConnection(req: IncomingMessage): void {
  const s = req.socket as Socket & { resetAndDestroy?: () => Socket };
  try {
    if (s.resetAndDestroy) s.resetAndDestroy();
    else s.destroy();
  } catch {
    s.destroy();
  }
}

/**
 * Applies the transport-level faults the same way for every HTTP simulator: an HTML error page, a hang, a reset. A
 * status code and a malformed body need the simulator's own error shape and body: `sendStatus` and `markMalformed`.
 * Returns true when the response was taken care of (the request must not be handled further).
 */
export function applyHttpFault(
  a: FaultAction | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  o: { hung: HungResponses; sendStatus(status: number): void; markMalformed(): void },
): boolean {
  if (!a) return false;
  switch (a.kind) {
    case 'html': {
      const page = htmlErrorPage(a.status);
      res.writeHead(a.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page), server: 'nginx' });
      res.end(page);
      return true;
    }
    case 'hang':
      o.hung.hold(res);
      return true;
    case 'reset':
      resetConnection(req);
      return true;
    case 'status':
      o.sendStatus(a.status);
      return true;
    case 'malformed':
      o.markMalformed();
      return false;
    default:
      return false;
  }
}
