// labops daemon, assembled: which loops run (--only, else every configured one), the log with its secrets,
// the database and the shard leases, the loops under the supervisor, the API with /health and /metrics. The
// command wires the signals: the context's stop (SIGTERM) drains, reload() is SIGHUP.
import type { OwnedContext } from '../context.js';
import type { Database } from '../../core/db/database.js';
import type { LabopsConfig } from '../../core/config/load.js';
import type { Logger, LogSink } from '../../core/logger.js';
import type { Membership } from '../../ops/daemon/membership.js';
import type { SchedulerPorts } from '../../ops/daemon/scheduler.js';
import { Supervisor } from '../../ops/daemon/supervisor.js';
import { LOOP_NAMES, SHARDED_LOOPS, type LoopName, type WorkLoopName } from '../../domain/daemon-loops.js';
import { UsageError } from '../../domain/errors.js';
import { daemonSettings } from '../settings.js';
import { instanceName } from '../reserve.js';
import { cmlServers } from '../labs.js';
import { WORK_LOOPS, type Gauges, type LoopEnv } from './loops.js';
import { startApi, type RunningApi } from './api.js';
import { statusReader, afterEachRun } from './status.js';

export interface DaemonOptions {
  /** the loops to run (--only): forced on; default every loop that is enabled and configured */
  only?: LoopName[];
  listen?: string;
}

export interface DaemonLogging {
  sink: LogSink;
  /** readable lines instead of JSON */
  tty: boolean;
  color: boolean;
  level: 'debug' | 'info' | 'warn' | 'error';
}

export interface Daemon {
  instance: string;
  loops: LoopName[];
  /** the API's address (port 0 asked for a free one) */
  apiUrl?: string;
  /** SIGHUP: config and inventory afresh; periodic loops read them at their next run, service loops restart */
  reload(): Promise<void>;
  /** resolves when the daemon has stopped (after the context's stop signal, drained) */
  done: Promise<void>;
}

/** Why a loop does not start without --only, or undefined when it runs. */
async function skipReason(ctx: OwnedContext, cfg: LabopsConfig, n: LoopName): Promise<string | undefined> {
  if (n === 'heartbeat' && !daemonSettings(cfg).pollEnabled) return 'heartbeat.poll-enabled / OPS_POLL_ENABLED is off';
  if (n === 'labs' && (await cmlServers(ctx)).length === 0) return 'no cml.servers in the config';
  if (n === 'dc-jobs') {
    const workerConf = ctx.env.MACCT_WORKER_CONF ?? '/etc/macct-worker.conf';
    const { existsSync } = await import('node:fs');
    if (!existsSync(workerConf)) return `no worker config at ${workerConf}`;
  }
  return undefined;
}

async function logger(ctx: OwnedContext, cfg: LabopsConfig, logging: DaemonLogging, instance: string): Promise<Logger> {
  const [{ createLogger }, { resolveSecret }] = await Promise.all([import('../../core/logger.js'), import('../../core/config/secrets.js')]);
  const log = createLogger({ sink: logging.sink, tty: logging.tty, color: logging.color, level: logging.level, base: logging.tty ? {} : { instance } });
  for (const key of ['api.token', 'winrm.password', 'ssh.jump-password', 'ssh.identity-passphrase'] as const) {
    const ref = cfg.value(key);
    if (!ref) continue;
    try {
      log.addSecret(resolveSecret(ref, key, ctx.env));
    } catch {
      // an unreadable secret is reported by the loop that needs it
    }
  }
  for (const k of ['MYSQL_DSN', 'LABOPS_DB', 'OPS_INTERNAL_AUTH_TOKEN', 'REDIS_PASSWORD', 'API_KEY', 'LABOPS_WINRM_PASSWORD']) log.addSecret(ctx.env[k]);
  return log;
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

async function joinShards(ctx: OwnedContext, db: Database, loops: LoopName[], instance: string, leaseMs: number, ports: SchedulerPorts, log: Logger): Promise<Membership | undefined> {
  const shardLoops = loops.filter((n) => SHARDED_LOOPS.includes(n));
  if (!shardLoops.length) return undefined;
  const [{ Membership }, { InstanceStore }, { hostname }] = await Promise.all([import('../../ops/daemon/membership.js'), import('../../core/db/instance-store.js'), import('node:os')]);
  const membership = new Membership(new InstanceStore(db), { instance, hostname: hostname(), pid: process.pid, loops: shardLoops, leaseMs }, { ...ports, log: log.child({ loop: 'leases' }) });
  // the first renewal before any sharded run, so a fresh instance does not poll the whole fleet alone
  await membership.renew().catch((e) => log.warn(`first lease renewal failed (${(e as Error).message}); sharded loops wait for the database`));
  return membership;
}

/** Counts of waiting work for /metrics, every 15 s (a scrape never waits for the database). */
async function sampleQueues(ctx: OwnedContext, db: Database, gauges: Gauges, signal: AbortSignal): Promise<void> {
  const { queueDepths } = await import('../../core/db/queue-depths.js');
  while (!signal.aborted) {
    gauges.queues = await queueDepths(db);
    await ctx.clock.sleep(15_000, signal);
  }
}

export async function startDaemon(ctx: OwnedContext, o: DaemonOptions, logging: DaemonLogging): Promise<Daemon> {
  if (o.listen && o.only && !o.only.includes('api')) throw new UsageError('--listen needs the api loop');
  // config and inventory are checked before anything starts
  const [cfg, instance] = await Promise.all([ctx.config(), instanceName(ctx), ctx.inventory()]);
  const log = await logger(ctx, cfg, logging, instance);
  const settings = daemonSettings(cfg);
  const names: LoopName[] = o.only ?? [];
  if (!o.only) {
    for (const n of LOOP_NAMES) {
      const why = await skipReason(ctx, cfg, n);
      if (why) log.info(`${n}: not started (${why})`, { loop: n });
      else names.push(n);
    }
  }
  const ports: SchedulerPorts = { now: () => ctx.clock.now(), sleep: (ms, s) => ctx.clock.sleep(ms, s), random: Math.random, log };
  const needsDb = names.some((n) => n !== 'api' && n !== 'dc-jobs');
  const db = needsDb ? await ctx.database() : await ctx.database().catch(() => undefined);
  if (needsDb && db) await ensureTables(db, log);
  const membership = db ? await joinShards(ctx, db, names, instance, settings.leaseMs, ports, log) : undefined;
  const gauges: Gauges = { hostsReady: null, hostsPolled: null, alertsOpen: null, queues: {}, owned: new Map() };
  const supervisor = new Supervisor(ports, settings.stopTimeoutMs, ctx.signal);
  const env: LoopEnv = { ctx, log, gauges, membership, jitter: settings.jitter };
  const health = async () => healthBody(ctx, supervisor, membership, gauges, names, instance);
  const metrics = () => metricsText(supervisor, membership, gauges, instance);
  let api: RunningApi | undefined;
  const status = names.includes('api') ? await statusReader(ctx, { instance, supervisor, db, dcJobs: names.includes('dc-jobs'), scrub: log.scrub }) : undefined;
  if (status) api = await startApi(ctx, { listen: o.listen, db, log, hooks: { health, metrics, status: status.snapshot } });
  const background = new AbortController();
  const membershipDone = membership ? membership.run(ctx.stop) : Promise.resolve();
  if (db) void sampleQueues(ctx, db, gauges, AbortSignal.any([ctx.stop, background.signal]));
  for (const n of names.filter((x): x is WorkLoopName => x !== 'api')) {
    supervisor.start(afterEachRun(WORK_LOOPS[n](env, cfg), () => api?.poke()));
    log.info(`${n}: started`, { loop: n });
  }
  log.info(`daemon ${instance}: running ${names.join(', ')}`, { loops: names });

  const done = (async () => {
    await new Promise<void>((resolve) => (ctx.stop.aborted ? resolve() : ctx.stop.addEventListener('abort', () => resolve(), { once: true })));
    log.info('stopping (no new claims; finishing what is in flight)');
    background.abort();
    const cancelled = await supervisor.drain();
    if (cancelled.length) log.warn(`stop: in-flight work of ${cancelled.join(', ')} did not finish within ${settings.stopTimeoutMs / 1000}s; leaving it to the claim expiry`);
    await membershipDone;
    if (membership) await membership.leave().catch((e) => log.warn(`could not remove the shard leases (${(e as Error).message}); they expire on their own`));
    await api?.close();
    status?.close();
    log.info('stopped');
  })();
  return {
    instance,
    loops: names,
    apiUrl: api?.url,
    done,
    async reload() {
      try {
        const r = await ctx.reload();
        api?.onReload(r.index);
        log.info(`SIGHUP: reloaded config${r.cfg.file ? ` ${r.cfg.file}` : ''} and inventory (${r.index.hosts.length} hosts)`);
        if (r.dbChanged) log.warn('SIGHUP: the database setting changed; restart the daemon to use it');
        await supervisor.restartServices();
      } catch (e) {
        log.error(`SIGHUP: reload failed, keeping the previous config and inventory: ${(e as Error).message}`);
      }
    },
  };
}

function healthBody(ctx: OwnedContext, supervisor: Supervisor, membership: Membership | undefined, gauges: Gauges, names: readonly LoopName[], instance: string): { extra: Record<string, unknown>; degraded: boolean } {
  const { loops, degraded: loopsDegraded } = supervisor.health(ctx.clock.now());
  if (Object.keys(loops).length === 0) return { extra: {}, degraded: false };
  let degraded = loopsDegraded;
  const leases: Record<string, unknown> = {};
  if (membership) {
    for (const n of names.filter((x) => SHARDED_LOOPS.includes(x))) {
      const v = membership.view(n);
      leases[n] = { ...v, owned: gauges.owned.get(n) ?? null };
      if (!v.valid) degraded = true;
    }
  }
  return { extra: { instance, pid: process.pid, uptime_s: Math.round(process.uptime()), loops, leases }, degraded };
}

async function metricsText(supervisor: Supervisor, membership: Membership | undefined, gauges: Gauges, instance: string): Promise<string> {
  const { renderMetrics } = await import('../../ops/daemon/metrics.js');
  const stats = supervisor.stats();
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return renderMetrics({
    instance,
    loops: stats.map((s) => ({ ...s.snapshot(), buckets: s.buckets, durationSum: s.durationSum })),
    shards: membership ? SHARDED_LOOPS.filter((n) => stats.some((s) => s.name === n)).map((n) => ({ ...membership.view(n), owned: gauges.owned.get(n) ?? null })) : [],
    hostsReady: gauges.hostsReady,
    hostsPolled: gauges.hostsPolled,
    alertsOpen: gauges.alertsOpen,
    queues: gauges.queues,
    process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuSeconds: (cpu.user + cpu.system) / 1e6, startTimeSeconds: Math.round(Date.now() / 1000 - process.uptime()) },
  });
}
