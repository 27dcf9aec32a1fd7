// The three internal LINBO API calls of the DC worker (NOTES §3.1), with `X-Internal-Key`, a time limit
// per request and retries of transient failures (connection errors, timeouts, 5xx) with a capped
// exponential delay. A PATCH or POST that got no answer is not sent again here: the API may have applied
// it (ApiAnswerLost), and only the caller can check. The key is sent only as a header: it never appears
// in errors or logs.
import type { LabopsError } from '../../domain/errors.js';
import { AuthFailed, OperationFailed, Unreachable } from '../../domain/errors.js';
import { backoffDelayMs } from '../../domain/backoff.js';
import type { OperationRecord } from '../../domain/dc-jobs.js';

export interface LinboClientOptions {
  /** e.g. http://10.0.0.13:3000/api/v1 (includes /api/v1, as the worker's API_URL does) */
  apiUrl: string;
  apiKey: string;
  timeoutMs?: number;
  /** extra tries of a transient failure (default 2) */
  retries?: number;
  retryBaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

export interface StatusUpdate {
  status: string;
  result?: unknown;
  error?: string;
  attempt?: number;
}

/** The API answered 404: the operation no longer exists. */
export class OperationNotFound extends OperationFailed {}
/** 5xx, timeout or no connection after the client's retries. */
export class ApiUnavailable extends Unreachable {}
/** A PATCH or POST got no answer (time limit, connection reset): the API may or may not have applied it. */
export class ApiAnswerLost extends ApiUnavailable {}

/** Connection errors that mean the request never reached the API. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export type RetryAnswer = { requeued: true; attempt: number } | { requeued: false; code: string; message: string };

export class LinboApiClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly doFetch: typeof fetch;

  constructor(private readonly o: LinboClientOptions) {
    this.base = o.apiUrl.replace(/\/+$/, '');
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.retries = o.retries ?? 2;
    this.retryBaseMs = o.retryBaseMs ?? 500;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.doFetch = o.fetch ?? fetch;
  }

  /** GET /internal/operations/{id}: `data` if present, else the whole body (as the worker reads it). */
  async getOperation(id: string): Promise<OperationRecord> {
    const body = (await this.call('GET', `/internal/operations/${encodeURIComponent(id)}`)).body as { data?: OperationRecord } & OperationRecord;
    return body?.data ?? body;
  }

  /** PATCH /internal/operations/{id}/status; keys are sent only when defined. */
  async updateStatus(id: string, u: StatusUpdate): Promise<void> {
    const body: Record<string, unknown> = { status: u.status };
    if (u.result !== undefined) body.result = u.result;
    if (u.error !== undefined) body.error = u.error;
    if (u.attempt !== undefined) body.attempt = u.attempt;
    await this.call('PATCH', `/internal/operations/${encodeURIComponent(id)}/status`, body);
  }

  /** POST /internal/operations/{id}/retry (no body). 400 RETRY_FAILED means the API moved it to the DLQ. */
  async retry(id: string): Promise<RetryAnswer> {
    const r = await this.call('POST', `/internal/operations/${encodeURIComponent(id)}/retry`, undefined, [400]);
    const b = r.body as { data?: { attempt?: number }; error?: { code?: string; message?: string } };
    if (r.status === 400) return { requeued: false, code: b?.error?.code ?? 'RETRY_FAILED', message: b?.error?.message ?? 'retry refused' };
    return { requeued: true, attempt: Number(b?.data?.attempt ?? 0) };
  }

  /** GET /health (at the server root, not under /api/v1). */
  async health(): Promise<unknown> {
    const root = this.base.replace(/\/api\/v\d+$/, '');
    return (await this.call('GET', '/health', undefined, [], root)).body;
  }

  private async call(method: string, path: string, json?: unknown, okStatuses: number[] = [], base = this.base): Promise<{ status: number; body: unknown }> {
    const what = `${method} ${path}`;
    for (let attempt = 0; ; attempt++) {
      let failure: LabopsError;
      try {
        const res = await this.doFetch(`${base}${path}`, {
          method,
          headers: { 'X-Internal-Key': this.o.apiKey, 'Content-Type': 'application/json', Accept: 'application/json' },
          body: json === undefined ? undefined : JSON.stringify(json),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await res.text();
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON; keep the text for the message
        }
        if (res.status === 200 || res.status === 201 || okStatuses.includes(res.status)) return { status: res.status, body };
        const msg = (body as { error?: { message?: string } })?.error?.message ?? (typeof body === 'string' ? body.slice(0, 200) : '');
        if (res.status === 401 || res.status === 403) {
          throw new AuthFailed(`LINBO API ${what}: ${res.status} ${msg || 'unauthorized'}`, { suggestion: 'API_KEY must equal INTERNAL_API_KEY of the LINBO Docker API' });
        }
        if (res.status === 404) throw new OperationNotFound(`LINBO API ${what}: 404 ${msg || 'not found'}`);
        if (res.status < 500) throw new OperationFailed(`LINBO API ${what}: ${res.status} ${msg}`.trim());
        failure = new ApiUnavailable(`LINBO API ${what}: ${res.status} ${msg}`.trim());
      } catch (e) {
        if (e instanceof AuthFailed || e instanceof OperationNotFound || (e instanceof OperationFailed && !(e instanceof ApiUnavailable))) throw e;
        if (e instanceof ApiUnavailable) failure = e;
        else failure = this.networkFailure(e, method, what);
      }
      if (attempt >= this.retries || failure instanceof ApiAnswerLost) throw failure;
      await this.sleep(backoffDelayMs(attempt + 1, { baseMs: this.retryBaseMs, maxMs: 10_000 }));
    }
  }

  /** fetch's failure as ApiUnavailable, or ApiAnswerLost when a change may have reached the API; anything else is a bug and is thrown as it is. */
  private networkFailure(e: unknown, method: string, what: string): ApiUnavailable {
    const err = e as Error & { cause?: { code?: string } };
    const timedOut = err?.name === 'TimeoutError' || err?.name === 'AbortError';
    const code = err?.cause?.code;
    if (!timedOut && !code && err?.message !== 'fetch failed') throw e;
    const why = timedOut ? `no answer within ${this.timeoutMs} ms` : (code ?? err.message);
    if (method !== 'GET' && !(code && NOT_SENT.has(code))) return new ApiAnswerLost(`LINBO API ${what}: ${why}`);
    return new ApiUnavailable(`LINBO API ${what}: ${why}`);
  }
}
