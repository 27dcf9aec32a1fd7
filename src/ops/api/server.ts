// The ops-worker HTTP API on node:http, hardened against clients that would hold it open: connections are capped
// in total and per client address (an event stream leaves the count once it is one, with a cap of its own), the
// token is checked from the headers before any body is read, header and body time are bounded, idle keep-alive
// connections are closed. Answers are written as Flask's jsonify writes them (compact, sorted keys, trailing
// newline); one log line per request, never a body or a header value.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { UsageError } from '../../domain/errors.js';
import { flaskJsonify } from '../../domain/reservations/wire.js';
import { isStream, preflight, runRoute } from './routes.js';
import { err, requestIdOf, type ApiResponse, type OpsApiDeps } from './request.js';
import { StreamHub } from './stream.js';
import { pollOne } from './station-routes.js';

export interface ApiLimits {
  /** largest request body in bytes */
  maxBody: number;
  headerTimeoutMs: number;
  /** from the end of the headers to the end of the body */
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
}

export interface OpsApiOptions extends OpsApiDeps {
  host: string;
  /** 0 picks a free one */
  port: number;
  limits: ApiLimits;
  /** labops daemon: the status page (src/ops/status-page); true when it answered, false for other paths */
  page?(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export interface OpsApi {
  address: string;
  port: number;
  url: string;
  /** event streams open now */
  streams(): number;
  close(): Promise<void>;
}

class TooLarge extends Error {}
class TooSlow extends Error {}

/** The body, refused past `max` bytes or when it has not all arrived within `timeoutMs`. */
function readBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.removeAllListeners('data');
      reject(new TooSlow());
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        clearTimeout(timer);
        req.removeAllListeners('data');
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const BUSY = Buffer.from(JSON.stringify({ error: 'Too many connections' }) + '\n');
const BUSY_RESPONSE = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${BUSY.length}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${BUSY}`;

/** Connections open now, in total and per client address; event streams are taken out of the count. */
class ConnectionCaps {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  private readonly counted = new WeakSet<Socket>();
  private readonly over = new WeakSet<Socket>();

  constructor(private readonly limits: ApiLimits) {}

  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ?? '?';
    const mine = this.perClient.get(ip) ?? 0;
    if (this.total >= this.limits.maxConnections || mine >= this.limits.maxConnectionsPerClient) {
      this.over.add(socket);
      return false;
    }
    this.total++;
    this.perClient.set(ip, mine + 1);
    this.counted.add(socket);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /** Over the cap: answered 503 and closed; a request that still arrives on it is not served. */
  refused(socket: Socket): boolean {
    return this.over.has(socket);
  }

  /** The socket no longer counts (closed, or now an event stream). */
  release(socket: Socket): void {
    if (!this.counted.delete(socket)) return;
    const ip = socket.remoteAddress ?? '?';
    this.total--;
    const left = (this.perClient.get(ip) ?? 1) - 1;
    if (left > 0) this.perClient.set(ip, left);
    else this.perClient.delete(ip);
  }
}

/** Answers and closes the connection without reading what the client may still be sending. */
function sendAndClose(res: ServerResponse, send: () => void): void {
  res.setHeader('Connection', 'close');
  send();
  // a little time for the answer to leave before the socket goes, whatever the client keeps sending
  res.once('finish', () => setTimeout(() => res.socket?.destroy(), 200).unref());
}

function answerJson(req: IncomingMessage, res: ServerResponse, r: ApiResponse): void {
  const text = flaskJsonify(r.body);
  res.writeHead(r.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

async function answerMetrics(req: IncomingMessage, res: ServerResponse, metrics: () => Promise<string>): Promise<void> {
  const text = await metrics().catch((e: Error) => `# error: ${e.message}\n`);
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function openStream(o: OpsApiOptions, hub: StreamHub, caps: ConnectionCaps, url: URL, res: ServerResponse): ApiResponse | undefined {
  const name = url.searchParams.get('host')?.trim();
  if (!name) return err(400, 'host is required');
  const host = o.index().find(name);
  if (!host) return err(404, `host '${name}' not found`);
  const events = !/^(0|false|no|off)$/i.test((url.searchParams.get('include_events') ?? 'true').trim());
  if (res.socket) caps.release(res.socket);
  if (!hub.subscribe(host, events, res)) return { status: 503, body: { error: 'Too many event streams' } };
  return undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function requestHandler(o: OpsApiOptions, hub: StreamHub, caps: ConnectionCaps): Handler {
  const handle = route(o, hub, caps);
  return async (req, res) => {
    if (caps.refused(req.socket)) return void req.socket.destroy();
    try {
      await handle(req, res);
    } catch (e) {
      o.log?.('error', `${req.method} ${req.url?.split('?')[0]}: ${(e as Error).message}`);
      if (!res.headersSent) answerJson(req, res, { status: 500, body: { code: 'INTERNAL_ERROR', error: 'Internal server error', requestId: requestIdOf(req.headers) } });
      else res.destroy();
    }
  };
}

function route(o: OpsApiOptions, hub: StreamHub, caps: ConnectionCaps): Handler {
  return async (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const logged = (status: number) => o.log?.(status >= 500 ? 'error' : 'info', `${method} ${url.pathname} ${status} ${Date.now() - started}ms`);
    if (o.metrics && url.pathname === '/metrics' && (method === 'GET' || method === 'HEAD')) return answerMetrics(req, res, o.metrics);
    // the status page checks its own token (header, or the cookie a browser's EventSource sends)
    if (o.page && (await o.page(req, res, url))) return;
    const refused = preflight(method, url.pathname, req.headers, o);
    if (refused) {
      // nothing of the body is read: an unauthenticated or misdirected client cannot hold the connection
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      if (hasBody && !req.complete) sendAndClose(res, () => answerJson(req, res, refused));
      else answerJson(req, res, refused);
      return logged(refused.status);
    }
    if (isStream(url.pathname)) {
      if (method === 'HEAD') return void res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).end();
      const r = openStream(o, hub, caps, url, res);
      if (r) answerJson(req, res, r);
      return logged(r?.status ?? 200);
    }
    let body: Buffer;
    try {
      body = await readBody(req, o.limits.maxBody, o.limits.bodyTimeoutMs);
    } catch (e) {
      const r = e instanceof TooLarge ? err(413, `Request body too large (limit ${o.limits.maxBody} bytes)`) : e instanceof TooSlow ? err(408, 'Request body not received in time') : err(400, 'Could not read the request body');
      if (!res.headersSent) sendAndClose(res, () => answerJson(req, res, r));
      return logged(r.status);
    }
    const r = await runRoute({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body }, o);
    answerJson(req, res, r);
    logged(r.status);
  };
}

function listen(server: Server, o: OpsApiOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL' ? new UsageError(`cannot listen on ${o.host}:${o.port}: ${e.code}`) : e),
    );
    server.listen(o.port, o.host, () => resolve());
  });
}

export async function startOpsApi(o: OpsApiOptions): Promise<OpsApi> {
  const caps = new ConnectionCaps(o.limits);
  const hub = new StreamHub({
    poll: (host, events, signal) => pollOne(o, host, events, signal),
    intervalMs: o.policy.stream.intervalMs,
    keepAliveMs: o.policy.stream.keepAliveMs,
    maxStreams: o.policy.stream.maxStreams,
    requestId: () => requestIdOf({}),
    log: o.log,
  });
  // Node checks the header and request deadlines on this period; the default (30 s) would let a slow client stay
  // up to 30 s past its bound
  const server: Server = createServer({ connectionsCheckingInterval: Math.min(1000, o.limits.headerTimeoutMs) }, requestHandler(o, hub, caps));
  server.headersTimeout = o.limits.headerTimeoutMs;
  // the request (headers and body) must have arrived by then; the answer may take as long as the work does
  server.requestTimeout = o.limits.headerTimeoutMs + o.limits.bodyTimeoutMs;
  server.keepAliveTimeout = o.limits.keepAliveTimeoutMs;
  server.prependListener('connection', (socket: Socket) => {
    if (caps.admit(socket)) return;
    socket.on('error', () => {});
    socket.end(BUSY_RESPONSE);
    setTimeout(() => socket.destroy(), 200).unref();
  });
  await listen(server, o);
  const addr = server.address() as AddressInfo;
  return {
    address: addr.address,
    port: addr.port,
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    streams: () => hub.count,
    close: async () => {
      hub.closeAll();
      // let the streams' final chunks leave before the sockets go
      await new Promise((r) => setImmediate(r));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 100).unref();
      });
    },
  };
}
