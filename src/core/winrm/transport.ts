// HTTP(S) transport for WS-Management: Basic over HTTPS, NTLM over HTTPS (with channel binding), and NTLM over
// HTTP with message encryption. NTLM authenticates the TCP connection, so each transport owns a keep-alive agent
// with a single socket and re-runs the handshake when that socket is replaced.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AuthFailed, Interrupted, OperationFailed, Unreachable, UsageError } from '../../domain/errors.js';
import { NtlmInitiator } from '../ntlm/initiator.js';
import type { SessionSecurity } from '../ntlm/session.js';
import { tlsServerEndPoint } from './cbt.js';
import { ENCRYPTED_CONTENT_TYPE, frameEncrypted, isEncryptedContentType, unframeEncrypted } from './encryption.js';

export type AuthMethod = 'ntlm' | 'basic';

export interface TransportOptions {
  host: string;
  port: number;
  ssl: boolean;
  auth: AuthMethod;
  user: string;
  password: string;
  /** PEM CA bundle to verify the host's certificate with (HTTPS) */
  ca?: string | Buffer;
  /** skip TLS verification (only when the operator asked for it) */
  insecure?: boolean;
  connectTimeoutMs?: number;
}

export interface HttpReply {
  status: number;
  body: string;
}

export const CREDENTIAL_CAUSES =
  'usual causes: wrong user name or password; Basic auth disabled on the host, or a domain account used with Basic (Basic works with local accounts only); ' +
  'a local administrator without LocalAccountTokenFilterPolicy=1; an account that is not an administrator (Remote Management Users may use PowerShell but not the cmd shell); ' +
  'a host name that does not match the machine (SPN); channel-binding (CBT) hardening';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

class RequestTimeout extends Error {}

export class WinRMTransport {
  readonly endpoint: string;
  private readonly agent: http.Agent;
  private authedSocket: Socket | undefined;
  private session: SessionSecurity | undefined;
  private readonly encrypt: boolean;
  /** requests on the wire; only an idle transport may serve another client */
  private inFlight = 0;

  constructor(private readonly opts: TransportOptions) {
    if (opts.auth === 'basic' && !opts.ssl) {
      throw new UsageError('Basic authentication over plain HTTP would send the password in clear text; use HTTPS (--ssl, port 5986) or NTLM');
    }
    this.endpoint = `${opts.ssl ? 'https' : 'http'}://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}/wsman`;
    this.encrypt = opts.auth === 'ntlm' && !opts.ssl;
    this.agent = opts.ssl
      ? new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca, rejectUnauthorized: !opts.insecure })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get where(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  get idle(): boolean {
    return this.inFlight === 0;
  }

  close(): void {
    this.agent.destroy();
    this.authedSocket = undefined;
    this.session = undefined;
  }

  /** Sends one SOAP message; returns the (decrypted) reply body for 200 and 500 (faults), throws typed errors otherwise. */
  async post(xml: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<HttpReply> {
    const plain = Buffer.from(xml, 'utf8');
    if (this.opts.auth === 'basic') {
      const auth = `Basic ${Buffer.from(`${this.opts.user}:${this.opts.password}`, 'utf8').toString('base64')}`;
      const r = await this.request({ Authorization: auth, 'Content-Type': 'application/soap+xml;charset=UTF-8' }, plain, opts);
      return this.finish(r);
    }
    for (let attempt = 0; ; attempt++) {
      if (!this.authedSocket || this.authedSocket.destroyed || (this.encrypt && !this.session)) await this.handshake(opts);
      const socket = this.authedSocket;
      const r = this.encrypt
        ? await this.request({ 'Content-Type': ENCRYPTED_CONTENT_TYPE }, frameEncrypted(plain, this.session!), opts)
        : await this.request({ 'Content-Type': 'application/soap+xml;charset=UTF-8' }, plain, opts);
      // a 401 on a different socket means the connection was replaced under us: authenticate again, once
      if (r.status === 401 && attempt === 0 && r.socket !== socket) {
        this.authedSocket = undefined;
        this.session = undefined;
        continue;
      }
      if (r.status === 401) {
        this.authedSocket = undefined;
        this.session = undefined;
      }
      return this.finish(r);
    }
  }

  private finish(r: { status: number; headers: http.IncomingHttpHeaders; body: Buffer }): HttpReply {
    if (r.status === 401) throw this.authError();
    let body: string;
    if (this.encrypt && isEncryptedContentType(String(r.headers['content-type'] ?? ''))) {
      try {
        body = unframeEncrypted(r.body, this.session!).toString('utf8');
      } catch (e) {
        // the sealing state is out of step: authenticate again before the next message
        this.authedSocket = undefined;
        this.session = undefined;
        throw new OperationFailed(`could not decrypt the reply from ${this.where}: ${(e as Error).message}`);
      }
    } else {
      body = r.body.toString('utf8');
    }
    if (r.status !== 200 && r.status !== 500) {
      throw new OperationFailed(`WinRM on ${this.where} answered HTTP ${r.status}${body.trim() ? `: ${body.trim().slice(0, 200)}` : ''}`);
    }
    return { status: r.status, body };
  }

  private authError(): AuthFailed {
    return new AuthFailed(`WinRM on ${this.where} rejected the credentials for ${this.opts.user} (HTTP 401); ${CREDENTIAL_CAUSES}`, {
      context: { host: this.opts.host, port: this.opts.port, user: this.opts.user, transport: this.opts.auth },
    });
  }

  private async handshake(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    this.session = undefined;
    this.authedSocket = undefined;
    const ini = new NtlmInitiator({
      username: this.opts.user,
      password: this.opts.password,
      spn: `HTTP/${this.opts.host}`,
      requireEncryption: this.encrypt,
    });
    const leg1 = await this.request({ Authorization: `Negotiate ${ini.negotiate().toString('base64')}` }, Buffer.alloc(0), opts);
    const challenge = leg1.status === 401 ? negotiateToken(leg1.headers['www-authenticate']) : undefined;
    if (!challenge) {
      if (leg1.status === 401) throw new AuthFailed(`WinRM on ${this.where} does not offer Negotiate/NTLM authentication; ${CREDENTIAL_CAUSES}`);
      throw new OperationFailed(`WinRM on ${this.where} answered the NTLM negotiation with HTTP ${leg1.status}`);
    }
    const certDer = this.opts.ssl ? peerCertificateDer(leg1.socket) : undefined;
    let authMsg: Buffer;
    try {
      authMsg = ini.authenticate(challenge, { channelBindingData: certDer ? tlsServerEndPoint(certDer) : undefined });
    } catch (e) {
      throw new AuthFailed(`NTLM negotiation with ${this.where} failed: ${(e as Error).message}`);
    }
    const leg2 = await this.request({ Authorization: `Negotiate ${authMsg.toString('base64')}` }, Buffer.alloc(0), opts);
    if (leg2.status === 401) throw this.authError();
    if (leg2.socket !== leg1.socket) throw new OperationFailed(`WinRM on ${this.where} closed the connection during NTLM authentication`);
    if (leg2.status !== 200) throw new OperationFailed(`WinRM on ${this.where} answered the NTLM authentication with HTTP ${leg2.status}`);
    this.session = ini.session;
    this.authedSocket = leg2.socket;
  }

  private request(
    headers: Record<string, string>,
    body: Buffer,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; socket: Socket }> {
    const mod = this.opts.ssl ? https : http;
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new Interrupted());
      let settled = false;
      let socket: Socket | undefined;
      this.inFlight++;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        cleanup();
        reject(this.mapError(e, opts.timeoutMs));
      };
      const req = mod.request(
        this.endpoint,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...headers, 'Content-Length': String(body.length), 'User-Agent': 'labops WinRM client', Connection: 'Keep-Alive' },
        },
        (res) => {
          socket ??= res.socket as Socket;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', fail);
          res.on('end', () => {
            if (settled) return;
            settled = true;
            cleanup();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), socket: socket! });
          });
        },
      );
      const timer = setTimeout(() => {
        fail(new RequestTimeout());
        req.destroy();
      }, Math.max(1, opts.timeoutMs));
      const connectTimer = this.opts.connectTimeoutMs
        ? setTimeout(() => {
            fail(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
            req.destroy();
          }, this.opts.connectTimeoutMs)
        : undefined;
      req.on('socket', (s: Socket) => {
        socket = s;
        if (!connectTimer) return;
        if (!s.connecting) clearTimeout(connectTimer);
        else s.once(this.opts.ssl ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      const onAbort = () => {
        fail(new Interrupted());
        req.destroy();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => this.inFlight--;
      function cleanup() {
        done();
        clearTimeout(timer);
        if (connectTimer) clearTimeout(connectTimer);
        opts.signal?.removeEventListener('abort', onAbort);
      }
      req.on('error', fail);
      req.end(body);
    });
  }

  private mapError(e: unknown, timeoutMs: number): Error {
    if (e instanceof Interrupted) return e;
    if (e instanceof RequestTimeout) return new Unreachable(`no answer from WinRM on ${this.where} within ${Math.ceil(timeoutMs / 1000)} s`);
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? '';
    if (TLS_CODES.has(code) || /certificate/i.test(err.message)) {
      return new AuthFailed(`TLS certificate of ${this.where} is not trusted (${code || err.message}); pass --ca <file> with the CA that signed it (or --insecure to skip verification, not recommended)`, {
        context: { host: this.opts.host, port: this.opts.port, tls: code },
      });
    }
    if (code === 'ECONNREFUSED') return new Unreachable(`WinRM on ${this.where}: connection refused (host off, or WinRM not listening)`);
    if (code === 'ETIMEDOUT') return new Unreachable(`WinRM on ${this.where}: connection timed out`);
    if (UNREACHABLE_CODES.has(code)) return new Unreachable(`WinRM on ${this.where}: ${code} (${err.message})`);
    if (/EPROTO|wrong version number|packet length too long/i.test(`${code} ${err.message}`)) {
      return new Unreachable(`WinRM on ${this.where}: TLS handshake failed (${err.message}); is this an HTTPS port?`);
    }
    return new Unreachable(`WinRM on ${this.where}: ${err.message}`);
  }
}

/** The token after `Negotiate ` (or `NTLM `) in WWW-Authenticate, unwrapping a SPNEGO NegTokenResp if needed. */
export function negotiateToken(header: string | string[] | undefined): Buffer | undefined {
  const values = (Array.isArray(header) ? header : [header ?? '']).flatMap((h) => h.split(','));
  for (const v of values) {
    const m = /^\s*(?:Negotiate|NTLM)\s+([A-Za-z0-9+/=]+)\s*$/i.exec(v);
    if (!m) continue;
    const tok = Buffer.from(m[1]!, 'base64');
    return tok.subarray(0, 7).toString('latin1') === 'NTLMSSP' ? tok : unwrapSpnego(tok);
  }
  return undefined;
}

/** Finds the NTLMSSP token inside a SPNEGO wrapper (tolerant: looks for the signature). */
function unwrapSpnego(tok: Buffer): Buffer | undefined {
  const i = tok.indexOf('NTLMSSP\0', 0, 'latin1');
  return i >= 0 ? tok.subarray(i) : undefined;
}

function peerCertificateDer(socket: Socket): Buffer | undefined {
  const tls = socket as TLSSocket;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate(false);
  return cert && cert.raw ? cert.raw : undefined;
}

// ---- reuse ----
// NTLM authenticates a connection, so a new client per command (the daemon's /api/winrm, a reservation's steps)
// would pay the handshake every time. A closed client's transport waits here, still authenticated, for the next
// client of the same endpoint and credentials; idle ones close after IDLE_MS (well inside HTTP.sys' 120 s idle
// timeout) and their sockets never keep the process alive.
const IDLE_MS = 30_000;
const MAX_IDLE = 128;
const pool = new Map<string, { transport: WinRMTransport; timer: NodeJS.Timeout }[]>();
const keys = new WeakMap<WinRMTransport, string>();
let idleCount = 0;

function poolKey(o: TransportOptions): string {
  // secrets only as digests, so the key can never show a password or a CA in a dump
  const digest = (v: string | Buffer | undefined) => (v === undefined ? '' : createHash('sha256').update(v).digest('base64'));
  return JSON.stringify([o.host.toLowerCase(), o.port, o.ssl, o.auth, o.user.toLowerCase(), digest(o.password), digest(o.ca), Boolean(o.insecure), o.connectTimeoutMs ?? null]);
}

/** An idle transport for these options (already authenticated when it was used before), or a new one. */
export function acquireTransport(opts: TransportOptions): WinRMTransport {
  const key = poolKey(opts);
  const list = pool.get(key);
  const entry = list?.pop();
  if (list && !list.length) pool.delete(key);
  if (entry) {
    clearTimeout(entry.timer);
    idleCount--;
    return entry.transport;
  }
  const t = new WinRMTransport(opts);
  keys.set(t, key);
  return t;
}

/** Hands a transport back for reuse, or closes it when it is busy or the pool is full. */
export function releaseTransport(t: WinRMTransport): void {
  const key = keys.get(t);
  if (key === undefined || !t.idle || idleCount >= MAX_IDLE) return t.close();
  const list = pool.get(key) ?? [];
  const entry = {
    transport: t,
    timer: setTimeout(() => {
      const at = list.indexOf(entry);
      if (at >= 0) {
        list.splice(at, 1);
        idleCount--;
        if (!list.length && pool.get(key) === list) pool.delete(key);
      }
      t.close();
    }, IDLE_MS).unref(),
  };
  list.push(entry);
  pool.set(key, list);
  idleCount++;
}
