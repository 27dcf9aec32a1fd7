// A simulated CML 2.9 controller: the API v0 over self-signed TLS with the 2.9 bodies (routes.ts, bodies.ts), the
// ErrorResponse shape {code, description}, bearer tokens that expire, labs that change over time (world.ts), and the
// faults and latency of a FaultPlan (faults.ts) applied per request kind: status codes, HTML pages, cut-off bodies,
// hung requests, connection resets, tokens expiring mid-run.
import https from 'node:https';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FaultPlan, HungResponses, applyHttpFault, sleep, truncated, type FaultAction } from '../faults.js';
import { CmlWorld, DEFAULT_USERS, type ChangeSpec, type SimLab, type SimUser } from './world.js';
import { error, findRoute, endpointOf, type Reply } from './routes.js';
import type { Flavor } from './bodies.js';

export type { SimLab, SimUser, LabState } from './world.js';

export interface SimCmlOptions {
  id: string;
  address?: string;
  /** 0 picks a free port */
  port?: number;
  tls: { key: string; cert: string };
  labs?: number;
  /** '2.9' sends owner_fullname and effective_permissions; 'older' omits them like the 2022 test data */
  flavor?: Flavor;
  /** token lifetime; CML's default session is 24 h (the spec's example JWT) */
  tokenTtlMs?: number;
  /** faults and latency; several controllers share one plan (a rule's server= names one of them) */
  faults?: FaultPlan;
  /** how the labs change over time; none when absent */
  change?: ChangeSpec;
  users?: { username: string; password: string; fullname: string; admin: boolean; groups?: string[] }[];
  now?: () => number;
  seed?: number;
}

const UNAUTHORIZED = 'Unauthorized: the token is missing, invalid or expired';
const SYSTEM_INFORMATION = { version: '2.9.0', ready: true, allow_ssh_pubkey_auth: false, oui: '52:54:00:00:00:00' };

/** Responses whose JSON body goes out cut in half (a `malformed` fault). */
const MALFORMED = new WeakSet<ServerResponse>();

export class SimCmlController {
  readonly id: string;
  readonly world: CmlWorld;
  readonly faults: FaultPlan;
  /** per-lab body patches served as-is, e.g. {node_count: 'seven'} (a body that is JSON but breaks the schema) */
  readonly detailPatches = new Map<string, Record<string, unknown>>();
  /** `resumed`: connections that resumed a TLS session (no certificate exchange) */
  stats = { connections: 0, resumed: 0, requests: 0, logins: 0, unauthorized: 0, detailRequests: 0, faults: 0 };
  tokenTtlMs: number;
  private change: ChangeSpec | undefined;
  private readonly server: https.Server;
  private readonly sockets = new Set<Socket>();
  private readonly hung = new HungResponses();
  private readonly tokens = new Map<string, { user: SimUser; exp: number }>();
  private readonly secret = randomBytes(32);
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  port = 0;
  readonly address: string;

  constructor(private readonly o: SimCmlOptions) {
    this.id = o.id;
    this.address = o.address ?? '127.0.0.1';
    this.now = o.now ?? Date.now;
    this.tokenTtlMs = o.tokenTtlMs ?? 86_400_000;
    this.faults = o.faults ?? new FaultPlan('cml', { now: this.now });
    this.change = o.change;
    this.world = new CmlWorld({ id: o.id, labs: o.labs, users: o.users ?? DEFAULT_USERS, now: this.now, seed: o.seed });
    this.server = https.createServer({ key: o.tls.key, cert: o.tls.cert, keepAliveTimeout: 30_000 }, (req, res) => void this.handle(req, res));
    this.server.on('secureConnection', (s: TLSSocket) => {
      this.stats.connections++;
      if (s.isSessionReused()) this.stats.resumed++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    // A client that gives up mid-handshake is not an error worth crashing over.
    this.server.on('tlsClientError', () => {});
  }

  get url(): string {
    return `https://${this.address}:${this.port}`;
  }

  get labs(): Map<string, SimLab> {
    return this.world.labs;
  }

  get users(): SimUser[] {
    return this.world.users;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port ?? 0, this.address, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.setChange(this.change);
    return this;
  }

  /** Starts, changes or stops (undefined) the labs' change over time. */
  setChange(change: ChangeSpec | undefined): void {
    this.change = change;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!change || !this.port) return;
    this.timer = setInterval(() => this.world.evolve(change), change.everyMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.hung.release();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- the lab world (tests and the control endpoint change it) ----

  addLab(over: Partial<SimLab> = {}): SimLab {
    return this.world.addLab(over);
  }

  updateLab(id: string, patch: Partial<SimLab>): void {
    this.world.updateLab(id, patch);
  }

  deleteLab(id: string): void {
    this.world.deleteLab(id);
  }

  /** One change step now, with the configured rates (or the defaults). */
  evolve(): void {
    this.world.evolve(this.change);
  }

  /** Invalidates every issued token, as an expiry would. */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.exp = 0;
  }

  // ---- HTTP ----

  private send(res: ServerResponse, r: Reply): void {
    if (r.body === undefined) {
      res.writeHead(r.status).end();
      return;
    }
    const full = JSON.stringify(r.body);
    const text = MALFORMED.has(res) ? truncated(full) : full;
    res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Applies a fault the plan picked; true when the response was taken care of. */
  private applyFault(a: FaultAction | undefined, req: IncomingMessage, res: ServerResponse): boolean {
    if (!a) return false;
    this.stats.faults++;
    if (a.kind === 'empty') {
      this.send(res, { status: 200, body: [] });
      return true;
    }
    if (a.kind === 'expire-token') {
      this.expireTokens();
      this.stats.unauthorized++;
      this.send(res, error(401, UNAUTHORIZED));
      return true;
    }
    return applyHttpFault(a, req, res, {
      hung: this.hung,
      sendStatus: (status) => this.send(res, error(status, status >= 500 ? 'Internal Server Error' : 'Request failed')),
      markMalformed: () => MALFORMED.add(res),
    });
  }

  private sign(user: SimUser, exp: number): string {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64({ iss: 'com.cisco.virl', sub: user.id, iat: Math.floor(this.now() / 1000), exp: Math.floor(exp / 1000), jti: randomUUID() })}`;
    return `${head}.${createHmac('sha256', this.secret).update(head).digest('base64url')}`;
  }

  private bearer(req: IncomingMessage): string | undefined {
    return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  }

  private authorize(req: IncomingMessage): SimUser | undefined {
    const token = this.bearer(req);
    const t = token ? this.tokens.get(token) : undefined;
    if (!t || t.exp <= this.now()) return undefined;
    return t.user;
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    return Buffer.concat(parts).toString('utf8');
  }

  /** POST /authenticate (a bare JSON string token) and /auth_extended (AuthenticateResponse). */
  private login(path: string, body: string): Reply {
    let creds: { username?: unknown; password?: unknown };
    try {
      creds = JSON.parse(body) as typeof creds;
    } catch {
      return error(400, 'Invalid JSON in request body');
    }
    if (typeof creds?.username !== 'string' || typeof creds.password !== 'string' || creds.username.length < 1 || creds.username.length > 32) {
      return error(400, 'Request validation failed: username and password are required');
    }
    const user = this.world.users.find((u) => u.username === creds.username && u.password === creds.password);
    if (!user) return error(403, 'Authentication failed!');
    const exp = this.now() + this.tokenTtlMs;
    const token = this.sign(user, exp);
    this.tokens.set(token, { user, exp });
    this.stats.logins++;
    if (path === '/authenticate') return { status: 200, body: token };
    return { status: 200, body: { username: user.username, id: user.id, token, admin: user.admin, error: null } };
  }

  private logout(req: IncomingMessage, user: SimUser, all: boolean): Reply {
    const token = this.bearer(req);
    if (all) for (const [t, v] of this.tokens) if (v.user === user) this.tokens.delete(t);
    if (token) this.tokens.delete(token);
    return { status: 200, body: true };
  }

  /** Everything behind the bearer token: the route table, logout and the session timeout. */
  private authed(req: IncomingMessage, method: string, path: string, query: URLSearchParams): Reply {
    const user = this.authorize(req);
    if (!user) {
      this.stats.unauthorized++;
      return error(401, UNAUTHORIZED);
    }
    if (path === '/logout' && method === 'DELETE') return this.logout(req, user, query.get('clear_all_sessions') === 'true');
    if (path === '/web_session_timeout' && method === 'GET') return { status: 200, body: Math.floor(this.tokenTtlMs / 1000) };
    const found = findRoute(method, path);
    if (found === 'methodNotAllowed') return error(405, 'Method Not Allowed');
    if (!found) return error(404, `Not found: /api/v0${path}`);
    const reply = found.route.handle({ world: this.world, user, params: found.params, query, flavor: this.o.flavor ?? '2.9' });
    if (found.route.endpoint === 'detail' && reply.status === 200) return { status: 200, body: { ...(reply.body as object), ...this.detailPatches.get(found.params[0]!) } };
    return reply;
  }

  private route(req: IncomingMessage, method: string, path: string, query: URLSearchParams, body: string): Reply {
    if (path === '/system_information' && method === 'GET') return { status: 200, body: SYSTEM_INFORMATION };
    if ((path === '/authenticate' || path === '/auth_extended') && method === 'POST') return this.login(path, body);
    return this.authed(req, method, path, query);
  }

  private endpoint(method: string, path: string): string {
    if (path === '/system_information') return 'system';
    if (path === '/authenticate' || path === '/auth_extended') return 'auth';
    return endpointOf(method, path);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    try {
      const url = new URL(req.url ?? '/', 'https://sim');
      const full = url.pathname.replace(/\/+$/, '');
      const method = req.method ?? 'GET';
      const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? await this.readBody(req) : '';
      if (!full.startsWith('/api/v0/')) return this.send(res, error(404, `Not found: ${full}`));
      const path = full.slice('/api/v0'.length);
      const endpoint = this.endpoint(method, path);
      if (endpoint === 'detail') this.stats.detailRequests++;
      await sleep(this.faults.latencyFor(endpoint));
      const labId = /^\/labs\/([^/]+)/.exec(path)?.[1];
      if (this.applyFault(this.faults.take({ endpoint, server: this.id, lab: labId && decodeURIComponent(labId) }), req, res)) return;
      this.send(res, this.route(req, method, path, url.searchParams, body));
    } catch (e) {
      if (!res.headersSent) this.send(res, error(500, (e as Error).message));
      else res.destroy();
    }
  }
}
