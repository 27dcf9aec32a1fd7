// The exit-code table: data rendered into --help, the man page and the README, and the single place
// where an error becomes an exit code.
import { isLabopsError, type ErrorKind } from '../domain/errors.js';
import { combineOutcomes, type Outcome } from '../domain/outcome.js';

export interface ExitCodeRow {
  code: number;
  kind: ErrorKind | 'ok' | 'terminated';
  meaning: string;
}

export const EXIT_CODES: readonly ExitCodeRow[] = [
  { code: 0, kind: 'ok', meaning: 'success' },
  { code: 1, kind: 'failed', meaning: 'the operation ran and failed (remote command non-zero, verification failed, open alerts)' },
  { code: 2, kind: 'usage', meaning: 'usage or input error (bad flag, malformed config/heartbeat/CSV/DHCP file): nothing was changed' },
  { code: 3, kind: 'unreachable', meaning: 'unreachable or timed out (host did not wake, connection refused, probe timeout, database down)' },
  { code: 4, kind: 'auth', meaning: 'authentication or authorization failed (WinRM/SSH/API/database credentials, TLS verification)' },
  { code: 5, kind: 'partial', meaning: 'partial: some targets succeeded, some failed' },
  { code: 75, kind: 'tempfail', meaning: 'temporary failure, try again (lock held, service busy)' },
  { code: 130, kind: 'interrupted', meaning: 'interrupted (SIGINT)' },
  { code: 143, kind: 'terminated', meaning: 'terminated (SIGTERM) during a one-shot command, after cleaning up and printing what was done; commands that loop stop cleanly and exit 0' },
];

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  partial: 5,
  tempfail: 75,
  interrupted: 130,
  terminated: 143,
} as const satisfies Record<ErrorKind | 'ok' | 'terminated', number>;

/** The exit code of a command's outcomes, one per target (see combineOutcomes for the rule). */
export function exitFor(outcomes: readonly Outcome[]): number {
  return EXIT[combineOutcomes(outcomes)];
}

/** Maps any thrown value to an exit code. Unknown errors are bugs: exit 1. */
export function exitCodeFor(err: unknown): number {
  if (isLabopsError(err)) return EXIT[err.kind];
  return EXIT.failed;
}
