// The daemon's supervisor: starts each loop in its own chain (scheduler.ts), restarts the service loops on
// reload, drains on stop (no new work; in-flight work finishes or, after the stop timeout, is cancelled) and
// judges health. It knows loops only through their definitions, so it runs without commander or a database.
import { setMaxListeners } from 'node:events';
import { LoopStats, runPeriodic, runService, type LoopSnapshot, type PeriodicLoop, type SchedulerPorts, type ServiceLoop } from './scheduler.js';

export type LoopDef = { kind: 'periodic'; loop: PeriodicLoop } | { kind: 'service'; loop: ServiceLoop };

interface Running {
  def: LoopDef;
  stats: LoopStats;
  /** stops and cancels this loop alone (a restart on reload) */
  own: AbortController;
  done: Promise<void>;
}

export interface LoopHealth extends LoopSnapshot {
  healthy: boolean;
  /** ok, failing, or disabled (a loop the daemon does not run, with the reason) */
  status: 'ok' | 'failing';
  /** run because --only named it although its configuration or tables are absent */
  forced?: string;
}

export interface DisabledLoop {
  name: string;
  status: 'disabled';
  reason: string;
  healthy: true;
}

/**
 * A periodic loop is healthy while its last success is recent (three intervals, at least a minute, plus the
 * last run's length) or its first run is under way; a service loop while it runs.
 */
export function loopHealthy(s: LoopStats, now: number): boolean {
  if (s.kind === 'service') return s.running;
  if (s.lastSuccessAt === null) return s.runs === 0 || s.failures === 0;
  return now - s.lastSuccessAt <= Math.max(3 * s.intervalMs, 60_000) + (s.lastDurationMs ?? 0);
}

export class Supervisor {
  private readonly running = new Map<string, Running>();
  private readonly disabled = new Map<string, string>();
  private readonly forced = new Map<string, string>();
  private readonly stop = new AbortController();
  private readonly abort = new AbortController();

  /** `cancel` (SIGINT) cancels in-flight work at once, without waiting for the stop timeout */
  constructor(
    private readonly ports: SchedulerPorts,
    private readonly stopTimeoutMs: number,
    cancel?: AbortSignal,
  ) {
    setMaxListeners(0, this.stop.signal);
    setMaxListeners(0, this.abort.signal);
    if (cancel?.aborted) this.abort.abort();
    else cancel?.addEventListener('abort', () => this.abort.abort(), { once: true });
  }

  /** Starts a loop; its interval shows in the stats (and /health) before its first run. */
  start(def: LoopDef): void {
    const stats = this.running.get(def.loop.name)?.stats ?? new LoopStats(def.loop.name, def.kind, def.loop.intervalMs());
    const own = new AbortController();
    const stop = AbortSignal.any([this.stop.signal, own.signal]);
    const abort = AbortSignal.any([this.abort.signal, own.signal]);
    setMaxListeners(0, stop);
    setMaxListeners(0, abort);
    const log = this.ports.log;
    const done = (def.kind === 'periodic' ? runPeriodic(def.loop, stats, this.ports, stop, abort) : runService(def.loop, stats, this.ports, stop, abort)).catch((e: unknown) => {
      log.error(`${def.loop.name}: loop crashed: ${(e as Error).message}`, { loop: def.loop.name, stack: (e as Error).stack });
    });
    this.running.set(def.loop.name, { def, stats, own, done });
  }

  /** A loop the daemon does not run: /health shows it as disabled with the reason, and it never degrades. */
  disable(name: string, reason: string): void {
    this.disabled.set(name, reason);
  }

  /** A loop run although `why` (--only forced it): its failures degrade /health like any other's. */
  markForced(name: string, why: string): void {
    this.forced.set(name, why);
  }

  /** Service loops read their settings when they start: they are stopped and started again. */
  async restartServices(): Promise<void> {
    for (const r of [...this.running.values()].filter((x) => x.def.kind === 'service')) {
      r.own.abort();
      await r.done;
      if (!this.stop.signal.aborted) this.start(r.def);
    }
  }

  /**
   * No loop starts new work; work in hand finishes. After `stopTimeoutMs` what is still running is cancelled
   * (claims are released or expire). Returns the loops that had to be cancelled.
   */
  async drain(): Promise<string[]> {
    this.stop.abort();
    const all = Promise.allSettled([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((res) => (timer = setTimeout(() => res(true), this.stopTimeoutMs)))]);
    clearTimeout(timer);
    const cancelled = timedOut ? [...this.running.values()].filter((r) => r.stats.running).map((r) => r.def.loop.name) : [];
    this.abort.abort();
    await all;
    return cancelled;
  }

  stats(): LoopStats[] {
    return [...this.running.values()].map((r) => r.stats);
  }

  /** Every loop with its health, disabled ones included; `degraded` when a loop that runs is unhealthy. */
  health(now: number): { loops: Record<string, LoopHealth | DisabledLoop>; degraded: boolean } {
    const loops: Record<string, LoopHealth | DisabledLoop> = {};
    let degraded = false;
    for (const r of this.running.values()) {
      const healthy = loopHealthy(r.stats, now);
      if (!healthy) degraded = true;
      const forced = this.forced.get(r.def.loop.name);
      loops[r.def.loop.name] = { ...r.stats.snapshot(), healthy, status: healthy ? 'ok' : 'failing', ...(forced ? { forced } : {}) };
    }
    for (const [name, reason] of this.disabled) loops[name] = { name, status: 'disabled', reason, healthy: true };
    return { loops, degraded };
  }
}
