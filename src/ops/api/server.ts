// The ops-worker HTTP API on node:http: bodies read up to a size limit, answers as Flask's jsonify writes them
// (compact, sorted keys, trailing newline), one log line per request (never a body or a header value).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../../domain/errors.js';
import { flaskJsonify } from '../../domain/reservations/wire.js';
import { handleApi, type OpsApiDeps } from './routes.js';

export interface OpsApiOptions extends OpsApiDeps {
  /** address:port, [v6]:port or :port (all interfaces); port 0 picks a free one */
  listen: string;
  /** largest request body in bytes */
  maxBody: number;
  /** labops daemon: the status page (src/ops/status-page); true when it answered, false for other paths */
  page?(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export interface OpsApi {
  address: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen '${listen}': expected address:port, e.g. 127.0.0.1:8081`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

class TooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startOpsApi(o: OpsApiOptions): Promise<OpsApi> {
  const { host, port } = parseListen(o.listen);
  const server: Server = createServer(async (req, res) => {
    const started = Date.now();
    const send = (status: number, body: unknown) => {
      const text = flaskJsonify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
      o.log?.(status >= 500 ? 'error' : 'info', `${req.method} ${(req.url ?? '').split('?')[0]} ${status} ${Date.now() - started}ms`);
    };
    let body: Buffer;
    try {
      body = await readBody(req, o.maxBody);
    } catch (e) {
      if (e instanceof TooLarge) {
        res.setHeader('Connection', 'close');
        send(413, { error: `Request body too large (limit ${o.maxBody} bytes)` });
        req.destroy();
        return;
      }
      if (!res.headersSent) send(400, { error: 'Could not read the request body' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (o.page && (await o.page(req, res, url))) return;
    if (o.metrics && url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      const text = await o.metrics().catch((e: Error) => `# error: ${e.message}\n`);
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    const r = await handleApi({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body }, o);
    send(r.status, r.body);
  });
  // Long reservation steps (a 90 s guard) must not be cut by the server's own timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL' ? new UsageError(`cannot listen on ${o.listen}: ${e.code}`) : e),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: addr.address,
    port: addr.port,
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
