// The daemon's status page, assembled: the fleet from the stored heartbeats and the inventory, open alerts, the
// supervisor's loop health, the DC job queue in Redis (only where the dc-jobs loop runs) and the last
// reservations' journalled steps. Every part is read on its own: one that fails is named on the page, the
// rest still shows. Text from loops passes the log's secret scrubber before it reaches a browser.
import type { AppContext } from '../context.js';
import type { Database } from '../../core/db/database.js';
import type { LoopDef, Supervisor } from '../../ops/daemon/supervisor.js';
import type { StatusDcQueue, StatusHost, StatusReservation, StatusSnapshot } from '../../ops/status-page/model.js';
import { hostState } from '../../ops/status-page/model.js';
import { alertSettings } from '../settings.js';

const RESERVATIONS_SHOWN = 8;
const STEPS_SHOWN = 40;

export interface StatusSources {
  instance: string;
  supervisor: Supervisor;
  db?: Database;
  /** the dc-jobs loop runs in this instance */
  dcJobs: boolean;
  /** the log's scrubber: known secrets masked */
  scrub(text: string): string;
}

export interface StatusReader {
  snapshot(): Promise<StatusSnapshot>;
  close(): void;
}

async function fleet(ctx: AppContext, db: Database | undefined, now: number): Promise<StatusHost[]> {
  const [cfg, index] = await Promise.all([ctx.config(), ctx.inventory()]);
  const a = alertSettings(cfg);
  const staleAfterMs = a.missingIntervals * a.heartbeatIntervalMs;
  if (!db) return index.hosts.map((h) => ({ name: h.name, address: h.address, state: 'never', heartbeatAt: null, localMode: null, localSession: null, issues: [] }));
  const { fleetState } = await import('../heartbeat.js');
  return (await fleetState(ctx, [])).map((r) => ({
    name: r.host,
    address: r.address,
    state: hostState(r, now, staleAfterMs),
    heartbeatAt: r.timestampUtc,
    localMode: r.localMode,
    localSession: r.localSession,
    issues: r.issues,
  }));
}

async function reservations(db: Database): Promise<StatusReservation[]> {
  const { recentReservationIds, newestOperations } = await import('../../core/db/reservation-store.js');
  const ids = await recentReservationIds(db, RESERVATIONS_SHOWN);
  return Promise.all(
    ids.map(async (id) => {
      const ops = await newestOperations(db, id, STEPS_SHOWN);
      const last = ops.at(-1);
      return {
        id,
        host: last?.host ?? '',
        labId: last?.labId ?? null,
        steps: ops.map((o) => ({ action: o.action, status: o.status, success: o.success, at: o.createdAt, durationMs: o.durationMs, message: o.message })),
      };
    }),
  );
}

/** The worker config's Redis, probed by a connection of the page's own (not the consumer's). */
async function dcProbe(ctx: AppContext): Promise<{ depth(): Promise<StatusDcQueue>; close(): void }> {
  const [{ loadMacctWorkerConfig, MACCT_WORKER_CONF }, { JobQueueProbe }] = await Promise.all([import('../../core/config/macct-worker-conf.js'), import('../../core/streams/queue-depth.js')]);
  let probe: InstanceType<typeof JobQueueProbe> | undefined;
  let setupError: string | undefined;
  try {
    const v = loadMacctWorkerConfig(ctx.env.MACCT_WORKER_CONF ?? MACCT_WORKER_CONF, ctx.env).values;
    probe = new JobQueueProbe({ host: v.redis_host ?? '127.0.0.1', port: Number(v.redis_port ?? 6379), password: v.redis_password || undefined, db: Number(v.redis_db ?? 0) });
  } catch (e) {
    setupError = (e as Error).message;
  }
  return {
    async depth() {
      if (!probe) return { waiting: null, pending: null, deadLetters: null, error: `worker config: ${setupError}` };
      return probe.depth();
    },
    close: () => probe?.close(),
  };
}

export async function statusReader(ctx: AppContext, s: StatusSources): Promise<StatusReader> {
  const dc = s.dcJobs ? await dcProbe(ctx) : undefined;
  return {
    async snapshot() {
      const now = ctx.clock.now();
      const problems: string[] = [];
      const part = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> => {
        try {
          return await read();
        } catch (e) {
          problems.push(`${what}: ${(e as Error).message}`);
          return fallback;
        }
      };
      const [hosts, alerts, recent, dcQueue] = await Promise.all([
        part('fleet', () => fleet(ctx, s.db, now), []),
        s.db ? part('alerts', async () => (await import('../../core/db/alert-store.js')).openAlerts(s.db!), []) : Promise.resolve([]),
        s.db ? part('reservations', () => reservations(s.db!), []) : Promise.resolve([]),
        dc ? dc.depth().catch((e: Error): StatusDcQueue => ({ waiting: null, pending: null, deadLetters: null, error: `Redis: ${e.message}` })) : Promise.resolve(undefined),
      ]);
      if (!s.db) problems.push('no database: heartbeats, alerts and reservations are not shown');
      const { loops } = s.supervisor.health(now);
      return {
        instance: s.instance,
        hosts,
        alerts: alerts.map((a) => ({ host: a.host, rule: a.rule, message: s.scrub(a.message), openedAt: a.openedAt })),
        // a loop switched off (not configured, or left out of --only) has no runs to show
        loops: Object.values(loops).flatMap((l) => (!('runs' in l) ? [] : [{
          name: l.name, kind: l.kind, intervalMs: l.intervalMs, running: l.running, healthy: l.healthy, runs: l.runs, failures: l.failures,
          lastFinishedAt: l.lastFinishedAt, lastDurationMs: l.lastDurationMs, lastSuccessAt: l.lastSuccessAt, lastError: l.lastError === null ? null : s.scrub(l.lastError),
        }])),
        dc: dcQueue && { ...dcQueue, error: dcQueue.error && s.scrub(dcQueue.error) },
        reservations: recent.map((r) => ({ ...r, steps: r.steps.map((x) => ({ ...x, message: x.message === null ? null : s.scrub(x.message) })) })),
        problems: problems.map(s.scrub),
      };
    },
    close: () => dc?.close(),
  };
}

/** A periodic loop that calls `ended` after each run (the status page's watchers hear of it at once). */
export function afterEachRun(def: LoopDef, ended: () => void): LoopDef {
  if (def.kind !== 'periodic') return def;
  const loop = def.loop;
  return { kind: 'periodic', loop: { ...loop, run: (signal) => loop.run(signal).finally(ended) } };
}
