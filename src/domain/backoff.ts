// Retry policy for sessions whose host was unreachable or whose cleanup failed: exponential backoff
// with a cap, so a dead host is retried, but not every loop.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Delay before attempt number `attempts + 1`, after `attempts` failures (attempts >= 1). */
export function backoffDelayMs(attempts: number, p: BackoffPolicy): number {
  const exp = Math.min(30, Math.max(0, attempts - 1));
  return Math.min(p.maxMs, p.baseMs * 2 ** exp);
}
