// Heartbeat polling: read each host's heartbeat.json (and optionally its events and service-state.ini)
// from a source (WinRM or a file share), normalise, store. One host's failure never stops the others.
import { limiter, mapPool } from '../../domain/pool.js';
import { HeartbeatFormatError, normalizeHeartbeat, parseHeartbeat, type HeartbeatSnapshot } from '../../domain/heartbeat/normalize.js';
import { parseGuardEvents, type GuardEvent } from '../../domain/heartbeat/events.js';
import { operationsFromServiceState, parseServiceStateIni } from '../../domain/heartbeat/service-state.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import { isLabopsError } from '../../domain/errors.js';
import { StationFileTooLarge } from '../../domain/heartbeat/decode.js';
import { skewText } from '../../domain/heartbeat/alerts.js';

export type StationFile = 'heartbeat' | 'events' | 'service-state';

export interface HeartbeatSource {
  readonly kind: 'winrm' | 'file';
  /** the file's bytes, or null when it does not exist */
  read(host: InventoryHost, file: StationFile, signal?: AbortSignal): Promise<Uint8Array | null>;
  /** where the file is read from, for messages */
  describe(host: InventoryHost, file: StationFile): string;
  /**
   * Several files of one host in one round trip (over WinRM: one shell instead of one per file); each entry is
   * what `read` would return for that file, or the error it would throw.
   */
  readMany?(host: InventoryHost, files: readonly StationFile[], signal?: AbortSignal): Promise<Array<Uint8Array | null | Error>>;
  /**
   * A token that changes whenever one of the host's files changes, looked up without reading them (the file source:
   * one stat per file). Sources that cannot tell cheaply (WinRM) have none.
   */
  version?(host: InventoryHost, files: readonly StationFile[]): Promise<string>;
}

/**
 * What a poller remembers of each host between runs (the daemon keeps one per loop): the version of its files at
 * the last poll that stored them, and that poll's result. A host whose files still have that version is not read.
 */
export type PollMemory = Map<string, { version: string; result: HostPollResult }>;

/** A host's files as `read` gives them; with `readMany`, fetched together on the first call. */
function hostReader(source: HeartbeatSource, host: InventoryHost, files: readonly StationFile[], signal?: AbortSignal): (file: StationFile) => Promise<Uint8Array | null> {
  if (!source.readMany) return (file) => source.read(host, file, signal);
  let all: Promise<Array<Uint8Array | null | Error>> | undefined;
  return async (file) => {
    all ??= source.readMany!(host, files, signal);
    const i = files.indexOf(file);
    if (i < 0) return source.read(host, file, signal);
    const r = (await all)[i]!;
    if (r instanceof Error) throw r;
    return r;
  };
}

export interface HeartbeatSink {
  /** `clockSkewMs`: how far the station's clock runs ahead, when beyond the tolerance (forced logoffs are linked by it) */
  store(input: { host: InventoryHost; snapshot: HeartbeatSnapshot; events: GuardEvent[]; pollTime: string; clockSkewMs?: number }): Promise<{ heartbeatStored: boolean; eventsStored: number; forcedLogoffs: unknown[] }>;
}

export interface PollPorts {
  source: HeartbeatSource;
  /** absent with --no-store */
  sink?: HeartbeatSink;
  now(): number;
}

export type PollErrorKind = 'format' | 'missing' | 'unreachable' | 'auth' | 'other-station' | 'store' | 'error';

export interface HostPollResult {
  host: string;
  ok: boolean;
  source: string;
  durationMs: number;
  timestamp: string | null;
  reportedHost: string | null;
  ready: boolean | null;
  localMode: boolean | null;
  localSession: boolean | null;
  schemaVersion: string | null;
  repaired: boolean;
  /** the heartbeat names a different station than the inventory (flagged, still stored) */
  hostMismatch: string | null;
  /** ms the heartbeat was dated ahead of the poll, when more than the tolerance (the station's clock is ahead); else null */
  clockSkewMs: number | null;
  heartbeatStored: boolean;
  eventsStored: number;
  /** the host's files had not changed since the last stored poll: not read, the fields are that poll's */
  unchanged?: true;
  lastEvent: Record<string, unknown> | null;
  warnings: string[];
  error: { kind: PollErrorKind; message: string; line?: number; column?: number } | null;
  /** the parsed heartbeat as written by the station (for the ops-worker API shape) */
  heartbeat?: Record<string, unknown>;
}

export interface PollResult {
  hosts: HostPollResult[];
  ok: number;
  failed: number;
}

export interface PollRequest {
  hosts: readonly InventoryHost[];
  allHosts: readonly InventoryHost[];
  events: boolean;
  concurrency: number;
  /** keep the parsed heartbeat in each result */
  includeRaw?: boolean;
  /** a heartbeat dated more than this ahead of the poll is clock skew (heartbeat.clock-skew; default 2 min) */
  clockSkewMs?: number;
  /** with a source that has versions: hosts whose files are unchanged since the remembered poll are not read */
  memory?: PollMemory;
}

const DEFAULT_CLOCK_SKEW_MS = 120_000;

function classify(e: unknown): PollErrorKind {
  const k = (e as { kind?: string }).kind;
  if (k === 'unreachable') return 'unreachable';
  if (k === 'auth') return 'auth';
  return 'error';
}

function sameStation(reported: string, host: InventoryHost): boolean {
  const r = reported.trim().toLowerCase();
  return r === host.name.toLowerCase() || r === host.address.toLowerCase() || r === host.address.toLowerCase().split('.')[0];
}

/**
 * Hosts past their read that may wait on the store while others are read: a batch being written must not hold
 * every read slot, or the poll idles for each transaction (measured: ~15 % of a 5 000-file ingest).
 */
const STORE_AHEAD = 128;

export async function pollHeartbeats(req: PollRequest, ports: PollPorts, signal?: AbortSignal, onResult?: (r: HostPollResult) => void): Promise<PollResult> {
  // `concurrency` bounds what the stations (or the share) see: the reads. Parsing and storing run outside it.
  const reads = limiter(req.concurrency);
  const hosts = await mapPool(req.hosts, req.concurrency + (ports.sink ? STORE_AHEAD : 0), async (h) => {
    const r = await new HostPoll(h, req, ports, reads, signal).run();
    onResult?.(r);
    return r;
  }, signal);
  const done = hosts.filter(Boolean);
  if (req.memory) forgetOthers(req.memory, req.hosts);
  const ok = done.filter((h) => h.ok).length;
  return { hosts: done, ok, failed: done.length - ok };
}

/** Hosts no longer polled here (left the inventory or this instance's share) are forgotten: memory stays bounded. */
function forgetOthers(memory: PollMemory, hosts: readonly InventoryHost[]): void {
  if (memory.size <= hosts.length) return;
  const polled = new Set(hosts.map((h) => h.name.toLowerCase()));
  for (const key of memory.keys()) if (!polled.has(key)) memory.delete(key);
}

/** The error of a heartbeat that could not be read or is not one. */
function heartbeatReadError(e: unknown, source: string): NonNullable<HostPollResult['error']> {
  if (e instanceof StationFileTooLarge) return { kind: 'format', message: `${source}: not a heartbeat: ${e.message}` };
  if (e instanceof HeartbeatFormatError) {
    const pos = e.position && e.position.line > 0 ? { line: e.position.line, column: e.position.column } : {};
    return { kind: 'format', message: `${source}: ${e.message}`, ...pos };
  }
  return { kind: classify(e), message: (e as Error).message };
}

function hasOperations(raw: Record<string, unknown>): boolean {
  return 'operations' in raw || Boolean(raw.status && typeof raw.status === 'object' && 'operations' in (raw.status as object));
}

/** One host's poll: read the heartbeat, check whose it is, complete it from the other files, store it. */
class HostPoll {
  /** when this host's first read began: the time before it, waiting for a read slot, is not the host's */
  private started: number | undefined;
  private readonly base: HostPollResult;
  private readonly warnings: string[] = [];
  private readonly read: (file: StationFile) => Promise<Uint8Array | null>;
  private readonly files: readonly StationFile[];
  private readonly reads: ReturnType<typeof limiter>;

  constructor(
    private readonly host: InventoryHost,
    private readonly req: PollRequest,
    private readonly ports: PollPorts,
    reads: ReturnType<typeof limiter>,
    signal: AbortSignal | undefined,
  ) {
    this.base = {
      host: host.name, ok: false, source: ports.source.describe(host, 'heartbeat'), durationMs: 0, timestamp: null, reportedHost: null, ready: null,
      localMode: null, localSession: null, schemaVersion: null, repaired: false, hostMismatch: null, clockSkewMs: null, heartbeatStored: false, eventsStored: 0, lastEvent: null,
      warnings: [], error: null,
    };
    // service-state.ini is small and needed whenever the heartbeat lacks its operations block: read with the rest
    this.files = req.events ? ['heartbeat', 'service-state', 'events'] : ['heartbeat', 'service-state'];
    this.reads = reads;
    const readFile = hostReader(ports.source, host, this.files, signal);
    this.read = (file) =>
      reads.run(() => {
        this.started ??= ports.now();
        return readFile(file);
      });
  }

  /** The poll, or the remembered one when the host's files have not changed since (their version, looked up first). */
  async run(): Promise<HostPollResult> {
    const { memory } = this.req;
    const versionOf = this.ports.source.version?.bind(this.ports.source);
    if (!memory || !versionOf) return this.poll();
    const key = this.host.name.toLowerCase();
    // looked up before the read: a file changed while it is read has another version by the next run and is read again
    const version = await this.reads.run(() => {
      this.started ??= this.ports.now();
      return versionOf(this.host, this.files);
    });
    const known = memory.get(key);
    if (known?.version === version) return this.done(Object.assign({}, known.result, { unchanged: true as const, heartbeatStored: false, eventsStored: 0 }));
    const r = await this.poll();
    // remembered only once stored: a failed, torn or unstored read is read again next run
    if (r.ok && this.ports.sink) memory.set(key, { version, result: Object.assign({}, r, { heartbeat: undefined }) });
    else memory.delete(key);
    return r;
  }

  private async poll(): Promise<HostPollResult> {
    const { host, base, warnings, ports } = this;
    let snapshot: HeartbeatSnapshot;
    try {
      const bytes = await this.read('heartbeat');
      if (bytes === null) return this.done({ error: { kind: 'missing', message: `heartbeat.json not found at ${base.source}` } });
      snapshot = parseHeartbeat(bytes);
    } catch (e) {
      return this.done({ error: heartbeatReadError(e, base.source) });
    }
    const hostMismatch = snapshot.host && !sameStation(snapshot.host, host) ? `heartbeat names host '${snapshot.host}', inventory name is '${host.name}'` : null;
    if (hostMismatch) {
      const other = this.req.allHosts.find((h) => h !== host && sameStation(snapshot.host!, h));
      if (other) {
        return this.done({ reportedHost: snapshot.host, error: { kind: 'other-station', message: `${base.source} is the heartbeat of another station ('${snapshot.host}', inventory host '${other.name}'); not stored` } });
      }
      warnings.push(hostMismatch);
    }
    try {
      if (!hasOperations(snapshot.raw)) snapshot = await this.withServiceState(snapshot);
      const events = this.req.events ? await this.readEvents() : [];
      const pollTime = new Date(ports.now()).toISOString();
      const clockSkewMs = this.clockSkew(snapshot, pollTime);
      let stored = { heartbeatStored: false, eventsStored: 0, forcedLogoffs: [] as unknown[] };
      if (ports.sink) {
        try {
          // a heartbeat from the future is kept at the time it was read: last_seen never lies ahead of now
          const kept = clockSkewMs === null ? snapshot : { ...snapshot, timestamp: pollTime };
          stored = await ports.sink.store({ host, snapshot: kept, events, pollTime, clockSkewMs: clockSkewMs ?? undefined });
        } catch (e) {
          const hint = isLabopsError(e) && e.suggestion ? ` (${e.suggestion})` : '';
          return this.done({ warnings, error: { kind: 'store', message: `storing failed: ${(e as Error).message}${hint}` } });
        }
      }
      return this.done({
        ok: true,
        timestamp: snapshot.timestamp,
        reportedHost: snapshot.host,
        ready: snapshot.ready,
        localMode: snapshot.localMode,
        localSession: snapshot.localSession,
        schemaVersion: snapshot.schemaVersion,
        repaired: snapshot.repaired,
        hostMismatch,
        clockSkewMs,
        heartbeatStored: stored.heartbeatStored,
        eventsStored: stored.eventsStored,
        lastEvent: events.length ? events[events.length - 1]!.payload : null,
        warnings,
        heartbeat: this.req.includeRaw ? snapshot.raw : undefined,
      });
    } catch (e) {
      return this.done({ warnings, error: { kind: classify(e), message: (e as Error).message } });
    }
  }

  /** How far the heartbeat is dated ahead of the poll, when beyond the tolerance (with a warning); else null. */
  private clockSkew(snapshot: HeartbeatSnapshot, pollTime: string): number | null {
    if (!snapshot.timestamp) return null;
    const ahead = Date.parse(snapshot.timestamp) - Date.parse(pollTime);
    const tolerance = this.req.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    if (!(ahead > tolerance)) return null;
    this.warnings.push(`clock skew: the heartbeat is dated ${snapshot.timestamp}, ${skewText(ahead)} ahead of this machine's clock (tolerance ${Math.round(tolerance / 1000)} s); stored at the poll time, clock-skew alert`);
    return ahead;
  }

  private done(r: Partial<HostPollResult>): HostPollResult {
    const now = this.ports.now();
    // Object.assign, not spreads: on Node 20 `{ ...twentyFields, ...more }` costs ~30 µs per host and run
    return Object.assign({}, this.base, r, { durationMs: Math.round(now - (this.started ?? now)) });
  }

  /** The snapshot with the operations of service-state.ini, for a heartbeat without an operations block. */
  private async withServiceState(snapshot: HeartbeatSnapshot): Promise<HeartbeatSnapshot> {
    const ini = await this.readOptional('service-state');
    if (!ini) return snapshot;
    try {
      const operations = operationsFromServiceState(parseServiceStateIni(ini));
      return { ...normalizeHeartbeat({ ...snapshot.raw, operations }, snapshot.repaired), raw: snapshot.raw };
    } catch (e) {
      this.warnings.push(`${this.ports.source.describe(this.host, 'service-state')}: ${(e as Error).message}`);
      return snapshot;
    }
  }

  /** A station file other than the heartbeat; one over heartbeat.max-size is a warning and left unread. */
  private async readOptional(file: StationFile): Promise<Uint8Array | null> {
    try {
      return await this.read(file);
    } catch (e) {
      if (!(e instanceof StationFileTooLarge)) throw e;
      this.warnings.push(`${this.ports.source.describe(this.host, file)}: ${e.message}`);
      return null;
    }
  }

  /** The session-guard events; a broken line or file is a warning. */
  private async readEvents(): Promise<GuardEvent[]> {
    const ev = await this.readOptional('events');
    if (!ev) return [];
    const where = () => this.ports.source.describe(this.host, 'events');
    try {
      const parsed = parseGuardEvents(ev);
      for (const b of parsed.bad) this.warnings.push(`${where()}: line ${b.line}: ${b.error}`);
      return parsed.events;
    } catch (e) {
      this.warnings.push(`${where()}: ${(e as Error).message}`);
      return [];
    }
  }
}
