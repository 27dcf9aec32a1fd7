// Redis Streams consumer-group client on ioredis (NOTES §2): XGROUP CREATE … $ MKSTREAM, XREADGROUP,
// XAUTOCLAIM over every page, XACK, XCLAIM JUSTID to keep in-flight entries from being claimed by
// others, XADD to the DLQ. Two connections: a blocking XREADGROUP holds its socket, so ACKs and claims
// go over the second one. ioredis reconnects by itself; commands wait for the reconnect.
import { Redis, type RedisOptions } from 'ioredis';
import { AuthFailed, Unreachable } from '../../domain/errors.js';

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

export interface RedisConnectOptions {
  host: string;
  port: number;
  password?: string;
  db?: number;
  connectTimeoutMs?: number;
  /** reported for connection problems after startup (auth rejected, refused, reset); never contains the password */
  onConnectionError?: (message: string) => void;
  onReady?: () => void;
}

export interface ConsumerIdentity {
  stream: string;
  group: string;
  consumer: string;
  dlq: string;
}

function toFields(flat: readonly (string | Buffer)[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!flat) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

function describeRedisError(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) return 'Redis rejected the password (WRONGPASS): check REDIS_PASSWORD';
  if (/NOAUTH/i.test(msg)) return 'Redis requires a password (NOAUTH): set REDIS_PASSWORD';
  if (/ECONNREFUSED/.test(msg)) return 'connection refused';
  if (/ETIMEDOUT|timed out/i.test(msg)) return 'connection timed out';
  return msg;
}

export function isAuthError(message: string): boolean {
  return /WRONGPASS|NOAUTH|rejected the password|requires a password/.test(message);
}

/** Connection options shared by both sockets: RESP2 like redis-py, reconnect forever with a capped delay. */
/** connections being closed on purpose: their close is not a problem to report */
const closing = new WeakSet<Redis>();

function redisOptions(o: RedisConnectOptions): RedisOptions {
  return {
    host: o.host,
    port: o.port,
    password: o.password || undefined,
    db: o.db ?? 0,
    protocol: 2,
    lazyConnect: true,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    maxRetriesPerRequest: null,
    // the API's own strategy: min(times*500, 5000) ms
    retryStrategy: (times) => Math.min(times * 500, 5000),
    enableReadyCheck: true,
  };
}

/** Connects once and fails clearly (auth → AuthFailed, anything else → Unreachable). */
async function connectChecked(o: RedisConnectOptions, what: string): Promise<Redis> {
  const r = new Redis({ ...redisOptions(o), retryStrategy: () => null });
  let last = '';
  const onErr = (e: Error) => (last = describeRedisError(e));
  r.on('error', onErr);
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    r.disconnect();
    const why = last || describeRedisError(e);
    const where = `Redis at ${o.host}:${o.port}`;
    if (isAuthError(why)) throw new AuthFailed(`${where}: ${why}`, { suggestion: 'set REDIS_PASSWORD in /etc/macct-worker.conf to the password of the LINBO Docker Redis' });
    throw new Unreachable(`${where} (${what}): ${why}`, { suggestion: 'check REDIS_HOST/REDIS_PORT and that the Redis port is reachable from this DC' });
  }
  r.off('error', onErr);
  // From now on it reconnects by itself.
  r.options.retryStrategy = redisOptions(o).retryStrategy;
  let lastReported = '';
  const report = (m: string) => {
    // One line per distinct problem, not one per reconnect attempt.
    if (m !== lastReported) o.onConnectionError?.(m);
    lastReported = m;
  };
  r.on('error', (e: Error) => report(describeRedisError(e)));
  // A server shutdown closes the socket without an error event.
  r.on('close', () => {
    if (r.status !== 'end' && !closing.has(r)) report('connection lost');
  });
  r.on('ready', () => {
    if (lastReported) o.onReady?.();
    lastReported = '';
  });
  return r;
}

export class RedisJobStream {
  private constructor(
    private readonly cmd: Redis,
    private readonly blocking: Redis,
    readonly id: ConsumerIdentity,
  ) {}

  static async connect(o: RedisConnectOptions, id: ConsumerIdentity): Promise<RedisJobStream> {
    const cmd = await connectChecked(o, 'commands');
    let blocking: Redis;
    try {
      blocking = await connectChecked({ ...o, onConnectionError: undefined, onReady: undefined }, 'reads');
    } catch (e) {
      cmd.disconnect();
      throw e;
    }
    blocking.on('error', () => {}); // reported through the command connection
    return new RedisJobStream(cmd, blocking, id);
  }

  /** XGROUP CREATE <stream> <group> $ MKSTREAM; an existing group is fine. */
  async ensureGroup(): Promise<void> {
    try {
      await this.cmd.xgroup('CREATE', this.id.stream, this.id.group, '$', 'MKSTREAM');
    } catch (e) {
      if (!/BUSYGROUP/.test((e as Error).message)) throw e;
    }
  }

  /** New entries for this consumer; NOGROUP (Redis lost its data) recreates the group. */
  async read(count: number, blockMs: number | undefined): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', this.id.group, this.id.consumer, 'COUNT', count];
    if (blockMs !== undefined) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.id.stream, '>');
    let reply: unknown;
    try {
      reply = await (this.blocking.xreadgroup as unknown as (...a: (string | number)[]) => Promise<unknown>)(...args);
    } catch (e) {
      if (/NOGROUP/.test((e as Error).message)) {
        await this.ensureGroup();
        return [];
      }
      throw e;
    }
    const out: StreamEntry[] = [];
    for (const [, entries] of (reply as [string, [string, string[] | null][]][] | null) ?? []) {
      for (const [id, flat] of entries) out.push({ id, fields: toFields(flat) });
    }
    return out;
  }

  /** This consumer's own pending entries (XREADGROUP … 0): what it read before a crash or restart. Deleted ones are ACKed. */
  async readOwnPending(count: number): Promise<StreamEntry[]> {
    let reply: unknown;
    try {
      reply = await (this.cmd.xreadgroup as unknown as (...a: (string | number)[]) => Promise<unknown>)('GROUP', this.id.group, this.id.consumer, 'COUNT', count, 'STREAMS', this.id.stream, '0');
    } catch (e) {
      if (/NOGROUP/.test((e as Error).message)) return [];
      throw e;
    }
    const out: StreamEntry[] = [];
    const gone: string[] = [];
    for (const [, entries] of (reply as [string, [string, string[] | null][]][] | null) ?? []) {
      for (const [id, flat] of entries) {
        if (flat) out.push({ id, fields: toFields(flat) });
        else gone.push(id);
      }
    }
    await this.ack(gone);
    return out;
  }

  /**
   * XAUTOCLAIM over every page (the worker used only the first): entries pending longer than
   * `minIdleMs` move to this consumer. Entries deleted from the stream meanwhile come back as `deleted`.
   */
  async autoclaim(minIdleMs: number, pageSize = 100): Promise<{ entries: StreamEntry[]; deleted: string[] }> {
    const entries: StreamEntry[] = [];
    const deleted: string[] = [];
    let cursor = '0-0';
    for (let page = 0; page < 10_000; page++) {
      let reply: unknown[];
      try {
        reply = (await this.cmd.xautoclaim(this.id.stream, this.id.group, this.id.consumer, minIdleMs, cursor, 'COUNT', pageSize)) as unknown[];
      } catch (e) {
        if (/NOGROUP/.test((e as Error).message)) {
          await this.ensureGroup();
          break;
        }
        throw e;
      }
      cursor = String(reply[0]);
      for (const item of (reply[1] as [string, string[] | null][]) ?? []) {
        if (item && item[1]) entries.push({ id: item[0], fields: toFields(item[1]) });
        else if (item) deleted.push(item[0]);
      }
      for (const id of (reply[2] as string[] | undefined) ?? []) deleted.push(String(id));
      if (cursor === '0-0') break;
    }
    return { entries, deleted };
  }

  async ack(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.cmd.xack(this.id.stream, this.id.group, ...ids);
  }

  /** Resets the idle time of entries this consumer is still working on, so nobody claims them. */
  async touch(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await (this.cmd.xclaim as unknown as (...a: (string | number)[]) => Promise<unknown>)(this.id.stream, this.id.group, this.id.consumer, 0, ...ids, 'JUSTID');
  }

  async deadLetter(fields: Record<string, string>): Promise<string> {
    return (await this.cmd.xadd(this.id.dlq, '*', ...Object.entries(fields).flat())) as string;
  }

  async add(fields: Record<string, string>): Promise<string> {
    return (await this.cmd.xadd(this.id.stream, '*', ...Object.entries(fields).flat())) as string;
  }

  async ping(): Promise<void> {
    await this.cmd.ping();
  }

  close(): void {
    closing.add(this.cmd);
    closing.add(this.blocking);
    this.blocking.disconnect();
    this.cmd.disconnect();
  }
}

/** One-off reachability/auth check (dc check, dc setup). */
export async function checkRedis(o: RedisConnectOptions): Promise<{ version?: string }> {
  const r = await connectChecked(o, 'check');
  try {
    const info = await r.info('server');
    return { version: /redis_version:(\S+)/.exec(info)?.[1] };
  } finally {
    r.disconnect();
  }
}
