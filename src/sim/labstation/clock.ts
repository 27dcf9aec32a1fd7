// Simulated time for the Lab Station: the session-guard grace, power delays, boot delays and the
// heartbeat tick all run on a SimClock, so tests drive them by hand and `labops sim --time-scale 60`
// turns a 90 s grace into 1.5 s of real time.

export interface SimTimer {
  readonly at: number;
  cancel(): void;
}

export interface SimClock {
  /** simulated epoch milliseconds */
  now(): number;
  /** run fn once simulated time reaches `at` (at once, asynchronously, when `at` is already past) */
  schedule(at: number, fn: () => void): SimTimer;
  /** resolve after `ms` of simulated time; rejects with signal.reason when aborted */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function sleepOn(clock: SimClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason);
    };
    const timer = clock.schedule(clock.now() + Math.max(0, ms), () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to: the unit tests' clock. */
export class ManualClock implements SimClock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start: number | string | Date = Date.UTC(2026, 7, 24, 8, 0, 0)) {
    this.t = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.t;
  }

  schedule(at: number, fn: () => void): SimTimer {
    const p: Pending = { at: Math.max(at, this.t), seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return {
      at: p.at,
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** the earliest live timer, if any */
  nextAt(): number | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) if (!p.cancelled && (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq))) best = p;
    return best?.at;
  }

  /** Move time forward by ms, running every timer that falls due in order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.t + ms);
  }

  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await flush();
      this.pending = this.pending.filter((p) => !p.cancelled);
      const due = this.pending.filter((p) => p.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.pending.splice(this.pending.indexOf(due), 1);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = Math.max(this.t, target);
    await flush();
  }

  /** Advance timer by timer until `p` settles; fails when nothing is left to run. */
  async drive<T>(p: Promise<T>): Promise<T> {
    let settled = false;
    const watched = p.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    for (;;) {
      await flush();
      if (settled) return watched;
      const next = this.nextAt();
      if (next === undefined) throw new Error('ManualClock.drive: the promise is still pending and no timer is scheduled');
      await this.advanceTo(next);
    }
  }
}

/** Let queued promise callbacks and I/O callbacks run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Real time sped up by `timeScale`: simulated time runs timeScale times faster than the wall clock,
 * starting at `start` (default: now).
 */
export class ScaledClock implements SimClock {
  private readonly realStart = Date.now();
  private readonly simStart: number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly timeScale = 1,
    start?: number,
  ) {
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new Error(`time scale must be a positive number, got ${timeScale}`);
    this.simStart = start ?? this.realStart;
  }

  now(): number {
    return this.simStart + (Date.now() - this.realStart) * this.timeScale;
  }

  schedule(at: number, fn: () => void): SimTimer {
    const delay = Math.max(0, (at - this.now()) / this.timeScale);
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, delay);
    this.timers.add(handle);
    return {
      at,
      cancel: () => {
        clearTimeout(handle);
        this.timers.delete(handle);
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Cancel everything still scheduled (the simulator is shutting down). */
  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
