// The daemon's status page on the API's server: GET|HEAD / (the page), /status/fragment (what live updates swap
// in) and /status/events (Server-Sent Events: `update` with the fragment's version whenever it changes). While a
// browser listens, the snapshot is taken every `sampleMs` and after every `poke()` (a loop run ended); nothing
// is read while nobody watches. With a token, every path here needs it: `Authorization: Bearer`, the API's
// X-Ops-Internal-Token, or the cookie that `/?token=…` sets (then redirects, so the token leaves the address
// bar); an EventSource cannot send headers, so browsers rely on that same-origin cookie. The cookie holds a
// digest of the token, never the token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from './model.js';
import { renderFragment, renderPage } from './render.js';

export interface StatusPageOptions {
  snapshot(): Promise<StatusSnapshot>;
  token?: string;
  /** how often a watched page is re-read */
  sampleMs: number;
  log?(level: 'info' | 'warn' | 'error', message: string): void;
}

export interface StatusPage {
  /** true when the request was for the status page (answered), false for any other path */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** something changed (a loop run ended): watchers get the news now rather than at the next sample */
  poke(): void;
  close(): void;
}

export const COOKIE = 'labops_status';
const PATHS = new Set(['/', '/status/fragment', '/status/events']);

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));
/** The cookie's value: bound to the token, useless as an API token. */
export const cookieValue = (token: string) => createHash('sha256').update(`labops-status-page\0${token}`, 'utf8').digest('base64url');
const versionOf = (html: string) => createHash('sha256').update(html, 'utf8').digest('base64url').slice(0, 16);

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

type Auth = 'ok' | 'query' | 'denied';

function authorize(req: IncomingMessage, url: URL, token: string | undefined): Auth {
  if (token === undefined) return 'ok';
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  const header = req.headers['x-ops-internal-token'];
  if (bearer !== undefined && same(bearer, token)) return 'ok';
  if (typeof header === 'string' && same(header, token)) return 'ok';
  const cookie = cookies(req).get(COOKIE);
  if (cookie !== undefined && same(cookie, cookieValue(token))) return 'ok';
  const q = url.searchParams.get('token');
  if (q !== null && same(q, token)) return 'query';
  return 'denied';
}

const SECURITY_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' };

function sendHtml(req: IncomingMessage, res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), ...SECURITY_HEADERS, ...headers });
  res.end(req.method === 'HEAD' ? undefined : html);
}

const UNAUTHORIZED =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>labops: token required</title></head><body>' +
  '<h1>401 — token required</h1><p>This daemon has an API token (api.token). Open <code>/?token=&lt;token&gt;</code> once ' +
  '(the page sets a cookie and drops the token from the address), or send <code>Authorization: Bearer &lt;token&gt;</code>.</p></body></html>';

/** The open pages' event streams, the last rendered fragment, and the sampling that tells them of a change. */
class StatusPageServer implements StatusPage {
  private readonly watchers = new Set<ServerResponse>();
  private version = '';
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private pokedWhileSampling = false;
  private latest: { instance: string; html: string; version: string; at: number } | undefined;

  constructor(private readonly o: StatusPageOptions) {}

  /** A fresh read, or (`reuse`) the last one while it is younger than a sample: every open page fetches after an update. */
  private async fragment(reuse = false) {
    if (reuse && this.latest && Date.now() - this.latest.at < this.o.sampleMs) return this.latest;
    const snapshot = await this.o.snapshot();
    const html = renderFragment(snapshot);
    this.latest = { instance: snapshot.instance, html, version: versionOf(html), at: Date.now() };
    return this.latest;
  }

  private broadcast(data: string): void {
    for (const w of this.watchers) w.write(data);
  }

  private sample(): Promise<void> {
    if (this.sampling) {
      this.pokedWhileSampling = true;
      return this.sampling;
    }
    this.sampling = (async () => {
      try {
        const f = await this.fragment();
        if (f.version !== this.version) {
          this.version = f.version;
          this.broadcast(`event: update\ndata: ${this.version}\n\n`);
        }
      } catch (e) {
        this.o.log?.('warn', `status page: ${(e as Error).message}`);
      } finally {
        this.sampling = undefined;
        if (this.pokedWhileSampling && this.watchers.size) {
          this.pokedWhileSampling = false;
          void this.sample();
        }
      }
    })();
    return this.sampling;
  }

  private schedule(): void {
    if (this.timer || !this.watchers.size) return;
    let beats = 0;
    this.timer = setInterval(() => {
      if (!this.watchers.size) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      // a comment now and then keeps proxies from closing an idle stream
      if (++beats * this.o.sampleMs >= 15_000) {
        beats = 0;
        this.broadcast(': keepalive\n\n');
      }
      void this.sample();
    }, this.o.sampleMs);
    this.timer.unref();
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', ...SECURITY_HEADERS });
    if (req.method === 'HEAD') return void res.end();
    res.write(`retry: 2000\n\n`);
    if (this.version) res.write(`event: update\ndata: ${this.version}\n\n`);
    this.watchers.add(res);
    req.on('close', () => this.watchers.delete(res));
    this.schedule();
    void this.sample();
  }

  /** The method and token checks; true when they answered (405, 401, or the redirect that sets the cookie). */
  private refused(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendHtml(req, res, 405, '<!doctype html><title>405</title><p>Method not allowed</p>', { Allow: 'GET, HEAD' });
      return true;
    }
    const auth = authorize(req, url, this.o.token);
    if (auth === 'denied') {
      sendHtml(req, res, 401, UNAUTHORIZED, { 'WWW-Authenticate': 'Bearer realm="labops"' });
      return true;
    }
    if (auth === 'query') {
      // the cookie carries the page and its event stream from now on; the token leaves the address bar and history
      const rest = new URLSearchParams(url.searchParams);
      rest.delete('token');
      const location = `${url.pathname === '/' ? './' : url.pathname}${rest.size ? `?${rest}` : ''}`;
      res.writeHead(303, { Location: location, 'Set-Cookie': `${COOKIE}=${cookieValue(this.o.token!)}; Path=/; HttpOnly; SameSite=Strict`, ...SECURITY_HEADERS });
      res.end();
      return true;
    }
    return false;
  }

  private async page(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const f = await this.fragment(url.pathname === '/status/fragment');
      if (url.pathname === '/status/fragment') return sendHtml(req, res, 200, f.html, { 'X-Status-Version': f.version });
      const nonce = randomBytes(16).toString('base64');
      const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
      sendHtml(req, res, 200, renderPage(f.instance, f.html, { version: f.version, nonce }), { 'Content-Security-Policy': csp });
    } catch (e) {
      this.o.log?.('error', `status page: ${(e as Error).message}`);
      sendHtml(req, res, 500, '<!doctype html><title>500</title><p>The status could not be read; the daemon logged why.</p>');
    }
  }

  readonly handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (!PATHS.has(url.pathname)) return false;
    // as the API's own lines: the path without its query (which may hold the token)
    const started = Date.now();
    res.once('close', () => this.o.log?.(res.statusCode >= 500 ? 'error' : 'info', `${req.method} ${url.pathname} ${res.statusCode} ${Date.now() - started}ms`));
    if (this.refused(req, res, url)) return true;
    if (url.pathname === '/status/events') this.events(req, res);
    else await this.page(req, res, url);
    return true;
  };

  // handed around as plain functions (the API's poke after each loop run): bound to this page
  readonly poke = (): void => {
    if (this.watchers.size) void this.sample();
  };

  readonly close = (): void => {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  };
}

export function createStatusPage(o: StatusPageOptions): StatusPage {
  return new StatusPageServer(o);
}
