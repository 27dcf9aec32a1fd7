// labops daemon without services: sharding, jitter, the loop runner (first run at start, fixed rate, no
// overlap, deadline, independence, restart), shard leases over a fake store, /metrics text, log redaction.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { delayUntilNextRun, jitteredInterval, restartDelayMs, shardOwner, shareOf } from '../../src/domain/daemon.js';
import { LoopStats, runPeriodic, runService, type SchedulerPorts } from '../../src/ops/daemon/scheduler.js';
import { Membership, type MemberRow, type MembershipStore } from '../../src/ops/daemon/membership.js';
import { renderMetrics } from '../../src/ops/daemon/metrics.js';
import { createLogger, scrubText } from '../../src/core/logger.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A virtual clock: sleep() resolves when the test advances time past its deadline. */
class VirtualTime {
  t = 0;
  private timers: { at: number; resolve(): void }[] = [];
  now = () => this.t;
  sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { at: this.t + ms, resolve };
      this.timers.push(entry);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  /** advance to `to`, waking sleepers in order and letting their continuations run */
  async advance(to: number): Promise<void> {
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > to) break;
      this.timers.shift();
      this.t = next.at;
      next.resolve();
    }
    this.t = to;
    await flush();
  }
}
const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

const ports = (vt: VirtualTime, random = 0.5): SchedulerPorts => ({ now: vt.now, sleep: vt.sleep, random: () => random, log: quiet });

describe('sharding (rendezvous hashing)', () => {
  const hosts = Array.from({ length: 1000 }, (_, i) => `ws-${i}`);
  test('every host has exactly one owner, the same on every instance, spread evenly', () => {
    const members = ['b:2', 'a:1', 'c:3'];
    const shares = members.map((m) => shareOf(hosts, (h) => h, members, m));
    assert.equal(shares.reduce((n, s) => n + s.length, 0), hosts.length);
    assert.equal(new Set(shares.flat()).size, hosts.length);
    for (const s of shares) assert.ok(s.length > 250 && s.length < 420, `share ${s.length}`);
    // order of the member list does not matter
    assert.deepEqual(shareOf(hosts, (h) => h, ['c:3', 'b:2', 'a:1'], 'a:1'), shares[1]);
  });
  test('when a member leaves, only its hosts move', () => {
    const before = new Map(hosts.map((h) => [h, shardOwner(h, ['a', 'b', 'c'])]));
    const after = new Map(hosts.map((h) => [h, shardOwner(h, ['a', 'c'])]));
    for (const h of hosts) if (before.get(h) !== 'b') assert.equal(after.get(h), before.get(h), h);
    assert.ok([...after.values()].every((o) => o === 'a' || o === 'c'));
  });
  test('alone (or before any member is known) an instance owns everything', () => {
    assert.equal(shareOf(hosts, (h) => h, [], 'x').length, 1000);
    assert.equal(shareOf(hosts, (h) => h, ['x'], 'x').length, 1000);
  });
});

describe('intervals', () => {
  test('jitter stays within ±jitter and is capped at 50 %', () => {
    assert.equal(jitteredInterval(60_000, 0.1, 0), 54_000);
    assert.equal(jitteredInterval(60_000, 0.1, 1), 66_000);
    assert.equal(jitteredInterval(60_000, 0.1, 0.5), 60_000);
    assert.equal(jitteredInterval(1000, 3, 0), 500);
  });
  test('fixed rate: the next run starts one interval after the previous start, at once when a run overran', () => {
    assert.equal(delayUntilNextRun(0, 2_000, 10_000), 8_000);
    assert.equal(delayUntilNextRun(0, 15_000, 10_000), 0);
  });
  test('restart backoff doubles from 1 s to 60 s', () => {
    assert.deepEqual([1, 2, 3, 7, 20].map(restartDelayMs), [1000, 2000, 4000, 60_000, 60_000]);
  });
});

describe('the loop runner', () => {
  test('first run at start, then every interval from the previous start; never overlapping', async () => {
    const vt = new VirtualTime();
    const starts: number[] = [];
    let inRun = 0;
    let maxInRun = 0;
    const stop = new AbortController();
    const stats = new LoopStats('hb', 'periodic', 0);
    const done = runPeriodic(
      {
        name: 'hb',
        jitter: 0,
        intervalMs: () => 10_000,
        deadlineMs: () => 1e9,
        run: async () => {
          starts.push(vt.t);
          inRun++;
          maxInRun = Math.max(maxInRun, inRun);
          // the third run takes longer than the interval
          await vt.sleep(starts.length === 3 ? 25_000 : 2_000);
          inRun--;
          return { hosts: 3 };
        },
      },
      stats,
      ports(vt),
      stop.signal,
    );
    await vt.advance(60_000);
    stop.abort();
    await vt.advance(200_000);
    await done;
    assert.deepEqual(starts.slice(0, 5), [0, 10_000, 20_000, 45_000, 55_000]);
    assert.equal(maxInRun, 1);
    assert.equal(stats.failures, 0);
    assert.deepEqual(stats.report, { hosts: 3 });
  });

  test('a wake event between runs starts the next run at once (a sharded loop whose share grew); stop still ends the pause', async () => {
    const vt = new VirtualTime();
    const starts: number[] = [];
    const listeners = new Set<() => void>();
    const stop = new AbortController();
    const done = runPeriodic(
      {
        name: 'hb',
        jitter: 0,
        intervalMs: () => 20_000,
        deadlineMs: () => 1e9,
        run: async () => {
          starts.push(vt.t);
          await vt.sleep(1_000);
        },
        wake: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
      new LoopStats('hb', 'periodic', 0),
      ports(vt),
      stop.signal,
    );
    await vt.advance(7_000);
    for (const l of listeners) l();
    await vt.advance(50_000);
    stop.abort();
    await vt.advance(200_000);
    await done;
    assert.deepEqual(starts.slice(0, 4), [0, 7_000, 27_000, 47_000]);
    assert.equal(listeners.size, 0, 'no listener left after the loop stopped');
  });

  test('a loop falling behind its interval is said once per streak, and when it is back on schedule', async () => {
    const vt = new VirtualTime();
    const lines: string[] = [];
    const log = { ...quiet, warn: (m: string) => void lines.push(`warn ${m}`), info: (m: string) => void lines.push(`info ${m}`) };
    const durations = [2_000, 12_500, 15_000, 2_000, 2_000, 11_000];
    let n = 0;
    const stop = new AbortController();
    const done = runPeriodic({ name: 'hb', jitter: 0, intervalMs: () => 10_000, deadlineMs: () => 1e9, run: () => vt.sleep(durations[n++] ?? 2_000) }, new LoopStats('hb', 'periodic', 0), { ...ports(vt), log }, stop.signal);
    await vt.advance(80_000);
    stop.abort();
    await vt.advance(200_000);
    await done;
    assert.deepEqual(lines, [
      'warn hb: a run took 12.5s, longer than its 10s interval; the next one starts at once',
      'info hb: back on schedule after 2 run(s) longer than the interval',
      'warn hb: a run took 11s, longer than its 10s interval; the next one starts at once',
      'info hb: back on schedule after 1 run(s) longer than the interval',
    ]);
  });

  test('a failing run is counted with its error; the loop keeps going', async () => {
    const vt = new VirtualTime();
    let n = 0;
    const stop = new AbortController();
    const stats = new LoopStats('x', 'periodic', 0);
    const done = runPeriodic({ name: 'x', jitter: 0, intervalMs: () => 1000, deadlineMs: () => 1e9, run: async () => {
      if (++n === 2) throw new Error('database gone\nstack');
    } }, stats, ports(vt), stop.signal);
    await vt.advance(3_500);
    stop.abort();
    await vt.advance(10_000);
    await done;
    assert.equal(stats.failures, 1);
    assert.equal(stats.successes, 3);
    assert.equal(stats.lastError, 'database gone');
    assert.equal(stats.snapshot().lastErrorAt, new Date(1000).toISOString());
  });

  test('a run past its deadline is aborted and reported; a slow loop does not delay another', async () => {
    const vt = new VirtualTime();
    const stop = new AbortController();
    const slow = new LoopStats('slow', 'periodic', 0);
    const fast = new LoopStats('fast', 'periodic', 0);
    let fastRuns = 0;
    // the slow loop hangs until its signal aborts (real timers: the deadline is a real setTimeout of 30 ms)
    const a = runPeriodic({ name: 'slow', jitter: 0, intervalMs: () => 1000, deadlineMs: () => 30, run: (s) => new Promise((_, rej) => s.addEventListener('abort', () => rej(new Error('aborted')))) }, slow, ports(vt), stop.signal);
    const b = runPeriodic({ name: 'fast', jitter: 0, intervalMs: () => 1000, deadlineMs: () => 1e9, run: async () => void fastRuns++ }, fast, ports(vt), stop.signal);
    await vt.advance(5_000);
    assert.equal(fastRuns, 6, 'the fast loop ran on time while the slow one hung');
    await new Promise((r) => setTimeout(r, 80));
    await vt.advance(5_000);
    assert.ok(slow.failures >= 1);
    assert.match(slow.lastError!, /deadline of 0s/);
    stop.abort();
    await vt.advance(100_000);
    await Promise.all([a, b]);
  });

  test('service loops: passes counted through the jittered sleep, restart with backoff after a crash', async () => {
    const vt = new VirtualTime();
    const stop = new AbortController();
    const stats = new LoopStats('svc', 'service', 0);
    let starts = 0;
    const sleeps: number[] = [];
    const done = runService(
      {
        name: 'svc',
        jitter: 0.1,
        intervalMs: () => 1000,
        async start(signal, hooks) {
          starts++;
          if (starts === 1) throw new Error('Redis unreachable');
          while (!signal.aborted) {
            const t0 = vt.t;
            await hooks.sleep(1000, signal);
            sleeps.push(vt.t - t0);
          }
        },
      },
      stats,
      ports(vt, 1),
      stop.signal,
    );
    await vt.advance(5_000);
    stop.abort();
    await vt.advance(10_000);
    await done;
    assert.equal(starts, 2, 'restarted once, after 1 s');
    assert.equal(stats.failures, 1);
    assert.equal(stats.lastError, 'Redis unreachable');
    assert.ok(sleeps.length >= 3 && sleeps.slice(0, 3).every((s) => s === 1100), `jittered sleeps ${sleeps}`);
    assert.ok(stats.successes >= 3);
    assert.equal(stats.running, false);
  });
});

class FakeStore implements MembershipStore {
  rows = new Map<string, MemberRow>();
  now = 1_000_000;
  down = false;
  async nowMs() {
    if (this.down) throw new Error('connect ECONNREFUSED');
    return this.now;
  }
  async renew(r: MemberRow) {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.rows.set(`${r.loop}/${r.instance}`, r);
  }
  async live(loop: string, nowMs: number) {
    return [...this.rows.values()].filter((r) => r.loop === loop && r.expiresAtMs > nowMs);
  }
  async leave(instance: string) {
    for (const [k, r] of this.rows) if (r.instance === instance) this.rows.delete(k);
  }
  async prune(before: number) {
    let n = 0;
    for (const [k, r] of this.rows) {
      if (r.expiresAtMs < before) {
        this.rows.delete(k);
        n++;
      }
    }
    return n;
  }
}

describe('shard leases', () => {
  const hosts = Array.from({ length: 300 }, (_, i) => `h${i}`);
  const make = (store: FakeStore, id: string, clock: { t: number }) =>
    new Membership(store, { instance: id, hostname: 'x', pid: 1, loops: ['heartbeat'], leaseMs: 30_000 }, { now: () => clock.t, sleep: async () => {}, log: quiet });

  test('two instances split the hosts; when one stops renewing, the other owns everything after one lease', async () => {
    const store = new FakeStore();
    const clock = { t: 0 };
    const a = make(store, 'a', clock);
    const b = make(store, 'b', clock);
    await a.renew();
    await b.renew();
    await a.renew();
    const sa = a.share('heartbeat', hosts, (h) => h);
    const sb = b.share('heartbeat', hosts, (h) => h);
    assert.equal(sa.length + sb.length, hosts.length);
    assert.equal(new Set([...sa, ...sb]).size, hosts.length);
    // b dies (no more renewals); within the lease a still sees it
    store.now += 20_000;
    clock.t += 20_000;
    await a.renew();
    assert.equal(a.share('heartbeat', hosts, (h) => h).length, sa.length);
    store.now += 10_001;
    clock.t += 10_001;
    await a.renew();
    assert.equal(a.share('heartbeat', hosts, (h) => h).length, hosts.length, 'b expired: a owns every host');
    assert.deepEqual(a.view('heartbeat').members, ['a']);
  });

  test("a change of members is told to the loop's listeners (an instance's lease ran out, another joined); no change, no call", async () => {
    const store = new FakeStore();
    const clock = { t: 0 };
    const a = make(store, 'a', clock);
    const b = make(store, 'b', clock);
    const calls: string[][] = [];
    const unsubscribe = a.onChange('heartbeat', () => calls.push(a.view('heartbeat').members));
    await a.renew();
    await b.renew();
    await a.renew();
    await a.renew();
    store.now += 30_001;
    clock.t += 30_001;
    await a.renew();
    unsubscribe();
    await b.renew();
    await a.renew();
    assert.deepEqual(calls, [['a', 'b'], ['a']], 'b joined, b expired; nothing after the unsubscribe');
  });

  test('leaving removes the rows at once', async () => {
    const store = new FakeStore();
    const clock = { t: 0 };
    const a = make(store, 'a', clock);
    const b = make(store, 'b', clock);
    await a.renew();
    await b.renew();
    await b.leave();
    await a.renew();
    assert.equal(a.share('heartbeat', hosts, (h) => h).length, hosts.length);
  });

  test('renewals run at a fixed rate: slow ones (a busy machine or database) do not push the next later, and the lease stays valid', async () => {
    const vt = new VirtualTime();
    // a database that takes `slowMs` of (virtual) time to answer the first query of each renewal
    const slow = new (class extends FakeStore {
      slowMs = 0;
      starts: number[] = [];
      override async nowMs() {
        this.starts.push(vt.t);
        await vt.sleep(this.slowMs);
        return this.now + vt.t;
      }
    })();
    const a = new Membership(slow, { instance: 'a', hostname: 'x', pid: 1, loops: ['heartbeat'], leaseMs: 30_000 }, { now: vt.now, sleep: vt.sleep, log: quiet });
    const stop = new AbortController();
    slow.slowMs = 4_000;
    const running = a.run(stop.signal);
    await vt.advance(35_000);
    assert.deepEqual(slow.starts, [0, 10_000, 20_000, 30_000], 'every lease/3 from the previous start, not lease/3 after the previous end');
    // slower than the period: the next starts at once; the lease (counted from a renewal's start) never lapses,
    // where pausing lease/3 after each end would have left it expired for 4 s of every 22 s
    slow.slowMs = 12_000;
    slow.starts = [];
    for (let t = 36_000; t <= 120_000; t += 1_000) {
      await vt.advance(t);
      assert.ok(a.valid(), `lease valid at ${t} ms`);
    }
    assert.deepEqual(slow.starts.slice(0, 4), [40_000, 52_000, 64_000, 76_000]);
    stop.abort();
    await vt.advance(200_000);
    await running;
  });

  test('an instance that cannot renew stops working on its share after one lease', async () => {
    const store = new FakeStore();
    const clock = { t: 0 };
    const a = make(store, 'a', clock);
    await a.renew();
    store.down = true;
    await assert.rejects(a.renew());
    clock.t += 29_000;
    assert.ok(a.valid());
    clock.t += 2_000;
    assert.equal(a.valid(), false);
    assert.throws(() => a.share('heartbeat', hosts, (h) => h), /lease not renewed/);
    store.down = false;
    await a.renew();
    assert.equal(a.share('heartbeat', hosts, (h) => h).length, hosts.length);
  });
});

describe('/metrics text', () => {
  test('Prometheus exposition: loop counters, histogram, gauges, escaped labels', () => {
    const stats = new LoopStats('heartbeat', 'periodic', 60_000);
    stats.started(0);
    stats.finished(1500, 1500, undefined, {});
    stats.started(60_000);
    stats.finished(60_100, 100, 'boom');
    const text = renderMetrics({
      instance: 'vm:1 "x"',
      loops: [{ ...stats.snapshot(), buckets: stats.buckets, durationSum: stats.durationSum }],
      shards: [{ loop: 'heartbeat', members: ['a', 'b'], me: 'a', renewedAt: null, expiresAt: null, valid: true, owned: 12 }],
      hostsReady: 10,
      hostsPolled: 12,
      alertsOpen: 2,
      queues: { lab_sessions_requested: 4 },
      process: { rssBytes: 1024, heapUsedBytes: 512, cpuSeconds: 1.5, startTimeSeconds: 100 },
    });
    assert.match(text, /^# TYPE labops_loop_runs_total counter$/m);
    assert.match(text, /^labops_loop_runs_total\{loop="heartbeat",result="success"\} 1$/m);
    assert.match(text, /^labops_loop_runs_total\{loop="heartbeat",result="failure"\} 1$/m);
    assert.match(text, /^labops_loop_duration_seconds_bucket\{loop="heartbeat",le="0.25"\} 1$/m);
    assert.match(text, /^labops_loop_duration_seconds_bucket\{loop="heartbeat",le="5"\} 2$/m);
    assert.match(text, /^labops_loop_duration_seconds_count\{loop="heartbeat"\} 2$/m);
    assert.match(text, /^labops_hosts_ready 10$/m);
    assert.match(text, /^labops_alerts_open 2$/m);
    assert.match(text, /^labops_queue_depth\{queue="lab_sessions_requested"\} 4$/m);
    assert.match(text, /^labops_shard_members\{loop="heartbeat"\} 2$/m);
    assert.match(text, /^labops_instance_info\{instance_id="vm:1 \\"x\\""\} 1$/m);
    assert.ok(text.endsWith('\n'));
    for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{.*\})? [-+0-9.eInfNa]+)$/, line);
  });
});

describe('the daemon log', () => {
  const capture = (tty: boolean) => {
    const lines: string[] = [];
    const log = createLogger({ sink: { write: (s) => lines.push(s) }, tty, level: 'debug', base: { instance: 'i1' } });
    return { log, lines };
  };
  test('not a TTY: one JSON object per line, level names, secrets redacted in fields, messages and URLs', () => {
    const { log, lines } = capture(false);
    log.addSecret('s3cr3t-token-value');
    log.info('connected to mysql://labops:hunter22@db:3306/labops\nsecond line', { loop: 'heartbeat', password: 'pw-1', nested: { token: 'abc', ok: 1 } });
    log.warn('API answered with s3cr3t-token-value inside; password=topsecret');
    assert.equal(lines.length, 2);
    const [a, b] = lines.map((l) => JSON.parse(l));
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
    assert.equal(a.level, 'info');
    assert.equal(a.instance, 'i1');
    assert.equal(a.loop, 'heartbeat');
    assert.equal(a.password, '[redacted]');
    assert.equal(a.nested.token, '[redacted]');
    assert.equal(a.nested.ok, 1);
    assert.equal(a.msg, 'connected to mysql://labops:***@db:3306/labops second line');
    assert.equal(b.level, 'warn');
    assert.doesNotMatch(lines.join(''), /hunter22|pw-1|s3cr3t-token-value|topsecret/);
  });
  test('a field repeating a child binding is written once (a JSON line never holds a key twice)', () => {
    const { log, lines } = capture(false);
    log.child({ loop: 'heartbeat' }).child({ part: 'a' }).info('run done', { loop: 'heartbeat', part: 'a', durationMs: 5 });
    log.child({ loop: 'heartbeat' }).info('plain', { loop: 'heartbeat' });
    assert.equal(lines.length, 2);
    for (const l of lines) assert.equal(l.match(/"loop":/g)?.length, 1, l);
    assert.equal(lines[0]!.match(/"part":/g)?.length, 1, lines[0]);
    assert.equal(JSON.parse(lines[0]!).durationMs, 5);
  });
  test('TTY: readable lines with time, level and loop', () => {
    const { log, lines } = capture(true);
    log.child({ loop: 'servers' }).error('server 3 down', { host: '127.0.0.1:22' });
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} ERROR \[servers\] server 3 down {2}host=127\.0\.0\.1:22\n$/);
  });
  test('scrubText masks URL passwords and key=value secrets', () => {
    assert.equal(scrubText('redis://:pw@127.0.0.1:6379 api_key: abc token=x;'), 'redis://:***@127.0.0.1:6379 api_key: *** token=***;');
  });
});
