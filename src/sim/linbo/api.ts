// The LINBO Docker API as the DC worker sees it (NOTES §3.2-3.3): the three internal endpoints and
// POST /internal/macct-job under /api/v1/internal, with their exact status codes and bodies; an
// in-memory `operations` store shaped like the Prisma model; stream messages exactly as
// macct.service.js / provisioning.service.js write them (slim provision payloads, dedup, the retry
// handler that re-queues or moves to the DLQ). Faults can be injected (500, slow answers) for tests.
// It also records every status PATCH per operation, so tests can check "reported exactly once".
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DLQ_STREAM, JOB_GROUP, JOB_STATUSES, JOB_STREAM } from '../../domain/dc-jobs.js';

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
}

/** error500: answer 500, change nothing; timeout: hold the request, then 500; late-answer: apply the change, then hold the answer (a slow commit, a proxy) */
export type FaultKind = 'error500' | 'timeout' | 'late-answer';
export interface Fault {
  kind: FaultKind;
  /** which route: 'get' | 'status' | 'retry' | 'any' */
  route: 'get' | 'status' | 'retry' | 'any';
  /** how many requests it hits */
  times: number;
  /** for 'timeout' and 'late-answer': how long the answer is held */
  delayMs?: number;
  /** for 'late-answer' on the status route: only PATCHes to this status */
  status?: string;
}

export interface LinboApi {
  url: string;
  /** API_URL for the worker: <url>/api/v1 */
  apiUrl: string;
  operations: Map<string, SimOperation>;
  hosts: Map<string, SimHost>;
  /** every accepted status PATCH, per operation id */
  patches: Map<string, StatusPatch[]>;
  /** POST /internal/macct-job, in-process */
  queueMacct(host: string, school?: string, extra?: Record<string, unknown>): Promise<{ operationId: string; status: 'queued' | 'already_queued' }>;
  /** what the host CRUD hooks do: create/update/delete → provision_host operation + slim stream entry */
  queueProvision(action: 'create' | 'update' | 'delete', host: Partial<SimHost> & { hostname: string }, o?: { oldHostname?: string; dryRun?: boolean }): Promise<{ operationId: string; status: 'queued' | 'already_queued' }>;
  /** raw XADD to linbo:jobs (bad-input tests) */
  addRaw(fields: Record<string, string>): Promise<string>;
  dlq(): Promise<Record<string, string>[]>;
  injectFault(f: Fault): void;
  clearFaults(): void;
  deleteOperation(id: string): void;
  requests: number;
  close(): Promise<void>;
}

const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'Operation not found' } };
const UNAUTHORIZED = { error: { code: 'UNAUTHORIZED', message: 'Invalid or missing internal API key' } };
const ACTIVE = new Set(['pending', 'running', 'retrying']);

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
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

export async function startLinboApi(o: LinboApiOptions): Promise<LinboApi> {
  const key = o.internalKey ?? 'linbo-internal-secret';
  const now = o.now ?? (() => new Date());
  const maxRetries = o.maxRetries ?? 3;
  const dryRun = o.provisioningDryRun ?? true;
  const redis = new Redis(o.redisUrl, { protocol: 2, maxRetriesPerRequest: null, retryStrategy: (t) => Math.min(t * 500, 5000) });
  redis.on('error', () => {}); // reconnects by itself, like the API's ioredis client
  try {
    await redis.xgroup('CREATE', JOB_STREAM, JOB_GROUP, '$', 'MKSTREAM');
  } catch (e) {
    if (!/BUSYGROUP/.test((e as Error).message)) throw e;
  }
  const operations = new Map<string, SimOperation>();
  const hosts = new Map<string, SimHost>();
  const patches = new Map<string, StatusPatch[]>();
  const faults: Fault[] = [];
  const iso = () => now().toISOString();

  const xadd = (stream: string, fields: Record<string, string>) => redis.xadd(stream, '*', ...Object.entries(fields).flat()) as Promise<string>;
  const slimPayload = (op: SimOperation): Record<string, string> =>
    op.type === 'macct_repair'
      ? { type: 'macct_repair', operation_id: op.id, host: op.targetHost ?? '', school: op.school, attempt: String(op.attempt), created_at: op.createdAt }
      : { type: 'provision_host', operation_id: op.id, action: String(op.options.action), school: op.school, attempt: String(op.attempt), created_at: op.createdAt };

  function newOperation(type: string, targetHost: string, school: string, options: Record<string, unknown>): SimOperation {
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
      createdAt: iso(),
      startedAt: null,
      completedAt: null,
    };
    operations.set(op.id, op);
    return op;
  }

  async function queueMacct(host: string, school = 'default-school', extra: Record<string, unknown> = {}) {
    for (const op of operations.values()) {
      if (op.type === 'macct_repair' && op.targetHost === host && ACTIVE.has(op.status)) return { operationId: op.id, status: 'already_queued' as const };
    }
    const op = newOperation('macct_repair', host, school, { triggeredBy: 'rsync-hook', ...extra });
    await xadd(JOB_STREAM, slimPayload(op));
    return { operationId: op.id, status: 'queued' as const };
  }

  async function queueProvision(action: 'create' | 'update' | 'delete', h: Partial<SimHost> & { hostname: string }, po: { oldHostname?: string; dryRun?: boolean } = {}) {
    let host = [...hosts.values()].find((x) => x.id === h.id || x.hostname === (po.oldHostname ?? h.hostname));
    if (!host) {
      host = { id: h.id ?? randomUUID(), hostname: h.hostname, mac: '', ip: '', configName: '', room: '', provisionStatus: null, provisionOpId: null };
      hosts.set(host.id, host);
    }
    Object.assign(host, { ...h, id: host.id });
    if (h.mac) host.mac = h.mac.toLowerCase().replace(/-/g, ':');
    for (const op of operations.values()) {
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
      dryRun: po.dryRun ?? dryRun,
      triggeredBy: 'api',
    };
    const op = newOperation('provision_host', host.hostname, 'default-school', options);
    host.provisionStatus = 'pending';
    host.provisionOpId = op.id;
    if (action === 'delete') hosts.delete(host.id);
    await xadd(JOB_STREAM, slimPayload(op));
    return { operationId: op.id, status: 'queued' as const };
  }

  function takeFault(route: Fault['route'], which: (f: Fault) => boolean = (f) => f.kind !== 'late-answer'): Fault | undefined {
    const i = faults.findIndex((f) => f.times > 0 && (f.route === route || f.route === 'any') && which(f));
    if (i < 0) return undefined;
    const f = faults[i]!;
    f.times--;
    if (f.times <= 0) faults.splice(i, 1);
    return f;
  }

  /** A 'late-answer' fault: the change is made; its answer waits. */
  async function lateAnswer(route: Fault['route'], status?: string): Promise<void> {
    const f = takeFault(route, (x) => x.kind === 'late-answer' && (x.status === undefined || x.status === status));
    if (f) await new Promise((r) => setTimeout(r, f.delayMs ?? 15_000));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    api.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'healthy', timestamp: iso(), services: { api: 'up', redis: redis.status === 'ready' ? 'up' : 'down' } });
    if (!path.startsWith('/api/v1/internal/')) return send(res, 404, { error: { code: 'NOT_FOUND', message: `Route ${req.method} ${path} not found` } });
    if (req.headers['x-internal-key'] !== key) return send(res, 401, UNAUTHORIZED);
    const sub = path.slice('/api/v1/internal'.length);
    const m = /^\/operations\/([^/]+)(\/status|\/retry)?$/.exec(sub);
    const route: Fault['route'] | undefined = m ? (m[2] === '/status' ? 'status' : m[2] === '/retry' ? 'retry' : 'get') : undefined;
    if (route) {
      const f = takeFault(route);
      if (f?.kind === 'timeout') await new Promise((r) => setTimeout(r, f.delayMs ?? 15_000));
      if (f) return send(res, 500, { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
    }
    if (req.method === 'POST' && sub === '/macct-job') {
      const body = await readJson(req);
      if (!body.host || typeof body.host !== 'string') return send(res, 400, { error: { code: 'VALIDATION_ERROR', message: 'host is required' } });
      const extra = typeof body.hwclass === 'string' ? { hwclass: body.hwclass } : {};
      const r = await queueMacct(body.host, typeof body.school === 'string' && body.school ? body.school : 'default-school', extra);
      return r.status === 'queued'
        ? send(res, 201, { data: { operationId: r.operationId, status: 'queued', message: 'Job queued successfully' } })
        : send(res, 200, { data: { operationId: r.operationId, status: 'already_queued', message: 'Job already queued' } });
    }
    if (!m) return send(res, 404, { error: { code: 'NOT_FOUND', message: `Route ${req.method} ${path} not found` } });
    const op = operations.get(decodeURIComponent(m[1]!));
    if (req.method === 'GET' && route === 'get') return op ? send(res, 200, { data: op }) : send(res, 404, NOT_FOUND);
    if (req.method === 'PATCH' && route === 'status') {
      const body = await readJson(req);
      if (body.status === undefined || body.status === null || body.status === '') return send(res, 400, { error: { code: 'VALIDATION_ERROR', message: 'status is required' } });
      if (!(JOB_STATUSES as readonly unknown[]).includes(body.status)) {
        return send(res, 400, { error: { code: 'VALIDATION_ERROR', message: `Invalid status. Must be one of: ${JOB_STATUSES.join(', ')}` } });
      }
      if (!op) return send(res, 404, NOT_FOUND);
      const status = body.status as string;
      op.status = status;
      if (status === 'running') op.startedAt = iso();
      if (status === 'completed' || status === 'failed') op.completedAt = iso();
      if ('result' in body) op.result = body.result;
      if ('error' in body) op.error = body.error as string;
      if ('attempt' in body) op.attempt = Number(body.attempt);
      const list = patches.get(op.id) ?? [];
      list.push({ at: iso(), body });
      patches.set(op.id, list);
      await lateAnswer('status', status);
      if (op.type === 'provision_host') {
        const hostId = (op.options as { hostId?: string }).hostId;
        const host = hostId ? hosts.get(hostId) : undefined;
        if (host) {
          host.provisionOpId = op.id;
          if (status === 'running') host.provisionStatus = 'running';
          else if (status === 'completed') host.provisionStatus = (body.result as { dryRun?: boolean } | undefined)?.dryRun === true ? 'pending' : 'synced';
          else if (status === 'failed') host.provisionStatus = 'failed';
        }
      }
      return send(res, 200, { data: { operationId: op.id, status, message: 'Status updated successfully' } });
    }
    if (req.method === 'POST' && route === 'retry') {
      if (!op) return send(res, 404, NOT_FOUND);
      if (op.attempt >= maxRetries) {
        await xadd(DLQ_STREAM, {
          type: op.type,
          operation_id: op.id,
          host: op.targetHost ?? '',
          school: op.school,
          attempt: String(op.attempt),
          last_error: op.error || 'Unknown error',
          failed_at: iso(),
        });
        op.status = 'failed';
        op.error = `Max retries (${maxRetries}) exceeded. Moved to DLQ.`;
        op.completedAt = iso();
        return send(res, 400, { error: { code: 'RETRY_FAILED', message: 'Max retries exceeded, moved to DLQ' } });
      }
      op.status = 'retrying';
      op.attempt += 1;
      op.error = null;
      await xadd(JOB_STREAM, slimPayload(op));
      await lateAnswer('retry');
      return send(res, 200, { data: { operationId: op.id, attempt: op.attempt, message: 'Job re-queued for retry' } });
    }
    return send(res, 404, { error: { code: 'NOT_FOUND', message: `Route ${req.method} ${path} not found` } });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL_ERROR', message: (e as Error).message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const api: LinboApi = {
    url,
    apiUrl: `${url}/api/v1`,
    operations,
    hosts,
    patches,
    queueMacct,
    queueProvision,
    addRaw: (fields) => xadd(JOB_STREAM, fields),
    async dlq() {
      const entries = (await redis.xrange(DLQ_STREAM, '-', '+')) as [string, string[]][];
      return entries.map(([, flat]) => {
        const out: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
        return out;
      });
    },
    injectFault: (f) => void faults.push({ ...f }),
    clearFaults: () => void faults.splice(0),
    deleteOperation: (id) => void operations.delete(id),
    requests: 0,
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      redis.disconnect();
    },
  };
  return api;
}
