import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseKv } from '../../src/core/config/kv-file.js';
import { loadDhcpHookConfig, resolveDhcpHookConfig } from '../../src/core/config/linbo-docker-dhcp-conf.js';
import { loadMacctWorkerConfig } from '../../src/core/config/macct-worker-conf.js';
import { acquireLock, bootId, processStartTicks } from '../../src/core/fs/lock.js';
import { backupFile, writeFileAtomic, writeFileAtomicInBackground } from '../../src/core/fs/atomic-write.js';
import { OperationFailed, TempFail } from '../../src/domain/errors.js';
import { fixturePath } from '../support/dc-tree.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-cfg-');
after(() => dir.cleanup());

describe('/etc/linbo-docker-dhcp.conf', () => {
  test('the shipped example resolves like the hook', () => {
    const c = loadDhcpHookConfig(fixturePath('linbo-docker-dhcp.conf.example'), {});
    assert.equal(c.linboDockerIp, '10.0.0.13');
    assert.equal(c.school, 'default-school');
    assert.equal(c.deltaCsv, '/etc/linuxmuster/sophomorix/default-school/linbo-docker.devices.csv');
    assert.equal(c.devicesDhcp, '/etc/dhcp/devices/default-school.conf');
    assert.equal(c.logFile, '/var/log/linuxmuster/linbo-docker-dhcp.log');
    assert.equal(c.dhcpdConf, '/etc/dhcp/dhcpd.conf');
  });

  test('-s wins over SCHOOL= in the file (the hook let the file win), flags win over keys', () => {
    const c = loadDhcpHookConfig(fixturePath('linbo-docker-dhcp.conf.example'), { school: 'schoolb', nextServer: '10.9.9.9' });
    assert.equal(c.school, 'schoolb');
    assert.equal(c.devicesDhcp, '/etc/dhcp/devices/schoolb.conf');
    assert.equal(c.linboDockerIp, '10.9.9.9');
  });

  test('shell-style values: quotes, export, trailing comments', () => {
    const v = Object.fromEntries(parseKv('export LINBO_DOCKER_IP="10.0.0.5"\nSCHOOL=a # comment\nLOGFILE=\'/x y\'\n', { shellComments: true }).map((e) => [e.key, e.value]));
    assert.deepEqual(v, { LINBO_DOCKER_IP: '10.0.0.5', SCHOOL: 'a', LOGFILE: '/x y' });
    assert.equal(resolveDhcpHookConfig(v, {}).school, 'a');
  });

  test('a missing file resolves to defaults and no file', () => {
    const c = loadDhcpHookConfig(join(dir.path, 'none.conf'), {});
    assert.equal(c.file, undefined);
    assert.equal(c.linboDockerIp, undefined);
  });
});

describe('/etc/macct-worker.conf', () => {
  test('the shipped example: keys case-insensitive, {school} filled, defaults and secrets', () => {
    const c = loadMacctWorkerConfig(fixturePath('macct-worker.conf.example'), {});
    assert.equal(c.devicesCsvMaster, '/etc/linuxmuster/sophomorix/default-school/devices.csv');
    assert.equal(c.devicesCsvDelta, '/etc/linuxmuster/sophomorix/default-school/linbo-docker.devices.csv');
    assert.equal(c.importScript, '/usr/sbin/linuxmuster-import-devices');
    assert.equal(c.lockFile, '/var/lock/linbo-provision.lock');
    assert.equal(c.dhcpVerifyFile, '/etc/dhcp/devices/default-school.conf');
    assert.equal(c.values.samba_tool_auth, '-U administrator%secret');
  });

  test('quirks fixed: SCHOOL after the paths, REDIS_DB from the file, REPAIR_SCRIPT from env, non-default master name', () => {
    const p = join(dir.path, 'macct.conf');
    writeFileSync(p, 'DEVICES_CSV_MASTER=/etc/linuxmuster/sophomorix/{school}/devices.csv\nredis_db=3\nSchool="schoolb"\n');
    const c = loadMacctWorkerConfig(p, { REPAIR_SCRIPT: '/opt/repair.py', LINBO_DOMAIN: 'env.lan' });
    assert.equal(c.school, 'schoolb');
    assert.equal(c.devicesCsvMaster, '/etc/linuxmuster/sophomorix/schoolb/schoolb.devices.csv');
    assert.equal(c.devicesCsvDelta, '/etc/linuxmuster/sophomorix/schoolb/linbo-docker.devices.csv');
    assert.equal(c.values.redis_db, '3');
    assert.equal(c.values.repair_script, '/opt/repair.py');
    assert.equal(c.linboDomain, 'env.lan');
    assert.equal(c.sources.linbo_domain, 'env');
    const flagged = loadMacctWorkerConfig(p, {}, { school: 'default-school' });
    assert.equal(flagged.devicesCsvMaster, '/etc/linuxmuster/sophomorix/default-school/devices.csv');
  });
});

describe('lock files', () => {
  test('a second acquire while held is TempFail (exit 75); release frees it', async () => {
    const p = join(dir.path, 'a.lock');
    const l = await acquireLock(p, { command: 'test' });
    const info = JSON.parse(readFileSync(p, 'utf8'));
    assert.equal(info.pid, process.pid);
    assert.equal(info.hostname, hostname());
    assert.equal(info.startTicks, processStartTicks(process.pid));
    await assert.rejects(acquireLock(p), (e: unknown) => e instanceof TempFail && /is held by pid \d+ on /.test((e as Error).message));
    l.release();
    assert.ok(!existsSync(p));
    (await acquireLock(p)).release();
  });

  test('waits with the injected sleeper until the deadline', async () => {
    const p = join(dir.path, 'w.lock');
    const l = await acquireLock(p);
    let now = 0;
    const sleeps: number[] = [];
    await assert.rejects(acquireLock(p, { waitMs: 3000, pollMs: 1000, now: () => now, sleep: async (ms) => void (sleeps.push(ms), (now += ms)) }), TempFail);
    assert.deepEqual(sleeps, [1000, 1000, 1000]);
    l.release();
  });

  test('stale locks are broken: dead pid, reused pid (other start time), other boot', async () => {
    const p = join(dir.path, 's.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const cases = [
      { pid: Number(dead.stdout), hostname: hostname(), bootId: bootId(), createdAt: 'x' },
      { pid: process.pid, hostname: hostname(), bootId: bootId(), startTicks: (processStartTicks(process.pid) ?? 0) + 1, createdAt: 'x' },
      { pid: process.pid, hostname: hostname(), bootId: 'another-boot', createdAt: 'x' },
    ];
    for (const c of cases) {
      writeFileSync(p, JSON.stringify(c));
      const l = await acquireLock(p);
      assert.ok(l.brokeStale, JSON.stringify(c));
      l.release();
    }
  });

  test('a lock whose holder died stays held while the import it started (own process group) runs; the message names the import', async () => {
    const p = join(dir.path, 'g.lock');
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const importer = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    try {
      // the lock as the provision run writes it: its own pid, then holdWhileRunning with the import's pid
      writeFileSync(p, JSON.stringify({ pid: holder.pid, hostname: hostname(), bootId: bootId(), startTicks: processStartTicks(holder.pid!), createdAt: 'x', command: 'labops dc jobs consumer dc-01' }));
      const mine = await acquireLock(join(dir.path, 'h.lock'), { command: 'labops provision hosts create pc1' });
      mine.holdWhileRunning(importer.pid!, '/usr/sbin/linuxmuster-import-devices');
      const recorded = JSON.parse(readFileSync(join(dir.path, 'h.lock'), 'utf8'));
      assert.equal(recorded.child.pid, importer.pid);
      mine.release();
      writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), child: { pid: importer.pid, startTicks: processStartTicks(importer.pid!), command: '/usr/sbin/linuxmuster-import-devices' } }));
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      await assert.rejects(acquireLock(p), (e: unknown) => e instanceof TempFail && /linuxmuster-import-devices \(process group \d+\).*labops dc jobs consumer dc-01/.test((e as Error).message));
      process.kill(-importer.pid!, 'SIGKILL');
      await new Promise((r) => importer.once('exit', r));
      const l = await acquireLock(p);
      assert.match(l.brokeStale ?? '', /labops dc jobs consumer dc-01.*no longer running.*linuxmuster-import-devices .* has ended too/);
      l.release();
    } finally {
      holder.kill('SIGKILL');
      importer.kill('SIGKILL');
    }
  });

  test("the Python worker's empty flock file: stale when nobody holds it, held while flock(1) holds it", async (ctx) => {
    const p = join(dir.path, 'linbo-provision.lock');
    writeFileSync(p, '');
    const l = await acquireLock(p);
    assert.match(l.brokeStale ?? '', /foreign format/);
    l.release();
    if (!existsSync('/usr/bin/flock')) return ctx.skip('flock(1) not installed');
    writeFileSync(p, '');
    const holder = spawn('/usr/bin/flock', ['-x', p, 'sleep', '30'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !readFileSync('/proc/locks', 'utf8').includes('FLOCK'); i++) await new Promise((r) => setTimeout(r, 20));
      await assert.rejects(acquireLock(p), (e: unknown) => e instanceof TempFail && /flock/.test((e as Error).message));
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('atomic write and backup', () => {
  test('keeps the mode of the existing file, leaves no temp file; one backup generation', () => {
    const p = join(dir.path, 'devices.csv');
    writeFileSync(p, 'old\n', { mode: 0o600 });
    assert.equal(backupFile(p), `${p}.bak`);
    writeFileAtomic(p, 'new\n');
    assert.equal(readFileSync(p, 'utf8'), 'new\n');
    assert.equal(readFileSync(`${p}.bak`, 'utf8'), 'old\n');
    backupFile(p);
    assert.equal(readFileSync(`${p}.bak`, 'utf8'), 'new\n');
    const out = spawnSync('stat', ['-c', '%a', p], { encoding: 'utf8' }).stdout.trim();
    assert.equal(out, '600');
    assert.deepEqual(spawnSync('ls', ['-A', dir.path], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.includes('tmp')), []);
  });

  test('in the background: the target changes only when the promise resolves, with its mode; the temp file is in tempDir', async () => {
    const sub = join(dir.path, 'bg');
    const devices = join(sub, 'devices');
    mkdirSync(devices, { recursive: true });
    const p = join(devices, 'school.conf');
    writeFileSync(p, 'old\n', { mode: 0o640 });
    const writing = writeFileAtomicInBackground(p, 'new\n', { tempDir: sub });
    // the data is in a temp file beside devices/ already; the target is still the old file
    assert.equal(readFileSync(p, 'utf8'), 'old\n');
    assert.equal(readdirSync(sub).filter((n) => /^\.school\.conf\.labops-tmp-\d+-[0-9a-f]{8}$/.test(n)).length, 1);
    assert.deepEqual(readdirSync(devices), ['school.conf']);
    await writing;
    assert.equal(readFileSync(p, 'utf8'), 'new\n');
    assert.equal(statSync(p).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(sub).sort(), ['devices']);
  });

  test('in the background: a failure rejects with OperationFailed (never throws), the target untouched, no temp file', async () => {
    const p = join(dir.path, 'missing-dir', 'x.conf');
    let rejected: unknown;
    const writing = writeFileAtomicInBackground(p, 'data').catch((e: unknown) => (rejected = e));
    await writing;
    assert.ok(rejected instanceof OperationFailed, String(rejected));
    assert.match((rejected as Error).message, /cannot write .*x\.conf: no such file or directory \(file unchanged\)/);
    assert.equal(existsSync(p), false);
    assert.deepEqual(readdirSync(dir.path).filter((n) => n.includes('labops-tmp')), []);
  });
});
