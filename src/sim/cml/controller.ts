// A simulated CML 2.9 controller: the API v0 endpoints labops uses, with the reference bodies and the
// ErrorResponse shape {code, description}, self-signed TLS, expiring tokens, labs that change and
// vanish, and injectable failures (HTML pages, hung requests, 500s, 404s, empty lists, bad details).
import https from 'node:https';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export type LabState = string;

export interface SimLab {
  id: string;
  created: string;
  modified: string;
  lab_title: string;
  lab_description: string;
  lab_notes: string;
  owner: string;
  owner_username: string;
  owner_fullname: string;
  state: LabState;
  node_count: number;
  link_count: number;
  groups: { id: string; permission: 'read_only' | 'read_write'; name?: string }[];
}

export interface SimUser {
  id: string;
  username: string;
  password: string;
  fullname: string;
  admin: boolean;
}

/** expire-token: every issued token expires at this request, which is answered 401 */
export type FailureKind = 'html' | 'timeout' | '500' | '404' | 'empty-list' | 'expire-token';
export type FailureTarget = 'auth' | 'list' | 'detail' | 'system' | 'any';

export interface Failure {
  target: FailureTarget;
  kind: FailureKind;
  /** only this lab's detail */
  labId?: string;
  /** how many requests it applies to; unlimited when absent */
  times?: number;
}

export interface SimCmlOptions {
  id: string;
  address?: string;
  /** 0 picks a free port */
  port?: number;
  tls: { key: string; cert: string };
  labs?: number;
  /** '2.9' sends owner_fullname and effective_permissions; 'older' omits them like the 2022 test data */
  flavor?: '2.9' | 'older';
  tokenTtlMs?: number;
  /** extra delay per API request, to stand in for a controller's processing time */
  latencyMs?: number;
  /** when set, evolve() runs on this interval */
  changeEveryMs?: number;
  users?: Omit<SimUser, 'id'>[];
  now?: () => number;
  seed?: number;
}

const STATES = ['DEFINED_ON_CORE', 'STOPPED', 'STARTED'];
const TOPICS = ['OSPF single-area', 'BGP peering', 'IOSv feature tests', 'CSR 1000v', 'SD-WAN', 'NAT static', 'HSRP', 'DHCP relay', 'VXLAN EVPN', 'MPLS L3VPN'];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** CML writes `2021-02-28T07:33:47+00:00`. */
const cmlTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}+00:00`;

export class SimCmlController {
  readonly id: string;
  readonly users: SimUser[];
  readonly labs = new Map<string, SimLab>();
  readonly failures: Failure[] = [];
  /** per-lab body patches served as-is, e.g. {node_count: 'seven'} */
  readonly detailPatches = new Map<string, Record<string, unknown>>();
  /** `resumed`: connections that resumed a TLS session (no certificate exchange) */
  stats = { connections: 0, resumed: 0, requests: 0, logins: 0, unauthorized: 0, detailRequests: 0 };
  private readonly server: https.Server;
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();
  private readonly tokens = new Map<string, { user: SimUser; exp: number }>();
  private readonly secret = randomBytes(32);
  private readonly rnd: () => number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private labCounter = 0;
  port = 0;
  readonly address: string;

  constructor(private readonly o: SimCmlOptions) {
    this.id = o.id;
    this.address = o.address ?? '127.0.0.1';
    this.now = o.now ?? Date.now;
    this.rnd = mulberry32(o.seed ?? [...o.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
    this.users = (o.users ?? [{ username: 'admin', password: 'admin-pw', fullname: 'Dr. Super User', admin: true }, { username: 'jdoe', password: 'jdoe-pw', fullname: 'Jane Doe', admin: false }]).map(
      (u) => ({ ...u, id: randomUUID() }),
    );
    for (let i = 0; i < (o.labs ?? 0); i++) this.addLab();
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

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port ?? 0, this.address, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    if (this.o.changeEveryMs) {
      this.timer = setInterval(() => this.evolve(), this.o.changeEveryMs);
      this.timer.unref();
    }
    return this;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const r of this.hung) r.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- lab world ----

  addLab(over: Partial<SimLab> = {}): SimLab {
    this.labCounter++;
    const owner = this.users[this.labCounter % this.users.length]!;
    const created = cmlTime(this.now() - Math.floor(this.rnd() * 90 * 86_400_000));
    const nodes = 1 + Math.floor(this.rnd() * 20);
    const lab: SimLab = {
      id: randomUUID(),
      created,
      modified: created,
      lab_title: `${TOPICS[this.labCounter % TOPICS.length]} ${String(this.labCounter).padStart(3, '0')}`,
      lab_description: `Simulated lab ${this.labCounter} on ${this.id}`,
      lab_notes: '',
      owner: owner.id,
      owner_username: owner.username,
      owner_fullname: owner.fullname,
      state: STATES[Math.floor(this.rnd() * STATES.length)]!,
      node_count: nodes,
      link_count: Math.max(0, nodes - 1 + Math.floor(this.rnd() * 3)),
      groups: [],
      ...over,
    };
    this.labs.set(lab.id, lab);
    return lab;
  }

  updateLab(id: string, patch: Partial<SimLab>): void {
    const lab = this.labs.get(id);
    if (!lab) throw new Error(`no lab ${id}`);
    Object.assign(lab, patch, { modified: cmlTime(this.now()) });
  }

  deleteLab(id: string): void {
    this.labs.delete(id);
  }

  /** One step of a living controller: some labs change state, title or size; one may vanish or appear. */
  evolve(): void {
    for (const lab of this.labs.values()) {
      const r = this.rnd();
      if (r < 0.1) this.updateLab(lab.id, { state: STATES[(STATES.indexOf(lab.state) + 1) % STATES.length]! });
      else if (r < 0.13) this.updateLab(lab.id, { lab_title: `${lab.lab_title.replace(/ \(v\d+\)$/, '')} (v${Math.floor(this.rnd() * 9) + 2})` });
      else if (r < 0.16) this.updateLab(lab.id, { node_count: lab.node_count + 1, link_count: lab.link_count + 1 });
    }
    const r = this.rnd();
    if (r < 0.3 && this.labs.size > 1) this.deleteLab([...this.labs.keys()][Math.floor(this.rnd() * this.labs.size)]!);
    else if (r < 0.6) this.addLab();
  }

  /** Invalidates every issued token, as an expiry would. */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.exp = 0;
  }

  inject(f: Failure): void {
    this.failures.push(f);
  }

  // ---- HTTP ----

  private takeFailure(target: FailureTarget, labId?: string): Failure | undefined {
    const i = this.failures.findIndex((f) => (f.target === target || f.target === 'any') && (!f.labId || f.labId === labId));
    if (i < 0) return undefined;
    const f = this.failures[i]!;
    if (f.times !== undefined && --f.times <= 0) this.failures.splice(i, 1);
    return f;
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private error(res: ServerResponse, status: number, description: string): void {
    this.send(res, status, { code: status, description });
  }

  /** Applies an injected failure; true when the response was taken care of. */
  private failWith(res: ServerResponse, f: Failure | undefined): boolean {
    if (!f) return false;
    switch (f.kind) {
      case 'html': {
        const page = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>';
        res.writeHead(502, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
        return true;
      }
      case 'timeout':
        this.hung.add(res);
        res.on('close', () => this.hung.delete(res));
        return true;
      case '500':
        this.error(res, 500, 'Internal Server Error');
        return true;
      case '404':
        this.error(res, 404, 'Not found');
        return true;
      case 'expire-token':
        this.expireTokens();
        this.stats.unauthorized++;
        this.error(res, 401, 'Unauthorized: the token is missing, invalid or expired');
        return true;
      default:
        return false;
    }
  }

  private sign(user: SimUser, exp: number): string {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64({ iss: 'com.cisco.virl', sub: user.id, iat: Math.floor(this.now() / 1000), exp: Math.floor(exp / 1000), jti: randomUUID() })}`;
    return `${head}.${createHmac('sha256', this.secret).update(head).digest('base64url')}`;
  }

  private authorize(req: IncomingMessage): SimUser | undefined {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const t = m ? this.tokens.get(m[1]!) : undefined;
    if (!t || t.exp <= this.now()) return undefined;
    return t.user;
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    return Buffer.concat(parts).toString('utf8');
  }

  private labBody(lab: SimLab, user: SimUser): Record<string, unknown> {
    const body: Record<string, unknown> = { ...lab };
    if (this.o.flavor === 'older') {
      delete body.owner_fullname;
    } else {
      body.effective_permissions = user.admin || lab.owner === user.id ? ['lab_admin', 'lab_edit', 'lab_exec', 'lab_view'] : ['lab_view'];
    }
    return { ...body, ...this.detailPatches.get(lab.id) };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    try {
      const url = new URL(req.url ?? '/', 'https://sim');
      const path = url.pathname.replace(/\/+$/, '');
      const method = req.method ?? 'GET';
      const body = method === 'POST' || method === 'PUT' ? await this.readBody(req) : '';
      if (this.o.latencyMs) await new Promise((r) => setTimeout(r, this.o.latencyMs));

      if (path === '/api/v0/system_information' && method === 'GET') {
        if (this.failWith(res, this.takeFailure('system'))) return;
        return this.send(res, 200, { version: '2.9.0', ready: true, allow_ssh_pubkey_auth: false, oui: '52:54:00:00:00:00' });
      }
      if ((path === '/api/v0/authenticate' || path === '/api/v0/auth_extended') && method === 'POST') {
        if (this.failWith(res, this.takeFailure('auth'))) return;
        let creds: { username?: unknown; password?: unknown };
        try {
          creds = JSON.parse(body) as typeof creds;
        } catch {
          return this.error(res, 400, 'Invalid JSON in request body');
        }
        if (typeof creds?.username !== 'string' || typeof creds.password !== 'string' || creds.username.length < 1 || creds.username.length > 32) {
          return this.error(res, 422, 'Request validation failed: username and password are required');
        }
        const user = this.users.find((u) => u.username === creds.username && u.password === creds.password);
        if (!user) return this.error(res, 403, 'Authentication failed!');
        const exp = this.now() + (this.o.tokenTtlMs ?? 86_400_000);
        const token = this.sign(user, exp);
        this.tokens.set(token, { user, exp });
        this.stats.logins++;
        if (path === '/api/v0/authenticate') return this.send(res, 200, token);
        return this.send(res, 200, { username: user.username, id: user.id, token, admin: user.admin, error: null });
      }
      if (!path.startsWith('/api/v0/')) return this.error(res, 404, `Not found: ${path}`);

      const user = this.authorize(req);
      if (!user) {
        this.stats.unauthorized++;
        return this.error(res, 401, 'Unauthorized: the token is missing, invalid or expired');
      }
      if (path === '/api/v0/authok' && method === 'GET') return this.send(res, 200, 'OK');
      if (path === '/api/v0/logout' && method === 'DELETE') {
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        if (url.searchParams.get('clear_all_sessions') === 'true') {
          for (const [t, v] of this.tokens) if (v.user === user) this.tokens.delete(t);
        } else if (m) {
          this.tokens.delete(m[1]!);
        }
        return this.send(res, 200, true);
      }
      if (path === '/api/v0/web_session_timeout' && method === 'GET') return this.send(res, 200, Math.floor((this.o.tokenTtlMs ?? 86_400_000) / 1000));
      if (path === '/api/v0/labs' && method === 'GET') {
        const f = this.takeFailure('list');
        if (f?.kind === 'empty-list') return this.send(res, 200, []);
        if (this.failWith(res, f)) return;
        const showAll = url.searchParams.get('show_all') === 'true';
        const ids = [...this.labs.values()].filter((l) => l.owner === user.id || (showAll && user.admin)).map((l) => l.id);
        return this.send(res, 200, ids);
      }
      const m = /^\/api\/v0\/labs\/([^/]+)(?:\/(state|start|stop|wipe))?$/.exec(path);
      if (m) {
        const id = decodeURIComponent(m[1]!);
        const action = m[2];
        if (!action && method === 'GET') {
          this.stats.detailRequests++;
          if (this.failWith(res, this.takeFailure('detail', id))) return;
        }
        const lab = this.labs.get(id);
        if (!lab || (!user.admin && lab.owner !== user.id)) return this.error(res, 404, `Lab not found: ${id}`);
        if (!action && method === 'GET') return this.send(res, 200, this.labBody(lab, user));
        if (!action && method === 'DELETE') {
          this.labs.delete(id);
          res.writeHead(204).end();
          return;
        }
        if (action === 'state' && method === 'GET') return this.send(res, 200, lab.state);
        if (method === 'PUT' && action === 'start') {
          this.updateLab(id, { state: 'STARTED' });
          res.writeHead(204).end();
          return;
        }
        if (method === 'PUT' && action === 'stop') {
          this.updateLab(id, { state: 'STOPPED' });
          res.writeHead(204).end();
          return;
        }
        if (method === 'PUT' && action === 'wipe') {
          if (lab.state === 'STARTED') return this.error(res, 400, 'Lab must be stopped before it can be wiped');
          this.updateLab(id, { state: 'DEFINED_ON_CORE' });
          res.writeHead(204).end();
          return;
        }
        return this.error(res, 405, 'Method Not Allowed');
      }
      return this.error(res, 404, `Not found: ${path}`);
    } catch (e) {
      if (!res.headersSent) this.error(res, 500, (e as Error).message);
      else res.destroy();
    }
  }
}
