// The DC job protocol of LINBO Docker (NOTES §2): stream names, message parsing, attempt counting,
// retry backoff, provision batch selection and the repair script's stdout contract. Pure.
import { backoffDelayMs } from './backoff.js';
import { schoolNameProblem } from './devices-csv/paths.js';

export const JOB_STREAM = 'linbo:jobs';
export const JOB_GROUP = 'dc-workers';
export const DLQ_STREAM = 'linbo:jobs:dlq';
export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'retrying'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed']);

interface JobBase {
  /** the stream entry id */
  id: string;
  fields: Record<string, string>;
  operationId: string;
  school: string;
  attempt: number;
  createdAt?: string;
}
export interface MacctJob extends JobBase {
  type: 'macct_repair';
  host: string;
}
export interface ProvisionJob extends JobBase {
  type: 'provision_host';
  action: 'create' | 'update' | 'delete';
}
export interface InvalidJob {
  type: 'invalid';
  id: string;
  fields: Record<string, string>;
  operationId?: string;
  reason: string;
}
export type JobMessage = MacctJob | ProvisionJob | InvalidJob;

/** Reads one stream entry. The worker ACKed unknown types silently; labops dead-letters them with a reason. */
export function parseJobMessage(id: string, fields: Record<string, string>): JobMessage {
  const operationId = fields.operation_id?.trim() || undefined;
  const invalid = (reason: string): InvalidJob => ({ type: 'invalid', id, fields, operationId, reason });
  const type = fields.type;
  if (type !== 'macct_repair' && type !== 'provision_host') return invalid(type ? `unknown job type '${type}'` : 'missing field type');
  if (!operationId) return invalid('missing field operation_id');
  const rawAttempt = fields.attempt ?? '0';
  if (!/^\d+$/.test(rawAttempt.trim())) return invalid(`invalid attempt '${rawAttempt}'`);
  const school = fields.school?.trim() || 'default-school';
  // the school names directories and files, the host an LDAP filter: anything else is refused, never run
  const badSchool = schoolNameProblem(school);
  if (badSchool) return invalid(badSchool);
  const base = { id, fields, operationId, school, attempt: Number(rawAttempt), createdAt: fields.created_at };
  if (type === 'macct_repair') {
    const host = fields.host?.trim();
    if (!host) return invalid('missing field host');
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(host)) return invalid(`invalid host ${JSON.stringify(host)}`);
    return { ...base, type, host };
  }
  const action = fields.action?.trim();
  if (action !== 'create' && action !== 'update' && action !== 'delete') return invalid(action ? `unknown provision action '${action}'` : 'missing field action');
  return { ...base, type, action };
}

export interface RetryPolicy {
  /** runs in total, the first included (the worker's MAX_RETRIES = 3) */
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export type RetryDecision = { final: true } | { final: false; delayMs: number };

/**
 * After run number `attempt + 1` failed (`attempt` is the message's 0-based counter): retry after a
 * capped exponential delay, or give up. The worker counted every retry twice (its PATCH and the API's
 * retry handler both added one), so its script ran only twice; labops leaves the counting to the API.
 */
export function retryDecision(attempt: number, p: RetryPolicy): RetryDecision {
  if (attempt + 1 >= p.maxAttempts) return { final: true };
  return { final: false, delayMs: backoffDelayMs(attempt + 1, { baseMs: p.baseMs, maxMs: p.maxMs }) };
}

/** The DLQ entry: the message's fields plus the last error and a UTC timestamp (the API's shape). */
export function dlqEntry(fields: Record<string, string>, lastError: string, failedAt: Date, extra: Record<string, string> = {}): Record<string, string> {
  return { ...fields, ...extra, last_error: lastError || 'Unknown error', failed_at: failedAt.toISOString() };
}

/**
 * Takes the next provision batch off the queue: the oldest job's school, then every queued job of the
 * same school in order, up to `size`. Jobs of other schools stay queued in order.
 */
export function takeBatch<T extends { school: string }>(queue: T[], size: number): T[] {
  if (queue.length === 0) return [];
  const school = queue[0]!.school;
  const batch: T[] = [];
  for (let i = 0; i < queue.length && batch.length < size; ) {
    if (queue[i]!.school === school) batch.push(queue.splice(i, 1)[0]!);
    else i++;
  }
  return batch;
}

export interface RepairScriptResult {
  processed: true;
  stdout_lines: number;
  unicodePwd_updated?: true;
  pwdLastSet_fixed?: true;
  skipped?: true;
  no_changes?: true;
}

/** The worker's reading of repair_macct.py's stdout (NOTES §2.5 step 3). */
export function parseRepairScriptOutput(stdout: string): RepairScriptResult {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const r: RepairScriptResult = { processed: true, stdout_lines: lines.length };
  if (stdout.includes('unicodePwd')) r.unicodePwd_updated = true;
  if (stdout.includes('pwdLastSet')) r.pwdLastSet_fixed = true;
  const lower = stdout.toLowerCase();
  if (lower.includes('skipped')) r.skipped = true;
  if (lower.includes('no changes')) r.no_changes = true;
  return r;
}

/** Fields of an Operation (§3.3) the consumer reads. */
export interface OperationRecord {
  id: string;
  type: string;
  targetHost?: string | null;
  school?: string | null;
  options?: Record<string, unknown> | null;
  status: string;
  attempt: number;
  error?: string | null;
  result?: unknown;
}

export interface ProvisionOptions {
  action: 'create' | 'update' | 'delete';
  hostname: string;
  mac?: string;
  ip?: string;
  configName?: string;
  csvCol0?: string;
  oldHostname?: string;
  role?: string;
  pxeFlag?: string | number;
  dryRun: boolean;
}

/** Operation.options of a provision_host operation, read as the worker reads it. */
export function provisionOptions(op: OperationRecord, fallbackAction: ProvisionOptions['action']): ProvisionOptions {
  const o = op.options ?? {};
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : o[k] === undefined || o[k] === null ? undefined : String(o[k]));
  const action = str('action');
  return {
    action: action === 'create' || action === 'update' || action === 'delete' ? action : fallbackAction,
    hostname: (str('hostname') ?? op.targetHost ?? '').trim(),
    mac: str('mac'),
    ip: str('ip'),
    configName: str('configName'),
    csvCol0: str('csvCol0'),
    oldHostname: str('oldHostname') || undefined,
    role: str('role'),
    pxeFlag: typeof o.pxeFlag === 'number' || typeof o.pxeFlag === 'string' ? (o.pxeFlag as number | string) : undefined,
    // The API always writes a boolean; anything else is treated as a real run, as Python's truthiness does for strings.
    dryRun: o.dryRun === true || o.dryRun === 'true',
  };
}
