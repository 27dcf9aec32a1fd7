// The LINBO Docker API as the DC worker sees it (NOTES §3.2-3.3): the three internal endpoints and
// POST /internal/macct-job under /api/v1/internal, with their exact status codes and bodies; an
// in-memory `operations` store shaped like the Prisma model; stream messages exactly as
// macct.service.js / provisioning.service.js write them (slim provision payloads, dedup, the retry
// handler that re-queues or moves to the DLQ). Faults and latency come from a FaultPlan (linbo.get, linbo.status,
// linbo.retry, linbo.macct, linbo.health): status codes, HTML pages, cut-off bodies, hangs, resets, and `late`
// (the change is made, its answer held: a lost answer).
// It also records every status PATCH per operation, so tests can check "reported exactly once".
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DLQ_STREAM, JOB_GROUP, JOB_STATUSES, JOB_STREAM } from '../../domain/dc-jobs.js';
import { FaultPlan, HungResponses, applyHttpFault, sleep, truncated, type FaultRule } from '../faults.js';

export interface SimOperation {
  id: string;
  type: string;
  targetHosts: string[];
  targetHost: string | null;
  school: string;
  commands: string[];
  options: Record<string, unknown>;
  status: string;
  progress: number;
  attempt: number;
  stats: unknown;
  result: unknown;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface SimHost {
  id: string;
  hostname: string;
  mac: string;
  ip: string;
  configName: string;
  room: string;
  provisionStatus: string | null;
  provisionOpId: string | null;
}

export interface StatusPatch {
  at: string;
  body: Record<string, unknown>;
}

export interface LinboApiOptions {
  redisUrl: string;
  internalKey?: string;
  host?: string;
  port?: number;
  /** DC_PROVISIONING_DRYRUN: default true unless exactly "false" */
  provisioningDryRun?: boolean;
  maxRetries?: number;
  now?: () => Date;
  /** faults and latency (`labops sim --fault linbo.…`); a plan of its own when absent */
  faults?: FaultPlan;
  /** fault rules from the start */
  faultRules?: FaultRule[];
}

export interface LinboApi {
  url: string;
  /** API_URL for the worker: <url>/api/v1 */
  apiUrl: string;
  operations: Map<string, SimOperation>;
  hosts: Map<string, SimHost>;
  /** every accepted status PATCH, per operation id */
  patches: Map<string, StatusPatch[]>;
  /** the faults and latency this API applies */
  faults: FaultPlan;
  /** POST /internal/macct-job, in-process */
  queueMacct(host: string, school?: string, extra?: Record<string, unknown>): Promise<{ operationId: string; status: 'queued' | 'already_queued' }>;
  /** what the host CRUD hooks do: create/update/delete → provision_host operation + slim stream entry */
  queueProvision(action: 'create' | 'update' | 'delete', host: Partial<SimHost> & { hostname: string }, o?: { oldHostname?: string; dryRun?: boolean }): Promise<{ operationId: string; status: 'queued' | 'already_queued' }>;
  /** raw XADD to linbo:jobs (bad-input tests) */
  addRaw(fields: Record<string, string>): Promise<string>;
  dlq(): Promise<Record<string, string>[]>;
  deleteOperation(id: string): void;
  readonly requests: number;
  close(): Promise<void>;
}

const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'Operation not found' } };
const UNAUTHORIZED = { error: { code: 'UNAUTHORIZED', message: 'Invalid or missing internal API key' } };
const ACTIVE = new Set(['pending', 'running', 'retrying']);

/** Responses whose JSON body goes out cut in half (a `malformed` fault). */
const MALFORMED = new WeakSet<ServerResponse>();

function send(res: ServerResponse, status: number, body: unknown): void {
  const full = JSON.stringify(body);
  const text = MALFORMED.has(res) ? truncated(full) : full;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const routeError = (method: string | undefined, path: string) => ({ error: { code: 'NOT_FOUND', message: `Route ${method} ${path} not found` } });
const INTERNAL = { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } };

/** The API's state and routes; startLinboApi puts it on a port. */
class SimLinboApi {
  readonly operations = new Map<string, SimOperation>();
  readonly hosts = new Map<string, SimHost>();
  readonly patches = new Map<string, StatusPatch[]>();
  readonly hung = new HungResponses();
  requests = 0;
  private readonly key: string;
  private readonly now: () => Date;
  private readonly maxRetries: number;
  private readonly dryRun: boolean;

  constructor(
    readonly redis: Redis,
    readonly faults: FaultPlan,
    o: LinboApiOptions,
  ) {
    this.key = o.internalKey ?? 'linbo-internal-secret';
    this.now = o.now ?? (() => new Date());
    this.maxRetries = o.maxRetries ?? 3;
    this.dryRun = o.provisioningDryRun ?? true;
  }

  private iso(): string {
    return this.now().toISOString();
  }

  xadd(stream: string, fields: Record<string, string>): Promise<string> {
    return this.redis.xadd(stream, '*', ...Object.entries(fields).flat()) as Promise<string>;
  }

  private slimPayload(op: SimOperation): Record<string, string> {
    return op.type === 'macct_repair'
      ? { type: 'macct_repair', operation_id: op.id, host: op.targetHost ?? '', school: op.school, attempt: String(op.attempt), created_at: op.createdAt }
      : { type: 'provision_host', operation_id: op.id, action: String(op.options.action), school: op.school, attempt: String(op.attempt), created_at: op.createdAt };
  }

  private newOperation(type: string, targetHost: string, school: string, options: Record<string, unknown>): SimOperation {
    const op: SimOperation = {
      id: randomUUID(),
      type,
      targetHosts: [],
      targetHost,
      school,
      commands: [type],
      options,
      status: 'pending',
      progress: 0,
      attempt: 0,
      stats: null,
      result: null,
      error: null,
      createdAt: this.iso(),
      startedAt: null,
      completedAt: null,
    };
    this.operations.set(op.id, op);
    return op;
  }

  async queueMacct(host: string, school = 'default-school', extra: Record<string, unknown> = {}) {
    for (const op of this.operations.values()) {
      if (op.type === 'macct_repair' && op.targetHost === host && ACTIVE.has(op.status)) return { operationId: op.id, status: 'already_queued' as const };
    }
    const op = this.newOperation('macct_repair', host, school, { triggeredBy: 'rsync-hook', ...extra });
    await this.xadd(JOB_STREAM, this.slimPayload(op));
    return { operationId: op.id, status: 'queued' as const };
  }

  private upsertHost(h: Partial<SimHost> & { hostname: string }, oldHostname?: string): SimHost {
    let host = [...this.hosts.values()].find((x) => x.id === h.id || x.hostname === (oldHostname ?? h.hostname));
    if (!host) {
      host = { id: h.id ?? randomUUID(), hostname: h.hostname, mac: '', ip: '', configName: '', room: '', provisionStatus: null, provisionOpId: null };
      this.hosts.set(host.id, host);
    }
    Object.assign(host, { ...h, id: host.id });
    if (h.mac) host.mac = h.mac.toLowerCase().replace(/-/g, ':');
    return host;
  }

  async queueProvision(action: 'create' | 'update' | 'delete', h: Partial<SimHost> & { hostname: string }, po: { oldHostname?: string; dryRun?: boolean } = {}) {
    const host = this.upsertHost(h, po.oldHostname);
    for (const op of this.operations.values()) {
      const opt = op.options as { action?: string; hostId?: string };
      if (op.type === 'provision_host' && ACTIVE.has(op.status) && opt.action === action && (opt.hostId ? opt.hostId === host.id : op.targetHost === host.hostname)) {
        return { operationId: op.id, status: 'already_queued' as const };
      }
    }
    const options = {
      action,
      hostname: host.hostname,
      mac: host.mac,
      ip: host.ip || '',
      configName: host.configName || '',
      csvCol0: host.room || '',
      oldHostname: po.oldHostname ?? null,
      hostId: host.id,
      pxeFlag: host.configName ? 1 : 0,
      dryRun: po.dryRun ?? this.dryRun,
      triggeredBy: 'api',
    };
    const op = this.newOperation('provision_host', host.hostname, 'default-school', options);
    host.provisionStatus = 'pending';
    host.provisionOpId = op.id;
    if (action === 'delete') this.hosts.delete(host.id);
    await this.xadd(JOB_STREAM, this.slimPayload(op));
    return { operationId: op.id, status: 'queued' as const };
  }

  /** A `late` fault: the change is made; its answer waits. */
  private async lateAnswer(endpoint: 'status' | 'retry', status?: string): Promise<void> {
    const f = this.faults.take({ endpoint, status }, (a) => a.kind === 'late');
    if (f?.kind === 'late') await sleep(f.ms);
  }

  /** The request kind faults and latency name. */
  private endpointOf(method: string | undefined, path: string): string {
    if (path === '/health') return 'health';
    const sub = path.slice('/api/v1/internal'.length);
    if (method === 'POST' && sub === '/macct-job') return 'macct';
    const m = /^\/operations\/[^/]+(\/status|\/retry)?$/.exec(sub);
    if (!m) return 'any';
    return m[1] === '/status' ? 'status' : m[1] === '/retry' ? 'retry' : 'get';
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const endpoint = this.endpointOf(req.method, path);
    await sleep(this.faults.latencyFor(endpoint));
    const fault = this.faults.take({ endpoint }, (a) => a.kind !== 'late');
    const sendStatus = (status: number) => send(res, status, status >= 500 ? INTERNAL : { error: { code: 'ERROR', message: `HTTP ${status}` } });
    if (applyHttpFault(fault, req, res, { hung: this.hung, sendStatus, markMalformed: () => MALFORMED.add(res) })) return;
    if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'healthy', timestamp: this.iso(), services: { api: 'up', redis: this.redis.status === 'ready' ? 'up' : 'down' } });
    if (!path.startsWith('/api/v1/internal/')) return send(res, 404, routeError(req.method, path));
    if (req.headers['x-internal-key'] !== this.key) return send(res, 401, UNAUTHORIZED);
    const sub = path.slice('/api/v1/internal'.length);
    if (req.method === 'POST' && sub === '/macct-job') return this.macctJob(req, res);
    const m = /^\/operations\/([^/]+)(\/status|\/retry)?$/.exec(sub);
    if (!m) return send(res, 404, routeError(req.method, path));
    const op = this.operations.get(decodeURIComponent(m[1]!));
    if (req.method === 'GET' && endpoint === 'get') return op ? send(res, 200, { data: op }) : send(res, 404, NOT_FOUND);
    if (req.method === 'PATCH' && endpoint === 'status') return this.patchStatus(req, res, op);
    if (req.method === 'POST' && endpoint === 'retry') return op ? this.retry(res, op) : send(res, 404, NOT_FOUND);
    return send(res, 404, routeError(req.method, path));
  }

  private async macctJob(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (!body.host || typeof body.host !== 'string') return send(res, 400, { error: { code: 'VALIDATION_ERROR', message: 'host is required' } });
    const extra = typeof body.hwclass === 'string' ? { hwclass: body.hwclass } : {};
    const r = await this.queueMacct(body.host, typeof body.school === 'string' && body.school ? body.school : 'default-school', extra);
    return r.status === 'queued'
      ? send(res, 201, { data: { operationId: r.operationId, status: 'queued', message: 'Job queued successfully' } })
      : send(res, 200, { data: { operationId: r.operationId, status: 'already_queued', message: 'Job already queued' } });
  }

  private async patchStatus(req: IncomingMessage, res: ServerResponse, op: SimOperation | undefined): Promise<void> {
    const body = await readJson(req);
    if (body.status === undefined || body.status === null || body.status === '') return send(res, 400, { error: { code: 'VALIDATION_ERROR', message: 'status is required' } });
    if (!(JOB_STATUSES as readonly unknown[]).includes(body.status)) {
      return send(res, 400, { error: { code: 'VALIDATION_ERROR', message: `Invalid status. Must be one of: ${JOB_STATUSES.join(', ')}` } });
    }
    if (!op) return send(res, 404, NOT_FOUND);
    const status = body.status as string;
    op.status = status;
    if (status === 'running') op.startedAt = this.iso();
    if (status === 'completed' || status === 'failed') op.completedAt = this.iso();
    if ('result' in body) op.result = body.result;
    if ('error' in body) op.error = body.error as string;
    if ('attempt' in body) op.attempt = Number(body.attempt);
    const list = this.patches.get(op.id) ?? [];
    list.push({ at: this.iso(), body });
    this.patches.set(op.id, list);
    await this.lateAnswer('status', status);
    this.provisionStatus(op, status, body);
    return send(res, 200, { data: { operationId: op.id, status, message: 'Status updated successfully' } });
  }

  /** A provision_host operation's status shows on its host. */
  private provisionStatus(op: SimOperation, status: string, body: Record<string, unknown>): void {
    if (op.type !== 'provision_host') return;
    const hostId = (op.options as { hostId?: string }).hostId;
    const host = hostId ? this.hosts.get(hostId) : undefined;
    if (!host) return;
    host.provisionOpId = op.id;
    if (status === 'running') host.provisionStatus = 'running';
    else if (status === 'completed') host.provisionStatus = (body.result as { dryRun?: boolean } | undefined)?.dryRun === true ? 'pending' : 'synced';
    else if (status === 'failed') host.provisionStatus = 'failed';
  }

  private async retry(res: ServerResponse, op: SimOperation): Promise<void> {
    if (op.attempt >= this.maxRetries) {
      await this.xadd(DLQ_STREAM, { type: op.type, operation_id: op.id, host: op.targetHost ?? '', school: op.school, attempt: String(op.attempt), last_error: op.error || 'Unknown error', failed_at: this.iso() });
      op.status = 'failed';
      op.error = `Max retries (${this.maxRetries}) exceeded. Moved to DLQ.`;
      op.completedAt = this.iso();
      return send(res, 400, { error: { code: 'RETRY_FAILED', message: 'Max retries exceeded, moved to DLQ' } });
    }
    op.status = 'retrying';
    op.attempt += 1;
    op.error = null;
    await this.xadd(JOB_STREAM, this.slimPayload(op));
    await this.lateAnswer('retry');
    return send(res, 200, { data: { operationId: op.id, attempt: op.attempt, message: 'Job re-queued for retry' } });
  }
}

export async function startLinboApi(o: LinboApiOptions): Promise<LinboApi> {
  const redis = new Redis(o.redisUrl, { protocol: 2, maxRetriesPerRequest: null, retryStrategy: (t) => Math.min(t * 500, 5000) });
  redis.on('error', () => {}); // reconnects by itself, like the API's ioredis client
  try {
    await redis.xgroup('CREATE', JOB_STREAM, JOB_GROUP, '$', 'MKSTREAM');
  } catch (e) {
    if (!/BUSYGROUP/.test((e as Error).message)) throw e;
  }
  const faults = o.faults ?? new FaultPlan('linbo');
  if (o.faultRules) faults.setFaults(o.faultRules);
  const sim = new SimLinboApi(redis, faults, o);
  const server: Server = createServer((req, res) => {
    sim.handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL_ERROR', message: (e as Error).message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    url,
    apiUrl: `${url}/api/v1`,
    operations: sim.operations,
    hosts: sim.hosts,
    patches: sim.patches,
    faults,
    queueMacct: (host, school, extra) => sim.queueMacct(host, school, extra),
    queueProvision: (action, host, po) => sim.queueProvision(action, host, po),
    addRaw: (fields) => sim.xadd(JOB_STREAM, fields),
    async dlq() {
      const entries = (await redis.xrange(DLQ_STREAM, '-', '+')) as [string, string[]][];
      return entries.map(([, flat]) => {
        const out: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
        return out;
      });
    },
    deleteOperation: (id) => void sim.operations.delete(id),
    get requests() {
      return sim.requests;
    },
    async close() {
      sim.hung.release();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      redis.disconnect();
    },
  };
}
