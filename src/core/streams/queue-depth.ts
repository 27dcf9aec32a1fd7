// How much DC work waits in Redis, for the daemon's status page: entries the consumer group has not read yet
// (XINFO GROUPS lag, Redis 7+; before that, unknown unless nothing was ever read), read but unacknowledged
// (pending), and the dead-letter stream's length. One connection, opened on first use, reconnecting by itself.
import { Redis } from 'ioredis';
import { DLQ_STREAM, JOB_GROUP, JOB_STREAM } from '../../domain/dc-jobs.js';
import type { RedisConnectOptions } from './redis-streams.js';

export interface JobQueueDepth {
  waiting: number | null;
  pending: number | null;
  deadLetters: number;
}

function pairs(flat: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

const count = (v: unknown): number | null => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

export class JobQueueProbe {
  private redis?: Redis;

  constructor(private readonly o: Pick<RedisConnectOptions, 'host' | 'port' | 'password' | 'db'>) {}

  async depth(): Promise<JobQueueDepth> {
    this.redis ??= new Redis({
      host: this.o.host,
      port: this.o.port,
      password: this.o.password || undefined,
      db: this.o.db ?? 0,
      protocol: 2,
      connectTimeout: 3000,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 500, 5000),
    }).on('error', () => {
      // reported through the failing command
    });
    const r = this.redis;
    const [groups, streamLength, deadLetters] = await Promise.all([
      r.xinfo('GROUPS', JOB_STREAM).catch((e: Error) => (/no such key/i.test(e.message) ? [] : Promise.reject(e))),
      r.xlen(JOB_STREAM),
      r.xlen(DLQ_STREAM),
    ]);
    const group = (groups as unknown[]).map(pairs).find((g) => String(g.name) === JOB_GROUP);
    if (!group) return { waiting: streamLength, pending: 0, deadLetters };
    return { waiting: count(group.lag), pending: count(group.pending), deadLetters };
  }

  close(): void {
    this.redis?.disconnect();
    this.redis = undefined;
  }
}
