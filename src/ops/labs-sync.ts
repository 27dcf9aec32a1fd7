// labops labs sync: per CML server, log in, list labs, fetch each lab's detail with bounded concurrency
// over one keep-alive connection pool, merge into the SQL cache in batches, mark orphans only on a
// trustworthy list, and report synced/created/updated/orphaned per server. One server failing never
// stops the others. Returns typed results; never prints.
import { isLabopsError, type ErrorKind } from '../domain/errors.js';
import { mapPool } from '../domain/pool.js';
import type { Outcome } from '../domain/outcome.js';
import { applySnapshot, orphanEvent, parseLabDetail, type HistoryEntry, type LabEvent, type LabRecord, type LabSnapshot } from '../domain/labs/record.js';
import { planOrphans, type ListOutcome } from '../domain/labs/orphans.js';
import type { LabChanges } from '../core/db/cml-lab-store.js';

export interface CmlServerRef {
  id: string;
  name: string;
  url: string;
}

/** What the sync needs from a controller (CmlClient satisfies it). */
export interface LabsApi {
  systemInformation(signal?: AbortSignal): Promise<{ version: string; ready: boolean }>;
  listLabIds(signal?: AbortSignal): Promise<string[] | null>;
  labDetail(labId: string, signal?: AbortSignal): Promise<unknown | null>;
  close(): void;
}

/** What the sync needs from the store (CmlLabStore satisfies it). */
export interface LabsStorePort {
  loadServer(serverId: string): Promise<LabRecord[]>;
  apply(serverId: string, changes: LabChanges): Promise<number>;
  /** deletes the server's orphaned records (all, or those orphaned before `orphanedBefore`, an ISO time) with their history */
  purgeOrphans(serverId: string, orphanedBefore?: string): Promise<string[]>;
}

export interface LabsSyncPorts {
  connect(server: CmlServerRef): LabsApi;
  store: LabsStorePort;
  now(): number;
  newId(): string;
  /** the notification hook; called once with every event of the run */
  notify?(events: LabEvent[]): Promise<void>;
}

export interface LabsSyncOptions {
  /** servers synced at once */
  concurrency: number;
  /** lab details fetched at once per server (also the connection pool size) */
  labConcurrency: number;
  /** delete every orphaned record */
  purge: boolean;
  /** else delete the records orphaned longer ago than this */
  orphanRetentionMs?: number;
  /** trust an empty lab list enough to orphan every stored lab */
  acceptEmptyList?: boolean;
}

export interface ServerError {
  kind: ErrorKind;
  /** the client's classification: auth, tls, timeout, unreachable, html, http, protocol, store */
  reason: string;
  message: string;
  suggestion?: string;
}

export interface ServerSyncResult {
  server: string;
  name: string;
  url: string;
  status: 'synced' | 'failed';
  error: ServerError | null;
  health: { ok: true; version: string; ready: boolean } | { ok: false; error: string };
  listed: number;
  synced: number;
  created: number;
  updated: number;
  unchanged: number;
  orphaned: number;
  restored: number;
  purged: number;
  history: number;
  labErrors: { lab_id: string; error: string }[];
  /** the controller listed no lab while labs of it are stored: orphan marking was skipped, and the run exits 5 so cron notices */
  suspectEmptyList: boolean;
  warnings: string[];
  /** database statements written for this server */
  statements: number;
  durationMs: number;
}

export interface LabsSyncTotals {
  servers: number;
  failed: number;
  synced: number;
  created: number;
  updated: number;
  orphaned: number;
  purged: number;
  labErrors: number;
}

export interface LabsSyncResult {
  servers: ServerSyncResult[];
  totals: LabsSyncTotals;
  events: number;
  notifyError: string | null;
}

/** Transport-level failures: after one, the remaining details of that server are not tried (timeouts: lateDetail). */
const FATAL_REASONS = new Set(['auth', 'tls', 'unreachable']);

function toServerError(e: unknown, fallbackReason: string): ServerError {
  if (isLabopsError(e)) {
    const reason = typeof e.context?.reason === 'string' ? e.context.reason : fallbackReason;
    return { kind: e.kind, reason, message: e.message, suggestion: e.suggestion };
  }
  return { kind: 'failed', reason: fallbackReason, message: (e as Error)?.message ?? String(e) };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** How long the health check waits for the login and list before it opens a connection of its own. */
const HEALTH_START_MS = 1_000;

/** Resolves when `p` settles (either way) or after `ms`, whichever comes first. */
function settledOrAfter(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

async function syncServer(
  server: CmlServerRef,
  opts: LabsSyncOptions,
  ports: LabsSyncPorts,
  signal: AbortSignal | undefined,
  emit: (e: LabEvent) => void,
): Promise<ServerSyncResult> {
  const started = ports.now();
  const r: ServerSyncResult = { ...emptyResult(server), status: 'synced' };
  const api = ports.connect(server);
  try {
    const listing = api.listLabIds(signal);
    const health = healthOnceListed(api, listing, signal);
    const stored = ports.store.loadServer(server.id);
    stored.catch(() => {});
    const list = await readLabList(listing, r);
    const ids = list.kind === 'ok' ? list.ids : [];
    r.listed = ids.length;

    let records: LabRecord[];
    try {
      records = await stored;
    } catch (e) {
      r.status = 'failed';
      r.error ??= toServerError(e, 'store');
      r.health = await health;
      return r;
    }
    const labs = new LabChangeSet(server.id, records, iso(ports.now()), ports.newId, r);
    await labs.fetchDetails(api, ids, opts.labConcurrency, signal);
    r.history = labs.changes.history.length;
    r.health = await health;
    if (r.health.ok && !r.health.ready) r.warnings.push('controller reports ready=false (no compute can start nodes)');
    if (labs.fatal) {
      const f: ServerError = labs.fatal;
      r.status = 'failed';
      r.error ??= f;
      r.warnings.push(`stopped fetching lab details after: ${f.message}`);
    }
    const plan = planOrphans(records, list, { acceptEmptyList: opts.acceptEmptyList });
    if (plan.skipped && list.kind === 'ok') {
      r.warnings.push(plan.skipped);
      r.suspectEmptyList = true;
    }
    labs.markOrphaned(plan.orphan);

    if (!(await storeChanges(ports.store, server.id, labs.changes, r))) return r;
    // Events only for what is stored.
    for (const e of labs.events) emit(e);
    if (opts.purge) await purgeOrphans(ports.store, server.id, r);
    else if (opts.orphanRetentionMs !== undefined) await purgeOrphans(ports.store, server.id, r, iso(ports.now() - opts.orphanRetentionMs));
    return r;
  } finally {
    api.close();
    r.durationMs = Math.round(ports.now() - started);
  }
}

/**
 * The health check needs no login and must not depend on it (upstream's stuck-"unavailable" bug). It starts once
 * the login and list have settled, whatever their outcome, so it rides on their keep-alive connection instead of a
 * TLS handshake of its own; or after HEALTH_START_MS if they hang.
 */
function healthOnceListed(api: LabsApi, listing: Promise<unknown>, signal: AbortSignal | undefined): Promise<ServerSyncResult['health']> {
  return settledOrAfter(listing, HEALTH_START_MS)
    .then(() => api.systemInformation(signal))
    .then(
      (s) => ({ ok: true as const, version: s.version, ready: s.ready }),
      (e: unknown) => ({ ok: false as const, error: (e as Error).message }),
    );
}

/** The lab list as the orphan rules see it; a list that failed or answered 404 fails the server. */
async function readLabList(listing: Promise<string[] | null>, r: ServerSyncResult): Promise<ListOutcome> {
  try {
    const got = await listing;
    if (got !== null) return { kind: 'ok', ids: [...new Set(got)] };
    r.status = 'failed';
    r.error = { kind: 'failed', reason: 'http', message: 'GET /labs answered 404; is the URL the CML controller?' };
    return { kind: 'not-found' };
  } catch (e) {
    r.status = 'failed';
    r.error = toServerError(e, 'unreachable');
    return { kind: 'failed', reason: r.error.message };
  }
}

/** Writes the server's changes; when that fails, the server failed and nothing counts as synced. */
async function storeChanges(store: LabsStorePort, serverId: string, changes: LabChanges, r: ServerSyncResult): Promise<boolean> {
  try {
    r.statements += await store.apply(serverId, changes);
    return true;
  } catch (e) {
    r.status = 'failed';
    r.error = toServerError(e, 'store');
    r.synced = r.created = r.updated = r.unchanged = r.orphaned = r.restored = r.history = 0;
    return false;
  }
}

async function purgeOrphans(store: LabsStorePort, serverId: string, r: ServerSyncResult, orphanedBefore?: string): Promise<void> {
  try {
    r.purged = (await store.purgeOrphans(serverId, orphanedBefore)).length;
  } catch (e) {
    r.warnings.push(`purge failed: ${(e as Error).message}`);
  }
}

/**
 * What changed on one server against its stored records: the details fetched with bounded concurrency, each
 * compared with its record; the counts go to the server's result as they are found.
 */
class LabChangeSet {
  readonly changes: LabChanges;
  readonly events: LabEvent[] = [];
  /** the transport failure after which no more details are fetched */
  fatal: ServerError | null = null;
  /** details that timed out since the last one that answered */
  private timeoutsInARow = 0;
  private readonly byId: Map<string, LabRecord>;

  constructor(
    private readonly serverId: string,
    records: readonly LabRecord[],
    private readonly nowIso: string,
    private readonly newId: () => string,
    private readonly r: ServerSyncResult,
  ) {
    this.byId = new Map(records.map((x) => [x.labId, x]));
    this.changes = { upserts: [], history: [], touched: [], syncedAt: nowIso, orphaned: [] };
  }

  async fetchDetails(api: LabsApi, ids: readonly string[], concurrency: number, signal: AbortSignal | undefined): Promise<void> {
    await mapPool(ids, concurrency, async (labId) => {
      if (this.fatal || signal?.aborted) return;
      let body: unknown;
      try {
        body = await api.labDetail(labId, signal);
        this.timeoutsInARow = 0;
      } catch (e) {
        const err = toServerError(e, 'http');
        if (err.reason === 'timeout') this.lateDetail(labId, err, concurrency);
        else if (FATAL_REASONS.has(err.reason)) this.fatal ??= err;
        else {
          this.timeoutsInARow = 0; // it answered, if with an error
          this.r.labErrors.push({ lab_id: labId, error: err.message });
        }
        return;
      }
      if (body === null) {
        this.r.warnings.push(`lab ${labId} vanished between the list and its detail (404); skipped`);
        return;
      }
      const parsed = parseLabDetail(body, labId);
      if (!parsed.ok) {
        this.r.labErrors.push({ lab_id: labId, error: parsed.error });
        return;
      }
      this.r.warnings.push(...parsed.warnings);
      this.apply(labId, parsed.snapshot);
    });
  }

  /**
   * A detail that timed out is that lab's error (upstream logs the lab and goes on): one slow lab never fails its
   * controller. Only when more details time out in a row than are fetched at once, with none answering in between,
   * is the controller itself hanging: then the sync stops there and the server fails.
   */
  private lateDetail(labId: string, err: ServerError, concurrency: number): void {
    this.r.labErrors.push({ lab_id: labId, error: err.message });
    if (++this.timeoutsInARow > concurrency) this.fatal ??= { ...err, message: `${this.timeoutsInARow} lab details in a row timed out; last: ${err.message}` };
  }

  markOrphaned(labIds: string[]): void {
    this.changes.orphaned = labIds;
    for (const labId of labIds) this.events.push(orphanEvent(this.byId.get(labId)!, this.nowIso));
    this.r.orphaned = labIds.length;
  }

  private apply(labId: string, snapshot: LabSnapshot): void {
    const { r, changes } = this;
    const d = applySnapshot(this.byId.get(labId), snapshot, { serverId: this.serverId, now: this.nowIso, newRecordId: this.newId });
    r.synced++;
    if (d.kind === 'unchanged') {
      r.unchanged++;
      changes.touched.push(labId);
      return;
    }
    changes.upserts.push(d.record);
    this.events.push(...d.events);
    if (d.kind === 'created') {
      r.created++;
      return;
    }
    r.updated++;
    if (d.changed.includes('orphanedAt')) r.restored++;
    if (d.history) changes.history.push({ labId, entry: d.history as HistoryEntry });
  }
}

export async function syncLabs(
  servers: readonly CmlServerRef[],
  opts: LabsSyncOptions,
  ports: LabsSyncPorts,
  signal?: AbortSignal,
  hooks: { onEvent?: (e: LabEvent) => void; onServer?: (r: ServerSyncResult) => void } = {},
): Promise<LabsSyncResult> {
  const all: LabEvent[] = [];
  const emit = (e: LabEvent) => {
    all.push(e);
    hooks.onEvent?.(e);
  };
  const results = await mapPool(
    servers,
    opts.concurrency,
    async (s) => {
      let res: ServerSyncResult;
      try {
        res = await syncServer(s, opts, ports, signal, emit);
      } catch (e) {
        // A bug in one server's sync must not take the others down.
        res = { ...emptyResult(s), status: 'failed', error: toServerError(e, 'internal') };
      }
      hooks.onServer?.(res);
      return res;
    },
    signal,
  );
  const done = results.filter(Boolean);
  let notifyError: string | null = null;
  if (ports.notify && all.length) {
    try {
      await ports.notify(all);
    } catch (e) {
      notifyError = (e as Error).message;
    }
  }
  const sum = (k: 'synced' | 'created' | 'updated' | 'orphaned' | 'purged') => done.reduce((n, x) => n + x[k], 0);
  return {
    servers: done,
    totals: {
      servers: done.length,
      failed: done.filter((x) => x.status === 'failed').length,
      synced: sum('synced'),
      created: sum('created'),
      updated: sum('updated'),
      orphaned: sum('orphaned'),
      purged: sum('purged'),
      labErrors: done.reduce((n, x) => n + x.labErrors.length, 0),
    },
    events: all.length,
    notifyError,
  };
}

function emptyResult(s: CmlServerRef): ServerSyncResult {
  return {
    server: s.id, name: s.name, url: s.url, status: 'failed', error: null, health: { ok: false, error: 'not checked' },
    listed: 0, synced: 0, created: 0, updated: 0, unchanged: 0, orphaned: 0, restored: 0, purged: 0, history: 0,
    labErrors: [], suspectEmptyList: false, warnings: [], statements: 0, durationMs: 0,
  };
}

/**
 * One outcome per server, and a failed one per lab that failed on a server that answered, and for a suspiciously
 * empty lab list (so the run is partial, 5, not a silent 0).
 */
export function syncOutcomes(r: LabsSyncResult): Outcome[] {
  return r.servers.flatMap((s): Outcome[] => {
    if (s.status === 'failed') {
      const k = s.error?.kind ?? 'failed';
      return [k === 'partial' ? 'failed' : k];
    }
    return ['ok', ...s.labErrors.map((): Outcome => 'failed'), ...(s.suspectEmptyList ? (['failed'] as const) : [])];
  });
}
