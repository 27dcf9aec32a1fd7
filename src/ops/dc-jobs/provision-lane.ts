// The provision lane: provision_host jobs gathered into batches per school (debounce, PROVISION_BATCH_SIZE),
// one import per batch on the `provision hosts` path, then each job's own outcome. Dry-run jobs and real
// ones are separate runs (the worker let the first job decide for all).
import { checkHostname, type DeltaJob } from '../../domain/devices-csv/index.js';
import { provisionOptions, takeBatch, type ProvisionJob } from '../../domain/dc-jobs.js';
import { TempFail } from '../../domain/errors.js';
import { workerVerify, type BatchJobInput, type ProvisionBatchResult } from '../provision-hosts.js';
import { errorKind, errText } from './reporter.js';
import { Lane } from './lane.js';

/** A job whose operation was read and checked, ready for the batch. */
interface ReadyJob {
  job: ProvisionJob;
  input: BatchJobInput;
  dryRun: boolean;
}

export class ProvisionLane extends Lane<ProvisionJob> {
  get full(): boolean {
    return this.queue.length >= this.s.batchSize;
  }

  /** the rest of the batch being gathered (none while no batch is gathered) */
  room(): number {
    return this.queue.length ? Math.max(0, this.s.batchSize - this.queue.length) : 0;
  }

  async work(): Promise<void> {
    while (!this.run.aborted) {
      if (this.queue.length === 0) {
        if (this.run.draining) return;
        await this.run.idle();
        continue;
      }
      if (!this.run.draining && !this.full && this.s.debounceMs > 0) {
        this.p.log('debug', `[Provision] Debounce: waiting ${this.s.debounceMs} ms`);
        await this.p.sleep(this.s.debounceMs, this.run.signal);
        if (this.run.aborted) return;
      }
      // jobs handed over to another consumer while queued are dropped
      const batch = takeBatch(this.queue, this.s.batchSize).filter((j) => this.run.inflight.has(j.id));
      this.run.wake(); // room for the next batch
      if (batch.length === 0) continue;
      try {
        await this.handleBatch(batch);
      } catch (e) {
        for (const j of batch) if (this.run.inflight.has(j.id)) await this.reporter.settle(j, e);
      }
    }
  }

  private async handleBatch(batch: ProvisionJob[]): Promise<void> {
    const school = batch[0]!.school;
    this.p.log('info', `[Provision] Starting batch for school=${school}: ${batch.length} job(s)`);
    const running = await this.markRunning(await this.ready(batch));
    for (const dryRun of [true, false]) {
      const group = running.filter((r) => r.dryRun === dryRun);
      if (group.length) await this.runGroup(group, dryRun, school);
    }
  }

  /** Reads each job's operation; a finished, gone or superseded one is settled here, a bad hostname fails alone. */
  private async ready(batch: ProvisionJob[]): Promise<ReadyJob[]> {
    const ready: ReadyJob[] = [];
    for (const job of batch) {
      try {
        const op = await this.reporter.prepare(job);
        if (!op) continue;
        const opts = provisionOptions(op, job.action);
        const bad = checkHostname(opts.hostname);
        if (bad) {
          await this.reporter.failed(job, bad);
          continue;
        }
        const dj: DeltaJob = {
          action: opts.action,
          hostname: opts.hostname,
          oldHostname: opts.oldHostname,
          mac: opts.mac,
          ip: opts.ip,
          room: opts.csvCol0 ?? '',
          config: opts.configName,
          role: opts.role ?? '',
          pxe: opts.pxeFlag ?? 1,
        };
        ready.push({ job, input: { key: job.id, job: dj }, dryRun: opts.dryRun });
      } catch (e) {
        await this.reporter.settle(job, e);
      }
    }
    return ready;
  }

  private async markRunning(ready: ReadyJob[]): Promise<ReadyJob[]> {
    const running: ReadyJob[] = [];
    for (const r of ready) {
      try {
        await this.reporter.status(r.job, { status: 'running' });
        running.push(r);
      } catch (e) {
        await this.reporter.settle(r.job, e, r.input.job.hostname);
      }
    }
    return running;
  }

  /** One import for the group, then each job's outcome. */
  private async runGroup(group: ReadyJob[], dryRun: boolean, school: string): Promise<void> {
    this.run.summary.batches++;
    let res: ProvisionBatchResult;
    try {
      res = await this.p.provisionBatch(
        group.map((r) => r.input),
        { dryRun, school },
      );
    } catch (e) {
      for (const r of group) await this.batchFailed(r, e);
      return;
    }
    if (res.brokeStaleLock) this.p.log('warn', `[Provision] removed a stale provision lock: ${res.brokeStaleLock}`);
    if (res.recovered) this.p.log('warn', `[Provision] ${res.recovered}`);
    if (res.imported) this.run.summary.importRuns++;
    let ok = 0;
    for (const outcome of res.outcomes) {
      const r = group.find((g) => g.input.key === outcome.key)!;
      const result: Record<string, unknown> = dryRun
        ? { dryRun: true, mergeStats: res.mergeStats }
        : { ...(outcome.verify ? { verify: workerVerify(outcome.verify) } : {}), mergeStats: res.mergeStats, importOutput: res.importOutput ?? '' };
      try {
        if (outcome.ok) {
          ok++;
          await this.reporter.completed(r.job, result);
        } else await this.reporter.failed(r.job, outcome.error, outcome.verify ? result : undefined);
      } catch (e) {
        await this.reporter.settle(r.job, e, r.input.job.hostname);
      }
    }
    this.p.log('info', `[Provision] Batch complete${dryRun ? ' (dry run)' : ''}: ${ok} verified OK, ${res.outcomes.length - ok} failed`);
  }

  /** The batch threw: a held lock is a failed run (retried), a bug too (and logged with its stack); anything else fails the job. */
  private async batchFailed(r: ReadyJob, e: unknown): Promise<void> {
    const host = r.input.job.hostname;
    try {
      if (e instanceof TempFail) await this.reporter.attemptFailed(r.job, `Could not acquire provision lock: ${errText(e)}`, host);
      else if (errorKind(e) === 'bug') {
        this.reporter.bug(r.job, e);
        await this.reporter.attemptFailed(r.job, `internal error: ${errText(e)}`, host);
      } else await this.reporter.failed(r.job, errText(e));
    } catch (x) {
      await this.reporter.settle(r.job, x, host);
    }
  }
}
