// The simulators' faults and behaviour as one set of options (`labops sim --fault/--latency/--cml-change/
// --cml-token-ttl/--station-fault`), applied at start and changed at run time through the control endpoint: an HTTP
// server on loopback only whose PATCH /options takes the same option names and values as the command line.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { SimSpecError, formatLatency, parseFault, parseLatency, type FaultPlan, type FaultRule, type FaultState, type LatencySpec } from './faults.js';
import { parseStationFault, type StationFault, type StationFaults } from './station-faults.js';
import { formatChange, parseChange, type ChangeSpec } from './cml/world.js';
import type { SimCmlController } from './cml/controller.js';
import { parseDuration } from '../domain/duration.js';

/** The options as text, keyed by their long names: what the command line and PATCH /options take. */
export interface BehaviourText {
  fault?: string[];
  latency?: string;
  'cml-change'?: string;
  'cml-token-ttl'?: string;
  'station-fault'?: string[];
}

export const BEHAVIOUR_FIELDS = ['fault', 'latency', 'cml-change', 'cml-token-ttl', 'station-fault'] as const;

export interface Behaviour {
  fault?: FaultRule[];
  latency?: LatencySpec;
  /** null: no change over time */
  cmlChange?: ChangeSpec | null;
  cmlTokenTtlMs?: number;
  stationFault?: StationFault[];
}

/**
 * Parses the options given (each one named in its errors as `name(field)`: `--fault` on the command line, `fault` at
 * the control endpoint). The CML change's default interval applies when the spec names none.
 */
export function parseBehaviour(t: BehaviourText, o: { name: (field: string) => string; changeEveryMs: number }): Behaviour {
  const b: Behaviour = {};
  if (t.fault) b.fault = t.fault.map((f) => parseFault(f, o.name('fault')));
  if (t.latency !== undefined) b.latency = parseLatency(t.latency, o.name('latency'));
  if (t['cml-change'] !== undefined) b.cmlChange = parseChange(t['cml-change'], o.changeEveryMs, o.name('cml-change')) ?? null;
  if (t['cml-token-ttl'] !== undefined) {
    const ms = parseDuration(t['cml-token-ttl']);
    if (ms === undefined || ms < 1000) throw new SimSpecError(o.name('cml-token-ttl'), t['cml-token-ttl'], 'expected a duration of at least 1s, like 30s or 24h');
    b.cmlTokenTtlMs = ms;
  }
  if (t['station-fault']) b.stationFault = t['station-fault'].map((f) => parseStationFault(f, o.name('station-fault')));
  return b;
}

/** What the control endpoint changes: the simulators that run. */
export interface ControlTargets {
  cml?: { controllers: SimCmlController[]; faults: FaultPlan };
  linbo?: { faults: FaultPlan };
  stations?: { faults: FaultPlan; stationFaults: StationFaults };
}

export interface ControlState {
  options: Required<BehaviourText>;
  /** the fault rules in force per simulator, with how often each fired */
  faults: Record<string, FaultState[]>;
}

/** Applies behaviours to the running simulators and remembers them as text for GET /options. */
export class SimControls {
  private text: Required<BehaviourText> = { fault: [], latency: '', 'cml-change': 'off', 'cml-token-ttl': '24h', 'station-fault': [] };

  constructor(
    private readonly t: ControlTargets,
    readonly defaultChangeEveryMs: number,
  ) {}

  private plans(): FaultPlan[] {
    return [this.t.cml?.faults, this.t.linbo?.faults, this.t.stations?.faults].filter((p): p is FaultPlan => p !== undefined);
  }

  /** Checks that each rule has a simulator to apply to (a fault for CML when none runs is an operator mistake). */
  private check(b: Behaviour, name: (f: string) => string): void {
    const running = new Set(this.plans().map((p) => p.sim));
    for (const r of b.fault ?? []) if (!running.has(r.sim)) throw new SimSpecError(name('fault'), r.spec, `no ${r.sim} simulator runs (${r.sim === 'cml' ? '--cml <n>' : r.sim === 'linbo' ? '--linbo-api' : 'stations'})`);
    if ((b.cmlChange !== undefined || b.cmlTokenTtlMs !== undefined) && !this.t.cml) throw new SimSpecError(name(b.cmlChange !== undefined ? 'cml-change' : 'cml-token-ttl'), '', 'no CML controller runs (--cml <n>)');
  }

  /** Applies the options given; each replaces its previous value. Nothing changes when one of them is wrong. */
  async apply(text: BehaviourText, name: (field: string) => string): Promise<void> {
    const b = parseBehaviour(text, { name, changeEveryMs: this.defaultChangeEveryMs });
    this.check(b, name);
    if (b.stationFault) {
      if (!this.t.stations) throw new SimSpecError(name('station-fault'), b.stationFault[0]?.spec ?? '', 'no stations run');
      await this.t.stations.stationFaults.set(b.stationFault, name('station-fault'));
    }
    if (b.fault) for (const p of this.plans()) p.setFaults(b.fault);
    if (b.latency) for (const p of this.plans()) p.setLatency(b.latency);
    for (const c of this.t.cml?.controllers ?? []) {
      if (b.cmlChange !== undefined) c.setChange(b.cmlChange ?? undefined);
      if (b.cmlTokenTtlMs !== undefined) c.tokenTtlMs = b.cmlTokenTtlMs;
    }
    this.remember(text, b);
  }

  private remember(text: BehaviourText, b: Behaviour): void {
    if (b.fault) this.text.fault = b.fault.map((r) => r.spec);
    if (b.latency) this.text.latency = formatLatency(b.latency);
    if (b.cmlChange !== undefined) this.text['cml-change'] = formatChange(b.cmlChange ?? undefined);
    if (text['cml-token-ttl'] !== undefined) this.text['cml-token-ttl'] = text['cml-token-ttl'];
    if (b.stationFault) this.text['station-fault'] = b.stationFault.map((f) => f.spec);
  }

  state(): ControlState {
    return { options: { ...this.text }, faults: Object.fromEntries(this.plans().map((p) => [p.sim, p.state()])) };
  }

  /** Every CML token expires now (the next request of each client is answered 401). */
  expireTokens(): number {
    for (const c of this.t.cml?.controllers ?? []) c.expireTokens();
    return this.t.cml?.controllers.length ?? 0;
  }

  /** One change step of every controller's labs now. */
  changeNow(): number {
    for (const c of this.t.cml?.controllers ?? []) c.evolve();
    return this.t.cml?.controllers.length ?? 0;
  }
}

export function isLoopback(address: string): boolean {
  return (isIP(address) === 4 && address.startsWith('127.')) || address === '::1';
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 65_536) throw new SimSpecError('body', '', 'larger than 64 KiB');
    parts.push(c as Buffer);
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new SimSpecError('body', '', 'not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SimSpecError('body', '', 'expected a JSON object of options');
  return v as Record<string, unknown>;
}

/** A PATCH body as BehaviourText: known fields only, each of the type the command line gives. */
function behaviourText(body: Record<string, unknown>): BehaviourText {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (!(BEHAVIOUR_FIELDS as readonly string[]).includes(k)) throw new SimSpecError(k, '', `unknown field (known: ${BEHAVIOUR_FIELDS.join(', ')})`);
    const list = k === 'fault' || k === 'station-fault';
    const ok = list ? Array.isArray(v) && v.every((x) => typeof x === 'string') : typeof v === 'string';
    if (!ok) throw new SimSpecError(k, '', list ? 'expected an array of strings' : 'expected a string');
    out[k] = v;
  }
  return out as BehaviourText;
}

async function route(controls: SimControls, req: IncomingMessage): Promise<[number, unknown]> {
  const path = new URL(req.url ?? '/', 'http://control').pathname;
  const routes: Record<string, Partial<Record<string, () => Promise<[number, unknown]>>>> = {
    '/options': {
      GET: async () => [200, controls.state()],
      PATCH: async () => {
        await controls.apply(behaviourText(await readJsonObject(req)), (f) => f);
        return [200, controls.state()];
      },
    },
    '/cml/expire-tokens': { POST: async () => [200, { controllers: controls.expireTokens() }] },
    '/cml/change': { POST: async () => [200, { controllers: controls.changeNow() }] },
  };
  const r = routes[path];
  if (!r) return [404, { error: `no such endpoint ${path} (GET|PATCH /options, POST /cml/expire-tokens, POST /cml/change)` }];
  const fn = r[req.method ?? 'GET'];
  if (!fn) return [405, { error: `${req.method} not allowed on ${path} (allowed: ${Object.keys(r).join(', ')})` }];
  return fn();
}

export interface ControlServer {
  url: string;
  close(): Promise<void>;
}

/** The control endpoint; it listens on a loopback address only. */
export async function startControlServer(controls: SimControls, address: string, port: number): Promise<ControlServer> {
  if (!isLoopback(address)) throw new SimSpecError('--control', `${address}:${port}`, 'the control endpoint listens on a loopback address only (127.0.0.0/8 or ::1)');
  const server: Server = createServer((req, res) => {
    route(controls, req).then(
      ([status, body]) => send(res, status, body),
      (e: unknown) => send(res, e instanceof SimSpecError ? 400 : 500, { error: (e as Error).message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  const a = server.address() as { port: number };
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${a.port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
