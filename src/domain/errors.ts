// Typed errors shared by every layer. The CLI maps them to exit codes in exactly one place
// (src/cli/exit-codes.ts); ops and core throw them without knowing about exit codes.

export interface ErrorDetails {
  /** one line telling the operator what to do next */
  suggestion?: string;
  /** structured context for --json and logs; never secrets */
  context?: Record<string, unknown>;
  cause?: unknown;
}

export abstract class LabopsError extends Error {
  abstract readonly kind: ErrorKind;
  readonly suggestion?: string;
  readonly context?: Record<string, unknown>;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.suggestion = details.suggestion;
    this.context = details.context;
  }
}

export type ErrorKind = 'failed' | 'usage' | 'unreachable' | 'auth' | 'partial' | 'tempfail' | 'interrupted';

/** Bad flag, malformed config/heartbeat/CSV/DHCP file: nothing was changed. */
export class UsageError extends LabopsError {
  readonly kind = 'usage' as const;
  /** set when commander's usage hint should follow the message */
  showUsage = false;
}
/** A query met a table that does not exist: the database is not migrated (or the table's owner is absent). */
export class MissingTable extends UsageError {
  constructor(
    readonly table: string,
    message: string,
    details: ErrorDetails = {},
  ) {
    super(message, details);
  }
}
/** The operation ran and failed (remote command non-zero, verification failed). */
export class OperationFailed extends LabopsError {
  readonly kind = 'failed' as const;
}
/** Host did not wake, connection refused, probe timeout. */
export class Unreachable extends LabopsError {
  readonly kind = 'unreachable' as const;
}
/** WinRM/SSH/API credentials or TLS verification. */
export class AuthFailed extends LabopsError {
  readonly kind = 'auth' as const;
}
/** Some targets succeeded and some failed; the per-target result was already rendered. */
export class Partial extends LabopsError {
  readonly kind = 'partial' as const;
}
/** Lock held, service busy: try again later. */
export class TempFail extends LabopsError {
  readonly kind = 'tempfail' as const;
}
export class Interrupted extends LabopsError {
  readonly kind = 'interrupted' as const;
  constructor(message = 'interrupted') {
    super(message);
  }
}
export function isLabopsError(e: unknown): e is LabopsError {
  return e instanceof LabopsError;
}
