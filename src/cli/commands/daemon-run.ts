// The body of `labops daemon`, loaded only by its action: the loops, shard leases, SIGTERM/SIGHUP handling,
// the structured log, /health and /metrics. Each loop reuses the op the one-shot command runs.
import { hostname as osHostname } from 'node:os';
import type { Factory } from '../factory.js';
import type { DaemonOptions } from './daemon.js';
import { UsageError } from '../../domain/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { LoopStats, runPeriodic, runService, type PeriodicLoop, type RunReport, type SchedulerPorts, type ServiceLoop } from '../../ops/daemon/scheduler.js';
import { Membership } from '../../ops/daemon/membership.js';
import type { Database } from '../../core/db/database.js';
import type { LabopsConfig } from '../../core/config/load.js';
import type { HostIndex } from '../../core/config/inventory.js';

/** Every loop the daemon knows, in start order; `api` is the HTTP server, the rest are work loops. */
export const LOOP_NAMES = ['api', 'heartbeat', 'reservations', 'provisioning', 'cleanup', 'servers', 'labs', 'dc-jobs'] as const;
export type LoopName = (typeof LOOP_NAMES)[number];
/** loops whose work is the whole fleet, split over the live instances by shard leases */
const SHARDED: readonly LoopName[] = ['heartbeat', 'servers', 'labs'];

export const LOOP_SUMMARIES: Record<LoopName, string> = {
  api: 'the ops-worker HTTP API plus /health and /metrics',
  heartbeat: 'heartbeat poll of the inventory hosts and alert evaluation (heartbeat.interval, OPS_POLL_INTERVAL; OPS_POLL_ENABLED=false turns it off); sharded',
  reservations: 'the reservation orchestrator (reservations.scan-interval, OPS_RESERVATION_*); claims in MySQL',
  provisioning: 'REQUESTED lab_sessions -> provision script (provision.interval); claims in MySQL',
  cleanup: 'expired/revoked lab_sessions -> cleanup script (provision.cleanup-interval); claims in MySQL',
  servers: 'server health checks over SSH (servers.interval); sharded',
  labs: 'CML labs refresh (cml.refresh-interval, LABS_REFRESH_INTERVAL) when cml.servers is configured; sharded',
  'dc-jobs': 'the DC job consumer on Redis Streams (REDIS_* from /etc/macct-worker.conf) when that file exists; consumer group',
};

interface Gauges {
  hostsReady: number | null;
  hostsPolled: number | null;
  alertsOpen: number | null;
  queues: Record<string, number>;
  owned: Map<string, number>;
}

/** A Factory whose config and inventory can be swapped on SIGHUP; the database stays the same. */
class ReloadableFactory {
  private current: Factory;
  generation = 0;
  constructor(
    private readonly base: Factory,
    private readonly make: () => Factory,
  ) {
    this.current = base;
  }
  view(): Factory {
    return {
      io: this.base.io,
      env: this.base.env,
      clock: this.base.clock,
      signal: this.base.signal,
      rawArgs: this.base.rawArgs,
      globals: () => this.base.globals(),
      config: () => this.current.config(),
      inventory: () => this.current.inventory(),
      database: () => this.base.database(),
      confirm: (q) => this.base.confirm(q),
      onClose: (fn) => this.base.onClose(fn),
    };
  }
  /** Loads config and inventory afresh; the old ones stay when either is invalid. */
  async reload(): Promise<{ cfg: LabopsConfig; index: HostIndex }> {
    const next = this.make();
    const [cfg, index] = await Promise.all([next.config(), next.inventory()]);
    const oldDb = (await this.current.config()).get('db');
    this.current = next;
    this.generation++;
    return { cfg, index, ...(oldDb !== cfg.get('db') ? { dbChanged: true } : {}) };
  }
}

function parseBool(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  return /^(true|1|yes|on)$/i.test(v.trim());
}

export async function runDaemon(f0: Factory, o: DaemonOptions): Promise<void> {
  const requested = o.only ? o.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (requested) {
    const unknown = requested.filter((n) => !LOOP_NAMES.includes(n as LoopName));
    if (unknown.length || requested.length === 0) throw new UsageError(`--only: unknown loop(s) ${unknown.join(', ') || '(none given)'}; known: ${LOOP_NAMES.join(', ')}`);
  }
  if (o.listen && requested && !requested.includes('api')) throw new UsageError('--listen needs the api loop');
  const { createFactory } = await import('../factory.js');
  const reloadable = new ReloadableFactory(f0, () => createFactory({ io: f0.io, env: f0.env, clock: f0.clock, signal: f0.signal, rawArgs: f0.rawArgs, globals: () => f0.globals() }));
  const f = reloadable.view();
  const cfg = await f.config();
  await f.inventory();
  const instance = f.env.LABOPS_INSTANCE || `${osHostname()}:${process.pid}`;
  const level = f.io.verbose ? 'debug' : f.io.quiet ? 'warn' : 'info';
  const log = createLogger({
    sink: { write: (s) => void f.io.stderr.write(s) },
    tty: f.io.stderrIsTTY,
    color: f.io.colorEnabledStderr,
    level,
    base: f.io.stderrIsTTY ? {} : { instance },
  });
  for (const key of ['api.token', 'winrm.password', 'ssh.jump-password', 'ssh.identity-passphrase']) {
    const ref = cfg.get(key);
    if (!ref) continue;
    try {
      const { resolveSecret } = await import('../../core/config/secrets.js');
      log.addSecret(resolveSecret(ref, key, f.env));
    } catch {
      // an unreadable secret is reported by the loop that needs it
    }
  }
  for (const k of ['MYSQL_DSN', 'LABOPS_DB', 'OPS_INTERNAL_AUTH_TOKEN', 'REDIS_PASSWORD', 'API_KEY', 'LABOPS_WINRM_PASSWORD']) log.addSecret(f.env[k]);

  // Which loops run: --only, else every loop that is enabled and configured.
  const { existsSync } = await import('node:fs');
  const workerConf = f.env.MACCT_WORKER_CONF ?? '/etc/macct-worker.conf';
  const { parseCmlServers } = await import('../../core/config/cml.js');
  const skipReason = (n: LoopName): string | undefined => {
    if (n === 'heartbeat' && !parseBool(cfg.get('heartbeat.poll-enabled'), true)) return 'heartbeat.poll-enabled / OPS_POLL_ENABLED is off';
    if (n === 'labs' && parseCmlServers(cfg.raw, cfg.file).length === 0) return 'no cml.servers in the config';
    if (n === 'dc-jobs' && !existsSync(workerConf)) return `no worker config at ${workerConf}`;
    return undefined;
  };
  const names: LoopName[] = requested
    ? (requested as LoopName[])
    : LOOP_NAMES.filter((n) => {
        const why = skipReason(n);
        if (why) log.info(`${n}: not started (${why})`, { loop: n });
        return !why;
      });

  const ports: SchedulerPorts = { now: () => f.clock.now(), sleep: (ms, s) => f.clock.sleep(ms, s), random: Math.random, log };
  const stopper = new AbortController();
  const { EventEmitter } = await import('node:events');
  const setMaxListeners = (n: number, t: AbortSignal) => EventEmitter.setMaxListeners(n, t);
  setMaxListeners(0, stopper.signal);
  const onTerm = () => {
    if (!stopper.signal.aborted) log.info('SIGTERM: stopping (no new claims; finishing what is in flight)');
    stopper.abort();
  };
  process.once('SIGTERM', onTerm);
  f0.signal.addEventListener('abort', onTerm, { once: true });

  const needsDb = names.some((n) => n !== 'api' && n !== 'dc-jobs');
  let db: Database | undefined;
  if (needsDb) {
    db = await f.database();
    await ensureTables(db, log);
  }
  const gauges: Gauges = { hostsReady: null, hostsPolled: null, alertsOpen: null, queues: {}, owned: new Map() };
  const shardLoops = names.filter((n) => SHARDED.includes(n));
  let membership: Membership | undefined;
  const leaseMs = cfg.durationMs('daemon.lease')!;
  if (db && shardLoops.length) {
    const { InstanceStore } = await import('../../core/db/instance-store.js');
    membership = new Membership(new InstanceStore(db), { instance, hostname: osHostname(), pid: process.pid, loops: shardLoops, leaseMs }, { ...ports, log: log.child({ loop: 'leases' }) });
    // the first renewal before any sharded run, so a fresh instance does not poll the whole fleet alone
    await membership.renew().catch((e) => log.warn(`first lease renewal failed (${(e as Error).message}); sharded loops wait for the database`));
  }

  const stats = new Map<string, LoopStats>();
  const running: { name: string; done: Promise<void>; controller: AbortController; restartable: boolean; start: () => Promise<void> }[] = [];
  const ctx: LoopContext = { f, log, instance, membership, gauges, db, stopSignal: stopper.signal };
  const jitter = Math.min(0.5, Math.max(0, Number(cfg.get('daemon.jitter') ?? '10') / 100));
  const loops = await import('./daemon-loops.js');
  const startOne = async (name: LoopName): Promise<void> => {
    if (name === 'api') return;
    const def = loops.buildLoop(name, ctx, jitter);
    const st = new LoopStats(name, def.kind, 0);
    stats.set(name, st);
    const entry = { name, controller: new AbortController(), done: Promise.resolve(), restartable: def.kind === 'service', start: async () => {} };
    setMaxListeners(0, entry.controller.signal);
    entry.start = async () => {
      entry.controller = new AbortController();
      setMaxListeners(0, entry.controller.signal);
      const sig = AbortSignal.any([stopper.signal, entry.controller.signal]);
      setMaxListeners(0, sig);
      const l = log.child({ loop: name });
      const p = { ...ports, log: l };
      entry.done = (def.kind === 'periodic' ? runPeriodic(def.loop as PeriodicLoop, st, p, sig) : runService(def.loop as ServiceLoop, st, p, sig)).catch((e) => {
        l.error(`loop crashed: ${(e as Error).message}`);
      });
    };
    await entry.start();
    running.push(entry);
    log.info(`${name}: started`, { loop: name, kind: def.kind });
  };

  let api: { close(): Promise<void>; onReload(index: HostIndex): void } | undefined;
  let membershipDone: Promise<void> = Promise.resolve();
  const sampler = new AbortController();
  try {
    if (names.includes('api')) {
      api = await loops.startApi(ctx, o, {
        health: () => healthBody(ctx, stats, membership, names),
        metrics: () => metricsText(ctx, stats, membership),
        dbForApi: db,
        explicitApiOnly: names.length === 1,
      });
    }
    if (membership) membershipDone = membership.run(stopper.signal);
    if (db) void loops.sampleQueues(ctx, AbortSignal.any([stopper.signal, sampler.signal]));
    for (const n of names) await startOne(n);
    log.info(`daemon ${instance}: running ${names.join(', ')}`, { loops: names });

    // SIGHUP: reload config and inventory; periodic loops read them at their next run, service loops restart.
    const onHup = () => {
      void (async () => {
        try {
          const r = await reloadable.reload();
          api?.onReload(r.index);
          log.info(`SIGHUP: reloaded config${r.cfg.file ? ` ${r.cfg.file}` : ''} and inventory (${r.index.hosts.length} hosts)`);
          if ((r as { dbChanged?: boolean }).dbChanged) log.warn('SIGHUP: the database setting changed; restart the daemon to use it');
          for (const e of running.filter((x) => x.restartable)) {
            e.controller.abort();
            await e.done;
            if (!stopper.signal.aborted) await e.start();
          }
        } catch (e) {
          log.error(`SIGHUP: reload failed, keeping the previous config and inventory: ${(e as Error).message}`);
        }
      })();
    };
    process.on('SIGHUP', onHup);
    try {
      await new Promise<void>((resolve) => (stopper.signal.aborted ? resolve() : stopper.signal.addEventListener('abort', () => resolve(), { once: true })));
    } finally {
      process.removeListener('SIGHUP', onHup);
    }
  } finally {
    process.removeListener('SIGTERM', onTerm);
    stopper.abort();
    sampler.abort();
    const bound = cfg.durationMs('daemon.stop-timeout')!;
    const all = Promise.allSettled(running.map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((res) => (timer = setTimeout(() => res(true), bound)))]);
    clearTimeout(timer);
    if (timedOut) {
      const still = [...stats.values()].filter((s) => s.running).map((s) => s.name);
      log.warn(`stop: in-flight work of ${still.join(', ') || 'some loops'} did not finish within ${bound / 1000}s; leaving it to the claim expiry`);
    }
    await membershipDone;
    if (membership) await membership.leave().catch((e) => log.warn(`could not remove the shard leases (${(e as Error).message}); they expire on their own`));
    await api?.close();
    await loops.closeAll();
    log.info('stopped');
  }
}

export interface LoopContext {
  f: Factory;
  log: Logger;
  instance: string;
  membership?: Membership;
  gauges: Gauges;
  db?: Database;
  stopSignal: AbortSignal;
}

/** labops' own tables (leases, claims, CML cache) created when missing; foreign tables only on SQLite. */
async function ensureTables(db: Database, log: Logger): Promise<void> {
  const { existingTables, migrate } = await import('../../core/db/migrations.js');
  const have = await existingTables(db.kysely, db.dialect);
  if (have.has('labops_instances') && have.has('cml_lab_records') && have.has('labops_session_state')) return;
  try {
    await migrate(db.kysely, db.dialect);
    log.info(`database ${db.url}: created the missing labops tables`);
  } catch (e) {
    throw new UsageError(`database ${db.url}: labops tables missing and could not be created (${(e as Error).message})`, { suggestion: 'run labops db migrate with a user that may create tables' });
  }
}

function healthy(s: LoopStats, now: number): boolean {
  if (s.kind === 'service') return s.running;
  // a periodic loop is healthy while its last success is recent (three intervals) or its first run is under way
  if (s.lastSuccessAt === null) return s.runs === 0 || s.failures === 0;
  return now - s.lastSuccessAt <= Math.max(3 * s.intervalMs, 60_000) + (s.lastDurationMs ?? 0);
}

function healthBody(ctx: LoopContext, stats: Map<string, LoopStats>, membership: Membership | undefined, names: readonly string[]): { extra: Record<string, unknown>; degraded: boolean } {
  if (stats.size === 0) return { extra: {}, degraded: false };
  const now = ctx.f.clock.now();
  const loops: Record<string, unknown> = {};
  let degraded = false;
  for (const [n, s] of stats) {
    const ok = healthy(s, now);
    if (!ok) degraded = true;
    loops[n] = { ...s.snapshot(), healthy: ok };
  }
  const leases: Record<string, unknown> = {};
  if (membership) {
    for (const n of names.filter((x) => SHARDED.includes(x as LoopName))) {
      const v = membership.view(n);
      leases[n] = { ...v, owned: ctx.gauges.owned.get(n) ?? null };
      if (!v.valid) degraded = true;
    }
  }
  return { extra: { instance: ctx.instance, pid: process.pid, uptime_s: Math.round(process.uptime()), loops, leases }, degraded };
}

function metricsText(ctx: LoopContext, stats: Map<string, LoopStats>, membership: Membership | undefined): Promise<string> {
  return import('../../ops/daemon/metrics.js').then(({ renderMetrics }) => {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return renderMetrics({
      instance: ctx.instance,
      loops: [...stats.values()].map((s) => ({ ...s.snapshot(), buckets: s.buckets, durationSum: s.durationSum })),
      shards: membership ? SHARDED.filter((n) => stats.has(n)).map((n) => ({ ...membership.view(n), owned: ctx.gauges.owned.get(n) ?? null })) : [],
      hostsReady: ctx.gauges.hostsReady,
      hostsPolled: ctx.gauges.hostsPolled,
      alertsOpen: ctx.gauges.alertsOpen,
      queues: ctx.gauges.queues,
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuSeconds: (cpu.user + cpu.system) / 1e6, startTimeSeconds: Math.round(Date.now() / 1000 - process.uptime()) },
    });
  });
}

export type { RunReport };
