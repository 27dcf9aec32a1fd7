// The one reporter of the DC job consumer: every outcome goes to the LINBO API before its entry is ACKed,
// dead-lettered or left pending, and every error a job meets is routed here by its kind.
//
// Error kinds: transient (LINBO API or Redis unreachable, 401, lock held) waits and tries again, without
// end in a running consumer, three times in --once; an operation the API no longer has is dead-lettered;
// a failure the API or Redis reports for good abandons the job (DLQ, failed, ACK); an error labops did
// not classify is a bug: logged with its stack, it fails the run like any failed run, so the job is
// retried through the API until MAX_RETRIES and then dead-lettered, never redelivered forever.
//
// Reported once: a PATCH or POST whose answer was lost is checked with a GET before it is sent again
// (the API may have applied it), and a terminal outcome is reported only while this consumer still holds
// the entry (another consumer that claimed it meanwhile reports it).
import { dlqEntry, retryDecision, TERMINAL_STATUSES, type InvalidJob, type JobMessage, type MacctJob, type OperationRecord, type ProvisionJob } from '../../domain/dc-jobs.js';
import { AuthFailed, Interrupted, LabopsError, TempFail, Unreachable } from '../../domain/errors.js';
import { backoffDelayMs } from '../../domain/backoff.js';
import { ApiAnswerLost, OperationNotFound, type RetryAnswer, type StatusUpdate } from '../../core/http-apis/linbo-client.js';
import type { ConsumerRun } from './run-state.js';
import type { DcJobsPorts, DcJobsSettings } from './types.js';

export type Job = MacctJob | ProvisionJob;

export type ErrorKind = 'interrupted' | 'transient' | 'gone' | 'failed' | 'bug';

/** How the consumer treats an error: wait and retry, dead-letter, give up, or a bug of labops. */
export function errorKind(e: unknown): ErrorKind {
  if (e instanceof Interrupted) return 'interrupted';
  if (e instanceof OperationNotFound) return 'gone';
  if (e instanceof Unreachable || e instanceof AuthFailed || e instanceof TempFail) return 'transient';
  if (e instanceof LabopsError) return 'failed';
  return 'bug';
}

/** Stopping, or a failure that may pass: the entry is left pending for a later run. */
const passes = (e: unknown): boolean => errorKind(e) === 'interrupted' || errorKind(e) === 'transient';

export const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const label = (m: JobMessage): string => (m.type === 'invalid' ? `entry ${m.id}` : `${m.type} ${m.operationId}`);

export class JobReporter {
  private readonly tasks = new Set<Promise<void>>();

  constructor(
    private readonly s: DcJobsSettings,
    private readonly p: DcJobsPorts,
    private readonly run: ConsumerRun,
  ) {}

  /** Runs `fn` until it succeeds: transient failures wait (capped backoff) and try again; others are thrown at once. */
  async persist<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; ) {
      try {
        const v = await fn();
        if (failures) this.p.log('info', `${what}: succeeded after ${failures} failed tries`);
        return v;
      } catch (e) {
        if (errorKind(e) !== 'transient') throw e;
        failures++;
        if (failures === 1 || failures % 10 === 0) this.p.log('warn', `${what} failed (${errText(e)}); trying again`);
        if (this.run.once && failures >= 3) throw e;
        if (this.run.aborted) throw new Interrupted();
        await this.p.sleep(backoffDelayMs(failures, { baseMs: 500, maxMs: this.s.reportRetryMaxMs }), this.run.signal);
        if (this.run.aborted) throw new Interrupted();
      }
    }
  }

  operation(job: Job): Promise<OperationRecord> {
    return this.persist(`GET operation ${job.operationId}`, () => this.p.api.getOperation(job.operationId));
  }

  /** PATCH …/status; after a lost answer, a GET tells whether the API already has it. */
  async status(job: Job, u: StatusUpdate): Promise<void> {
    let check = false;
    await this.persist(`PATCH status=${u.status} of operation ${job.operationId}`, async () => {
      if (check) {
        const op = await this.p.api.getOperation(job.operationId);
        if (op.status === u.status && (u.attempt === undefined || Number(op.attempt) === u.attempt)) return;
      }
      try {
        await this.p.api.updateStatus(job.operationId, u);
      } catch (e) {
        if (e instanceof ApiAnswerLost) check = true;
        throw e;
      }
    });
  }

  /** POST …/retry; after a lost answer, a GET tells whether the API already re-queued the job (its attempt moved on) or gave up on it. */
  private requestRetry(job: Job): Promise<RetryAnswer> {
    let check = false;
    return this.persist(`POST retry of operation ${job.operationId}`, async () => {
      if (check) {
        const op = await this.p.api.getOperation(job.operationId);
        if (Number(op.attempt) > job.attempt) return { requeued: true, attempt: Number(op.attempt) };
        if (op.status === 'failed') return { requeued: false, code: 'RETRY_FAILED', message: op.error ?? 'moved to the DLQ' };
      }
      try {
        return await this.p.api.retry(job.operationId);
      } catch (e) {
        if (e instanceof ApiAnswerLost) check = true;
        throw e;
      }
    });
  }

  async ack(id: string): Promise<void> {
    await this.persist(`XACK ${id}`, () => this.p.stream.ack([id]));
    this.run.inflight.delete(id);
  }

  leavePending(m: { id: string }, why: string): void {
    this.run.inflight.delete(m.id);
    this.run.left.add(m.id);
    this.run.summary.leftPending++;
    this.p.log(this.run.aborted ? 'info' : 'warn', `entry ${m.id} left pending for a later run: ${why}`);
  }

  async deadLetter(m: JobMessage, reason: string, extra: Record<string, string> = {}): Promise<void> {
    await this.persist(`XADD to the DLQ for ${m.id}`, () => this.p.stream.deadLetter(dlqEntry(m.fields, reason, new Date(this.p.now()), extra)));
    this.run.summary.deadLettered++;
  }

  /** The operation, or undefined when the entry needs no work (gone, finished, superseded); those are ACKed here. */
  async prepare(job: Job): Promise<OperationRecord | undefined> {
    let op: OperationRecord;
    try {
      op = await this.operation(job);
    } catch (e) {
      if (!(e instanceof OperationNotFound)) throw e;
      await this.gone(job);
      return undefined;
    }
    if (TERMINAL_STATUSES.has(op.status)) return this.duplicate(job, `already ${op.status}; acknowledging the redelivered entry ${job.id}`);
    if (Number(op.attempt ?? 0) > job.attempt) return this.duplicate(job, `entry ${job.id} is attempt ${job.attempt}, the API is at ${op.attempt}; acknowledging the superseded entry`);
    return op;
  }

  private async duplicate(job: Job, why: string): Promise<undefined> {
    this.p.log('info', `${label(job)}: ${why}`);
    this.run.summary.duplicates++;
    await this.ack(job.id);
    return undefined;
  }

  /**
   * Whether this consumer may report the job's outcome: it still holds the entry (refreshed now), or
   * nobody does (Redis lost it) and the operation is not finished. An entry another consumer claimed
   * while this one was silent for longer than the claim time is that consumer's to report.
   */
  private async holds(job: Job): Promise<boolean> {
    const [holder] = await this.persist(`keepalive of ${job.id}`, () => this.p.stream.keep([job.id]));
    if (holder === 'mine') return true;
    if (holder === 'other') {
      this.handedOver(job.id);
      return false;
    }
    if (!TERMINAL_STATUSES.has((await this.operation(job)).status)) return true;
    this.p.log('info', `${label(job)}: finished by another consumer meanwhile; not reported again`);
    this.run.summary.duplicates++;
    this.run.inflight.delete(job.id);
    return false;
  }

  /** Another consumer claimed the entry while this one was silent for longer than the claim time: its outcome is that consumer's. */
  handedOver(id: string): void {
    if (!this.run.inflight.delete(id)) return;
    this.run.summary.handedOver++;
    this.p.log('warn', `entry ${id} was claimed by another consumer while this one held it (no keepalive for ${Math.round(this.s.claimIdleMs / 1000)} s); left to that consumer`);
  }

  async completed(job: Job, result: Record<string, unknown>): Promise<boolean> {
    if (!(await this.holds(job))) return false;
    await this.status(job, { status: 'completed', result });
    this.run.summary.completed++;
    await this.ack(job.id);
    return true;
  }

  /** A final failure without a retry (the provision lane's rule). */
  async failed(job: Job, error: string | undefined, result?: Record<string, unknown>): Promise<void> {
    if (!(await this.holds(job))) return;
    await this.status(job, { status: 'failed', error, result });
    this.run.summary.failed++;
    await this.ack(job.id);
  }

  /** A failed run: retried after a capped exponential delay, or (after MAX_RETRIES runs) DLQ + failed. */
  async attemptFailed(job: Job, error: string, host?: string): Promise<void> {
    if (!(await this.holds(job))) return;
    const d = retryDecision(job.attempt, this.s.retry);
    const who = `${label(job)}${host ? ` (${host})` : ''}`;
    if (d.final) {
      await this.deadLetter(job, error, host ? { host } : {});
      await this.status(job, { status: 'failed', error: `Max retries (${this.s.retry.maxAttempts}) exceeded: ${error}` });
      this.run.summary.failed++;
      this.p.log('error', `${who}: failed after ${job.attempt + 1} attempt(s), moved to the DLQ: ${error}`);
      await this.ack(job.id);
      return;
    }
    await this.status(job, { status: 'retrying', error, attempt: job.attempt });
    this.run.summary.retried++;
    this.p.log('warn', `${who}: attempt ${job.attempt + 1} of ${this.s.retry.maxAttempts} failed (${error}); retrying in ${Math.round(d.delayMs / 1000)} s`);
    // The entry stays pending (and kept fresh) until the API has re-queued the job.
    this.background(job, () => this.retryLater(job, d.delayMs), (e) => this.abandonAfter(job, e));
  }

  private async retryLater(job: Job, delayMs: number): Promise<void> {
    await this.p.sleep(delayMs, this.run.signal);
    if (this.run.aborted) return this.leavePending(job, 'interrupted while waiting to retry');
    const answer = await this.requestRetry(job);
    if (!answer.requeued) this.p.log('warn', `${label(job)}: the API refused the retry (${answer.code}: ${answer.message})`);
    await this.ack(job.id);
  }

  async gone(job: Job): Promise<void> {
    this.p.log('warn', `${label(job)}: the LINBO API no longer has this operation; entry ${job.id} moved to the DLQ`);
    await this.deadLetter(job, `operation ${job.operationId} not found in the LINBO API`);
    await this.ack(job.id);
  }

  /**
   * A job queued longer ago than JOB_MAX_AGE_SEC (a consumer that was down for days, a group set back to
   * the stream's start): not run, since what it asked for may no longer be wanted; failed as expired,
   * dead-lettered (to be re-queued by hand) and ACKed. One the API finished or no longer has is handled as always.
   */
  async expired(job: Job, ageMs: number): Promise<void> {
    if (!(await this.prepare(job))) return;
    const age = ageMs >= 7_200_000 ? `${Math.floor(ageMs / 3_600_000)} h` : `${Math.floor(ageMs / 1000)} s`;
    const why = `expired: queued ${age} ago, longer than JOB_MAX_AGE_SEC=${this.s.maxJobAgeMs / 1000}; not run`;
    this.p.log('warn', `${label(job)}: ${why}; entry ${job.id} moved to the DLQ`);
    await this.deadLetter(job, why);
    await this.status(job, { status: 'failed', error: why });
    this.run.summary.expired++;
    await this.ack(job.id);
  }

  /** A message that cannot be processed: dead-lettered with the reason (the worker ACKed it silently). */
  async invalid(m: InvalidJob): Promise<void> {
    this.run.summary.invalid++;
    this.p.log('warn', `entry ${m.id} cannot be processed (${m.reason}); moved to the DLQ`);
    await this.deadLetter(m, `Invalid job message: ${m.reason}`);
    if (m.operationId) {
      try {
        await this.p.api.updateStatus(m.operationId, { status: 'failed', error: `Invalid job message: ${m.reason}` });
      } catch (e) {
        this.p.log('debug', `could not mark operation ${m.operationId} failed: ${errText(e)}`);
      }
    }
    await this.ack(m.id);
  }

  /** Logs a bug: an error labops did not classify, with its stack. */
  bug(m: JobMessage, e: unknown): void {
    this.p.log('error', `${label(m)}: internal error (a bug in labops, please report it): ${e instanceof Error && e.stack ? e.stack : String(e)}`);
  }

  /**
   * Where a job goes after its processing threw `e`: left pending (stop, or a transient failure in
   * --once), dead-lettered (operation gone), a failed run (a bug), or abandoned (a refusal for good).
   */
  async settle(m: JobMessage, e: unknown, host?: string): Promise<void> {
    if (passes(e)) return this.leavePending(m, errText(e));
    const kind = errorKind(e);
    if (kind === 'bug') this.bug(m, e);
    try {
      if (kind === 'gone' && m.type !== 'invalid') await this.gone(m);
      else if (kind === 'bug' && m.type !== 'invalid') await this.attemptFailed(m, `internal error: ${errText(e)}`, host);
      else await this.abandon(m, errText(e));
    } catch (x) {
      await this.abandonAfter(m, x);
    }
  }

  /** The reporting itself failed with `e`: left pending when that may pass, else abandoned. */
  private async abandonAfter(m: JobMessage, e: unknown): Promise<void> {
    if (passes(e)) return this.leavePending(m, errText(e));
    if (errorKind(e) === 'bug') this.bug(m, e);
    await this.abandon(m, errText(e));
  }

  /** Last resort for a job that can neither run nor be reported: dead-lettered, marked failed if the API takes it, and ACKed. */
  private async abandon(m: JobMessage, why: string): Promise<void> {
    this.p.log('error', `${label(m)}: cannot be processed (${why}); entry ${m.id} moved to the DLQ`);
    try {
      await this.deadLetter(m, why);
    } catch (e) {
      if (passes(e)) return this.leavePending(m, errText(e));
      this.p.log('error', `${label(m)}: could not dead-letter entry ${m.id}: ${errText(e)}`);
    }
    if (m.operationId) {
      try {
        await this.p.api.updateStatus(m.operationId, { status: 'failed', error: why });
      } catch (e) {
        this.p.log('warn', `could not mark operation ${m.operationId} failed: ${errText(e)}`);
      }
    }
    try {
      await this.ack(m.id);
    } catch (e) {
      if (passes(e)) return this.leavePending(m, errText(e));
      this.p.log('error', `${label(m)}: could not acknowledge entry ${m.id}: ${errText(e)}`);
      this.run.inflight.delete(m.id);
    }
  }

  /** Work that outlives the lane that started it (a retry waiting out its delay, an invalid message). */
  background(m: JobMessage, work: () => Promise<void>, onError: (e: unknown) => Promise<void> = (e) => this.settle(m, e)): void {
    const task = work()
      .catch(onError)
      .catch((e) => this.leavePending(m, errText(e)));
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  /** Until every background task has ended. */
  async drain(): Promise<void> {
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
  }
}
