// labops daemon, assembled: the Lab Gateway environment checked, which loops run (--only, else every loop whose
// configuration is present and whose tables exist; the others reported once and shown disabled in /health), the
// log with its secrets, the database with the tables of the running loops' parts, the shard leases, the loops
// under the supervisor, the API with /health and /metrics. The command wires the signals: the context's stop
// (SIGTERM) drains, reload() is SIGHUP.
import type { OwnedContext } from '../context.js';
import type { Database } from '../../core/db/database.js';
import type { Part } from '../../core/db/migrations.js';
import type { PlannedLoop } from '../../ops/daemon/plan.js';
import type { LabopsConfig } from '../../core/config/load.js';
import type { Logger, LogSink } from '../../core/logger.js';
import type { Membership } from '../../ops/daemon/membership.js';
import type { SchedulerPorts } from '../../ops/daemon/scheduler.js';
import { Supervisor } from '../../ops/daemon/supervisor.js';
import { LOOP_NAMES, SHARDED_LOOPS, type LoopName, type WorkLoopName } from '../../domain/daemon-loops.js';
import { UsageError } from '../../domain/errors.js';
import { apiListen, daemonSettings } from '../settings.js';
import { instanceName } from '../reserve.js';
import { needsDatabase, partsOf } from '../../ops/daemon/plan.js';
import { WORK_LOOPS, type Gauges, type LoopEnv } from './loops.js';
import { apiToken, startApi, type RunningApi } from './api.js';
import { statusReader, afterEachRun } from './status.js';
import { checkEnvironment, checkManagementCidrs } from './environment.js';
import { loopPlan, unconfiguredLoops } from './plan.js';

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
  /** -v / -q; default daemon.log-level (OPS_LOG_LEVEL) */
  level?: 'debug' | 'info' | 'warn' | 'error';
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

async function logger(ctx: OwnedContext, cfg: LabopsConfig, logging: DaemonLogging, instance: string): Promise<Logger> {
  const [{ createLogger }, { resolveSecret }] = await Promise.all([import('../../core/logger.js'), import('../../core/config/secrets.js')]);
  const level = logging.level ?? daemonSettings(cfg).logLevel;
  const log = createLogger({ sink: logging.sink, tty: logging.tty, color: logging.color, level, base: logging.tty ? {} : { instance } });
  for (const key of ['api.token', 'winrm.password', 'winrm.store-key', 'ssh.jump-password', 'ssh.identity-passphrase'] as const) {
    const ref = cfg.value(key);
    if (!ref) continue;
    try {
      log.addSecret(resolveSecret(ref, key, ctx.env));
    } catch {
      // an unreadable secret is reported by the loop that needs it
    }
  }
  for (const k of ['MYSQL_DSN', 'LABOPS_DB', 'OPS_INTERNAL_AUTH_TOKEN', 'OPS_SECRETS_KEY', 'OPS_BACKEND_MYSQL_PASSWORD', 'REDIS_PASSWORD', 'API_KEY', 'LABOPS_WINRM_PASSWORD']) log.addSecret(ctx.env[k]);
  return log;
}

/** The tables of these parts created when missing (foreign ones only on SQLite); a no-op when all exist. */
async function ensureTables(db: Database, parts: readonly Part[], log: Logger): Promise<void> {
  const { existingTables, migrate, migrationsOf } = await import('../../core/db/migrations.js');
  if (!parts.length) return;
  const have = await existingTables(db.kysely, db.dialect);
  if (migrationsOf(parts).every((m) => m.tables.every((t) => have.has(t.name) || (t.foreign && db.dialect === 'mysql')))) return;
  try {
    await migrate(db.kysely, db.dialect, { parts });
    log.info(`database ${db.url}: created the missing tables of ${parts.join(', ')}`);
  } catch (e) {
    throw new UsageError(`database ${db.url}: labops tables missing and could not be created (${(e as Error).message})`, { suggestion: `run labops db migrate --only ${parts.join(',')} with a user that may create tables` });
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

interface Startup {
  plan: PlannedLoop[];
  /** the loops that run */
  names: LoopName[];
  db?: Database;
  /** the database the API journals to and reads from: only one with the Lab Gateway tables */
  apiDb?: Database;
}

/** The environment checked, the plan made and reported, the running loops' tables created. */
async function decideLoops(ctx: OwnedContext, cfg: LabopsConfig, o: DaemonOptions, log: Logger): Promise<Startup> {
  const index = await ctx.inventory();
  const apiRuns = !o.only || o.only.includes('api');
  const api = apiRuns ? { host: apiListen(cfg, o.listen).host, token: await apiToken(ctx) } : undefined;
  for (const line of checkEnvironment(cfg, ctx.env, api)) log.warn(line);
  await checkManagementCidrs(cfg, index);
  const unconfigured = await unconfiguredLoops(ctx);
  const candidates = o.only ?? LOOP_NAMES.filter((n) => !unconfigured[n]);
  const db = candidates.some(needsDatabase) ? await ctx.database() : await ctx.database().catch(() => undefined);
  const plan = await loopPlan(ctx, { only: o.only, db }, unconfigured);
  for (const l of plan) {
    if (!l.run && !o.only) log.info(`${l.name}: not started (${l.reason})`, { loop: l.name, reason: l.reason });
    if (l.forced) log.warn(`${l.name}: started because --only names it, although ${l.reason}`, { loop: l.name, reason: l.reason });
  }
  if (db) await ensureTables(db, partsOf(plan), log);
  let apiDb: Database | undefined;
  if (db && apiRuns) {
    const { existingTables } = await import('../../core/db/migrations.js');
    const have = await existingTables(db.kysely, db.dialect);
    if (have.has('lab_hosts') && have.has('reservation_operations')) apiDb = db;
    else log.info(`api: database ${db.url} has no Lab Gateway tables; the API runs without a database`);
  }
  return { plan, names: plan.filter((l) => l.run).map((l) => l.name), db, apiDb };
}

export async function startDaemon(ctx: OwnedContext, o: DaemonOptions, logging: DaemonLogging): Promise<Daemon> {
  if (o.listen && o.only && !o.only.includes('api')) throw new UsageError('--listen needs the api loop');
  // config and inventory are checked before anything starts
  const [cfg, instance] = await Promise.all([ctx.config(), instanceName(ctx), ctx.inventory()]);
  const log = await logger(ctx, cfg, logging, instance);
  const settings = daemonSettings(cfg);
  const { plan, names, db, apiDb } = await decideLoops(ctx, cfg, o, log);
  const ports: SchedulerPorts = { now: () => ctx.clock.now(), sleep: (ms, s) => ctx.clock.sleep(ms, s), random: Math.random, log };
  const membership = db ? await joinShards(ctx, db, names, instance, settings.leaseMs, ports, log) : undefined;
  const gauges: Gauges = { hostsReady: null, hostsPolled: null, alertsOpen: null, queues: {}, owned: new Map() };
  const supervisor = new Supervisor(ports, settings.stopTimeoutMs, ctx.signal);
  for (const l of plan) {
    if (!l.run && !o.only && l.name !== 'api') supervisor.disable(l.name, l.reason ?? 'not configured');
    if (l.forced) supervisor.markForced(l.name, l.reason!);
  }
  const env: LoopEnv = { ctx, log, gauges, membership, jitter: settings.jitter };
  const health = async () => healthBody(ctx, supervisor, membership, gauges, names, instance);
  const metrics = () => metricsText(supervisor, membership, gauges, instance);
  let api: RunningApi | undefined;
  const status = names.includes('api') ? await statusReader(ctx, { instance, supervisor, db: db ?? apiDb, dcJobs: names.includes('dc-jobs'), scrub: log.scrub }) : undefined;
  if (status) api = await startApi(ctx, { listen: o.listen, db: apiDb, log, hooks: { health, metrics, status: status.snapshot } });
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
        await checkManagementCidrs(r.cfg, r.index).catch((e: Error) => log.error(`SIGHUP: ${e.message} (the new inventory is in use; fix it and reload again)`));
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
