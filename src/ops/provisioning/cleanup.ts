// labops provision cleanup: sessions ACTIVE past access_expiry (UTC) or REVOKED -> cleanup script over
// SSH -> EXPIRED (REVOKED stays) with provisioned=0. Failures are retried with backoff and reported.
import { backoffDelayMs, type BackoffPolicy } from '../../domain/backoff.js';
import { formatDbTime } from '../../domain/db-time.js';
import { decideCleanup, resolveTarget, type AttemptResult, type Category } from '../../domain/provision-outcome.js';
import { cleanupArgv, type Contract } from '../../domain/provision-contract.js';
import { shJoin } from '../../domain/shell-quote.js';
import type { CollectorRepo, SessionRow } from '../../core/db/repo-collector.js';
import { runLabScript } from './classify.js';
import type { ExtraAuth, RemoteRunner } from './ports.js';
import { runLoop, runOnce, type Job } from './work-loop.js';

export interface CleanupConfig {
  contract: Contract;
  timeoutMs: number;
  concurrency: number;
  batch: number;
  backoff: BackoffPolicy;
  staleAfterMs: number;
  auth: ExtraAuth;
}

export interface CleanupDeps {
  repo: CollectorRepo;
  ssh: RemoteRunner;
  now(): number;
}

export interface CleanupOutcome {
  sessionId: number;
  username: string | null;
  host: string | null;
  outcome: 'cleaned' | 'retry' | 'taken' | 'released';
  /** lab_sessions.status afterwards */
  status: string;
  category: Category;
  exitCode: number | null;
  attempts: number;
  message: string;
  nextAttemptAt: string | null;
  durationMs: number;
}

export function cleanupJob(deps: CleanupDeps, cfg: CleanupConfig, signal: AbortSignal | undefined, report: (o: CleanupOutcome) => void): Job<SessionRow> {
  const now = () => formatDbTime(deps.now());
  const stale = () => formatDbTime(deps.now() - cfg.staleAfterMs);
  const process = async (row: SessionRow): Promise<void> => {
    if (signal?.aborted) return;
    const started = deps.now();
    const base = { sessionId: Number(row.id), username: row.username, host: null as string | null, exitCode: null as number | null, nextAttemptAt: null as string | null, attempts: 0 };
    if (!(await deps.repo.claimCleanup(row.id, now(), stale()))) {
      report({ ...base, outcome: 'taken', status: String(row.status), category: 'ok', message: 'claimed by another worker or already cleaned', durationMs: 0 });
      return;
    }
    let settled = false;
    try {
      let attempt: AttemptResult;
      let stdout = '';
      let stderr = '';
      const target = resolveTarget(row, cfg.auth.defaultUser);
      if (!row.cleanup_script_path?.trim()) attempt = { kind: 'invalid', message: `lab ${row.lab_id} has no cleanup_script_path` };
      else if (!row.username?.trim()) attempt = { kind: 'invalid', message: `session ${row.id} has no username` };
      else if (cfg.contract === 'collector' && !row.namespace?.trim()) attempt = { kind: 'invalid', message: `session ${row.id} has no namespace` };
      else if ('error' in target) attempt = { kind: 'invalid', message: `lab ${row.lab_id}: ${target.error}` };
      else {
        base.host = `${target.host}:${target.port}`;
        const command = shJoin(cleanupArgv(cfg.contract, row.cleanup_script_path.trim(), { username: row.username, namespace: row.namespace, accessExpiryMs: null }));
        const ran = await runLabScript(deps.ssh, target, cfg.auth, command, { timeoutMs: cfg.timeoutMs, signal });
        ({ attempt, stdout, stderr } = ran);
        base.exitCode = ran.exitCode;
      }
      const d = decideCleanup(attempt);
      let outcome: CleanupOutcome['outcome'];
      let message: string;
      let status = String(row.status);
      if (d.done) {
        await deps.repo.finishCleanup(row.id);
        status = row.status === 'ACTIVE' ? 'EXPIRED' : status;
        outcome = 'cleaned';
        message = row.status === 'ACTIVE' ? 'expired and cleaned up' : 'revoked and cleaned up';
      } else if (d.category === 'interrupted') {
        await deps.repo.failCleanup(row.id, now(), null);
        outcome = 'released';
        message = 'interrupted; released for a later run';
      } else {
        base.attempts = ((await deps.repo.state(row.id, 'cleanup'))?.attempts ?? 0) + 1;
        base.nextAttemptAt = formatDbTime(deps.now() + backoffDelayMs(base.attempts, cfg.backoff));
        await deps.repo.failCleanup(row.id, now(), { attempts: base.attempts, nextAttemptAt: base.nextAttemptAt, error: d.reason });
        outcome = 'retry';
        message = `${d.reason}; retry ${base.attempts} not before ${base.nextAttemptAt} UTC`;
      }
      settled = true;
      const category: Category = d.done ? 'ok' : d.category;
      await deps.repo.log({ sessionId: row.id, phase: 'cleanup', outcome, exitCode: base.exitCode, message, stdout, stderr, host: base.host, durationMs: deps.now() - started }, now());
      report({ ...base, outcome, status, category, message, durationMs: deps.now() - started });
    } finally {
      if (!settled) await deps.repo.failCleanup(row.id, now(), null).catch(() => {});
    }
  };
  return {
    id: (r) => Number(r.id),
    select: (limit, exclude) => deps.repo.cleanupCandidates(limit, now(), stale(), exclude),
    process,
  };
}

/** One pass; `stop` ends claiming (scripts in flight finish), `abort` kills those too. */
export async function cleanupOnce(deps: CleanupDeps, cfg: CleanupConfig, stop?: AbortSignal, onResult?: (o: CleanupOutcome) => void, abort: AbortSignal | undefined = stop): Promise<{ sessions: CleanupOutcome[] }> {
  await deps.repo.checkSchema('cleanup');
  const sessions: CleanupOutcome[] = [];
  await runOnce(cleanupJob(deps, cfg, abort, (o) => (sessions.push(o), onResult?.(o))), cfg.concurrency, cfg.batch, stop);
  sessions.sort((a, b) => a.sessionId - b.sessionId);
  return { sessions };
}

/** Cleans up until `stop` (scripts in flight finish); `abort` kills those too. */
export async function cleanupLoop(
  deps: CleanupDeps,
  cfg: CleanupConfig & { intervalMs: number },
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  stop: AbortSignal,
  events: { onResult(o: CleanupOutcome): void; onError(e: unknown): void },
  abort: AbortSignal = stop,
): Promise<void> {
  await deps.repo.checkSchema('cleanup');
  await runLoop(cleanupJob(deps, cfg, abort, events.onResult), { concurrency: cfg.concurrency, batch: cfg.batch, intervalMs: cfg.intervalMs, sleep, onError: events.onError }, stop);
}
