// Shard leases for the fleet-wide loops (heartbeat poll, server checks, labs refresh). Each instance keeps
// one row per loop it runs in labops_instances with an expiry computed from the database's own clock, and
// renews it every lease/3. The live members of a loop are the rows not yet expired; every instance
// derives the same owner for each host from that list (rendezvous hashing, src/domain/daemon.ts). An
// instance that dies stops renewing: its rows expire within one lease and its share falls to the others at
// their next renewal. An instance that cannot renew (database down) stops working on its share once its
// own lease has run out, so two instances never both believe they own the same share for long.
import { delayUntilNextRun, shardOwner, shareOf } from '../../domain/daemon.js';
import type { DaemonLogger } from './scheduler.js';

export interface MemberRow {
  loop: string;
  instance: string;
  hostname: string;
  pid: number;
  startedAtMs: number;
  expiresAtMs: number;
}

/** The rows; the core store (src/core/db/instance-store.ts) satisfies it over MySQL or SQLite. */
export interface MembershipStore {
  /** the database server's clock in epoch ms (one clock for every instance, whatever their skew) */
  nowMs(): Promise<number>;
  renew(row: MemberRow): Promise<void>;
  /** instances of `loop` whose rows expire after `nowMs` */
  live(loop: string, nowMs: number): Promise<MemberRow[]>;
  leave(instance: string, loops: readonly string[]): Promise<void>;
  /** delete rows expired before `beforeMs` (dead instances) */
  prune(beforeMs: number): Promise<number>;
}

export interface MembershipOptions {
  instance: string;
  hostname: string;
  pid: number;
  loops: readonly string[];
  leaseMs: number;
}

export interface ShardView {
  loop: string;
  /** live members, sorted */
  members: string[];
  me: string;
  /** the last successful renewal, ISO */
  renewedAt: string | null;
  /** my lease, as the database sees it */
  expiresAt: string | null;
  /** false when the lease ran out without a renewal: the share is not worked on */
  valid: boolean;
}

export class LeaseExpired extends Error {}

export class Membership {
  private members = new Map<string, string[]>();
  private renewedLocal: number | null = null;
  private expiresDb: number | null = null;
  private renewedDb: number | null = null;
  private readonly startedAt: number;
  private failures = 0;
  private readonly changeListeners = new Map<string, Set<() => void>>();
  lastError: string | null = null;

  constructor(
    private readonly store: MembershipStore,
    private readonly o: MembershipOptions,
    private readonly ports: { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void>; log: DaemonLogger },
  ) {
    this.startedAt = Date.now();
  }

  get renewEveryMs(): number {
    return Math.max(50, Math.floor(this.o.leaseMs / 3));
  }

  /** One renewal: my rows extended, the live members re-read. Throws when the database is unreachable. */
  async renew(): Promise<void> {
    const local = this.ports.now();
    const now = await this.store.nowMs();
    const expiresAtMs = now + this.o.leaseMs;
    for (const loop of this.o.loops) {
      await this.store.renew({ loop, instance: this.o.instance, hostname: this.o.hostname, pid: this.o.pid, startedAtMs: this.startedAt, expiresAtMs });
    }
    const next = new Map<string, string[]>();
    for (const loop of this.o.loops) {
      const rows = await this.store.live(loop, now);
      next.set(loop, [...new Set(rows.map((r) => r.instance))].sort());
    }
    const changed: string[] = [];
    for (const [loop, m] of next) {
      const before = this.members.get(loop);
      if (before && before.join(',') !== m.join(',')) {
        this.ports.log.info(`${loop}: shard members now ${m.join(', ')}`, { lease: loop, members: m });
        changed.push(loop);
      }
    }
    this.members = next;
    for (const loop of changed) for (const listener of this.changeListeners.get(loop) ?? []) listener();
    this.renewedLocal = local;
    this.renewedDb = now;
    this.expiresDb = expiresAtMs;
    if (this.failures > 0) this.ports.log.info(`leases renewed again after ${this.failures} failure(s)`);
    this.failures = 0;
    this.lastError = null;
    // rows of instances dead for ten leases are removed (any instance may do it; it is idempotent)
    await this.store.prune(now - this.o.leaseMs * 10).catch(() => 0);
  }

  /**
   * Renews every lease/3 until `signal` aborts, at a fixed rate: the next renewal starts lease/3 after the previous
   * one started, so renewals slowed by a busy machine or database do not stretch the period (a lease is counted
   * from a renewal's start, and a valid instance must not skip its share because its renewals drifted).
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = this.ports.now();
      try {
        await this.renew();
      } catch (e) {
        this.failures++;
        this.lastError = (e as Error).message.split('\n')[0]!;
        if (this.failures === 1 || this.failures % 10 === 0) this.ports.log.warn(`lease renewal failed (${this.lastError}); retrying`, { failures: this.failures });
      }
      await this.ports.sleep(delayUntilNextRun(started, this.ports.now(), this.renewEveryMs), signal);
    }
  }

  /**
   * Calls `listener` whenever the members of `loop` change (an instance joined, or one's lease ran out): the loop
   * need not wait out its interval to poll a share that grew. Returns the unsubscribe.
   */
  onChange(loop: string, listener: () => void): () => void {
    const set = this.changeListeners.get(loop) ?? new Set();
    set.add(listener);
    this.changeListeners.set(loop, set);
    return () => set.delete(listener);
  }

  async leave(): Promise<void> {
    await this.store.leave(this.o.instance, this.o.loops);
  }

  /** true while the last renewal is younger than one lease (measured on this machine's monotonic clock) */
  valid(): boolean {
    return this.renewedLocal !== null && this.ports.now() - this.renewedLocal < this.o.leaseMs;
  }

  view(loop: string): ShardView {
    return {
      loop,
      members: this.members.get(loop) ?? [],
      me: this.o.instance,
      renewedAt: this.renewedDb === null ? null : new Date(this.renewedDb).toISOString(),
      expiresAt: this.expiresDb === null ? null : new Date(this.expiresDb).toISOString(),
      valid: this.valid(),
    };
  }

  /** My share of `items` for `loop`; throws LeaseExpired when the lease is not valid. */
  share<T>(loop: string, items: readonly T[], key: (item: T) => string): T[] {
    if (!this.valid()) throw new LeaseExpired(`${loop}: shard lease not renewed for ${Math.round(this.o.leaseMs / 1000)}s (${this.lastError ?? 'no renewal yet'}); skipping this run`);
    const members = this.members.get(loop) ?? [];
    // my own row may not be visible yet (first renewal raced): I am a member in any case
    const all = members.includes(this.o.instance) ? members : [...members, this.o.instance].sort();
    return shareOf(items, key, all, this.o.instance);
  }

  owner(loop: string, key: string): string | undefined {
    return shardOwner(key, this.members.get(loop) ?? []);
  }
}
