// Finding the real services tests need. A missing one skips the test locally but FAILS under CI=true:
// CI must never pass by skipping.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { TestContext } from 'node:test';

export function findBinary(candidates: string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

/** Returns the binary path, or skips (locally) / throws (CI) when it is absent. */
export function requireBinary(t: TestContext | undefined, what: string, candidates: string[]): string | undefined {
  const found = findBinary(candidates);
  if (found) return found;
  const msg = `${what} not found (looked at ${candidates.join(', ')}); install it with scripts/install-test-deps.sh`;
  if (process.env.CI) throw new Error(msg);
  t?.skip(msg);
  return undefined;
}

/**
 * True when running as root. Some tests need root by nature (a local test user with a password for sshd,
 * setuid to drop privileges, a mount namespace, writing /etc): as anyone else they skip locally and fail under
 * CI=true, where the suite must run whole. `t` may be a hook's context, which cannot skip.
 */
export function requireRoot(t: { skip?: (msg: string) => void } | undefined, what: string): boolean {
  if (process.getuid?.() === 0) return true;
  const msg = `${what} needs root; skipped as ${process.env.USER ?? 'this user'}`;
  if (process.env.CI) throw new Error(msg);
  if (typeof t?.skip === 'function') t.skip(msg);
  return false;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true or the bound runs out. */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A random 127.x.y.1 base so parallel test files never share simulator addresses. */
export function randomLoopbackBase(): string {
  const a = 20 + Math.floor(Math.random() * 200);
  const b = 1 + Math.floor(Math.random() * 250);
  return `127.${a}.${b}.1`;
}
