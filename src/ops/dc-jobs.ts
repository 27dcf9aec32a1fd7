// The DC job consumer (labops dc jobs, labops daemon --only dc-jobs): reads `linbo:jobs` as a member of
// the `dc-workers` group and reports every outcome to the LINBO API before it ACKs (NOTES §2, §3).
//
// What it fixes in the Python worker, staying wire-compatible with the API:
// - macct and provision jobs run in separate lanes: a provision batch (lock, debounce, import, verify)
//   never holds a macct job back (the worker left drained macct jobs unACKed for 5-10 minutes);
// - pending entries are taken over at startup (this consumer's own at once, other consumers' once idle
//   for CLAIM_IDLE_SEC) and then every CLAIM_INTERVAL_SEC, over every XAUTOCLAIM page; entries in work
//   are kept fresh (XCLAIM JUSTID) so a long import is not claimed by another consumer;
// - a failed macct job is retried after a capped exponential delay (the worker had none), and its
//   attempt is counted once (the API's retry handler counts; labops' PATCH keeps the attempt), so
//   MAX_RETRIES=3 means three runs; after the last one the job goes to `linbo:jobs:dlq` with its last error;
// - a message that cannot be processed (unknown type, missing fields, an operation the API no longer
//   has) is dead-lettered with the reason, never dropped silently;
// - a redelivered entry whose operation is already completed/failed is only ACKed, so an outcome is
//   reported exactly once even after a crash between the report and the ACK.
import { checkHostname, type DeltaJob } from '../domain/devices-csv/index.js';
import {
  dlqEntry,
  parseJobMessage,
  provisionOptions,
  retryDecision,
  takeBatch,
  TERMINAL_STATUSES,
  type InvalidJob,
  type JobMessage,
  type MacctJob,
  type OperationRecord,
  type ProvisionJob,
  type RetryPolicy,
} from '../domain/dc-jobs.js';
import { AuthFailed, Interrupted, TempFail } from '../domain/errors.js';
import { backoffDelayMs } from '../domain/backoff.js';
import type { StreamEntry } from '../core/streams/redis-streams.js';
import { ApiUnavailable, OperationNotFound, type RetryAnswer, type StatusUpdate } from '../core/http-apis/linbo-client.js';
import type { BatchJobInput, ProvisionBatchResult, ProvisionPorts } from './provision-hosts.js';
import { workerVerify } from './provision-hosts.js';
import { systemClock } from '../core/clock.js';

export interface DcJobsSettings {
  consumer: string;
  /** XREADGROUP COUNT (the worker's 10) */
  readCount: number;
  /** XREADGROUP BLOCK in ms (the worker's 5000) */
  readBlockMs: number;
  /** PROVISION_BATCH_SIZE */
  batchSize: number;
  /** PROVISION_DEBOUNCE_SEC in ms: wait for more jobs when fewer than a batch are queued */
  debounceMs: number;
  /** XAUTOCLAIM min-idle (the worker's 300000) */
  claimIdleMs: number;
  claimIntervalMs: number;
  /** how often entries in work are refreshed; must be well below claimIdleMs */
  keepaliveMs: number;
  retry: RetryPolicy;
  macctConcurrency: number;
  /** longest wait between two tries of an API or Redis call that keeps failing */
  reportRetryMaxMs: number;
}

export function defaultDcJobsSettings(consumer: string): DcJobsSettings {
  return {
    consumer,
    readCount: 10,
    readBlockMs: 5000,
    batchSize: 50,
    debounceMs: 5000,
    claimIdleMs: 300_000,
    claimIntervalMs: 60_000,
    keepaliveMs: 60_000,
    retry: { maxAttempts: 3, baseMs: 10_000, maxMs: 300_000 },
    macctConcurrency: 4,
    reportRetryMaxMs: 30_000,
  };
}

export interface JobStreamPort {
  ensureGroup(): Promise<void>;
  read(count: number, blockMs: number | undefined): Promise<StreamEntry[]>;
  /** this consumer's own pending entries (XREADGROUP … 0) */
  readOwnPending(count: number): Promise<StreamEntry[]>;
  autoclaim(minIdleMs: number): Promise<{ entries: StreamEntry[]; deleted: string[] }>;
  ack(ids: readonly string[]): Promise<number>;
  touch(ids: readonly string[]): Promise<void>;
  deadLetter(fields: Record<string, string>): Promise<string>;
}

export interface LinboApiPort {
  getOperation(id: string): Promise<OperationRecord>;
  updateStatus(id: string, u: StatusUpdate): Promise<void>;
  retry(id: string): Promise<RetryAnswer>;
}

export type MacctOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface DcJobsPorts {
  stream: JobStreamPort;
  api: LinboApiPort;
  repairMacct(job: { host: string; school: string; operationId: string }): Promise<MacctOutcome>;
  provisionBatch(jobs: BatchJobInput[], o: { dryRun: boolean; school: string }): Promise<ProvisionBatchResult>;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  log(level: LogLevel, message: string): void;
}

export interface DcJobsSummary {
  received: number;
  completed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  invalid: number;
  /** redeliveries of operations that were already finished: only ACKed */
  duplicates: number;
  /** left unACKed for a later run or another consumer (API unreachable in --once, interrupted) */
  leftPending: number;
  batches: number;
  importRuns: number;
}

/** Wakes the lanes when work arrives or the run stops. */
class Bell {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  ring(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function consumeDcJobs(s: DcJobsSettings, p: DcJobsPorts, o: { signal: AbortSignal; once?: boolean }): Promise<DcJobsSummary> {
  const sum: DcJobsSummary = { received: 0, completed: 0, failed: 0, retried: 0, deadLettered: 0, invalid: 0, duplicates: 0, leftPending: 0, batches: 0, importRuns: 0 };
  const signal = o.signal;
  const once = Boolean(o.once);
  const inflight = new Set<string>();
  const macctQ: MacctJob[] = [];
  const provQ: ProvisionJob[] = [];
  const background = new Set<Promise<void>>();
  const bell = new Bell();
  let draining = false; // once: no more input will arrive
  const onAbort = () => bell.ring();
  signal.addEventListener('abort', onAbort, { once: true });

  /** Runs `fn` until it succeeds: transient API/Redis failures wait (capped backoff) and try again. */
  async function untilOk<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let failures = 0;
    for (;;) {
      try {
        const v = await fn();
        if (failures) p.log('info', `${what}: succeeded after ${failures} failed tries`);
        return v;
      } catch (e) {
        const transient = e instanceof ApiUnavailable || e instanceof AuthFailed || !(e instanceof Error && 'kind' in e);
        if (!transient || e instanceof OperationNotFound) throw e;
        failures++;
        if (failures === 1 || failures % 10 === 0) p.log('warn', `${what} failed (${errText(e)}); trying again`);
        if (once && failures >= 3) throw e;
        if (signal.aborted) throw new Interrupted();
        await p.sleep(backoffDelayMs(failures, { baseMs: 500, maxMs: s.reportRetryMaxMs }), signal);
        if (signal.aborted) throw new Interrupted();
      }
    }
  }

  async function ack(id: string): Promise<void> {
    await untilOk(`XACK ${id}`, () => p.stream.ack([id]));
    inflight.delete(id);
  }

  function leavePending(m: { id: string }, why: string): void {
    inflight.delete(m.id);
    sum.leftPending++;
    p.log(signal.aborted ? 'info' : 'warn', `entry ${m.id} left pending for a later run: ${why}`);
  }

  const report = (job: { operationId: string }, u: StatusUpdate) => untilOk(`PATCH status=${u.status} of operation ${job.operationId}`, () => p.api.updateStatus(job.operationId, u));

  async function deadLetter(m: JobMessage, reason: string, extra: Record<string, string> = {}): Promise<void> {
    await untilOk(`XADD to the DLQ for ${m.id}`, () => p.stream.deadLetter(dlqEntry(m.fields, reason, new Date(p.now()), extra)));
    sum.deadLettered++;
  }

  /** The operation, or undefined when the entry needs no work (gone, finished, superseded); those are ACKed here. */
  async function prepare(job: MacctJob | ProvisionJob): Promise<OperationRecord | undefined> {
    let op: OperationRecord;
    try {
      op = await untilOk(`GET operation ${job.operationId}`, () => p.api.getOperation(job.operationId));
    } catch (e) {
      if (!(e instanceof OperationNotFound)) throw e;
      await gone(job);
      return undefined;
    }
    if (TERMINAL_STATUSES.has(op.status)) {
      p.log('info', `${job.type} ${job.operationId}: already ${op.status}; acknowledging the redelivered entry ${job.id}`);
      sum.duplicates++;
      await ack(job.id);
      return undefined;
    }
    if (Number(op.attempt ?? 0) > job.attempt) {
      p.log('info', `${job.type} ${job.operationId}: entry ${job.id} is attempt ${job.attempt}, the API is at ${op.attempt}; acknowledging the superseded entry`);
      sum.duplicates++;
      await ack(job.id);
      return undefined;
    }
    return op;
  }

  async function gone(job: MacctJob | ProvisionJob): Promise<void> {
    p.log('warn', `${job.type} ${job.operationId}: the LINBO API no longer has this operation; entry ${job.id} moved to the DLQ`);
    await deadLetter(job, `operation ${job.operationId} not found in the LINBO API`);
    await ack(job.id);
  }

  /** A failed run: retry later with backoff, or (last attempt) DLQ + failed. */
  async function failOrRetry(job: MacctJob | ProvisionJob, error: string, host: string): Promise<void> {
    const d = retryDecision(job.attempt, s.retry);
    if (d.final) {
      await deadLetter(job, error, { host });
      await report(job, { status: 'failed', error: `Max retries (${s.retry.maxAttempts}) exceeded: ${error}` });
      sum.failed++;
      p.log('error', `${job.type} ${job.operationId} (${host}): failed after ${job.attempt + 1} attempt(s), moved to the DLQ: ${error}`);
      await ack(job.id);
      return;
    }
    await report(job, { status: 'retrying', error, attempt: job.attempt });
    sum.retried++;
    p.log('warn', `${job.type} ${job.operationId} (${host}): attempt ${job.attempt + 1} of ${s.retry.maxAttempts} failed (${error}); retrying in ${Math.round(d.delayMs / 1000)} s`);
    // The entry stays pending (and kept fresh) until the API has re-queued the job.
    const task = (async () => {
      await p.sleep(d.delayMs, signal);
      if (signal.aborted) return leavePending(job, 'interrupted while waiting to retry');
      let answer: RetryAnswer;
      try {
        answer = await untilOk(`POST retry of operation ${job.operationId}`, () => p.api.retry(job.operationId));
      } catch (e) {
        if (e instanceof OperationNotFound) return gone(job);
        return leavePending(job, errText(e));
      }
      if (!answer.requeued) p.log('warn', `${job.type} ${job.operationId}: the API refused the retry (${answer.code}: ${answer.message})`);
      await ack(job.id);
    })().catch((e) => leavePending(job, errText(e)));
    background.add(task);
    void task.finally(() => background.delete(task));
  }

  async function handleMacct(job: MacctJob): Promise<void> {
    const op = await prepare(job);
    if (!op) return;
    await report(job, { status: 'running', attempt: job.attempt });
    let outcome: MacctOutcome;
    try {
      outcome = await p.repairMacct({ host: job.host, school: job.school, operationId: job.operationId });
    } catch (e) {
      outcome = { ok: false, error: errText(e) };
    }
    if (outcome.ok) {
      await report(job, { status: 'completed', result: outcome.result });
      sum.completed++;
      p.log('info', `macct_repair ${job.operationId} (${job.host}): completed`);
      await ack(job.id);
      return;
    }
    await failOrRetry(job, outcome.error, job.host);
  }

  async function handleInvalid(m: InvalidJob): Promise<void> {
    sum.invalid++;
    p.log('warn', `entry ${m.id} cannot be processed (${m.reason}); moved to the DLQ`);
    await deadLetter(m, `Invalid job message: ${m.reason}`);
    if (m.operationId) {
      try {
        await p.api.updateStatus(m.operationId, { status: 'failed', error: `Invalid job message: ${m.reason}` });
      } catch (e) {
        p.log('debug', `could not mark operation ${m.operationId} failed: ${errText(e)}`);
      }
    }
    await ack(m.id);
  }

  async function handleProvisionBatch(batch: ProvisionJob[]): Promise<void> {
    const school = batch[0]!.school;
    p.log('info', `[Provision] Starting batch for school=${school}: ${batch.length} job(s)`);
    const ready: { job: ProvisionJob; input: BatchJobInput; dryRun: boolean }[] = [];
    for (const job of batch) {
      try {
        const op = await prepare(job);
        if (!op) continue;
        const opts = provisionOptions(op, job.action);
        const bad = checkHostname(opts.hostname);
        if (bad) {
          await report(job, { status: 'failed', error: bad });
          sum.failed++;
          await ack(job.id);
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
        if (e instanceof OperationNotFound) await gone(job).catch((x) => leavePending(job, errText(x)));
        else leavePending(job, errText(e));
      }
    }
    const running: typeof ready = [];
    for (const r of ready) {
      try {
        await report(r.job, { status: 'running' });
        running.push(r);
      } catch (e) {
        if (e instanceof OperationNotFound) await gone(r.job).catch((x) => leavePending(r.job, errText(x)));
        else leavePending(r.job, errText(e));
      }
    }
    // Dry-run jobs and real ones are separate runs (the worker let the first job decide for all).
    for (const dryRun of [true, false]) {
      const group = running.filter((r) => r.dryRun === dryRun);
      if (group.length === 0) continue;
      sum.batches++;
      let res: ProvisionBatchResult;
      try {
        res = await p.provisionBatch(
          group.map((r) => r.input),
          { dryRun, school },
        );
      } catch (e) {
        for (const r of group) {
          try {
            if (e instanceof TempFail) await failOrRetry(r.job, `Could not acquire provision lock: ${errText(e)}`, r.input.job.hostname);
            else {
              await report(r.job, { status: 'failed', error: errText(e) });
              sum.failed++;
              await ack(r.job.id);
            }
          } catch (x) {
            if (x instanceof OperationNotFound) await gone(r.job).catch((y) => leavePending(r.job, errText(y)));
            else leavePending(r.job, errText(x));
          }
        }
        continue;
      }
      if (res.brokeStaleLock) p.log('warn', `[Provision] removed a stale provision lock: ${res.brokeStaleLock}`);
      if (res.imported) sum.importRuns++;
      let ok = 0;
      for (const outcome of res.outcomes) {
        const r = group.find((g) => g.input.key === outcome.key)!;
        const result: Record<string, unknown> = dryRun
          ? { dryRun: true, mergeStats: res.mergeStats }
          : { ...(outcome.verify ? { verify: workerVerify(outcome.verify) } : {}), mergeStats: res.mergeStats, importOutput: res.importOutput ?? '' };
        try {
          if (outcome.ok) {
            await report(r.job, { status: 'completed', result });
            sum.completed++;
            ok++;
          } else {
            await report(r.job, { status: 'failed', error: outcome.error, result: outcome.verify ? result : undefined });
            sum.failed++;
          }
          await ack(r.job.id);
        } catch (e) {
          if (e instanceof OperationNotFound) await gone(r.job).catch((x) => leavePending(r.job, errText(x)));
          else leavePending(r.job, errText(e));
        }
      }
      p.log('info', `[Provision] Batch complete${dryRun ? ' (dry run)' : ''}: ${ok} verified OK, ${res.outcomes.length - ok} failed`);
    }
  }

  function dispatch(e: StreamEntry): void {
    if (inflight.has(e.id)) return;
    inflight.add(e.id);
    sum.received++;
    const m = parseJobMessage(e.id, e.fields);
    if (m.type === 'invalid') {
      const t = handleInvalid(m).catch((x) => leavePending(m, errText(x)));
      background.add(t);
      void t.finally(() => background.delete(t));
    } else if (m.type === 'macct_repair') macctQ.push(m);
    else provQ.push(m);
    bell.ring();
  }

  async function claim(): Promise<void> {
    const { entries, deleted } = await p.stream.autoclaim(s.claimIdleMs);
    if (entries.length) p.log('info', `claimed ${entries.length} pending entr${entries.length === 1 ? 'y' : 'ies'} idle for more than ${Math.round(s.claimIdleMs / 1000)} s`);
    for (const e of entries) dispatch(e);
    // Entries deleted from the stream (XTRIM/XDEL) while pending: nothing to do but release them.
    if (deleted.length) await p.stream.ack(deleted);
  }

  // one listener for the whole run (a listener per wait would pile up on the signal)
  const stopped = new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
  const idle = () => (draining ? Promise.resolve() : Promise.race([bell.wait(), stopped]));
  let macctBusy = 0;
  /**
   * How many entries the reader may take now: free macct lanes, plus the rest of a provision batch being
   * gathered; none while a full batch waits. Reading more would hoard entries that other consumers in the
   * group could start at once (and that would sit idle until XAUTOCLAIM if this consumer died).
   */
  const readRoom = () =>
    provQ.length >= s.batchSize ? 0 : Math.max(0, s.macctConcurrency - macctBusy - macctQ.length) + (provQ.length ? s.batchSize - provQ.length : 0);

  async function macctLane(): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      const job = macctQ.shift();
      if (!job) {
        if (draining) return;
        await idle();
        continue;
      }
      macctBusy++;
      try {
        await handleMacct(job);
      } catch (e) {
        if (e instanceof OperationNotFound) await gone(job).catch((x) => leavePending(job, errText(x)));
        else leavePending(job, errText(e));
      } finally {
        macctBusy--;
        bell.ring(); // a lane is free: the reader may take more
      }
    }
  }

  async function provisionLane(): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      if (provQ.length === 0) {
        if (draining) return;
        await idle();
        continue;
      }
      if (!draining && provQ.length < s.batchSize && s.debounceMs > 0) {
        p.log('debug', `[Provision] Debounce: waiting ${s.debounceMs} ms`);
        await p.sleep(s.debounceMs, signal);
        if (signal.aborted) return;
      }
      const batch = takeBatch(provQ, s.batchSize);
      bell.ring(); // room for the next batch
      try {
        await handleProvisionBatch(batch);
      } catch (e) {
        for (const j of batch) if (inflight.has(j.id)) leavePending(j, errText(e));
      }
    }
  }

  function lanes(): Promise<unknown> {
    return Promise.all([provisionLane(), ...Array.from({ length: Math.max(1, s.macctConcurrency) }, () => macctLane())]);
  }

  try {
    await untilOk('XGROUP CREATE', () => p.stream.ensureGroup());
    // Startup: this consumer's own unfinished entries at once, then everybody's long-idle ones.
    for (const e of await untilOk('reading own pending entries', () => p.stream.readOwnPending(1000))) dispatch(e);
    await untilOk('XAUTOCLAIM', claim);

    if (once) {
      for (;;) {
        const es = await untilOk('XREADGROUP', () => p.stream.read(Math.max(s.readCount, 100), undefined));
        if (es.length === 0) break;
        for (const e of es) dispatch(e);
      }
      draining = true;
      bell.ring();
      await lanes();
      while (background.size) await Promise.allSettled([...background]);
      for (const j of [...macctQ, ...provQ]) leavePending(j, 'interrupted');
      return sum;
    }

    const reader = (async () => {
      let failures = 0;
      while (!signal.aborted) {
        const room = readRoom();
        if (room === 0) {
          await idle();
          continue;
        }
        try {
          const es = await p.stream.read(Math.min(s.readCount, room), s.readBlockMs);
          failures = 0;
          if (signal.aborted) {
            // read after the stop: leave them pending for the next start (this consumer's own) or others
            for (const e of es) p.log('debug', `entry ${e.id} read during shutdown; left pending`);
            break;
          }
          for (const e of es) dispatch(e);
        } catch (e) {
          if (signal.aborted) break;
          failures++;
          if (failures === 1 || failures % 10 === 0) p.log('warn', `reading ${'linbo:jobs'} failed (${errText(e)}); reconnecting`);
          await p.sleep(Math.min(5000, 500 * failures), signal);
        }
      }
    })();
    const periodic = (async () => {
      let lastClaim = p.now();
      let lastTouch = p.now();
      const tick = Math.max(10, Math.min(s.claimIntervalMs, s.keepaliveMs, 1000));
      while (!signal.aborted) {
        await p.sleep(tick, signal);
        if (signal.aborted) break;
        const now = p.now();
        try {
          if (now - lastTouch >= s.keepaliveMs) {
            lastTouch = now;
            if (inflight.size) await p.stream.touch([...inflight]);
          }
          if (now - lastClaim >= s.claimIntervalMs) {
            lastClaim = now;
            await claim();
          }
        } catch (e) {
          p.log('warn', `claim/keepalive failed (${errText(e)}); will try again`);
        }
      }
    })();
    await Promise.all([reader, periodic, lanes()]);
    await Promise.allSettled([...background]);
    sum.leftPending += macctQ.length + provQ.length;
    return sum;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export interface RunDcJobConsumerOptions {
  env: NodeJS.ProcessEnv;
  /** default: $MACCT_WORKER_CONF, else /etc/macct-worker.conf (read only when it exists, like the worker) */
  workerConf?: string;
  /** worker config keys (lowercase) that win over the file and the environment */
  overrides?: Partial<Record<string, string>>;
  signal: AbortSignal;
  /** one pass: take what is pending and queued now, process it, return */
  once?: boolean;
  log(level: LogLevel, message: string): void;
  /** settings that win over the config (tests, benchmark) */
  settings?: Partial<DcJobsSettings>;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** wraps the provision ports (benchmark: counting, a verify without sam.ldb) */
  wrapProvisionPorts?: (p: ProvisionPorts) => ProvisionPorts;
}

const num = (v: string | undefined, what: string): number => {
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`invalid ${what}: '${v}'`);
  return n;
};

/**
 * The long-running consumer as `labops dc jobs` and `labops daemon --only dc-jobs` run it: reads the
 * worker config, connects to Redis (a wrong password or an unreachable Redis at startup throws
 * AuthFailed / Unreachable) and consumes until `signal` aborts (or one pass with `once`).
 */
export async function runDcJobConsumer(o: RunDcJobConsumerOptions): Promise<DcJobsSummary> {
  const [{ loadMacctWorkerConfig, MACCT_WORKER_CONF }, { RedisJobStream }, { LinboApiClient }, prov, macct, { UsageError }, { DLQ_STREAM, JOB_GROUP, JOB_STREAM }] = await Promise.all([
    import('../core/config/macct-worker-conf.js'),
    import('../core/streams/redis-streams.js'),
    import('../core/http-apis/linbo-client.js'),
    import('./provision-hosts.js'),
    import('./macct-repair.js'),
    import('../domain/errors.js'),
    import('../domain/dc-jobs.js'),
  ]);
  const wc = loadMacctWorkerConfig(o.workerConf ?? o.env.MACCT_WORKER_CONF ?? MACCT_WORKER_CONF, o.env, o.overrides ?? {});
  const v = wc.values;
  let settings: DcJobsSettings;
  let redisPort: number;
  let redisDb: number;
  try {
    redisPort = num(v.redis_port, 'REDIS_PORT');
    redisDb = num(v.redis_db, 'REDIS_DB');
    const claimIdleMs = num(v.claim_idle_sec, 'CLAIM_IDLE_SEC') * 1000;
    settings = {
      ...defaultDcJobsSettings(v.consumer_name!),
      batchSize: Math.max(1, num(v.provision_batch_size, 'PROVISION_BATCH_SIZE')),
      debounceMs: num(v.provision_debounce_sec, 'PROVISION_DEBOUNCE_SEC') * 1000,
      claimIdleMs,
      claimIntervalMs: num(v.claim_interval_sec, 'CLAIM_INTERVAL_SEC') * 1000,
      keepaliveMs: Math.max(50, Math.min(60_000, claimIdleMs / 3)),
      retry: { maxAttempts: Math.max(1, num(v.max_retries, 'MAX_RETRIES')), baseMs: num(v.retry_backoff_sec, 'RETRY_BACKOFF_SEC') * 1000, maxMs: num(v.retry_backoff_max_sec, 'RETRY_BACKOFF_MAX_SEC') * 1000 },
      macctConcurrency: Math.max(1, num(v.macct_concurrency, 'MACCT_CONCURRENCY')),
      ...o.settings,
    };
  } catch (e) {
    throw new UsageError(`${wc.file ?? 'worker config'}: ${(e as Error).message}`);
  }
  if (!v.consumer_name) throw new UsageError('CONSUMER_NAME is empty');
  // LINBO_DOMAIN as `provision hosts` reads it (auto: Samba's realm); a wrong `auto` fails here
  const { cfg: baseProvisionCfg, dns } = await prov.provisionHostConfig(wc, { importTimeoutMs: num(v.import_timeout_sec, 'IMPORT_TIMEOUT_SEC') * 1000, env: o.env });
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? systemClock.sleep;
  const stream = await RedisJobStream.connect(
    {
      host: v.redis_host!,
      port: redisPort,
      password: v.redis_password || undefined,
      db: redisDb,
      onConnectionError: (m) => o.log('warn', `Redis ${v.redis_host}:${redisPort}: ${m}; reconnecting`),
      onReady: () => o.log('info', `Redis ${v.redis_host}:${redisPort}: connected again`),
    },
    { stream: JOB_STREAM, group: JOB_GROUP, consumer: settings.consumer, dlq: DLQ_STREAM },
  );
  try {
    const api = new LinboApiClient({ apiUrl: v.api_url!, apiKey: v.api_key!, timeoutMs: num(v.api_timeout_sec, 'API_TIMEOUT_SEC') * 1000, sleep: (ms) => sleep(ms, o.signal) });
    let provisionPorts = await prov.systemProvisionPorts({
      env: o.env,
      lockWaitMs: num(v.provision_lock_wait_sec, 'PROVISION_LOCK_WAIT_SEC') * 1000,
      sleep: (ms) => sleep(ms, o.signal),
      progress: (m) => o.log('info', m),
      confirm: async () => true,
    });
    if (o.wrapProvisionPorts) provisionPorts = o.wrapProvisionPorts(provisionPorts);
    const macctPorts = await macct.systemMacctPorts(o.env);
    const macctCfg = macct.macctRepairConfig(wc);
    o.log('info', `DC job consumer ${settings.consumer}: ${JOB_STREAM} group ${JOB_GROUP} on ${v.redis_host}:${redisPort}, API ${v.api_url}${o.once ? ' (one pass)' : ''}`);
    if (dns.domain) o.log('info', `DNS check of provisioned hosts: <host>.${dns.domain} (${dns.source})`);
    return await consumeDcJobs(
      settings,
      {
        stream,
        api,
        repairMacct: (job) => macct.repairForJob(job, macctCfg, macctPorts),
        provisionBatch: (jobs, bo) => prov.provisionBatch(jobs, { ...baseProvisionCfg, school: bo.school }, provisionPorts, { dryRun: bo.dryRun }),
        now,
        sleep,
        log: o.log,
      },
      { signal: o.signal, once: o.once },
    );
  } finally {
    stream.close();
  }
}
