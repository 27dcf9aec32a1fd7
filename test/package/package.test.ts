// `npm run package` for real: the single executable on this machine (the README's play block against its own
// simulator, MariaDB, Redis and the LINBO API, the embedded SQLite addon), lintian on the Debian package, then the
// package installed into a fresh Debian root that has no Node: debootstrap --variant=minbase (cached under
// /var/cache/labops-tests, keyed by what it contains) entered with chroot inside namespaces this test creates
// (no network, its own /proc). There: --version, the embedded store as root and as the units run it, dhcp-patch
// through the hook wrapper with a minimal PATH (byte-identical to the reference sample), systemd-analyze verify,
// logrotate, the bad inputs, reinstall, remove (configs kept) and purge (gone).
// Needs root, debootstrap, lintian and dpkg-dev: under CI=true a missing one fails, elsewhere the suite skips.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/tmp.js';
import { fixturePath } from '../support/dc-tree.js';
import { findBinary, freePort, randomLoopbackBase, waitFor } from '../support/services.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { redisAvailable, startRedis, type TestRedis } from '../support/redis.js';
import { startLinboApi, type LinboApi } from '../../src/sim/linbo/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = tempDir('labops-package-');
after(() => work.cleanup());

const TOOLS: [string, string[]][] = [
  ['debootstrap', ['/usr/sbin/debootstrap']],
  ['lintian', ['/usr/bin/lintian']],
  ['dpkg-shlibdeps (dpkg-dev)', ['/usr/bin/dpkg-shlibdeps']],
  ['dpkg-deb', ['/usr/bin/dpkg-deb']],
  ['strip (binutils)', ['/usr/bin/strip']],
  ['unshare and setpriv (util-linux)', ['/usr/bin/unshare']],
  ['chroot (coreutils)', ['/usr/sbin/chroot']],
];
/** Why this suite cannot run here, or undefined. Under CI=true that is a failure, not a skip. */
function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `packages are built for linux-x64, this is ${process.platform}-${process.arch}`;
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, chroot, dpkg in the root)';
  const missing = TOOLS.filter(([, paths]) => !findBinary(paths)).map(([name]) => name);
  if (missing.length) return `${missing.join(', ')} not installed: run scripts/install-test-deps.sh`;
  return undefined;
}
const notHere = missingPrerequisite();
function skipUnlessReady(t: TestContext): boolean {
  if (!notHere) return false;
  if (process.env.CI) throw new Error(notHere);
  t.skip(notHere);
  return true;
}

const release = join(work.path, 'release');
const standalone = join(release, `labops-${VERSION}-linux-x64`);
const debFile = join(release, `labops_${VERSION}_amd64.deb`);
const timings: Record<string, number> = {};
function timed<T>(what: string, f: () => T): T {
  const t0 = Date.now();
  try {
    return f();
  } finally {
    timings[what] = (Date.now() - t0) / 1000;
  }
}

function sh(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: o.timeoutMs ?? 120_000, env: o.env ?? process.env, input: o.input });
}
const noStackTrace = (s: string) => !/^\s+at .+\(.*:\d+:\d+\)$/m.test(s) && !/^\s+at /m.test(s);

describe('npm run package', { concurrency: false }, () => {
  after(() => {
    if (Object.keys(timings).length) console.log(`package suite times (s): ${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  });
  before(() => {
    if (notHere) return;
    const r = timed('package build', () => sh(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--out', release, '--fast'], { timeoutMs: 600_000 }));
    assert.equal(r.status, 0, `npm run package failed:\n${r.stderr}`);
  });

  test('builds the single executable and the Debian package with the Debian layout', (t) => {
    if (skipUnlessReady(t)) return;
    assert.ok(existsSync(standalone) && existsSync(debFile));
    const field = (name: string) => sh('dpkg-deb', ['-f', debFile, name]).stdout.trim();
    assert.equal(field('Package'), 'labops');
    assert.equal(field('Version'), VERSION);
    assert.equal(field('Architecture'), 'amd64');
    assert.match(field('Depends'), /^libc6 \(>= [\d.]+\), .*libstdc\+\+6.*, procps, systemd \| systemd-standalone-sysusers/);
    const listing = sh('dpkg-deb', ['-c', debFile]).stdout;
    const entries = new Map(listing.trim().split('\n').map((l) => {
      const [mode, owner] = l.split(/\s+/);
      return [l.slice(l.indexOf('./') + 1).replace(/ -> .*$/, '').replace(/\/$/, ''), { mode: mode!, owner: owner! }];
    }));
    for (const path of [
      '/usr/bin/labops',
      '/usr/lib/labops/better_sqlite3.node',
      '/usr/lib/systemd/system/labops-daemon.service',
      '/usr/lib/systemd/system/labops-heartbeat-poll.timer',
      '/usr/lib/sysusers.d/labops.conf',
      '/usr/lib/tmpfiles.d/labops.conf',
      '/etc/logrotate.d/labops',
      '/etc/labops/config.json',
      '/usr/share/man/man1/labops.1.gz',
      '/usr/share/man/man1/labops-dhcp-patch.1.gz',
      '/usr/share/bash-completion/completions/labops',
      '/usr/share/zsh/vendor-completions/_labops',
      '/usr/share/fish/vendor_completions.d/labops.fish',
      '/usr/share/doc/labops/copyright',
      '/usr/share/doc/labops/examples/cron/labops.cron',
      '/usr/share/doc/labops/examples/50-linbo-docker-dhcp',
      '/usr/share/doc/labops/examples/config.annotated.jsonc',
    ]) assert.ok(entries.has(path), `${path} in the package`);
    for (const [path, e] of entries) {
      assert.equal(e.owner, 'root/root', path);
      if (path === '/usr/bin/labops') assert.equal(e.mode, '-rwxr-xr-x');
      else if (!e.mode.startsWith('d')) assert.equal(e.mode, '-rw-r--r--', path);
    }
    assert.equal([...entries.keys()].filter((p) => p.startsWith('/usr/share/man/man1/')).every((p) => p.endsWith('.1.gz') || p.endsWith('man1')), true);
    assert.ok(![...entries.keys()].some((p) => p.startsWith('/usr/local') || p.includes('.wants')), 'nothing in /usr/local, no unit enabled');
    const control = join(work.path, 'control');
    sh('dpkg-deb', ['-e', debFile, control]);
    assert.deepEqual(readFileSync(join(control, 'conffiles'), 'utf8').trim().split('\n'), ['/etc/labops/config.json', '/etc/logrotate.d/labops']);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      const text = readFileSync(join(control, script), 'utf8');
      // services are never started, enabled or restarted; prerm stops on removal only
      assert.doesNotMatch(text, /\b(start|restart|enable|try-restart|reload-or-restart)\b(?!ed)/, script);
    }
    const unitsDir = join(work.path, 'units');
    sh('dpkg-deb', ['-x', debFile, unitsDir]);
    for (const unit of readdirSync(join(unitsDir, 'usr/lib/systemd/system')).filter((u) => u.endsWith('.service'))) {
      const text = readFileSync(join(unitsDir, 'usr/lib/systemd/system', unit), 'utf8');
      assert.match(text, /^ExecStart=\/usr\/bin\/labops /m, unit);
      assert.match(text, /^Documentation=man:labops-[a-z-]+\(1\)$/m, unit);
    }
    t.diagnostic(`sizes: executable ${(readFileSync(standalone).length / 2 ** 20).toFixed(1)} MiB, .deb (xz -1) ${(readFileSync(debFile).length / 2 ** 20).toFixed(1)} MiB`);
  });

  test('lintian reports no errors', (t) => {
    if (skipUnlessReady(t)) return;
    const r = timed('lintian', () => sh('lintian', ['--fail-on', 'error', '--no-tag-display-limit', debFile], { timeoutMs: 600_000 }));
    assert.equal(r.status, 0, `lintian:\n${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout, /^E: /m, r.stdout);
    if (r.stdout.trim()) t.diagnostic(`lintian warnings:\n${r.stdout.trim()}`);
  });

  describe('the single executable on this machine', { concurrency: false }, () => {
    const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
      const home = join(work.path, 'home');
      mkdirSync(home, { recursive: true });
      return { PATH: '/usr/bin:/bin', HOME: home, XDG_STATE_HOME: join(home, 'state'), XDG_CACHE_HOME: join(home, 'cache'), LANG: 'C.UTF-8', NO_COLOR: '1', ...extra };
    };
    const exe = (args: string[], extra: NodeJS.ProcessEnv = {}) => sh(standalone, args, { env: env(extra) });
    /** For commands that talk to servers in this process (a blocking spawnSync would stop them answering). */
    const exeAsync = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const c = spawn(standalone, args, { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('error', reject);
        c.on('close', (status) => resolve({ status, stdout, stderr }));
      });

    test('--version, --help and the completion scripts, with no Node on PATH', (t) => {
      if (skipUnlessReady(t)) return;
      const v = exe(['--version'], { PATH: '/nonexistent' });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout, `${VERSION}\n`);
      const h = exe(['--help']);
      assert.match(h.stdout, /^Usage: labops /);
      const c = exe(['completion', 'bash']);
      assert.equal(c.stdout, readFileSync(join(ROOT, 'completions', 'labops.bash'), 'utf8'));
    });

    test('the end-to-end CLI and dhcp-patch tests pass against it', { timeout: 300_000 }, (t) => {
      if (skipUnlessReady(t)) return;
      const files = ['test/e2e/cli.test.ts', 'test/e2e/dhcp-patch-hook.test.ts'].map((f) => join(ROOT, f));
      // a test runner of its own (NODE_TEST_CONTEXT would make it report to this one instead)
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      const r = timed('e2e against the executable', () => sh(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...files], { env: { ...env, LABOPS_TEST_EXE: standalone }, timeoutMs: 280_000 }));
      assert.equal(r.status, 0, r.stdout.slice(-6000) + r.stderr.slice(-2000));
      assert.match(r.stdout, /^# fail 0$/m);
      assert.match(r.stdout, /^# pass [1-9]\d*$/m);
    });

    test('the embedded SQLite addon is written once to the cache directory and loaded from there', (t) => {
      if (skipUnlessReady(t)) return;
      const m = exe(['db', 'migrate']);
      assert.equal(m.status, 0, m.stderr);
      const cached = join(env().XDG_CACHE_HOME!, 'labops', 'native');
      const [hash] = readdirSync(cached);
      assert.ok(existsSync(join(cached, hash!, 'better_sqlite3.node')));
      assert.ok(existsSync(join(env().XDG_STATE_HOME!, 'labops', 'labops.db')));
      const s = exe(['heartbeat', 'show', '--json']);
      assert.equal(s.status, 0, s.stderr);
      assert.deepEqual(JSON.parse(s.stdout), { hosts: [] });
      assert.deepEqual(readdirSync(cached), [hash], 'the same copy is used again');
      // nowhere to write it: one line that says what to do, exit 1
      const no = exe(['db', 'migrate', '--db', `sqlite:${join(work.path, 'x.db')}`], { XDG_CACHE_HOME: '/dev/null/cache' });
      assert.equal(no.status, 1);
      assert.equal(no.stderr.trim().split('\n').length, 1, no.stderr);
      assert.match(no.stderr, /^labops: cannot load the SQLite driver \(better-sqlite3\): cannot write the embedded better_sqlite3\.node to \/dev\/null\/cache\/labops\/native\/\w+: .*; set XDG_CACHE_HOME to a writable directory/);
    });

    test('the README play block: simulator, Wake-on-LAN, WinRM, heartbeats, CML labs', { timeout: 120_000 }, async (t) => {
      if (skipUnlessReady(t)) return;
      const lab = join(work.path, 'lab');
      const e = env({ XDG_STATE_HOME: join(work.path, 'play-state') });
      const sim = spawn(standalone, ['sim', '--hosts', '3', '--cml', '1', '--time-scale', '60', '--state-dir', lab, '--base-address', randomLoopbackBase()], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
      let simOut = '';
      sim.stdout.on('data', (d) => (simOut += d));
      sim.stderr.on('data', (d) => (simOut += d));
      try {
        await waitFor(() => existsSync(join(lab, 'config.json')), `the simulator (${simOut})`, 30_000, 100);
        const le = { ...e, LABOPS_CONFIG: join(lab, 'config.json') };
        for (const args of [['wol', '--all', '--interval', '1s'], ['exec', 'sim-ws-002', '--', 'status-json'], ['heartbeat', 'poll', '--all'], ['heartbeat', 'show'], ['labs', 'sync'], ['labs', 'list']]) {
          const r = await exeAsync(args, le);
          assert.equal(r.status, 0, `labops ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
          if (args[1] === 'show') assert.match(r.stdout, /sim-ws-003/);
        }
      } finally {
        sim.kill('SIGTERM');
      }
    });

    describe('against real MariaDB, Redis and the LINBO API', () => {
      let db: MariaDb | undefined;
      let redis: TestRedis | undefined;
      let api: LinboApi | undefined;
      let apiPort = 0;
      before(async () => {
        if (notHere) return;
        db = await startMariaDb();
        if (redisAvailable()) {
          redis = await startRedis();
          apiPort = await freePort();
          api = await startLinboApi({ redisUrl: redis.url, internalKey: 'pkg-key-7', port: apiPort });
        }
      });
      after(async () => {
        await api?.close();
        await redis?.stop();
        await db?.stop();
      });

      test('db migrate and db status on MySQL (the URL from the environment, never argv)', (t) => {
        if (skipUnlessReady(t)) return;
        if (!db) return t.skip('mariadbd not installed');
        const m = exe(['db', 'migrate'], { LABOPS_DB: db.url });
        assert.equal(m.status, 0, m.stderr);
        const s = exe(['db', 'status', '--json'], { LABOPS_DB: db.url });
        assert.equal(s.status, 0, s.stderr);
        assert.match(s.stdout, /lab_hosts/);
      });

      test('dc setup tests Redis and the API, then writes a hook that runs this executable', async (t) => {
        if (skipUnlessReady(t)) return;
        if (!redis) {
          if (process.env.CI) throw new Error('redis-server not installed');
          return t.skip('redis-server not installed');
        }
        const root = join(work.path, 'dc-host');
        const key = join(work.path, 'api.key');
        writeFileSync(key, 'pkg-key-7\n');
        const r = await exeAsync(['dc', 'setup', '--root', root, '--no-input', '--no-enable', '--linbo-ip', '127.0.0.1', '--redis-port', String(redis.port), '--api-port', String(apiPort), '--api-key-file', key]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /ok {3}redis: Redis 127\.0\.0\.1:\d+ answers/);
        assert.match(r.stderr, /ok {3}api: .*healthy, internal key accepted/);
        const hook = readFileSync(join(root, 'var/lib/linuxmuster/hooks/device-import.post.d/50-linbo-docker-dhcp'), 'utf8');
        assert.ok(hook.split('\n').includes(`exec ${standalone} dhcp-patch "$@"`), hook);
      });
    });
  });

  describe('in a fresh Debian root without Node', { concurrency: false }, () => {
    const root = join(work.path, 'root');
    const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
    /** A shell script in the root: its own mount, PID and network namespaces (no network), a clean environment. */
    const inRoot = (script: string, env: Record<string, string> = {}) => {
      const vars = Object.entries({ PATH, HOME: '/root', LANG: 'C.UTF-8', ...env }).map(([k, v]) => `${k}=${v}`);
      return sh('unshare', ['--mount', '--net', '--pid', '--fork', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount -t proc proc "$0/proc" && exec chroot "$0" /usr/bin/env -i "$@"', root, ...vars, '/bin/sh', '-c', script], { timeoutMs: 300_000 });
    };
    const ok = (script: string, env?: Record<string, string>) => {
      const r = inRoot(script, env);
      assert.equal(r.status, 0, `in the root: ${script}\n${r.stdout}${r.stderr}`);
      return r;
    };
    const AS_LABOPS = 'setpriv --reuid=labops --regid=labops --init-groups env LABOPS_CONFIG=/etc/labops/config.json XDG_STATE_HOME=/var/lib HOME=/var/lib/labops';

    before(() => {
      if (notHere) return;
      const cached = timed('debian root (cache)', () => debianRoot());
      timed('debian root (copy)', () => assert.equal(sh('cp', ['-a', '--reflink=auto', cached, root]).status, 0));
      copyFileSync(debFile, join(root, 'tmp', 'labops.deb'));
    });

    test('dpkg installs it: nothing enabled or started, the labops user, its directories, the config', (t) => {
      if (skipUnlessReady(t)) return;
      assert.notEqual(inRoot('command -v node || command -v nodejs').status, 0, 'the root has no Node');
      const before = ok('find / -xdev -name "*labops*" | sort').stdout;
      writeFileSync(join(work.path, 'before.txt'), before);
      const i = timed('install', () => ok('dpkg -i /tmp/labops.deb'));
      assert.doesNotMatch(i.stdout + i.stderr, /Created symlink|Starting|warning|error/i);
      const units = readdirSync(join(root, 'usr/lib/systemd/system')).filter((u) => u.startsWith('labops-'));
      assert.ok(units.length >= 11);
      // the timers and the daemon are disabled; the timers' one-shot services have no [Install] (static)
      const states = ok(`systemctl is-enabled ${units.join(' ')} || true`).stdout.trim().split('\n');
      assert.deepEqual(new Set(states), new Set(['disabled', 'static']));
      assert.equal(states[units.indexOf('labops-daemon.service')], 'disabled');
      // the inventory the packaged config names: empty until the operator fills it, never replaced once there
      assert.equal(ok('cat /etc/labops/hosts.json').stdout, '{ "hosts": [] }\n');
      assert.match(ok('getent passwd labops').stdout, /^labops:x:\d+:\d+:labops lab fleet tools:\/var\/lib\/labops:\/usr\/sbin\/nologin$/m);
      assert.equal(ok('stat -c "%U:%G %a" /var/lib/labops /var/log/labops /etc/labops/config.json /etc/labops/hosts.json').stdout, 'labops:labops 700\nlabops:adm 750\nroot:labops 640\nroot:labops 640\n');
      // the maintainer scripts again: same result, nothing new (idempotent)
      ok('dpkg -i /tmp/labops.deb && /var/lib/dpkg/info/labops.postinst configure ' + VERSION);
      assert.equal(ok('getent passwd labops | wc -l').stdout.trim(), '1');
      assert.equal(ok('stat -c "%U:%G %a" /var/lib/labops /var/log/labops /etc/labops/config.json /etc/labops/hosts.json').stdout, 'labops:labops 700\nlabops:adm 750\nroot:labops 640\nroot:labops 640\n');
    });

    test('labops --version, and db migrate + heartbeat show on the embedded store (as root, and as the units run it)', (t) => {
      if (skipUnlessReady(t)) return;
      assert.equal(ok('labops --version').stdout, `${VERSION}\n`);
      assert.equal(ok('readlink -f "$(command -v labops)"').stdout, '/usr/bin/labops\n');
      ok('labops db migrate');
      assert.equal(ok('labops heartbeat show --json').stdout, '{"hosts":[]}\n');
      assert.ok(existsSync(join(root, 'root/.local/state/labops/labops.db')));
      // as the units run it: the package's config, whose inventory the admin writes
      writeFileSync(join(root, 'etc/labops/hosts.json'), '{ "hosts": [] }\n');
      ok(`${AS_LABOPS} labops db migrate`);
      assert.equal(ok(`${AS_LABOPS} labops heartbeat show --json`).stdout, '{"hosts":[]}\n');
      assert.equal(ok('stat -c %U /var/lib/labops/labops.db').stdout, 'labops\n');
    });

    test('dhcp-patch through the hook wrapper that dc setup writes, with cron\'s PATH and with none: the reference result, byte for byte', (t) => {
      if (skipUnlessReady(t)) return;
      const school = join(root, 'etc/linuxmuster/sophomorix/default-school');
      mkdirSync(school, { recursive: true });
      mkdirSync(join(root, 'etc/dhcp/devices'), { recursive: true });
      copyFileSync(fixturePath('linbo-docker.devices.csv.sample'), join(school, 'linbo-docker.devices.csv'));
      copyFileSync(fixturePath('dhcp-devices.default-school.conf.sample'), join(root, 'etc/dhcp/devices/default-school.conf'));
      writeFileSync(join(root, 'etc/linbo-docker-dhcp.conf'), readFileSync(fixturePath('linbo-docker-dhcp.conf.example')));
      // as linuxmuster has them (no dhcpd in here, so `dhcpd -t` is skipped)
      writeFileSync(join(root, 'etc/dhcp/dhcpd.conf'), 'include "/etc/dhcp/devices.conf";\n');
      writeFileSync(join(root, 'etc/dhcp/devices.conf'), 'include "/etc/dhcp/devices/default-school.conf";\n');
      writeFileSync(join(root, 'root/linbo.key'), 'some-key\n');
      // no Redis or API in here (no network): --force writes all the same
      const setup = inRoot('labops dc setup --no-input --no-enable --force --linbo-ip 10.0.0.13 --api-key-file /root/linbo.key');
      assert.equal(setup.status, 0, setup.stderr);
      const hook = '/var/lib/linuxmuster/hooks/device-import.post.d/50-linbo-docker-dhcp';
      assert.ok(readFileSync(join(root, hook), 'utf8').split('\n').includes('exec /usr/bin/labops dhcp-patch "$@"'));
      assert.match(readFileSync(join(root, 'etc/systemd/system/labops-dc-jobs.service'), 'utf8'), /^ExecStart=\/usr\/bin\/labops dc jobs$/m);
      // import-devices runs hooks as `<hook> -s <school>`; cron gives it PATH=/usr/bin:/bin
      const first = inRoot(`env -i PATH=/usr/bin:/bin ${hook} -s default-school`);
      assert.equal(first.status, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /Done: 2 patched, 0 skipped, 0 errors/);
      const reference = existsSync('/work/shared/reference/linbo/dhcp-devices.default-school.patched.conf.sample')
        ? '/work/shared/reference/linbo/dhcp-devices.default-school.patched.conf.sample'
        : fixturePath('dhcp-devices.default-school.patched.conf.sample');
      assert.ok(readFileSync(join(root, 'etc/dhcp/devices/default-school.conf')).equals(readFileSync(reference)), 'byte-identical to the reference');
      // the packaged example wrapper, with no PATH at all: labops is named by its path
      const again = inRoot('env -i /bin/sh /usr/share/doc/labops/examples/50-linbo-docker-dhcp -s default-school');
      assert.equal(again.status, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /Done: 0 patched, 2 skipped, 0 errors/);
      assert.ok(readFileSync(join(root, 'etc/dhcp/devices/default-school.conf')).equals(readFileSync(reference)));
    });

    test('systemd-analyze verify accepts every installed unit and the one dc setup wrote (man pages found)', (t) => {
      if (skipUnlessReady(t)) return;
      const r = timed('systemd-analyze verify', () => inRoot('systemd-analyze verify /usr/lib/systemd/system/labops-* /etc/systemd/system/labops-dc-jobs.service'));
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.stderr.trim(), '');
    });

    test('logrotate rotates the cron examples\' logs as labops', (t) => {
      if (skipUnlessReady(t)) return;
      ok(`${AS_LABOPS} sh -c 'echo line >> /var/log/labops/heartbeat.log'`);
      ok('logrotate --force --state /tmp/logrotate.state /etc/logrotate.d/labops');
      assert.equal(ok('stat -c "%U:%G %a %s" /var/log/labops/heartbeat.log /var/log/labops/heartbeat.log.1').stdout, 'labops:adm 640 0\nlabops:labops 644 5\n');
    });

    test('a missing SQLite addon, with the default store and with --db: one line naming the fix, exit 1', (t) => {
      if (skipUnlessReady(t)) return;
      ok('mv /usr/lib/labops/better_sqlite3.node /tmp/');
      try {
        ok('touch /tmp/other.db');
        for (const cmd of ['labops db migrate', 'labops heartbeat show --db sqlite:/tmp/other.db', 'labops db status --db sqlite:/var/lib/labops/labops.db']) {
          const r = inRoot(cmd);
          assert.equal(r.status, 1, `${cmd}: ${r.stderr}`);
          assert.equal(r.stdout, '');
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
          assert.match(r.stderr, /^labops: cannot load the SQLite driver \(better-sqlite3\): \/usr\/lib\/labops\/better_sqlite3\.node is missing .*; reinstall the labops package \(apt-get install --reinstall labops\)/);
          assert.ok(noStackTrace(r.stderr));
        }
        // what needs no SQLite still works
        assert.equal(inRoot('labops --version').status, 0);
      } finally {
        ok('mv /tmp/better_sqlite3.node /usr/lib/labops/');
      }
    });

    test('a package of another architecture: dpkg refuses it in one line, nothing installed', (t) => {
      if (skipUnlessReady(t)) return;
      const tree = join(work.path, 'arm64');
      sh('dpkg-deb', ['-R', debFile, tree]);
      const control = join(tree, 'DEBIAN', 'control');
      writeFileSync(control, readFileSync(control, 'utf8').replace(/^Architecture: amd64$/m, 'Architecture: arm64'));
      assert.equal(sh('dpkg-deb', ['--root-owner-group', '-Znone', '--build', tree, join(root, 'tmp', 'labops-arm64.deb')]).status, 0);
      const r = inRoot('dpkg -i /tmp/labops-arm64.deb');
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /package architecture \(arm64\) does not match system \(amd64\)/);
      assert.ok(noStackTrace(r.stderr));
      assert.equal(ok('dpkg-query -W -f=\'${Version} ${Architecture}\' labops').stdout, `${VERSION} amd64`);
    });

    test('remove keeps the configuration; purge removes it, the state and the logs', (t) => {
      if (skipUnlessReady(t)) return;
      // what dc setup installed is its own to remove (configs and logs kept)
      ok('labops dc setup --uninstall --no-enable');
      assert.ok(!existsSync(join(root, 'etc/systemd/system/labops-dc-jobs.service')));
      ok('dpkg -r labops');
      assert.equal(ok('dpkg-query -W -f=\'${db:Status-Status}\' labops').stdout, 'config-files');
      assert.ok(!existsSync(join(root, 'usr/bin/labops')) && !existsSync(join(root, 'usr/lib/labops')));
      assert.ok(existsSync(join(root, 'etc/labops/config.json')) && existsSync(join(root, 'etc/logrotate.d/labops')));
      assert.ok(existsSync(join(root, 'var/lib/labops/labops.db')), 'state kept on remove');
      ok('dpkg -P labops');
      assert.equal(ok('dpkg-query -W -f=\'${db:Status-Status}\' labops 2>/dev/null || echo gone').stdout.trim(), 'gone');
      // everything named labops is gone but what the test itself made (root's own store), man-db's cache of the
      // pages systemd-analyze looked at, the admin's inventory (not the package's to delete), and the user, which
      // Debian keeps
      const left = ok('find / -xdev -name "*labops*" | sort').stdout.split('\n').filter(Boolean);
      const before = readFileSync(join(work.path, 'before.txt'), 'utf8').split('\n').filter(Boolean);
      const made = (p: string) => p.startsWith('/root/.local/state/labops') || p.startsWith('/tmp/') || p.startsWith('/var/cache/man/');
      assert.deepEqual(readdirSync(join(root, 'etc/labops')), ['hosts.json']);
      assert.ok(!existsSync(join(root, 'etc/logrotate.d/labops')) && !existsSync(join(root, 'var/lib/labops')) && !existsSync(join(root, 'var/log/labops')));
      assert.deepEqual(left.filter((p) => !before.includes(p) && !made(p)), ['/etc/labops']);
      assert.match(ok('getent passwd labops').stdout, /^labops:/);
      // purging twice is fine
      ok('dpkg -P labops');
    });
  });
});

/**
 * The cached minimal Debian root: the suite this machine runs, debootstrap --variant=minbase plus what the package
 * depends on and recommends (systemd, procps, logrotate) and man-db (systemd-analyze verify checks Documentation=man:).
 * Keyed by that content; built once, atomically (a half-built root is never used), from the mirror apt uses here.
 */
function debianRoot(): string {
  const suite = /^VERSION_CODENAME=(\w+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  assert.ok(suite, '/etc/os-release names no VERSION_CODENAME');
  const include = ['systemd', 'procps', 'logrotate', 'man-db'];
  const key = createHash('sha256').update(JSON.stringify({ suite, variant: 'minbase', include, arch: 'amd64', layout: 1 })).digest('hex').slice(0, 12);
  const cacheDir = process.env.LABOPS_TEST_CACHE ?? '/var/cache/labops-tests';
  const cached = join(cacheDir, `debian-${suite}-minbase-${key}`);
  if (existsSync(join(cached, 'etc', 'os-release'))) return cached;
  const mirror = process.env.LABOPS_DEBIAN_MIRROR ?? aptMirror(suite);
  const next = `${cached}.new.${process.pid}`;
  mkdirSync(cacheDir, { recursive: true });
  rmSync(next, { recursive: true, force: true });
  const r = sh('debootstrap', ['--variant=minbase', `--include=${include.join(',')}`, suite, next, mirror], { timeoutMs: 900_000 });
  if (r.status !== 0) {
    rmSync(next, { recursive: true, force: true });
    assert.fail(`debootstrap ${suite} from ${mirror} failed:\n${(r.stdout + r.stderr).split('\n').slice(-15).join('\n')}`);
  }
  // the downloaded .debs are not needed again
  for (const f of readdirSync(join(next, 'var/cache/apt/archives')).filter((f) => f.endsWith('.deb'))) rmSync(join(next, 'var/cache/apt/archives', f));
  try {
    renameSync(next, cached);
  } catch {
    rmSync(next, { recursive: true, force: true }); // another run finished first
  }
  return cached;
}

/** The Debian archive apt is configured with here (deb822 .sources or one-line .list) for `suite`. */
function aptMirror(suite: string): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`) : [])];
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const block of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(block)?.[1]?.trim().split(/\s+/) ?? [];
        if (field('Types').includes('deb') && field('Suites').includes(suite) && field('Components').includes('main')) return field('URIs')[0]!;
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line.trim());
        if (m && m[2] === suite && m[3]!.split(/\s+/).includes('main')) return m[1]!;
      }
    }
  }
  assert.fail(`no apt source for ${suite} main in /etc/apt/sources.list*: set LABOPS_DEBIAN_MIRROR`);
}
