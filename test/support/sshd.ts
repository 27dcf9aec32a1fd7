// A real OpenSSH sshd for integration tests: its own host key, a free 127.0.0.1 port, a dedicated local
// test user with a known password (created once with useradd/chpasswd; tests run as root, as CI does).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort, requireBinary, requireRoot, waitFor } from './services.js';
import { tempDir } from './tmp.js';

export const SSH_TEST_USER = 'labops-sshtest';
export const SSH_TEST_PASSWORD = 'Labops-ssh-test-1';

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  password: string;
  /** a world-readable directory for scripts, with a world-writable `out/` inside */
  dir: string;
  /** the known_hosts line for this server */
  knownHostsLine: string;
  hostKeyBase64: string;
  authorizedKeysFile: string;
  /** writes an executable script into dir and returns its path */
  script(name: string, body: string): string;
  authorize(publicKeyLine: string): void;
  stop(): Promise<void>;
}

function ensureTestUser(): void {
  try {
    execFileSync('id', ['-u', SSH_TEST_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', SSH_TEST_USER], { stdio: 'ignore' });
  }
  // Idempotent: the password is reset every run so a changed one never breaks the suite.
  execFileSync('chpasswd', [], { input: `${SSH_TEST_USER}:${SSH_TEST_PASSWORD}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
}

export async function startSshd(t?: TestContext, opts: { extraConfig?: string[] } = {}): Promise<TestSshd | undefined> {
  const sshd = requireBinary(t?.skip ? t : undefined, 'OpenSSH sshd', ['/usr/sbin/sshd']);
  const keygen = requireBinary(t?.skip ? t : undefined, 'ssh-keygen', ['/usr/bin/ssh-keygen']);
  if (!sshd || !keygen) return undefined;
  if (!requireRoot(t, 'the sshd tests (a local test user with a password)')) return undefined;
  ensureTestUser();
  // sshd's privilege-separation directory; absent on machines where the service never ran.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const tmp = tempDir('labops-sshd-');
  const dir = tmp.path;
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'out'), { mode: 0o777 });
  chmodSync(join(dir, 'out'), 0o777);
  const hostKey = join(dir, 'host_ed25519');
  execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const pub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const authorizedKeysFile = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeysFile, '', { mode: 0o644 });
  const port = await freePort();
  // sshd keeps the first value of a keyword, so the caller's lines go first.
  const base = [
    ...(opts.extraConfig ?? []),
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'UsePAM no',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'StrictModes no',
    'PermitRootLogin no',
    `AllowUsers ${SSH_TEST_USER}`,
    // The benchmark opens hundreds of connections at once.
    'MaxStartups 1000:100:1000',
    'MaxSessions 100',
    'MaxAuthTries 10',
    'LoginGraceTime 60',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'LogLevel ERROR',
  ];
  const cfg = join(dir, 'sshd_config');
  // OpenSSH >= 9.8 penalises sources with failed logins, which a wrong-password test would trigger.
  writeFileSync(cfg, [...base, 'PerSourcePenalties no', ''].join('\n'));
  try {
    execFileSync(sshd, ['-t', '-f', cfg], { stdio: 'ignore' });
  } catch {
    writeFileSync(cfg, [...base, ''].join('\n'));
  }
  let stderr = '';
  const proc: ChildProcess = spawn(sshd, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        if (proc.exitCode !== null) throw new Error(`sshd exited: ${stderr}`);
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    'sshd to listen',
    15_000,
  );
  return {
    host: '127.0.0.1',
    port,
    user: SSH_TEST_USER,
    password: SSH_TEST_PASSWORD,
    dir,
    knownHostsLine: `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}`,
    hostKeyBase64: pub[1]!,
    authorizedKeysFile,
    script(name, body) {
      const p = join(dir, name);
      writeFileSync(p, body.startsWith('#!') ? body : `#!/bin/bash\n${body}\n`, { mode: 0o755 });
      chmodSync(p, 0o755);
      return p;
    },
    authorize(line) {
      appendFileSync(authorizedKeysFile, `${line.trim()}\n`);
    },
    async stop() {
      if (proc.exitCode === null) {
        await new Promise<void>((resolve) => {
          proc.once('exit', () => resolve());
          proc.kill('SIGTERM');
          setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
        });
      }
      tmp.cleanup();
    },
  };
}
