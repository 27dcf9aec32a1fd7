// labops provision sessions: REQUESTED lab_sessions -> claim (PROVISIONING) -> provision script over SSH ->
// ACTIVE / FAILED, or back to REQUESTED with backoff when the host is unreachable.
import { backoffDelayMs, type BackoffPolicy } from '../../domain/backoff.js';
import { formatDbTime, parseDbTime } from '../../domain/db-time.js';
import { decideProvision, resolveTarget, type AttemptResult, type Category } from '../../domain/provision-outcome.js';
import { provisionArgv, type Contract } from '../../domain/provision-contract.js';
import { shJoin } from '../../domain/shell-quote.js';
import type { CollectorRepo, SessionRow } from '../../core/db/repo-collector.js';
import { runLabScript } from './classify.js';
import type { ExtraAuth, RemoteRunner } from './ports.js';
import { runLoop, runOnce, type Job } from './work-loop.js';

export interface ProvisionConfig {
  contract: Contract;
  timeoutMs: number;
  concurrency: number;
  batch: number;
  backoff: BackoffPolicy;
  /** a PROVISIONING claim older than this belongs to a dead instance */
  staleAfterMs: number;
  auth: ExtraAuth;
}

export interface ProvisionDeps {
  repo: CollectorRepo;
  ssh: RemoteRunner;
  now(): number;
}

export type SessionOutcomeKind = 'active' | 'failed' | 'retry' | 'released' | 'taken' | 'skipped';

export interface SessionOutcome {
  sessionId: number;
  username: string | null;
  host: string | null;
  outcome: SessionOutcomeKind;
  /** lab_sessions.status afterwards */
  status: string;
  category: Category;
  exitCode: number | null;
  message: string;
  nextAttemptAt: string | null;
  durationMs: number;
}

function invalid(row: SessionRow, contract: Contract): string | undefined {
  if (!row.provision_script_path?.trim()) return `lab ${row.lab_id} has no provision_script_path`;
  if (!row.username?.trim()) return `session ${row.id} has no username`;
  if (!row.namespace?.trim()) return `session ${row.id} has no namespace`;
  if (contract === 'provision-worker' && parseDbTime(row.access_expiry) === null) return `session ${row.id} has no valid access_expiry (the provision-worker contract passes the minutes left)`;
  if (!row.bastion_host?.trim() && row.server_id !== null && row.server_found === null) return `lab ${row.lab_id} names server ${row.server_id}, which does not exist`;
  return undefined;
}

export function provisionJob(deps: ProvisionDeps, cfg: ProvisionConfig, signal: AbortSignal | undefined, report: (o: SessionOutcome) => void): Job<SessionRow> {
  const now = () => formatDbTime(deps.now());
  const process = async (row: SessionRow): Promise<void> => {
    if (signal?.aborted) return;
    const started = deps.now();
    const base = { sessionId: Number(row.id), username: row.username, host: null as string | null, exitCode: null as number | null, nextAttemptAt: null as string | null };
    if (!(await deps.repo.claimProvision(row.id, now()))) {
      report({ ...base, outcome: 'taken', status: 'PROVISIONING', category: 'ok', message: 'claimed by another worker', durationMs: 0 });
      return;
    }
    let released = false;
    try {
      let attempt: AttemptResult;
      let stdout = '';
      let stderr = '';
      const problem = invalid(row, cfg.contract);
      const target = resolveTarget(row, cfg.auth.defaultUser);
      if (problem) attempt = { kind: 'invalid', message: problem };
      else if ('error' in target) attempt = { kind: 'invalid', message: `lab ${row.lab_id}: ${target.error}` };
      else {
        base.host = `${target.host}:${target.port}`;
        const command = shJoin(provisionArgv(cfg.contract, row.provision_script_path!.trim(), { username: row.username!, namespace: row.namespace, accessExpiryMs: parseDbTime(row.access_expiry) }, deps.now()));
        const ran = await runLabScript(deps.ssh, target, cfg.auth, command, { timeoutMs: cfg.timeoutMs, signal });
        ({ attempt, stdout, stderr } = ran);
        base.exitCode = ran.exitCode;
      }
      const d = decideProvision(attempt);
      let message: string;
      let outcome: SessionOutcomeKind;
      if (d.status === 'REQUESTED') {
        if (d.backoff) {
          const attempts = ((await deps.repo.state(row.id, 'provision'))?.attempts ?? 0) + 1;
          base.nextAttemptAt = formatDbTime(deps.now() + backoffDelayMs(attempts, cfg.backoff));
          await deps.repo.releaseProvision(row.id, now(), { attempts, nextAttemptAt: base.nextAttemptAt, error: d.reason });
          message = `${d.reason}; retry ${attempts} not before ${base.nextAttemptAt} UTC`;
          outcome = 'retry';
        } else {
          await deps.repo.releaseProvision(row.id, now());
          message = d.reason;
          outcome = 'released';
        }
        released = true;
      } else {
        await deps.repo.finishProvision(row.id, d.status);
        released = true;
        outcome = d.status === 'ACTIVE' ? 'active' : 'failed';
        message = d.status === 'ACTIVE' ? 'provisioned' : d.reason;
      }
      const category: Category = d.status === 'ACTIVE' ? 'ok' : d.category;
      await deps.repo.log({ sessionId: row.id, phase: 'provision', outcome, exitCode: base.exitCode, message, stdout, stderr, host: base.host, durationMs: deps.now() - started }, now());
      report({ ...base, outcome, status: d.status, category, message, durationMs: deps.now() - started });
    } finally {
      // Whatever went wrong above (a database error), the session must not stay PROVISIONING.
      if (!released) await deps.repo.releaseProvision(row.id, now()).catch(() => {});
    }
  };
  return {
    id: (r) => Number(r.id),
    select: (limit, exclude) => deps.repo.provisionCandidates(limit, now(), exclude),
    process,
  };
}

export interface ProvisionPassResult {
  sessions: SessionOutcome[];
  /** REQUESTED sessions whose lab does not exist; left untouched */
  unknownLab: { sessionId: number; labId: number; message: string }[];
  /** stale PROVISIONING claims released this pass */
  recovered: number[];
}

async function preTick(deps: ProvisionDeps, cfg: ProvisionConfig): Promise<{ recovered: number[]; unknownLab: ProvisionPassResult['unknownLab'] }> {
  const recovered = await deps.repo.recoverStaleProvisioning(formatDbTime(deps.now() - cfg.staleAfterMs), formatDbTime(deps.now()));
  const unknownLab = (await deps.repo.sessionsWithUnknownLab(50)).map((u) => ({ sessionId: u.id, labId: u.lab_id, message: `session ${u.id}: lab ${u.lab_id} does not exist; left REQUESTED` }));
  return { recovered, unknownLab };
}

/** One pass; `stop` ends claiming (scripts in flight finish), `abort` kills those too. */
export async function provisionOnce(deps: ProvisionDeps, cfg: ProvisionConfig, stop?: AbortSignal, onResult?: (o: SessionOutcome) => void, abort: AbortSignal | undefined = stop): Promise<ProvisionPassResult> {
  await deps.repo.checkSchema('provision');
  const { recovered, unknownLab } = await preTick(deps, cfg);
  const sessions: SessionOutcome[] = [];
  await runOnce(provisionJob(deps, cfg, abort, (o) => (sessions.push(o), onResult?.(o))), cfg.concurrency, cfg.batch, stop);
  sessions.sort((a, b) => a.sessionId - b.sessionId);
  return { sessions, unknownLab, recovered };
}

/**
 * Provisions until `stop`: then nothing new is claimed and the scripts in flight finish (SIGTERM). `abort` kills
 * them too (SIGINT, or the stop timeout); the claims they held go back to REQUESTED.
 */
export async function provisionLoop(
  deps: ProvisionDeps,
  cfg: ProvisionConfig & { intervalMs: number },
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
  stop: AbortSignal,
  events: { onResult(o: SessionOutcome): void; onNotice(text: string): void; onError(e: unknown): void },
  abort: AbortSignal = stop,
): Promise<void> {
  await deps.repo.checkSchema('provision');
  const reported = new Set<number>();
  await runLoop(
    provisionJob(deps, cfg, abort, events.onResult),
    {
      concurrency: cfg.concurrency,
      batch: cfg.batch,
      intervalMs: cfg.intervalMs,
      sleep,
      onError: events.onError,
      beforeTick: async () => {
        const { recovered, unknownLab } = await preTick(deps, cfg);
        for (const id of recovered) events.onNotice(`session ${id}: released a stale PROVISIONING claim`);
        for (const u of unknownLab) {
          if (reported.has(u.sessionId)) continue;
          reported.add(u.sessionId);
          events.onNotice(u.message);
        }
      },
    },
    stop,
  );
}
