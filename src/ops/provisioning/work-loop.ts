// Runs claimable work with bounded concurrency. `once` drains one selection; `loop` keeps up to
// `concurrency` items in flight and selects more as slots free up, so one hung item never holds the rest.
import { mapPool } from '../../domain/pool.js';

export interface Job<R> {
  select(limit: number, exclude: readonly number[]): Promise<R[]>;
  id(row: R): number;
  process(row: R): Promise<void>;
}

export async function runOnce<R>(job: Job<R>, concurrency: number, batch: number, signal?: AbortSignal): Promise<number> {
  const rows = await job.select(batch, []);
  await mapPool(rows, concurrency, (r) => job.process(r), signal);
  return rows.length;
}

export interface LoopOptions {
  concurrency: number;
  batch: number;
  intervalMs: number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** before each selection (stale-claim recovery, reports) */
  beforeTick?: () => Promise<void>;
  onError(e: unknown): void;
}

export async function runLoop<R>(job: Job<R>, o: LoopOptions, signal: AbortSignal): Promise<void> {
  const inflight = new Map<number, Promise<void>>();
  let wake: () => void = () => {};
  while (!signal.aborted) {
    try {
      await o.beforeTick?.();
      const free = o.concurrency - inflight.size;
      if (free > 0) {
        const rows = await job.select(Math.min(free, o.batch), [...inflight.keys()]);
        for (const row of rows) {
          const id = job.id(row);
          const p = job
            .process(row)
            .catch((e) => o.onError(e))
            .finally(() => {
              inflight.delete(id);
              wake();
            });
          inflight.set(id, p);
        }
      }
    } catch (e) {
      o.onError(e);
    }
    if (signal.aborted) break;
    // Sleep for the interval, but come back early when a slot frees up while work is waiting.
    const slotFreed = new Promise<void>((resolve) => (wake = resolve));
    await Promise.race([o.sleep(o.intervalMs, signal), inflight.size >= o.concurrency ? slotFreed : new Promise<void>(() => {})]);
    wake = () => {};
  }
  await Promise.allSettled([...inflight.values()]);
}
