// The DC job consumer's settings, ports and summary: what `consumeDcJobs` needs from the world.
import type { OperationRecord, RetryPolicy } from '../../domain/dc-jobs.js';
import type { Holder, PendingEntry, StreamEntry } from '../../core/streams/redis-streams.js';
import type { RetryAnswer, StatusUpdate } from '../../core/http-apis/linbo-client.js';
import type { BatchJobInput, ProvisionBatchResult } from '../provision-hosts.js';

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
  /** MAX_RETRIES (runs in all), with the delays between runs */
  retry: RetryPolicy;
  macctConcurrency: number;
  /** longest wait between two tries of an API or Redis call that keeps failing */
  reportRetryMaxMs: number;
  /** JOB_MAX_AGE_SEC in ms: a job queued longer ago is reported failed as expired, not run; 0: never */
  maxJobAgeMs: number;
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
    maxJobAgeMs: 86_400_000,
  };
}

export interface JobStreamPort {
  /** creates or joins the group; `rewound`: a group nobody had joined was set back to the stream's start */
  ensureGroup(): Promise<{ rewound: boolean }>;
  read(count: number, blockMs: number | undefined): Promise<StreamEntry[]>;
  /** this consumer's own pending entries, with their idle times */
  ownPending(count: number): Promise<PendingEntry[]>;
  /** XCLAIM of entries still idle for minIdleMs */
  claim(ids: readonly string[], minIdleMs: number): Promise<StreamEntry[]>;
  autoclaim(minIdleMs: number): Promise<{ entries: StreamEntry[]; deleted: string[] }>;
  ack(ids: readonly string[]): Promise<number>;
  /** keepalive of entries in work; says who holds each one now */
  keep(ids: readonly string[]): Promise<Holder[]>;
  /** entries left unfinished: made claimable at once (idle time set to idleMs) */
  release(ids: readonly string[], idleMs: number): Promise<void>;
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
  /** claimed by another consumer while this one worked on them (it was silent longer than the claim time): that consumer reports them */
  handedOver: number;
  /** left unACKed for a later run or another consumer (API unreachable in --once, interrupted) */
  leftPending: number;
  batches: number;
  importRuns: number;
  /** queued longer ago than JOB_MAX_AGE_SEC: reported failed (expired), dead-lettered, not run */
  expired: number;
}

export function emptySummary(): DcJobsSummary {
  return { received: 0, completed: 0, failed: 0, retried: 0, deadLettered: 0, invalid: 0, duplicates: 0, handedOver: 0, leftPending: 0, batches: 0, importRuns: 0, expired: 0 };
}
