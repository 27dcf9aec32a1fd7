// The daemon's loop runner. Every loop runs in its own async chain, so a slow or hung loop never delays
// another. Periodic loops: first run at start, the next one a jittered interval after the previous start
// (fixed rate), never overlapping themselves; a run past its deadline is aborted (and still awaited).
// Service loops (reservation orchestrator, provisioning, DC jobs) run until stopped and are restarted with
// backoff when they fail; they report their passes through hooks.
import { setMaxListeners } from 'node:events';
import { delayUntilNextRun, jitteredInterval, restartDelayMs } from '../../domain/daemon.js';

export interface DaemonLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface SchedulerPorts {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  random(): number;
  log: DaemonLogger;
}

/** What one run reports besides success: counts for /health and /metrics. */
export type RunReport = Record<string, number | string | boolean | null>;

/** Prometheus histogram buckets of loop durations, in seconds. */
export const DURATION_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 300, 900] as const;

export interface LoopSnapshot {
  name: string;
  kind: 'periodic' | 'service';
  intervalMs: number;
  running: boolean;
  runs: number;
  successes: number;
  failures: number;
  lastStartedAt: string | null;
  lastFinishedAt: string | null;
  lastDurationMs: number | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  nextRunAt: string | null;
  report: RunReport;
}

export class LoopStats {
  running = false;
  runs = 0;
  successes = 0;
  failures = 0;
  lastStartedAt: number | null = null;
  lastFinishedAt: number | null = null;
  lastDurationMs: number | null = null;
  lastSuccessAt: number | null = null;
  lastError: string | null = null;
  lastErrorAt: number | null = null;
  nextRunAt: number | null = null;
  report: RunReport = {};
  /** cumulative counts per bucket (Prometheus `le`), plus the sum and count */
  readonly buckets: number[] = DURATION_BUCKETS.map(() => 0);
  durationSum = 0;

  constructor(
    readonly name: string,
    readonly kind: 'periodic' | 'service',
    public intervalMs: number,
  ) {}

  started(at: number): void {
    this.running = true;
    this.lastStartedAt = at;
  }

  finished(at: number, durationMs: number, error?: string, report?: RunReport): void {
    this.running = this.kind === 'service';
    this.runs++;
    this.lastFinishedAt = at;
    this.lastDurationMs = durationMs;
    const s = durationMs / 1000;
    this.durationSum += s;
    DURATION_BUCKETS.forEach((b, i) => {
      if (s <= b) this.buckets[i]!++;
    });
    if (report) this.report = report;
    if (error === undefined) {
      this.successes++;
      this.lastSuccessAt = at;
    } else {
      this.failures++;
      this.lastError = error;
      this.lastErrorAt = at;
    }
  }

  snapshot(): LoopSnapshot {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      name: this.name,
      kind: this.kind,
      intervalMs: this.intervalMs,
      running: this.running,
      runs: this.runs,
      successes: this.successes,
      failures: this.failures,
      lastStartedAt: iso(this.lastStartedAt),
      lastFinishedAt: iso(this.lastFinishedAt),
      lastDurationMs: this.lastDurationMs,
      lastSuccessAt: iso(this.lastSuccessAt),
      lastError: this.lastError,
      lastErrorAt: iso(this.lastErrorAt),
      nextRunAt: iso(this.nextRunAt),
      report: this.report,
    };
  }
}

export interface PeriodicLoop {
  name: string;
  /** read before every pause, so a reloaded config takes effect at the next run */
  intervalMs(): number;
  /** fraction of the interval, e.g. 0.1 = ±10 % */
  jitter: number;
  /** a run still going after this long is aborted (its signal) and reported as failed */
  deadlineMs(): number;
  run(signal: AbortSignal): Promise<RunReport | void>;
  /** subscribes to events that start the next run at once instead of after the pause (its share grew); returns the unsubscribe */
  wake?(listener: () => void): () => void;
}

const fmtSeconds = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/**
 * Runs `loop` until `signal` (stop) aborts: no new run starts, the run in hand finishes. `abort` cancels the run
 * in hand too (default: the same signal). Resolves once the run in hand (if any) has ended.
 */
export async function runPeriodic(loop: PeriodicLoop, stats: LoopStats, ports: SchedulerPorts, signal: AbortSignal, abort: AbortSignal = signal): Promise<void> {
  // runs in a row that took longer than the interval: the loop is falling behind its schedule (said once per streak)
  let overruns = 0;
  while (!signal.aborted) {
    const started = ports.now();
    stats.intervalMs = loop.intervalMs();
    stats.started(started);
    stats.nextRunAt = null;
    const run = new AbortController();
    // every host operation of a run listens on this signal
    setMaxListeners(0, run.signal);
    const onStop = () => run.abort();
    abort.addEventListener('abort', onStop, { once: true });
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      run.abort();
    }, loop.deadlineMs());
    let error: string | undefined;
    let report: RunReport | undefined;
    try {
      report = (await loop.run(run.signal)) ?? undefined;
      if (timedOut) error = `run exceeded its deadline of ${Math.round(loop.deadlineMs() / 1000)}s and was aborted`;
    } catch (e) {
      error = timedOut ? `run exceeded its deadline of ${Math.round(loop.deadlineMs() / 1000)}s: ${message(e)}` : message(e);
    } finally {
      clearTimeout(deadline);
      abort.removeEventListener('abort', onStop);
    }
    const ended = ports.now();
    const took = ended - started;
    stats.finished(ended, took, abort.aborted && error ? undefined : error, report);
    if (error && !abort.aborted) ports.log.warn(`${loop.name}: ${error}`, { loop: loop.name, durationMs: took });
    else ports.log.debug(`${loop.name}: run done`, { loop: loop.name, durationMs: took, ...report });
    if (signal.aborted) break;
    const interval = loop.intervalMs();
    if (took > interval) {
      if (overruns++ === 0) ports.log.warn(`${loop.name}: a run took ${fmtSeconds(took)}, longer than its ${fmtSeconds(interval)} interval; the next one starts at once`, { loop: loop.name, durationMs: took });
    } else if (overruns > 0) {
      ports.log.info(`${loop.name}: back on schedule after ${overruns} run(s) longer than the interval`, { loop: loop.name, overruns });
      overruns = 0;
    }
    const wait = delayUntilNextRun(started, ended, jitteredInterval(interval, loop.jitter, ports.random()));
    stats.nextRunAt = ended + wait;
    await pause(loop, ports, wait, signal);
  }
  stats.running = false;
  stats.nextRunAt = null;
}

/** The pause between two runs: until `wait` has passed, the loop is stopped, or one of its wake events fires. */
async function pause(loop: PeriodicLoop, ports: SchedulerPorts, wait: number, stop: AbortSignal): Promise<void> {
  if (!loop.wake) return ports.sleep(wait, stop);
  const woken = new AbortController();
  const onStop = () => woken.abort();
  stop.addEventListener('abort', onStop, { once: true });
  const unsubscribe = loop.wake(() => woken.abort());
  try {
    await ports.sleep(wait, woken.signal);
  } finally {
    unsubscribe();
    stop.removeEventListener('abort', onStop);
  }
}

/** Hooks a service loop calls: one per pass (the pause between two passes marks the end of one). */
export interface ServiceHooks {
  /** a pass ended; `error` when it failed */
  pass(error?: string, report?: RunReport): void;
  /** an item failed without failing the pass (counted as a failure, kept as the last error) */
  itemFailed(error: string): void;
  /** `sleep` with the loop's jitter applied and the pass recorded; give it to the loop as its sleeper */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface ServiceLoop {
  name: string;
  intervalMs(): number;
  jitter: number;
  /**
   * Runs until `stop` aborts: then it claims nothing new and returns once the work in hand is done; `abort`
   * cancels that work too. A rejection is logged and the loop restarted with backoff.
   */
  start(stop: AbortSignal, hooks: ServiceHooks, abort: AbortSignal): Promise<void>;
}

export async function runService(loop: ServiceLoop, stats: LoopStats, ports: SchedulerPorts, signal: AbortSignal, abort: AbortSignal = signal): Promise<void> {
  let consecutive = 0;
  while (!signal.aborted) {
    let passStart = ports.now();
    stats.intervalMs = loop.intervalMs();
    stats.started(passStart);
    const hooks: ServiceHooks = {
      pass(error, report) {
        const t = ports.now();
        stats.finished(t, t - passStart, error, report);
        passStart = t;
      },
      itemFailed(error) {
        stats.failures++;
        stats.lastError = error;
        stats.lastErrorAt = ports.now();
      },
      async sleep(ms, s) {
        hooks.pass();
        const wait = jitteredInterval(ms, loop.jitter, ports.random());
        stats.nextRunAt = ports.now() + wait;
        await ports.sleep(wait, s);
        stats.nextRunAt = null;
        passStart = ports.now();
      },
    };
    try {
      await loop.start(signal, hooks, abort);
      consecutive = 0;
    } catch (e) {
      if (signal.aborted) break;
      consecutive++;
      const t = ports.now();
      stats.finished(t, t - passStart, message(e));
      const wait = restartDelayMs(consecutive);
      ports.log.error(`${loop.name}: stopped (${message(e)}); restarting in ${Math.round(wait / 1000)}s`, { loop: loop.name });
      stats.nextRunAt = t + wait;
      await ports.sleep(wait, signal);
      continue;
    }
    if (!signal.aborted) {
      // a service loop that returned on its own (should not happen) is restarted after a pause
      await ports.sleep(restartDelayMs(1), signal);
    }
  }
  stats.running = false;
  stats.nextRunAt = null;
}
