// CML REST client (API v0) on node:https with one keep-alive Agent per server: many lab details share a
// few TLS connections instead of one handshake each (the upstream N+1). TLS is verified by default; a CA
// file or an explicit insecure flag are the only ways around it. Node 20's fetch would need undici's
// Agent (not a dependency) to take a CA, so node:https it is.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import { AuthFailed, OperationFailed, Unreachable, type LabopsError } from '../../domain/errors.js';

export interface CmlClientOptions {
  /** controller base URL, e.g. https://cml.example:443 (the /api/v0 prefix is added) */
  url: string;
  username: string;
  password: string;
  /** PEM of the controller certificate or its CA */
  ca?: string | Buffer;
  /** skip certificate verification (explicit opt-in only) */
  insecure?: boolean;
  /** deadline of one request, connect to last byte */
  timeoutMs?: number;
  /** concurrent sockets to this controller */
  maxSockets?: number;
}

export interface SystemInformation {
  version: string;
  ready: boolean;
  allow_ssh_pubkey_auth?: boolean;
  oui?: string | null;
}

interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

/** Why a call failed, for per-server reports and exit codes. */
export type CmlFailure = 'auth' | 'tls' | 'timeout' | 'unreachable' | 'html' | 'http' | 'protocol';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
]);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ETIMEDOUT']);

export const CA_HINT = 'set `ca` for this server in the labops config to the controller certificate or its CA (PEM), or `insecure: true` to skip verification';

function fail(reason: CmlFailure, message: string, extra: { suggestion?: string; status?: number; cause?: unknown } = {}): LabopsError {
  const context = { reason, ...(extra.status === undefined ? {} : { status: extra.status }) };
  const details = { context, suggestion: extra.suggestion, cause: extra.cause };
  if (reason === 'auth' || reason === 'tls') return new AuthFailed(message, details);
  if (reason === 'timeout' || reason === 'unreachable') return new Unreachable(message, details);
  return new OperationFailed(message, details);
}

/** The reason a CML error carries (undefined for anything else). */
export function cmlFailureReason(e: unknown): CmlFailure | undefined {
  const ctx = (e as { context?: { reason?: unknown } } | undefined)?.context;
  return typeof ctx?.reason === 'string' ? (ctx.reason as CmlFailure) : undefined;
}

function describeBody(r: RawResponse): string {
  try {
    const body = JSON.parse(r.text) as { description?: unknown };
    if (body && typeof body.description === 'string') return body.description.slice(0, 200);
  } catch {
    // not the ErrorResponse shape
  }
  return r.text.replace(/\s+/g, ' ').trim().slice(0, 80);
}

/**
 * One TLS context per distinct CA, shared by every client in the process: passing `ca` to the agent would
 * parse it for each connection, and building a context (OpenSSL's SSL_CTX) costs ~0.5 ms, which a sync of
 * many controllers behind one CA would otherwise pay once per controller.
 */
const secureContexts = new Map<string, tls.SecureContext>();
export function sharedSecureContext(ca: string | Buffer | undefined): tls.SecureContext {
  const key = ca === undefined ? '' : Buffer.isBuffer(ca) ? ca.toString('latin1') : ca;
  let ctx = secureContexts.get(key);
  if (!ctx) {
    ctx = tls.createSecureContext(ca ? { ca } : {});
    secureContexts.set(key, ctx);
  }
  return ctx;
}

export class CmlClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  private readonly timeoutMs: number;
  private readonly clientId = randomUUID();
  private token: string | undefined;
  private login: Promise<string> | undefined;
  /** logins performed, for tests and reports */
  logins = 0;
  requests = 0;

  constructor(private readonly o: CmlClientOptions) {
    this.base = new URL(o.url);
    this.timeoutMs = o.timeoutMs ?? 30_000;
    const maxSockets = o.maxSockets ?? 4;
    if (this.base.protocol === 'https:') {
      this.mod = https;
      const secureContext = sharedSecureContext(o.ca);
      this.agent = new https.Agent({ keepAlive: true, maxSockets, secureContext, rejectUnauthorized: !o.insecure });
    } else {
      this.mod = http;
      this.agent = new http.Agent({ keepAlive: true, maxSockets });
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private path(p: string): string {
    return `${this.base.pathname.replace(/\/$/, '')}/api/v0${p}`;
  }

  private raw(method: string, path: string, opts: { body?: unknown; token?: string; signal?: AbortSignal } = {}): Promise<RawResponse> {
    this.requests++;
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { accept: 'application/json', 'x-client-uuid': this.clientId, 'x-cml-client': 'labops' };
    if (payload) headers['content-type'] = 'application/json';
    if (payload) headers['content-length'] = String(payload.length);
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const where = `${method} ${path}`;
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | undefined, res?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res!);
      };
      const req = this.mod.request(
        { protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port || undefined, method, path: this.path(path), headers, agent: this.agent },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => done(undefined, { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(parts).toString('utf8') }));
          res.on('error', (e) => done(e));
        },
      );
      const timer = setTimeout(() => {
        const e = fail('timeout', `${where}: no complete answer within ${this.timeoutMs} ms`);
        req.destroy(e);
        done(e);
      }, this.timeoutMs);
      const onAbort = () => {
        const e = fail('unreachable', `${where}: interrupted`);
        req.destroy(e);
        done(e);
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        const code = e.code ?? '';
        if (TLS_CODES.has(code) || /certificate/i.test(e.message)) {
          done(fail('tls', `TLS verification failed for ${this.base.host}: ${code || e.message}`, { suggestion: CA_HINT, cause: e }));
        } else if (NET_CODES.has(code)) {
          done(fail('unreachable', `${this.base.host} unreachable (${code})`, { cause: e }));
        } else {
          done(fail('unreachable', `${where}: ${e.message}`, { cause: e }));
        }
      });
      req.end(payload);
    });
  }

  /** Parses a 2xx JSON body; an HTML page (a proxy, a login portal) or broken JSON is a clear error. */
  private json(r: RawResponse, where: string): unknown {
    if (/text\/html/i.test(r.contentType) || /^\s*</.test(r.text)) {
      throw fail('html', `${where}: expected JSON, got an HTML page (HTTP ${r.status}); is the URL the CML controller?`, { status: r.status });
    }
    try {
      return JSON.parse(r.text);
    } catch {
      throw fail('protocol', `${where}: the answer is not valid JSON (HTTP ${r.status})`, { status: r.status });
    }
  }

  private httpError(r: RawResponse, where: string): LabopsError {
    if (/text\/html/i.test(r.contentType) || /^\s*</.test(r.text)) {
      return fail('html', `${where}: HTTP ${r.status} with an HTML page instead of the CML error shape`, { status: r.status });
    }
    return fail('http', `${where}: HTTP ${r.status}: ${describeBody(r)}`, { status: r.status });
  }

  /** GET /system_information: no authentication, the health check. */
  async systemInformation(signal?: AbortSignal): Promise<SystemInformation> {
    const where = 'GET /system_information';
    const r = await this.raw('GET', '/system_information', { signal });
    if (r.status !== 200) throw this.httpError(r, where);
    const body = this.json(r, where) as SystemInformation;
    if (!body || typeof body !== 'object' || typeof body.version !== 'string') throw fail('protocol', `${where}: unexpected body`);
    return body;
  }

  /** POST /authenticate: the answer is the bare JSON string token. */
  async authenticate(signal?: AbortSignal): Promise<string> {
    const where = 'POST /authenticate';
    const r = await this.raw('POST', '/authenticate', { body: { username: this.o.username, password: this.o.password }, signal });
    if (r.status === 401 || r.status === 403) {
      throw fail('auth', `login as '${this.o.username}' rejected (HTTP ${r.status}: ${describeBody(r)})`, { status: r.status, suggestion: 'check the username and password reference of this server in the labops config' });
    }
    if (r.status !== 200) throw this.httpError(r, where);
    const token = this.json(r, where);
    if (typeof token !== 'string' || token === '') throw fail('protocol', `${where}: expected a JSON string token`);
    this.logins++;
    return token;
  }

  /** One login at a time: concurrent requests that hit a 401 share the re-authentication. */
  private ensureToken(signal?: AbortSignal): Promise<string> {
    if (this.token) return Promise.resolve(this.token);
    this.login ??= this.authenticate(signal).then(
      (t) => {
        this.token = t;
        this.login = undefined;
        return t;
      },
      (e: unknown) => {
        this.login = undefined;
        throw e;
      },
    );
    return this.login;
  }

  /** A Bearer request; on a 401 the token is dropped, one new login happens, and the request is retried once. */
  private async authed(method: string, path: string, signal?: AbortSignal): Promise<RawResponse> {
    const token = await this.ensureToken(signal);
    const r = await this.raw(method, path, { token, signal });
    if (r.status !== 401) return r;
    if (this.token === token) this.token = undefined;
    const fresh = await this.ensureToken(signal);
    const again = await this.raw(method, path, { token: fresh, signal });
    if (again.status === 401) throw fail('auth', `${method} ${path}: HTTP 401 even with a fresh token`, { status: 401 });
    return again;
  }

  /** GET /labs?show_all=true: lab ids, or null on a 404. */
  async listLabIds(signal?: AbortSignal): Promise<string[] | null> {
    const where = 'GET /labs?show_all=true';
    const r = await this.authed('GET', '/labs?show_all=true', signal);
    if (r.status === 404) return null;
    if (r.status === 403) throw fail('auth', `${where}: HTTP 403: ${describeBody(r)}`, { status: 403 });
    if (r.status !== 200) throw this.httpError(r, where);
    const body = this.json(r, where);
    if (!Array.isArray(body) || body.some((x) => typeof x !== 'string')) throw fail('protocol', `${where}: expected a JSON array of lab ids`);
    return body as string[];
  }

  /** GET /labs/{id}: the raw LabResponse, or null on a 404 (deleted since the list). */
  async labDetail(labId: string, signal?: AbortSignal): Promise<unknown | null> {
    const path = `/labs/${encodeURIComponent(labId)}`;
    const r = await this.authed('GET', path, signal);
    if (r.status === 404) return null;
    if (r.status !== 200) throw this.httpError(r, `GET ${path}`);
    return this.json(r, `GET ${path}`);
  }
}
