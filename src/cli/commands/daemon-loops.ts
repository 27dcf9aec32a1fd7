// The daemon's loops, each built from the op its one-shot command runs (heartbeat poll, reserve scan,
// provision sessions/cleanup, servers check, labs sync, dc jobs). Periodic loops re-read config and
// inventory at every run (SIGHUP swaps them); service loops are restarted by the daemon on SIGHUP.
import type { DaemonOptions } from './daemon.js';
import type { LoopContext, LoopName } from './daemon-run.js';
import type { PeriodicLoop, RunReport, ServiceLoop } from '../../ops/daemon/scheduler.js';
import type { LabopsConfig } from '../../core/config/load.js';
import type { HostIndex, InventoryHost } from '../../core/config/inventory.js';

export type BuiltLoop = { kind: 'periodic'; loop: PeriodicLoop } | { kind: 'service'; loop: ServiceLoop };

const closers = new Set<() => Promise<void> | void>();
export async function closeAll(): Promise<void> {
  for (const c of [...closers]) await Promise.resolve(c()).catch(() => {});
  closers.clear();
}

/** A value built once per config generation (SIGHUP gives a new config object) and closed when replaced. */
function perConfig<T>(build: (cfg: LabopsConfig) => Promise<T>, close?: (v: T) => Promise<void> | void): (cfg: LabopsConfig) => Promise<T> {
  let cached: { cfg: LabopsConfig; value: Promise<T> } | undefined;
  let closer: (() => Promise<void> | void) | undefined;
  return async (cfg) => {
    if (cached?.cfg === cfg) return cached.value;
    const old = cached;
    cached = { cfg, value: build(cfg) };
    if (old && close) {
      if (closer) closers.delete(closer);
      void old.value.then(close, () => {});
    }
    if (close) {
      const v = cached.value;
      closer = () => v.then(close, () => {});
      closers.add(closer);
    }
    return cached.value;
  };
}

const sharded = <T>(ctx: LoopContext, loop: string, items: readonly T[], key: (i: T) => string): T[] => {
  const mine = ctx.membership ? ctx.membership.share(loop, items, key) : [...items];
  ctx.gauges.owned.set(loop, mine.length);
  return mine;
};

export function buildLoop(name: Exclude<LoopName, 'api'>, ctx: LoopContext, jitter: number): BuiltLoop {
  switch (name) {
    case 'heartbeat':
      return { kind: 'periodic', loop: heartbeatLoop(ctx, jitter) };
    case 'servers':
      return { kind: 'periodic', loop: serversLoop(ctx, jitter) };
    case 'labs':
      return { kind: 'periodic', loop: labsLoop(ctx, jitter) };
    case 'reservations':
      return { kind: 'service', loop: reservationsLoop(ctx, jitter) };
    case 'provisioning':
      return { kind: 'service', loop: provisionLoop(ctx, jitter, 'sessions') };
    case 'cleanup':
      return { kind: 'service', loop: provisionLoop(ctx, jitter, 'cleanup') };
    case 'dc-jobs':
      return { kind: 'service', loop: dcJobsLoop(ctx, jitter) };
  }
}

function heartbeatLoop(ctx: LoopContext, jitter: number): PeriodicLoop {
  const { f } = ctx;
  let intervalMs = 60_000;
  let timeoutMs = 30_000;
  const source = perConfig(
    async (cfg) => {
      const { createHeartbeatSource } = await import('../../core/heartbeat-sources.js');
      const kind = cfg.get('heartbeat.source') as 'winrm' | 'file';
      return createHeartbeatSource(kind, { template: cfg.get('heartbeat.path')!, cfg, timeoutMs: cfg.durationMs('heartbeat.timeout')!, env: f.env });
    },
    (s) => s.close?.(),
  );
  const notifier = perConfig(async (cfg) => {
    const { createNotifier, parseNotifyConfig } = await import('../../core/notify.js');
    const n = parseNotifyConfig(cfg.raw, cfg.file);
    return n ? createNotifier(n, f.env) : undefined;
  });
  return {
    name: 'heartbeat',
    jitter,
    intervalMs: () => intervalMs,
    deadlineMs: () => Math.max(2 * intervalMs, timeoutMs * 3 + 30_000),
    async run(signal): Promise<RunReport> {
      const [cfg, index, db, { pollHeartbeats }, { batchingHeartbeatSink }, { evaluateAndStoreAlerts }] = await Promise.all([
        f.config(),
        f.inventory(),
        f.database(),
        import('../../ops/heartbeat/poll.js'),
        import('../../core/db/heartbeat-store.js'),
        import('../../ops/heartbeat/alerts.js'),
      ]);
      intervalMs = cfg.durationMs('heartbeat.interval')!;
      timeoutMs = cfg.durationMs('heartbeat.timeout')!;
      const all = index.hosts.filter((h) => !h.quarantined);
      const mine = sharded(ctx, 'heartbeat', all, (h: InventoryHost) => h.name);
      const result = await pollHeartbeats(
        { hosts: mine, allHosts: index.hosts, events: true, concurrency: cfg.int('heartbeat.concurrency')! },
        { source: await source(cfg), sink: batchingHeartbeatSink(db), now: () => f.clock.now() },
        signal,
      );
      const storeErrors = result.hosts.filter((h) => h.error?.kind === 'store');
      ctx.gauges.hostsPolled = mine.length;
      ctx.gauges.hostsReady = result.hosts.filter((h) => h.ok && h.ready === true).length;
      if (storeErrors.length) throw new Error(`${storeErrors.length} of ${mine.length} heartbeat(s) not stored: ${storeErrors[0]!.error!.message}`);
      const alerts = await evaluateAndStoreAlerts(
        db,
        mine,
        {
          notReadyMs: cfg.durationMs('alerts.not-ready')!,
          localSessionLeadMs: cfg.durationMs('alerts.local-session-lead')!,
          localModeLookaheadMs: cfg.durationMs('alerts.local-mode-lookahead')!,
          staleEvictionMs: cfg.durationMs('alerts.stale-eviction')!,
          missingIntervals: cfg.int('alerts.missing-intervals')!,
          pollIntervalMs: intervalMs,
        },
        f.clock.now(),
        await notifier(cfg),
      );
      const mineNames = new Set(mine.map((h) => h.name.toLowerCase()));
      ctx.gauges.alertsOpen = alerts.open.filter((a) => mineNames.has(a.host.toLowerCase())).length;
      if (alerts.notifyError) ctx.log.warn(`heartbeat: notify hook: ${alerts.notifyError}`, { loop: 'heartbeat' });
      return { hosts: mine.length, fleet: all.length, ok: result.ok, failed: result.failed, ready: ctx.gauges.hostsReady, alertsOpened: alerts.opened.length, alertsOpen: ctx.gauges.alertsOpen };
    },
  };
}

async function sshContext(ctx: LoopContext) {
  const { sshSetup } = await import('./ssh-deps.js');
  return sshSetup(ctx.f, {});
}

function serversLoop(ctx: LoopContext, jitter: number): PeriodicLoop {
  const { f } = ctx;
  let intervalMs = 10_000;
  let timeoutMs = 30_000;
  const ssh = perConfig(
    () => sshContext(ctx),
    (s) => s.ssh.close(),
  );
  return {
    name: 'servers',
    jitter,
    intervalMs: () => intervalMs,
    deadlineMs: () => Math.max(2 * intervalMs, timeoutMs * 4 + 30_000),
    async run(signal): Promise<RunReport> {
      const cfg = await f.config();
      intervalMs = cfg.durationMs('servers.interval')!;
      timeoutMs = cfg.durationMs('servers.timeout')!;
      const { checkServersOnce } = await import('../../ops/provisioning/servers.js');
      const s = await ssh(cfg);
      const threshold = (k: string) => (cfg.get(k) === undefined ? undefined : cfg.int(k));
      // The share is applied by narrowing the repository's server list; checkServersOnce is unchanged.
      const repo = Object.create(s.repo) as typeof s.repo;
      repo.enabledServers = async () => sharded(ctx, 'servers', await s.repo.enabledServers(), (r) => String(r.id));
      const r = await checkServersOnce(
        { repo, ssh: s.ssh, now: () => f.clock.now() },
        {
          timeoutMs,
          concurrency: cfg.int('servers.concurrency')!,
          cpuSampleMs: cfg.durationMs('servers.cpu-sample')!,
          thresholds: { cpu: threshold('servers.cpu-threshold'), mem: threshold('servers.mem-threshold'), disk: threshold('servers.disk-threshold') },
          retentionMs: cfg.get('servers.metrics-retention') === undefined ? undefined : cfg.durationMs('servers.metrics-retention'),
          auth: s.auth,
        },
        signal,
      );
      for (const x of r.servers) if (x.alertsOpened.length || x.alertsCleared.length) ctx.log.info(`server ${x.serverId} ${x.host ?? '-'}: ${x.state}`, { loop: 'servers', opened: x.alertsOpened, cleared: x.alertsCleared });
      return { servers: r.servers.length, up: r.servers.filter((x) => x.state === 'up').length, down: r.servers.filter((x) => x.state !== 'up').length, pruned: r.pruned };
    },
  };
}

function labsLoop(ctx: LoopContext, jitter: number): PeriodicLoop {
  const { f } = ctx;
  let intervalMs = 30 * 60_000;
  let timeoutMs = 30_000;
  return {
    name: 'labs',
    jitter,
    intervalMs: () => intervalMs,
    deadlineMs: () => Math.max(intervalMs, timeoutMs * 20),
    async run(signal): Promise<RunReport> {
      const cfg = await f.config();
      intervalMs = cfg.durationMs('cml.refresh-interval')!;
      timeoutMs = cfg.durationMs('cml.timeout')!;
      const [{ parseCmlServers, resolveCmlServer }, { syncLabs }, { CmlClient }, { CmlLabStore }, { randomUUID }, { createNotifier, parseNotifyConfig }] = await Promise.all([
        import('../../core/config/cml.js'),
        import('../../ops/labs-sync.js'),
        import('../../core/http-apis/cml-client.js'),
        import('../../core/db/cml-lab-store.js'),
        import('node:crypto'),
        import('../../core/notify.js'),
      ]);
      const servers = sharded(ctx, 'labs', parseCmlServers(cfg.raw, cfg.file), (s) => s.id).map((s) => resolveCmlServer(s, cfg.file, f.env));
      const db = await f.database();
      const labConcurrency = cfg.int('cml.lab-concurrency')!;
      const byId = new Map(servers.map((s) => [s.id, s]));
      const clients: { close(): void }[] = [];
      const notifyCfg = parseNotifyConfig(cfg.raw, cfg.file);
      const notifier = notifyCfg ? createNotifier(notifyCfg, f.env) : undefined;
      try {
        const r = await syncLabs(
          servers,
          { concurrency: cfg.int('cml.concurrency')!, labConcurrency, purge: false },
          {
            connect: (s) => {
              const x = byId.get(s.id)!;
              const c = new CmlClient({ url: x.url, username: x.username, password: x.passwordValue, ca: x.caPem, insecure: x.insecure, timeoutMs, maxSockets: labConcurrency });
              clients.push(c);
              return c;
            },
            store: new CmlLabStore(db.kysely, db.dialect),
            now: () => f.clock.now(),
            newId: randomUUID,
            notify: notifier ? (events) => notifier.send('cml.labs', events) : undefined,
          },
          signal,
        );
        for (const s of r.servers) if (s.status === 'failed') ctx.log.warn(`labs: ${s.server}: ${s.error?.message ?? 'failed'}`, { loop: 'labs', server: s.server });
        if (r.totals.servers > 0 && r.totals.failed === r.totals.servers) throw new Error(`every CML server failed (${r.servers[0]?.error?.message ?? 'error'})`);
        return { servers: r.totals.servers, failed: r.totals.failed, synced: r.totals.synced, created: r.totals.created, updated: r.totals.updated, orphaned: r.totals.orphaned, labErrors: r.totals.labErrors };
      } finally {
        for (const c of clients) c.close();
      }
    },
  };
}

function reservationsLoop(ctx: LoopContext, jitter: number): ServiceLoop {
  const { f } = ctx;
  let intervalMs = 30_000;
  return {
    name: 'reservations',
    jitter,
    intervalMs: () => intervalMs,
    async start(signal, hooks) {
      const { scanSetup } = await import('./reserve.js');
      const { scanLoop } = await import('../../ops/reservations/scan.js');
      const { deps, config } = await scanSetup(f, {});
      intervalMs = config.intervalMs;
      const log = ctx.log.child({ loop: 'reservations' });
      await scanLoop({ ...deps, ports: { ...deps.ports, sleep: hooks.sleep } }, config, signal, {
        onItem: (i) => {
          const ok = i.outcome === 'started' || i.outcome === 'ended';
          if (!ok) hooks.itemFailed(`${i.reservationId} ${i.phase}: ${i.message}`);
          (ok ? log.info : log.warn)(`${i.reservationId} ${i.phase} ${i.host ?? '-'} ${i.outcome}: ${i.message}`, { reservation: i.reservationId, phase: i.phase, host: i.host, outcome: i.outcome });
        },
        onError: (e) => {
          hooks.itemFailed((e as Error).message);
          log.warn(`scan: ${(e as Error).message}`);
        },
      });
    },
  };
}

function provisionLoop(ctx: LoopContext, jitter: number, job: 'sessions' | 'cleanup'): ServiceLoop {
  const { f } = ctx;
  const name = job === 'sessions' ? 'provisioning' : 'cleanup';
  let intervalMs = 10_000;
  return {
    name,
    jitter,
    intervalMs: () => intervalMs,
    async start(signal, hooks) {
      const { contractSetting } = await import('./ssh-deps.js');
      const s = await sshContext(ctx);
      const { cfg } = s;
      try {
        const timeoutMs = cfg.durationMs('provision.timeout')!;
        const common = {
          contract: contractSetting(cfg.get('provision.contract')),
          timeoutMs,
          concurrency: cfg.int('provision.concurrency')!,
          batch: cfg.int('provision.batch')!,
          backoff: { baseMs: cfg.durationMs('provision.backoff-base')!, maxMs: cfg.durationMs('provision.backoff-max')! },
          staleAfterMs: timeoutMs + cfg.durationMs('ssh.connect-timeout')! * 2 + 60_000,
          auth: s.auth,
        };
        intervalMs = cfg.durationMs(job === 'sessions' ? 'provision.interval' : 'provision.cleanup-interval')!;
        const deps = { repo: s.repo, ssh: s.ssh, now: () => f.clock.now() };
        const log = ctx.log.child({ loop: name });
        const onResult = (r: { sessionId: number; outcome: string; status: string; host: string | null; message: string; category: string }) => {
          const ok = r.category === 'ok';
          if (!ok) hooks.itemFailed(`session ${r.sessionId}: ${r.message}`);
          if (r.outcome !== 'taken') (ok ? log.info : log.warn)(`session ${r.sessionId}: ${r.outcome} -> ${r.status}${r.host ? ` on ${r.host}` : ''}: ${r.message}`, { session: r.sessionId, outcome: r.outcome, status: r.status });
        };
        const onError = (e: unknown) => {
          hooks.itemFailed((e as Error).message);
          log.warn((e as Error).message);
        };
        if (job === 'sessions') {
          const { provisionLoop: loop } = await import('../../ops/provisioning/sessions.js');
          await loop(deps, { ...common, intervalMs }, hooks.sleep, signal, { onResult, onNotice: (t) => log.warn(t), onError });
        } else {
          const { cleanupLoop } = await import('../../ops/provisioning/cleanup.js');
          await cleanupLoop(deps, { ...common, intervalMs }, hooks.sleep, signal, { onResult, onError });
        }
      } finally {
        s.ssh.close();
      }
    },
  };
}

function dcJobsLoop(ctx: LoopContext, jitter: number): ServiceLoop {
  const { f } = ctx;
  return {
    name: 'dc-jobs',
    jitter,
    intervalMs: () => 0,
    async start(signal, hooks) {
      const { runDcJobConsumer } = await import('../../ops/dc-jobs.js');
      const log = ctx.log.child({ loop: 'dc-jobs' });
      const summary = await runDcJobConsumer({
        env: f.env,
        signal,
        log: (level, msg) => {
          if (level === 'error') hooks.itemFailed(msg);
          if (level === 'debug') log.debug(msg);
          else if (level === 'info') log.info(msg);
          else if (level === 'warn') log.warn(msg);
          else log.error(msg);
        },
      });
      log.info(`consumer stopped: ${summary.received} received, ${summary.completed} completed, ${summary.failed} failed, ${summary.leftPending} left pending`, { ...summary });
    },
  };
}

/** Counts of waiting work for /metrics, sampled every 15 s (a scrape never waits for the database). */
export async function sampleQueues(ctx: LoopContext, signal: AbortSignal): Promise<void> {
  const db = ctx.db;
  if (!db) return;
  const { sql } = await import('kysely');
  while (!signal.aborted) {
    const q: Record<string, number> = {};
    try {
      const rows = await db.kysely.selectFrom('lab_sessions').select(['status', sql<number>`COUNT(*)`.as('n')]).where('status', 'in', ['REQUESTED', 'PROVISIONING']).groupBy('status').execute();
      q.lab_sessions_requested = 0;
      q.lab_sessions_provisioning = 0;
      for (const r of rows) q[`lab_sessions_${String(r.status).toLowerCase()}`] = Number(r.n);
    } catch {
      // the collector tables are absent on this database
    }
    try {
      const r = await db.kysely.selectFrom('lab_reservations').select(sql<number>`COUNT(*)`.as('n')).where('status', '=', 'CONFIRMED').executeTakeFirst();
      q.reservations_confirmed = Number(r?.n ?? 0);
    } catch {
      // no lab_reservations table
    }
    ctx.gauges.queues = q;
    await ctx.f.clock.sleep(15_000, signal);
  }
}

export interface ApiHooks {
  health(): { extra: Record<string, unknown>; degraded: boolean };
  metrics(): Promise<string>;
  dbForApi: unknown;
  explicitApiOnly: boolean;
}

/** The ops-worker API with /health extended and /metrics; the inventory follows SIGHUP and /api/hosts/reload. */
export async function startApi(ctx: LoopContext, o: DaemonOptions, hooks: ApiHooks): Promise<{ close(): Promise<void>; onReload(index: HostIndex): void }> {
  const { f } = ctx;
  const cfg = await f.config();
  const [{ startOpsApi }, { reservationPorts, reservationSettings }, { loadInventory, HostIndex }, { createHeartbeatSource }, { resolveSecret }, { readFileSync }] = await Promise.all([
    import('../../ops/api/server.js'),
    import('../../ops/reservations/deps.js'),
    import('../../core/config/inventory.js'),
    import('../../core/heartbeat-sources.js'),
    import('../../core/config/secrets.js'),
    import('node:fs'),
  ]);
  // /api/hosts/reload and SIGHUP (onReload) both replace the inventory the API answers from.
  let index = await f.inventory();
  const explicitDb = cfg.setting('db').source.kind !== 'default';
  const db = explicitDb || !hooks.explicitApiOnly ? await f.database() : await f.database().catch(() => undefined);
  let token: string | undefined;
  const tokenRef = cfg.get('api.token');
  if (tokenRef) token = resolveSecret(tokenRef, 'api.token', f.env);
  else if (f.env.OPS_INTERNAL_AUTH_TOKEN_FILE) token = readFileSync(f.env.OPS_INTERNAL_AUTH_TOKEN_FILE, 'utf8').replace(/\r?\n$/, '');
  if (token !== undefined && token.length === 0) {
    const { UsageError } = await import('../../domain/errors.js');
    throw new UsageError('api.token is empty');
  }
  ctx.log.addSecret(token);
  const source = await createHeartbeatSource('winrm', { template: cfg.get('heartbeat.path')!, cfg, timeoutMs: cfg.durationMs('heartbeat.timeout')!, env: f.env });
  let sink;
  if (db) {
    const { storeHeartbeat } = await import('../../core/db/heartbeat-store.js');
    sink = { store: (i: Parameters<typeof storeHeartbeat>[1]) => storeHeartbeat(db, i) };
  }
  const log = ctx.log.child({ loop: 'api' });
  const api = await startOpsApi({
    listen: o.listen ?? cfg.get('api.listen')!,
    maxBody: cfg.int('api.max-body')!,
    index: () => index,
    reloadHosts: async () => {
      const setting = (await f.config()).setting('hosts');
      index = new HostIndex(loadInventory(setting.value!, setting.source.kind !== 'default'));
      return index.hosts.length;
    },
    db,
    ports: await reservationPorts(cfg, f.env, f.clock, db),
    settings: reservationSettings(cfg),
    guardGrace: cfg.int('reservations.guard-grace')!,
    rebootTimeout: cfg.int('reservations.reboot-timeout')!,
    heartbeat: { source, sink },
    token,
    health: async () => hooks.health(),
    metrics: hooks.metrics,
    log: (level, m) => (level === 'info' ? log.debug(m) : level === 'warn' ? log.warn(m) : log.error(m)),
    signal: ctx.stopSignal,
  });
  log.info(`listening on ${api.url}${token ? ' (X-Ops-Internal-Token required on /api/*)' : ''}`, { url: api.url });
  // Tests and supervisors read the address from here when port 0 was asked for.
  if (f.io.json) f.io.out(JSON.stringify({ listening: api.url }));
  return {
    onReload: (next) => {
      index = next;
    },
    close: async () => {
      await api.close();
      await source.close?.();
    },
  };
}
