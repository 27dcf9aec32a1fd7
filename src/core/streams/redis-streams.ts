// Redis Streams consumer-group client on ioredis (NOTES §2): XGROUP CREATE … 0 MKSTREAM, XREADGROUP,
// XAUTOCLAIM over every page, XACK, a keepalive that refreshes only the entries this consumer still owns,
// XADD to the DLQ. Two connections: a blocking XREADGROUP holds its socket, so ACKs and claims go over
// the second one. ioredis reconnects by itself; commands wait for the reconnect. Every error leaves
// here classified: RedisUnavailable (transient), AuthFailed, OperationFailed (Redis refused the
// command); a TypeError and its kin pass unchanged, they are bugs.
import { Redis, type RedisOptions } from 'ioredis';
import { AuthFailed, LabopsError, OperationFailed, Unreachable } from '../../domain/errors.js';

// KEYS[1] stream; ARGV group, consumer. Returns 1 when an existing, never-joined group was set back to 0.
const ENSURE_GROUP = `
local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
local rewound = 0
if type(r) == 'table' and r.err then
  if not string.find(r.err, 'BUSYGROUP', 1, true) then return r end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    if f['name'] == ARGV[1] and f['consumers'] == 0 and f['pending'] == 0 and f['last-delivered-id'] ~= '0-0' then
      redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], '0')
      rewound = 1
    end
  end
end
redis.call('XGROUP', 'CREATECONSUMER', KEYS[1], ARGV[1], ARGV[2])
return rewound
`;

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

/** Redis did not answer (connection refused or lost, still loading, failover): try again later. */
export class RedisUnavailable extends Unreachable {}

/** Reply errors that mean "not now" rather than "never". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;

/** The labops error for a failed Redis command; errors of our own code (TypeError, …) stay as they are. */
export function classifyRedisError(e: unknown, what: string): unknown {
  if (e instanceof LabopsError || !(e instanceof Error)) return e;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return e;
  const why = describeRedisError(e);
  if (isAuthError(why)) return new AuthFailed(`Redis ${what}: ${why}`, { cause: e });
  if (e.name === 'ReplyError' && !TRANSIENT_REPLY.test(e.message)) return new OperationFailed(`Redis ${what}: ${e.message}`, { cause: e });
  return new RedisUnavailable(`Redis ${what}: ${why}`, { cause: e });
}

/** Redis takes whole milliseconds. */
const ms = (n: number) => Math.max(0, Math.round(n));

const isNoGroup = (e: unknown) => /NOGROUP/.test((e as Error)?.message ?? '');

/** connections being closed on purpose: their close is not a problem to report */
const closing = new WeakSet<Redis>();

/** Connection options shared by both sockets: RESP2 like redis-py, reconnect forever with a capped delay. */
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

/** One entry of this consumer's pending list (XPENDING). */
export interface PendingEntry {
  id: string;
  idleMs: number;
  deliveries: number;
}

/** Who holds an entry now: this consumer, another one, or nobody (ACKed, or lost with Redis' data). */
export type Holder = 'mine' | 'other' | 'none';

// Check and set the idle time in one step, so an entry another consumer has claimed is never taken back.
// KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] idle ms, ARGV[4..] entry ids; returns one holder per id.
const HOLD_SCRIPT = `
local holders, mine = {}, {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] == nil then holders[#holders + 1] = 'none'
  elseif p[1][2] == ARGV[2] then holders[#holders + 1] = 'mine'; mine[#mine + 1] = ARGV[i]
  else holders[#holders + 1] = 'other' end
end
if #mine > 0 then
  local args = {KEYS[1], ARGV[1], ARGV[2], 0}
  for _, id in ipairs(mine) do args[#args + 1] = id end
  args[#args + 1] = 'IDLE'
  args[#args + 1] = ARGV[3]
  args[#args + 1] = 'JUSTID'
  redis.call('XCLAIM', unpack(args))
end
return holders`;

type Reply = [string, [string, string[] | null][]][] | null;

function entriesOf(reply: unknown): { entries: StreamEntry[]; deleted: string[] } {
  const entries: StreamEntry[] = [];
  const deleted: string[] = [];
  for (const [, list] of (reply as Reply) ?? []) {
    for (const [id, flat] of list) {
      if (flat) entries.push({ id, fields: toFields(flat) });
      else deleted.push(id);
    }
  }
  return { entries, deleted };
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

  /** Runs one Redis command; its error leaves classified. */
  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw classifyRedisError(e, `${what} ${this.id.stream}`);
    }
  }

  /**
   * XGROUP CREATE <stream> <group> 0 MKSTREAM, then CREATECONSUMER (the consumer shows in XINFO CONSUMERS
   * from its start). Upstream creates the group at `$`, which skips every entry queued before the group
   * existed; the LINBO API still does so at its start. A group that no consumer ever joined (no consumers,
   * nothing pending) is therefore set back to 0: nobody has read it, so no queued job is skipped. One
   * script, so two consumers starting together cannot both rewind. `rewound`: it was set back.
   */
  async ensureGroup(): Promise<{ rewound: boolean }> {
    const reply = await this.run('XGROUP CREATE', () => this.cmd.eval(ENSURE_GROUP, 1, this.id.stream, this.id.group, this.id.consumer));
    return { rewound: reply === 1 };
  }

  /** New entries for this consumer; NOGROUP (Redis lost its data) recreates the group. */
  async read(count: number, blockMs: number | undefined): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', this.id.group, this.id.consumer, 'COUNT', count];
    if (blockMs !== undefined) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.id.stream, '>');
    let reply: unknown;
    try {
      reply = await this.run('XREADGROUP', () => (this.blocking.xreadgroup as unknown as (...a: (string | number)[]) => Promise<unknown>)(...args));
    } catch (e) {
      if (!isNoGroup(e)) throw e;
      await this.ensureGroup();
      return [];
    }
    return entriesOf(reply).entries;
  }

  /** This consumer's pending entries with their idle times (XPENDING … - + <count> <consumer>). */
  async ownPending(count: number): Promise<PendingEntry[]> {
    let reply: [string, string, number, number][];
    try {
      reply = (await this.run('XPENDING', () => this.cmd.xpending(this.id.stream, this.id.group, '-', '+', count, this.id.consumer))) as [string, string, number, number][];
    } catch (e) {
      if (isNoGroup(e)) return [];
      throw e;
    }
    return reply.map(([id, , idle, deliveries]) => ({ id, idleMs: Number(idle), deliveries: Number(deliveries) }));
  }

  /** XCLAIM to this consumer of the entries still idle for `minIdleMs`; entries deleted from the stream are dropped (and ACKed). */
  async claim(ids: readonly string[], minIdleMs: number): Promise<StreamEntry[]> {
    if (ids.length === 0) return [];
    const reply = (await this.run('XCLAIM', () => this.cmd.xclaim(this.id.stream, this.id.group, this.id.consumer, ms(minIdleMs), ...ids))) as [string, string[] | null][];
    const { entries, deleted } = entriesOf([[this.id.stream, reply]]);
    await this.ack(deleted);
    return entries;
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
        reply = (await this.run('XAUTOCLAIM', () => this.cmd.xautoclaim(this.id.stream, this.id.group, this.id.consumer, ms(minIdleMs), cursor, 'COUNT', pageSize))) as unknown[];
      } catch (e) {
        if (!isNoGroup(e)) throw e;
        await this.ensureGroup();
        break;
      }
      cursor = String(reply[0]);
      const found = entriesOf([[this.id.stream, (reply[1] as [string, string[] | null][]) ?? []]]);
      entries.push(...found.entries);
      deleted.push(...found.deleted);
      for (const id of (reply[2] as string[] | undefined) ?? []) deleted.push(String(id));
      if (cursor === '0-0') break;
    }
    return { entries, deleted };
  }

  /** XACK; with the group gone (Redis lost its data) there is nothing left to acknowledge. */
  async ack(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    try {
      return await this.run('XACK', () => this.cmd.xack(this.id.stream, this.id.group, ...ids));
    } catch (e) {
      if (isNoGroup(e)) return 0;
      throw e;
    }
  }

  /**
   * Keepalive: resets the idle time of the entries this consumer still holds, so nobody claims them,
   * and says who holds each one. An entry another consumer has claimed meanwhile (this one was silent
   * for longer than its claim time) stays with that consumer: XCLAIM with min-idle 0 would take it back.
   */
  keep(ids: readonly string[]): Promise<Holder[]> {
    return this.hold(ids, 0);
  }

  /** Entries this consumer leaves unfinished (stopping): their idle time is set to `idleMs`, so the next run or another consumer takes them at once. */
  async release(ids: readonly string[], idleMs: number): Promise<void> {
    await this.hold(ids, idleMs);
  }

  private async hold(ids: readonly string[], idleMs: number): Promise<Holder[]> {
    if (ids.length === 0) return [];
    try {
      const r = await this.run('keepalive', () => this.cmd.eval(HOLD_SCRIPT, 1, this.id.stream, this.id.group, this.id.consumer, ms(idleMs), ...ids));
      return (r as string[]).map((h) => (h === 'mine' || h === 'other' ? h : 'none'));
    } catch (e) {
      if (isNoGroup(e)) return ids.map(() => 'none');
      throw e;
    }
  }

  async deadLetter(fields: Record<string, string>): Promise<string> {
    return (await this.run('XADD', () => this.cmd.xadd(this.id.dlq, '*', ...Object.entries(fields).flat()))) as string;
  }

  async add(fields: Record<string, string>): Promise<string> {
    return (await this.run('XADD', () => this.cmd.xadd(this.id.stream, '*', ...Object.entries(fields).flat()))) as string;
  }

  async ping(): Promise<void> {
    await this.run('PING', () => this.cmd.ping());
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
