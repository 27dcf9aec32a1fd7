// What every ops-worker route shares: the request and answer types, the deps the API is built from, Flask's
// lenient body parsing, the field readers and the error bodies (reference HEAD-API §1.3–1.4).
import { randomBytes } from 'node:crypto';
import type { HostIndex, InventoryHost } from '../../core/config/inventory.js';
import type { Database } from '../../core/db/database.js';
import type { HeartbeatSink, HeartbeatSource } from '../heartbeat/poll.js';
import type { ReservationPorts, ReservationSettings } from '../reservations/run.js';

export interface ApiRequest {
  method: string;
  /** path without the query */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** The API's own settings (app/settings.ts apiSettings): allow-lists, paging, event streams. */
export interface ApiPolicy {
  /** first words POST /api/winrm runs (OPS_ALLOWED_COMMANDS) */
  allowedCommands: readonly string[];
  /** WINRM_ALLOWED_TRANSPORTS */
  allowedTransports: readonly string[];
  timeline: { defaultLimit: number; maxOps: number; phaseLookback: number };
  stream: { intervalMs: number; keepAliveMs: number; maxStreams: number };
}

export interface OpsApiDeps {
  /** the current inventory (replaced by /api/hosts/reload) */
  index(): HostIndex;
  reloadHosts(): Promise<number>;
  db?: Database;
  /** the journal in `ports` writes to db when there is one */
  ports: ReservationPorts;
  settings: ReservationSettings;
  policy: ApiPolicy;
  guardGrace: number;
  rebootTimeout: number;
  heartbeat: { source: HeartbeatSource; sink?: HeartbeatSink };
  /** whether WinRM credentials resolve for a host (never which ones) */
  credentialsConfigured(host: InventoryHost): boolean;
  /** runs a PowerShell script on a station; throws when it cannot run or exits non-zero */
  powershell(host: InventoryHost, script: string, signal?: AbortSignal): Promise<void>;
  /** the token /api/* requires in `tokenHeader`; none = not required */
  token?: string;
  /** lower-case header name */
  tokenHeader?: string;
  log?(level: 'info' | 'warn' | 'error', message: string): void;
  signal?: AbortSignal;
  /** labops daemon: fields added to /health (loops, leases) and whether it is degraded (503, as the head ops-worker) */
  health?(): Promise<{ extra: Record<string, unknown>; degraded: boolean }>;
  /** labops daemon: the Prometheus text served at /metrics */
  metrics?(): Promise<string>;
}

/** A request the route refuses with 400 and this message (nothing was changed). */
export class BadRequest extends Error {}

export const err = (status: number, error: string): ApiResponse => ({ status, body: { error } });

/** X-Request-ID when it is 1–128 characters of A-Z a-z 0-9 . _ : - (as upstream), else a fresh id. */
export function requestIdOf(headers: ApiRequest['headers']): string {
  const header = headers['x-request-id'];
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomBytes(16).toString('hex');
}

/** The generic 500: the cause goes to the log with the request id, never to the client. */
export function internal(req: ApiRequest, deps: OpsApiDeps, e: unknown, where: string): ApiResponse {
  const requestId = requestIdOf(req.headers);
  deps.log?.('error', `${where} [${requestId}]: ${(e as Error).message ?? String(e)}`);
  return { status: 500, body: { code: 'INTERNAL_ERROR', error: 'Internal server error', requestId } };
}

/** get_json(force=True, silent=True): anything that is not a JSON object is {}. */
export function jsonBody(req: ApiRequest): Record<string, unknown> {
  try {
    const v = JSON.parse(req.body.toString('utf8') || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The ops-worker's flag parsing, without its bug: the strings false/0/no/off (any case) are false. */
export function flag(v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') return !['false', '0', 'no', 'off', ''].includes(v.trim().toLowerCase());
  return Boolean(v);
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export const hasControl = (s: string): boolean => [...s].some((c) => c.charCodeAt(0) < 0x20);

export function argList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > 32 || !v.every((a) => typeof a === 'string' && a.length <= 512 && !hasControl(a))) {
    throw new BadRequest(`${what} must be a list of at most 32 strings`);
  }
  return v as string[];
}

export function num(v: unknown, what: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new BadRequest(`${what} must be a number from ${min} to ${max}`);
  return n;
}

/** limit and offset of a page, as upstream reads them: a value that is not a whole number falls back. */
export function page(query: URLSearchParams, t: ApiPolicy['timeline']): { limit: number; offset: number } {
  const int = (name: string) => {
    const v = query.get(name)?.trim();
    return v && /^-?\d+$/.test(v) ? Number(v) : undefined;
  };
  const limit = Math.min(t.maxOps, Math.max(1, int('limit') ?? t.defaultLimit));
  const offset = Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, int('offset') ?? 0));
  return { limit, offset };
}

export function pagination(p: { limit: number; offset: number }, returned: number, total: number) {
  return { limit: p.limit, offset: p.offset, page: Math.floor(p.offset / p.limit) + 1, pageSize: p.limit, returned, total, hasMore: p.offset + returned < total, nextOffset: p.offset + returned };
}
