import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { tempDir } from '../support/tmp.js';
import { waitFor, freePort } from '../support/services.js';
import { SshRunner, SshAuthFailed, SshHostKeyRejected, SshUnreachable, type SshOptions } from '../../src/core/ssh/index.js';
import { shJoin } from '../../src/domain/shell-quote.js';

describe('SshRunner against a real OpenSSH sshd', () => {
  let sshd: TestSshd | undefined;
  const tmp = tempDir('labops-ssh-client-');
  let knownHosts = '';
  before(async (t) => {
    sshd = await startSshd(t as never);
    knownHosts = join(tmp.path, 'known_hosts');
    if (sshd) writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
  });
  after(async () => {
    await sshd?.stop();
    tmp.cleanup();
  });

  const runner = (o: Partial<SshOptions> = {}) =>
    new SshRunner({ knownHostsFile: knownHosts, hostKeyMode: 'strict', connectTimeoutMs: 10_000, maxOutputBytes: 64 * 1024, ...o });
  const target = (o: Record<string, unknown> = {}) => ({ host: sshd!.host, port: sshd!.port, username: sshd!.user, password: sshd!.password, ...o });

  test('password auth runs the command and returns exit code, stdout and stderr', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const r = await runner().run(target(), 'echo out; echo err >&2; exit 3', { timeoutMs: 10_000 });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.timedOut, false);
  });

  test('arguments with quotes, spaces, ; and $(…) arrive intact', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const script = sshd.script('args.sh', 'for a in "$@"; do printf "<%s>\\n" "$a"; done');
    const marker = join(sshd.dir, 'out', 'injected');
    const args = [`it's "quoted"`, 'two  spaces', `a; touch ${marker}`, `$(touch ${marker})`, '`id`', '', 'back\\slash', '*', 'new\nline', '$HOME'];
    const r = await runner().run(target(), shJoin(['bash', script, ...args]), { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, args.map((a) => `<${a}>\n`).join(''));
    assert.equal(existsSync(marker), false, 'nothing was executed from the arguments');
  });

  test('a wrong password is an authentication failure', async (t) => {
    if (!sshd) return t.skip('no sshd');
    await assert.rejects(runner().run(target({ password: 'wrong-password' }), 'true', { timeoutMs: 10_000 }), (e: Error) => {
      assert.ok(e instanceof SshAuthFailed, String(e));
      assert.match(e.message, /authentication failed/);
      assert.doesNotMatch(e.message, /wrong-password/);
      return true;
    });
  });

  test('a changed host key is refused with a clear message', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const other = join(tmp.path, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherPub = readFileSync(`${other}.pub`, 'utf8').split(/\s+/);
    const file = join(tmp.path, 'known_hosts_changed');
    writeFileSync(file, `[127.0.0.1]:${sshd.port} ${otherPub[0]} ${otherPub[1]}\n`);
    for (const mode of ['strict', 'accept-new'] as const) {
      await assert.rejects(runner({ knownHostsFile: file, hostKeyMode: mode }).run(target(), 'true', { timeoutMs: 10_000 }), (e: Error) => {
        assert.ok(e instanceof SshHostKeyRejected, String(e));
        assert.match(e.message, /HOST KEY CHANGED/);
        assert.match(e.message, /known_hosts_changed:1/);
        return true;
      });
    }
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1, 'the file is left alone');
  });

  test('an unknown host key is refused, unless accept-new: then it is appended and reported', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const file = join(tmp.path, 'sub', 'known_hosts_new');
    await assert.rejects(runner({ knownHostsFile: file }).run(target(), 'true', { timeoutMs: 10_000 }), (e: Error) => {
      assert.ok(e instanceof SshHostKeyRejected);
      assert.match(e.message, /unknown host key ssh-ed25519 SHA256:/);
      return true;
    });
    const accepted: string[] = [];
    const r = await runner({ knownHostsFile: file, hostKeyMode: 'accept-new', onHostKeyAccepted: (e) => accepted.push(e.fingerprint) }).run(target(), 'true', { timeoutMs: 10_000 });
    assert.equal(r.code, 0);
    assert.equal(accepted.length, 1);
    assert.equal(readFileSync(file, 'utf8'), `${sshd.knownHostsLine}\n`);
    // now known: strict mode connects
    const again = await runner({ knownHostsFile: file }).run(target(), 'true', { timeoutMs: 10_000 });
    assert.equal(again.code, 0);
  });

  test('hashed known_hosts entries (ssh-keygen -H) are honoured', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const file = join(tmp.path, 'known_hosts_hashed');
    writeFileSync(file, `${sshd.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    assert.match(readFileSync(file, 'utf8'), /^\|1\|/);
    const r = await runner({ knownHostsFile: file }).run(target(), 'true', { timeoutMs: 10_000 });
    assert.equal(r.code, 0);
  });

  test('a hung script is killed by the overall timeout', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const pidFile = join(sshd.dir, 'out', 'hang.pid');
    const script = sshd.script('hang.sh', `echo $$ > ${pidFile}\nsleep 300 &\necho $! >> ${pidFile}\nwait`);
    const r = await runner().run(target(), shJoin(['bash', script]), { timeoutMs: 1500 });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    await waitFor(() => pids.every((p) => { try { process.kill(p, 0); return false; } catch { return true; } }), 'the remote processes to be gone', 5000);
  });

  test('huge output is drained and bounded', async (t) => {
    if (!sshd) return t.skip('no sshd');
    // 32 MiB on stdout and stderr: far past the SSH window, so an undrained channel would stall.
    const r = await runner({ maxOutputBytes: 4096 }).run(target(), 'head -c 33554432 /dev/zero | tr "\\0" x; head -c 33554432 /dev/zero | tr "\\0" y >&2; echo END', { timeoutMs: 60_000 });
    assert.equal(r.code, 0);
    assert.equal(r.stdoutTruncated, true);
    assert.equal(r.stderrTruncated, true);
    assert.ok(r.stdout.length < 4200);
    assert.match(r.stdout, /bytes omitted/);
    assert.match(r.stdout, /END\n$/);
  });

  test('key auth and agent auth', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const key = join(tmp.path, 'client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    sshd.authorize(readFileSync(`${key}.pub`, 'utf8'));
    const byKey = await runner().run(target({ password: null, privateKey: readFileSync(key) }), 'echo key', { timeoutMs: 10_000 });
    assert.equal(byKey.stdout, 'key\n');
    const sock = join(tmp.path, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(sock), 'ssh-agent socket');
      execFileSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const byAgent = await runner().run(target({ password: null, agent: sock }), 'echo agent', { timeoutMs: 10_000 });
      assert.equal(byAgent.stdout, 'agent\n');
    } finally {
      agent.kill();
    }
  });

  test('through an explicit jump host (direct-tcpip)', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const jump = { host: sshd.host, port: sshd.port, username: sshd.user, password: sshd.password };
    const r = await runner({ jump }).run(target(), 'echo "$SSH_CONNECTION"', { timeoutMs: 10_000 });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+/);
  });

  test('pooled connections multiplex channels, and fall back to a new connection when the server refuses one', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const pooled = runner({ channelsPerConnection: 4 });
    try {
      const rs = await Promise.all(Array.from({ length: 12 }, () => pooled.run(target(), 'sleep 0.3; echo "$SSH_CLIENT"', { timeoutMs: 10_000 })));
      const ports = new Set(rs.map((r) => r.stdout.split(' ')[1]));
      assert.ok(rs.every((r) => r.code === 0));
      assert.ok(ports.size <= 3, `12 commands over ${ports.size} connections`);
    } finally {
      pooled.close();
    }
    const tight = await startSshd(t as never, { extraConfig: ['MaxSessions 2'] });
    if (!tight) return;
    try {
      const file = join(tmp.path, 'known_hosts_tight');
      writeFileSync(file, `${tight.knownHostsLine}\n`);
      const r2 = runner({ knownHostsFile: file, channelsPerConnection: 6 });
      const rs = await Promise.all(Array.from({ length: 6 }, () => r2.run({ host: tight.host, port: tight.port, username: tight.user, password: tight.password }, 'sleep 0.3; echo ok', { timeoutMs: 10_000 })));
      assert.deepEqual(rs.map((r) => r.stdout), Array(6).fill('ok\n'));
      r2.close();
    } finally {
      await tight.stop();
    }
  });

  test('connection refused is unreachable', async (t) => {
    if (!sshd) return t.skip('no sshd');
    const port = await freePort();
    await assert.rejects(runner().run(target({ port }), 'true', { timeoutMs: 5000 }), (e: Error) => e instanceof SshUnreachable && /ECONNREFUSED/.test(e.message));
  });
});
