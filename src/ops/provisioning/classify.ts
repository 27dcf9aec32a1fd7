// Turns what the SSH layer threw or returned into the domain's AttemptResult.
import { AuthFailed, Unreachable } from '../../domain/errors.js';
import type { AttemptResult, ResolvedTarget } from '../../domain/provision-outcome.js';
import { SshHostKeyRejected } from '../../core/ssh/errors.js';
import type { RemoteResult } from '../../core/ssh/client.js';
import type { ExtraAuth, RemoteRunner } from './ports.js';

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

/** Runs a lab script on its resolved target (the row's password, the configured key or agent); never throws. */
export async function runLabScript(
  ssh: RemoteRunner,
  target: ResolvedTarget,
  auth: ExtraAuth,
  command: string,
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ attempt: AttemptResult; stdout: string; stderr: string; exitCode: number | null }> {
  try {
    const r = await ssh.run(
      { host: target.host, port: target.port, username: target.username, password: target.password, privateKey: auth.privateKey, passphrase: auth.passphrase, agent: auth.agent },
      command,
      o,
    );
    return { attempt: fromRemote(r, o.timeoutMs), stdout: r.stdout, stderr: r.stderr, exitCode: r.code };
  } catch (e) {
    return { attempt: o.signal?.aborted ? { kind: 'interrupted' } : fromError(e), stdout: '', stderr: '', exitCode: null };
  }
}
