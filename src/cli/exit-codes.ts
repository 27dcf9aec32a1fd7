// The exit-code table: data rendered into --help, the man page and the README, and the single place
// where an error becomes an exit code.
import { isLabopsError, Silent, type ErrorKind } from '../domain/errors.js';

export interface ExitCodeRow {
  code: number;
  kind: ErrorKind | 'ok';
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
} as const satisfies Record<Exclude<ErrorKind, 'silent'> | 'ok', number>;

/** Maps any thrown value to an exit code. Unknown errors are bugs: exit 1. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof Silent) return EXIT[err.exitKind];
  if (isLabopsError(err)) return EXIT[err.kind as Exclude<ErrorKind, 'silent'>];
  return EXIT.failed;
}
