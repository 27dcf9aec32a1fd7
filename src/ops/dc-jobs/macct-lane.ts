// The macct lane: macct_repair jobs, up to MACCT_CONCURRENCY at once, each on its own, never held back by
// a provision batch (the worker left drained macct jobs unACKed for 5-10 minutes).
import type { MacctJob } from '../../domain/dc-jobs.js';
import { errorKind, errText } from './reporter.js';
import { Lane } from './lane.js';
import type { MacctOutcome } from './types.js';

export class MacctLane extends Lane<MacctJob> {
  private busy = 0;

  room(): number {
    return Math.max(0, this.s.macctConcurrency - this.busy - this.queue.length);
  }

  async work(): Promise<void> {
    await Promise.all(Array.from({ length: Math.max(1, this.s.macctConcurrency) }, () => this.worker()));
  }

  private async worker(): Promise<void> {
    while (!this.run.aborted) {
      const job = this.queue.shift();
      if (!job) {
        if (this.run.draining) return;
        await this.run.idle();
        continue;
      }
      if (!this.run.inflight.has(job.id)) continue; // handed over to another consumer while queued
      this.busy++;
      try {
        await this.handle(job);
      } catch (e) {
        await this.reporter.settle(job, e, job.host);
      } finally {
        this.busy--;
        this.run.wake(); // a lane is free: the reader may take more
      }
    }
  }

  private async handle(job: MacctJob): Promise<void> {
    if (!(await this.reporter.prepare(job))) return;
    await this.reporter.status(job, { status: 'running', attempt: job.attempt });
    const outcome = await this.repair(job);
    if (!outcome.ok) return this.reporter.attemptFailed(job, outcome.error, job.host);
    if (await this.reporter.completed(job, outcome.result)) this.p.log('info', `macct_repair ${job.operationId} (${job.host}): completed`);
  }

  /** The repair; whatever it throws is a failed run (retried up to MAX_RETRIES), a bug is logged with its stack too. */
  private async repair(job: MacctJob): Promise<MacctOutcome> {
    try {
      return await this.p.repairMacct({ host: job.host, school: job.school, operationId: job.operationId });
    } catch (e) {
      if (errorKind(e) === 'bug') this.reporter.bug(job, e);
      return { ok: false, error: errText(e) };
    }
  }
}
