// What the parts of one consumer run share: the stop signal, the entries in work, the counters, and the
// bell that wakes idle lanes when work arrives or the run stops.
import { emptySummary, type DcJobsSummary } from './types.js';

export class ConsumerRun {
  readonly summary: DcJobsSummary = emptySummary();
  /** ids of the entries read and not yet ACKed or left pending */
  readonly inflight = new Set<string>();
  /** ids of the entries left pending: released for the next run when this one ends */
  readonly left = new Set<string>();
  /** --once: all input has been read; lanes end when their queues are empty */
  draining = false;
  readonly signal: AbortSignal;
  private waiters: (() => void)[] = [];
  private readonly stopper = new AbortController();
  private readonly stopped: Promise<void>;
  private readonly onAbort = () => this.wake();

  constructor(
    outer: AbortSignal,
    readonly once: boolean,
  ) {
    // the consumer stops itself too, when a reader meets an error it cannot get past
    this.signal = AbortSignal.any([outer, this.stopper.signal]);
    // one listener for the whole run (a listener per wait would pile up on the signal)
    this.stopped = new Promise((resolve) => (this.signal.aborted ? resolve() : this.signal.addEventListener('abort', () => resolve(), { once: true })));
    this.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }

  stop(): void {
    this.stopper.abort();
  }

  /** Wakes every lane waiting in idle(). */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Until work arrives or the run stops; at once when draining. */
  idle(): Promise<void> {
    if (this.draining) return Promise.resolve();
    return Promise.race([new Promise<void>((r) => this.waiters.push(r)), this.stopped]);
  }

  dispose(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.wake();
  }
}
