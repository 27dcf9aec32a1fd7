// The daemon's work loops, each assembled from the same use case its one-shot command runs (heartbeat poll and
// alerts, reserve scan, provision sessions|cleanup, servers check, labs sync, dc jobs). Periodic loops read the
// configuration at every run (SIGHUP swaps it); service loops read it when they start and are restarted on SIGHUP.
import type { AppContext } from '../context.js';
import type { LabopsConfig } from '../../core/config/load.js';
import type { Logger } from '../../core/logger.js';
import type { Membership } from '../../ops/daemon/membership.js';
import type { LoopDef } from '../../ops/daemon/supervisor.js';
import type { PeriodicLoop, RunReport, ServiceHooks, ServiceLoop } from '../../ops/daemon/scheduler.js';
import type { WorkLoopName } from '../../domain/daemon-loops.js';
import type { HostPollResult, PollMemory } from '../../ops/heartbeat/poll.js';
import { pollHosts, evaluateAlerts } from '../heartbeat.js';
import { checkServers, provisionUntilStopped } from '../provision.js';
import { syncCmlLabs } from '../labs.js';
import { scanUntilStopped } from '../reserve.js';
import { consumeDcJobs } from '../dc.js';

/** Values /metrics shows beside the loops' own counts. */
export interface Gauges {
  hostsReady: number | null;
  hostsPolled: number | null;
  alertsOpen: number | null;
  queues: Record<string, number>;
  /** items of each sharded loop this instance owns */
  owned: Map<string, number>;
}

export interface LoopEnv {
  ctx: AppContext;
  log: Logger;
  gauges: Gauges;
  membership?: Membership;
  /** a fraction of each interval */
  jitter: number;
}

/** The context of one run or one service loop: the daemon's configuration and database, its own signals. */
function withSignals(ctx: AppContext, abort: AbortSignal, stop: AbortSignal = abort): AppContext {
  return { ...ctx, signal: abort, stop };
}

function share<T>(env: LoopEnv, loop: string, items: readonly T[], key: (i: T) => string): T[] {
  const mine = env.membership ? env.membership.share(loop, items, key) : [...items];
  env.gauges.owned.set(loop, mine.length);
  return mine;
}

/** A periodic loop whose interval and deadline come from the configuration of its last run (the first: `cfg`). */
function periodic(name: string, env: LoopEnv, cfg: LabopsConfig, timing: (c: LabopsConfig) => { intervalMs: number; deadlineMs: number }, run: (ctx: AppContext, cfg: LabopsConfig) => Promise<RunReport>): LoopDef {
  let t = timing(cfg);
  const loop: PeriodicLoop = {
    name,
    jitter: env.jitter,
    intervalMs: () => t.intervalMs,
    deadlineMs: () => t.deadlineMs,
    // a sharded loop runs at once when its members change: the share of an instance that died is polled now
    wake: env.membership ? (listener) => env.membership!.onChange(name, listener) : undefined,
    async run(signal) {
      const c = await env.ctx.config();
      t = timing(c);
      return run(withSignals(env.ctx, signal), c);
    },
  };
  return { kind: 'periodic', loop };
}

function service(name: string, env: LoopEnv, intervalMs: number, start: (ctx: AppContext, hooks: ServiceHooks) => Promise<void>): LoopDef {
  const loop: ServiceLoop = { name, jitter: env.jitter, intervalMs: () => intervalMs, start: (stop, hooks, abort) => start(withSignals(env.ctx, abort, stop), hooks) };
  return { kind: 'service', loop };
}

function heartbeatLoop(env: LoopEnv, cfg: LabopsConfig): LoopDef {
  const timing = (c: LabopsConfig) => {
    const intervalMs = c.value('heartbeat.interval');
    return { intervalMs, deadlineMs: Math.max(2 * intervalMs, c.value('heartbeat.timeout') * 3 + 30_000) };
  };
  // the last stored poll of each host of this instance's share: station files unchanged since are not read again
  const memory: PollMemory = new Map();
  return periodic('heartbeat', env, cfg, timing, async (ctx) => {
    const index = await ctx.inventory();
    const all = index.hosts.filter((h) => !h.quarantined);
    const mine = share(env, 'heartbeat', all, (h) => h.name);
    const polled = ctx.clock.now();
    const result = await pollHosts(ctx, mine, { store: true, events: true, sharedSource: true, memory });
    const storeErrors = result.hosts.filter((h) => h.error?.kind === 'store');
    env.gauges.hostsPolled = mine.length;
    env.gauges.hostsReady = result.hosts.filter((h) => h.ok && h.ready === true).length;
    if (storeErrors.length) throw new Error(`${storeErrors.length} of ${mine.length} heartbeat(s) not stored: ${storeErrors[0]!.error!.message}`);
    const evaluated = ctx.clock.now();
    const alerts = await evaluateAlerts(ctx, mine);
    const mineNames = new Set(mine.map((h) => h.name.toLowerCase()));
    env.gauges.alertsOpen = alerts.open.filter((a) => mineNames.has(a.host.toLowerCase())).length;
    if (alerts.notifyError) env.log.warn(`heartbeat: notify hook: ${alerts.notifyError}`, { loop: 'heartbeat' });
    return {
      hosts: mine.length, fleet: all.length, ok: result.ok, failed: result.failed, ready: env.gauges.hostsReady, alertsOpened: alerts.opened.length, alertsOpen: env.gauges.alertsOpen,
      ...pollCounts(result.hosts), pollMs: evaluated - polled, alertsMs: ctx.clock.now() - evaluated,
    };
  });
}

/** What a heartbeat run did with each host's files: read, skipped as unchanged, and why the failed ones failed. */
function pollCounts(hosts: readonly HostPollResult[]): RunReport {
  const count = (p: (h: HostPollResult) => boolean) => hosts.filter(p).length;
  return {
    read: count((h) => !h.unchanged),
    unchanged: count((h) => h.unchanged === true),
    missing: count((h) => h.error?.kind === 'missing'),
    malformed: count((h) => h.error?.kind === 'format'),
    unreadable: count((h) => h.error !== null && !['missing', 'format', 'store'].includes(h.error.kind)),
  };
}

function serversLoop(env: LoopEnv, cfg: LabopsConfig): LoopDef {
  const timing = (c: LabopsConfig) => ({ intervalMs: c.value('servers.interval'), deadlineMs: Math.max(2 * c.value('servers.interval'), c.value('servers.timeout') * 4 + 30_000) });
  return periodic('servers', env, cfg, timing, async (ctx) => {
    const r = await checkServers(ctx, {}, (rows) => share(env, 'servers', rows, (x) => String(x.id)));
    for (const x of r.servers) if (x.alertsOpened.length || x.alertsCleared.length) env.log.info(`server ${x.serverId} ${x.host ?? '-'}: ${x.state}`, { loop: 'servers', opened: x.alertsOpened, cleared: x.alertsCleared });
    return { servers: r.servers.length, up: r.servers.filter((x) => x.state === 'up').length, down: r.servers.filter((x) => x.state !== 'up').length, pruned: r.pruned };
  });
}

function labsLoop(env: LoopEnv, cfg: LabopsConfig): LoopDef {
  const timing = (c: LabopsConfig) => ({ intervalMs: c.value('cml.refresh-interval'), deadlineMs: Math.max(c.value('cml.refresh-interval'), c.value('cml.timeout') * 20) });
  return periodic('labs', env, cfg, timing, async (ctx) => {
    const { result: r } = await syncCmlLabs(ctx, { expireOrphans: true }, {}, (servers) => share(env, 'labs', servers, (s) => s.id));
    for (const s of r.servers) if (s.status === 'failed') env.log.warn(`labs: ${s.server}: ${s.error?.message ?? 'failed'}`, { loop: 'labs', server: s.server });
    if (r.totals.servers > 0 && r.totals.failed === r.totals.servers) throw new Error(`every CML server failed (${r.servers[0]?.error?.message ?? 'error'})`);
    return { servers: r.totals.servers, failed: r.totals.failed, synced: r.totals.synced, created: r.totals.created, updated: r.totals.updated, orphaned: r.totals.orphaned, purged: r.totals.purged, labErrors: r.totals.labErrors };
  });
}

function reservationsLoop(env: LoopEnv, cfg: LabopsConfig): LoopDef {
  const log = env.log.child({ loop: 'reservations' });
  return service('reservations', env, cfg.value('reservations.scan-interval'), (ctx, hooks) =>
    scanUntilStopped(
      ctx,
      {
        onItem: (i) => {
          const ok = i.outcome === 'started' || i.outcome === 'ended';
          if (!ok) hooks.itemFailed(`${i.reservationId} ${i.phase}: ${i.message}`);
          (ok ? log.info : log.warn)(`${i.reservationId} ${i.phase} ${i.host ?? '-'} ${i.outcome}: ${i.message}`, { reservation: i.reservationId, phase: i.phase, host: i.host, outcome: i.outcome });
        },
        onError: (e) => {
          hooks.itemFailed((e as Error).message);
          log.warn(`scan: ${(e as Error).message}`);
        },
      },
      { sleep: hooks.sleep },
    ),
  );
}

function provisionLoop(env: LoopEnv, cfg: LabopsConfig, job: 'sessions' | 'cleanup'): LoopDef {
  const name = job === 'sessions' ? 'provisioning' : 'cleanup';
  const log = env.log.child({ loop: name });
  return service(name, env, cfg.value(job === 'sessions' ? 'provision.interval' : 'provision.cleanup-interval'), (ctx, hooks) =>
    provisionUntilStopped(
      ctx,
      job,
      {
        onResult: (r) => {
          const ok = r.category === 'ok';
          if (!ok) hooks.itemFailed(`session ${r.sessionId}: ${r.message}`);
          if (r.outcome !== 'taken') (ok ? log.info : log.warn)(`session ${r.sessionId}: ${r.outcome} -> ${r.status}${r.host ? ` on ${r.host}` : ''}: ${r.message}`, { session: r.sessionId, outcome: r.outcome, status: r.status });
        },
        onNotice: (t) => log.warn(t),
        onError: (e) => {
          hooks.itemFailed((e as Error).message);
          log.warn((e as Error).message);
        },
      },
      { sleep: hooks.sleep },
    ),
  );
}

function dcJobsLoop(env: LoopEnv): LoopDef {
  const log = env.log.child({ loop: 'dc-jobs' });
  return service('dc-jobs', env, 0, async (ctx, hooks) => {
    // Instances that share a host name need consumer names of their own: Redis cannot tell two consumers of one
    // name apart, and one would claim and report the other's jobs. LABOPS_INSTANCE names an instance uniquely.
    const summary = await consumeDcJobs(ctx, { consumer: ctx.env.LABOPS_INSTANCE || undefined }, (level, msg) => {
      if (level === 'error') hooks.itemFailed(msg);
      log[level](msg);
    });
    log.info(`consumer stopped: ${summary.received} received, ${summary.completed} completed, ${summary.failed} failed, ${summary.leftPending} left pending`, { ...summary });
  });
}

/** The one table of work loops. */
export const WORK_LOOPS: Record<WorkLoopName, (env: LoopEnv, cfg: LabopsConfig) => LoopDef> = {
  heartbeat: heartbeatLoop,
  reservations: reservationsLoop,
  provisioning: (env, cfg) => provisionLoop(env, cfg, 'sessions'),
  cleanup: (env, cfg) => provisionLoop(env, cfg, 'cleanup'),
  servers: serversLoop,
  labs: labsLoop,
  'dc-jobs': (env) => dcJobsLoop(env),
};
