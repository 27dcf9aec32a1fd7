// What the macct and provision lanes share: a queue of jobs read and not yet started, and the run's parts.
import type { JobReporter } from './reporter.js';
import type { ConsumerRun } from './run-state.js';
import type { DcJobsPorts, DcJobsSettings } from './types.js';

export abstract class Lane<J extends { id: string }> {
  protected readonly queue: J[] = [];

  constructor(
    protected readonly s: DcJobsSettings,
    protected readonly p: DcJobsPorts,
    protected readonly run: ConsumerRun,
    protected readonly reporter: JobReporter,
  ) {}

  push(job: J): void {
    this.queue.push(job);
  }

  /** Jobs read but not started: left pending when the run ends. */
  get waiting(): readonly J[] {
    return this.queue;
  }

  /** How many more jobs the reader may take for this lane now. */
  abstract room(): number;

  /** Runs queued jobs until the run stops (when draining: until the queue is empty). */
  abstract work(): Promise<void>;
}
