// Turns what the SSH layer threw or returned into the domain's AttemptResult.
import { AuthFailed, Unreachable } from '../../domain/errors.js';
import type { AttemptResult } from '../../domain/provision-outcome.js';
import { SshHostKeyRejected } from '../../core/ssh/errors.js';
import type { RemoteResult } from '../../core/ssh/client.js';

export function fromRemote(r: RemoteResult, timeoutMs: number): AttemptResult {
  if (r.interrupted) return { kind: 'interrupted' };
  if (r.timedOut) return { kind: 'timeout', afterMs: timeoutMs };
  return { kind: 'exited', code: r.code ?? 255, stderr: r.stderr };
}

export function fromError(e: unknown): AttemptResult {
  const message = (e as Error)?.message ?? String(e);
  if (e instanceof SshHostKeyRejected) return { kind: 'hostkey', message };
  if (e instanceof AuthFailed) return { kind: 'auth', message };
  if (e instanceof Unreachable) return { kind: 'unreachable', message };
  return { kind: 'unreachable', message };
}
