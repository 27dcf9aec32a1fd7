// labops dhcp-patch end to end (in-process CLI) on real files, validated with the real ISC dhcpd -t.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cli, dcTree, fixture, fixturePath, type DcTree } from '../support/dc-tree.js';
import { requireBinary, requireRoot } from '../support/services.js';

const SAMPLE = fixture('dhcp-devices.default-school.conf.sample');
const PATCHED = fixture('dhcp-devices.default-school.patched.conf.sample');
const WITH_WRONG_PC01 = SAMPLE.replace('  hardware ethernet AA:BB:CC:DD:EE:FF;\n', '  hardware ethernet AA:BB:CC:DD:EE:FF;\n  next-server 10.0.0.1;\n');
const stripTs = (s: string) => s.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /gm, '');
const trees: DcTree[] = [];
const tree = (o: Parameters<typeof dcTree>[0] = {}) => {
  const t = dcTree(o);
  trees.push(t);
  return t;
};
after(() => trees.forEach((t) => t.cleanup()));

/** Everything in the tree with its bytes, to prove a failed run changed nothing. */
function snapshot(t: DcTree): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, readFileSync(p).toString('base64'));
    }
  };
  walk(t.root);
  return out;
}

const patch = (t: DcTree, ...args: string[]) => cli(['dhcp-patch', '--conf', t.conf, ...args]);

describe('dhcp-patch: compatible with the hook', () => {
  test('sample + sample delta: byte-identical output, the log lines of the real hook run, idempotent second run', async () => {
    const t = tree({ dhcp: WITH_WRONG_PC01, included: false });
    const first = await patch(t, '-s', 'default-school');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), PATCHED);
    const expectedLog = stripTs(fixture('linbo-docker-dhcp.log.sample'))
      .split('\n')
      .slice(0, 5)
      .join('\n')
      .replace('/etc/linuxmuster/sophomorix/default-school/linbo-docker.devices.csv', t.delta);
    assert.equal(stripTs(readFileSync(t.log, 'utf8')), `${expectedLog}\n`);
    assert.equal(stripTs(first.stdout), `${expectedLog}\n`, 'the hook tees its log to stdout');
    assert.match(readFileSync(t.log, 'utf8'), /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[linbo-docker-dhcp\] INFO: Found 2/);

    const before = statSync(t.devicesFile);
    const second = await patch(t);
    assert.equal(second.code, 0);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), PATCHED);
    assert.equal(statSync(t.devicesFile).ino, before.ino, 'a second run does not rewrite the file');
    assert.deepEqual(stripTs(second.stdout).split('\n').filter(Boolean), [
      `[linbo-docker-dhcp] INFO: Found 2 Docker-managed PXE host(s) in ${t.delta}`,
      '[linbo-docker-dhcp] [SKIP] sgm-pc02 already has correct next-server',
      '[linbo-docker-dhcp] [SKIP] pc01 already has correct next-server',
      `[linbo-docker-dhcp] INFO: nothing to change, ${t.devicesFile} left as it is`,
      '[linbo-docker-dhcp] Done: 0 patched, 2 skipped, 0 errors (2 total)',
    ]);
  });

  test('included in dhcpd.conf: real dhcpd -t passes and is logged', async (ctx) => {
    if (!requireBinary(ctx, 'dhcpd', ['/usr/sbin/dhcpd'])) return;
    const t = tree();
    const r = await patch(t, '--json');
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.status, 'patched');
    assert.equal(res.validation, 'passed');
    assert.equal(res.patched, 2);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), PATCHED);
    assert.match(readFileSync(t.log, 'utf8'), /INFO: dhcpd -t syntax check passed/);
    assert.match(readFileSync(t.log, 'utf8'), /Internet Systems Consortium DHCP Server/, 'raw dhcpd output is appended like the hook does');
  });

  test('a missing config file means nothing to do: exit 0, nothing written', async () => {
    const t = tree({ noConf: true });
    const snap = snapshot(t);
    const r = await patch(t);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.deepEqual(snapshot(t), snap);
  });

  test('missing delta or DHCP file: INFO line, exit 0', async () => {
    const t = tree();
    writeFileSync(t.conf, readFileSync(t.conf, 'utf8').replace(/DELTA_CSV=.*/, `DELTA_CSV=${t.root}/nope.csv`));
    const r = await patch(t);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /INFO: Delta CSV not found \(.*nope\.csv\), nothing to do/);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), SAMPLE);
  });

  test('no PXE hosts in the delta: nothing to do', async () => {
    const t = tree({ delta: '# managed-by: linbo-docker — DO NOT EDIT MANUALLY\ntestlab;linbo-fix05;nopxe;AA:BB:CC:DD:EE:B5;10.0.0.237;;;;;;0;;;;\n' });
    const r = await patch(t);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /INFO: No PXE-enabled hosts in delta CSV, nothing to do/);
  });
});

describe('dhcp-patch: better than the hook', () => {
  test('exact IP comparison: next-server 10.0.0.13 is replaced when the target is 10.0.0.1', async () => {
    const t = tree({ dhcp: PATCHED, ip: '10.0.0.1', included: false });
    const r = await patch(t);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[PATCH\] Replaced next-server for sgm-pc02: 10\.0\.0\.1$/m);
    const out = readFileSync(t.devicesFile, 'utf8');
    assert.equal(out, PATCHED.replaceAll('next-server 10.0.0.13;', 'next-server 10.0.0.1;'));
  });

  test('single-line host block is patched correctly and dhcpd -t accepts it', async (ctx) => {
    if (!requireBinary(ctx, 'dhcpd', ['/usr/sbin/dhcpd'])) return;
    const dhcp = `${SAMPLE}host pc01-single { hardware ethernet AA:BB:CC:DD:EE:01; fixed-address 10.0.0.101; }\n`;
    const delta = `${fixture('linbo-docker.devices.csv.sample')}lab01;pc01-single;win11;AA:BB:CC:DD:EE:01;10.0.0.101;;;;;;1;;;;\n`;
    const t = tree({ dhcp, delta });
    const r = await patch(t, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).validation, 'passed');
    assert.match(readFileSync(t.devicesFile, 'utf8'), /^host pc01-single \{ hardware ethernet AA:BB:CC:DD:EE:01; next-server 10\.0\.0\.13; fixed-address 10\.0\.0\.101; \}$/m);
  });

  test('unterminated host block: exit 2 and the file untouched (the hook dropped it)', async () => {
    const t = tree({ dhcp: `${SAMPLE}host pc09 {\n  hardware ethernet AA:BB:CC:DD:EE:09;\n` });
    const snap = snapshot(t);
    const r = await patch(t);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 52: block opened here is never closed .*nothing changed/);
    const after = snapshot(t);
    after.delete(t.log);
    snap.delete(t.log);
    assert.deepEqual(after, snap);
    assert.match(readFileSync(t.log, 'utf8'), /ERROR: .*never closed/);
  });

  test('a host block without a hardware line is reported, not counted as patched', async () => {
    const dhcp = SAMPLE.replace('  hardware ethernet BC:24:11:63:8E:40;\n', '');
    const t = tree({ dhcp, included: false });
    const r = await patch(t, '--json');
    assert.equal(r.code, 0);
    const res = JSON.parse(r.stdout);
    assert.equal(res.patched, 1);
    assert.equal(res.errors, 1);
    assert.deepEqual(res.hosts.map((h: { host: string; action: string }) => [h.host, h.action]), [['sgm-pc02', 'no-hardware'], ['pc01', 'insert']]);
    const log = readFileSync(t.log, 'utf8');
    assert.match(log, /WARN: sgm-pc02 has no 'hardware ethernet' line, next-server not added/);
    assert.match(log, /Done: 1 patched, 0 skipped, 1 errors \(1 total\)/);
  });

  test('.bak and .tmp files never remain in the devices directory (success, failure, stale temp of a dead run)', async (ctx) => {
    if (!requireBinary(ctx, 'dhcpd', ['/usr/sbin/dhcpd'])) return;
    const t = tree();
    // a temp file left by a killed run (pid 999999 does not exist)
    const stale = join(t.devicesDir, '.default-school.conf.labops-tmp-999999-abcd');
    writeFileSync(stale, 'partial');
    assert.equal((await patch(t)).code, 0);
    assert.deepEqual(readdirSync(t.devicesDir), ['default-school.conf']);
    assert.ok(!existsSync(stale));
    const broken = tree({ dhcp: `${SAMPLE}foo-unknown-statement bar;\n` });
    assert.equal((await patch(broken)).code, 1);
    assert.deepEqual(readdirSync(broken.devicesDir), ['default-school.conf']);
    assert.deepEqual(readdirSync(join(broken.root, 'etc', 'dhcp')).sort(), ['devices', 'devices.conf', 'dhcpd.conf']);
  });

  test('multi-school: -s wins over SCHOOL= in the file, and <school>-<host> names match', async () => {
    const school = 'schoolb';
    const dhcp = SAMPLE.replace(/host (\S+) \{\n {2}option host-name "\1";/g, `host ${school}-$1 {\n  option host-name "${school}-$1";`);
    const t = tree({ school, dhcp, included: false });
    writeFileSync(t.conf, readFileSync(t.conf, 'utf8').replace('SCHOOL=schoolb', 'SCHOOL=default-school'));
    const r = await patch(t, '-s', school);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Inserted next-server for schoolb-sgm-pc02: 10\.0\.0\.13/);
    assert.match(r.stdout, /Inserted next-server for schoolb-pc01: 10\.0\.0\.13/);
    assert.equal(readFileSync(t.devicesFile, 'utf8').split('next-server').length - 1, 2);
  });
});

describe('dhcp-patch: validation, dry run, bad input', () => {
  test('dhcpd -t fails: original restored byte for byte, exit 1', async (ctx) => {
    if (!requireBinary(ctx, 'dhcpd', ['/usr/sbin/dhcpd'])) return;
    const original = `${SAMPLE}foo-unknown-statement bar;\n`;
    const t = tree({ dhcp: original });
    const r = await patch(t);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /dhcpd -t failed \(exit 1\).*restored/);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), original);
    assert.match(readFileSync(t.log, 'utf8'), /ERROR: dhcpd -t failed \(exit 1\) — rolling back to backup/);
    // The log file gets dhcpd's own output too; the tee on stdout gets the hook's lines only, also on failure.
    assert.match(readFileSync(t.log, 'utf8'), /Internet Systems Consortium DHCP Server/);
    assert.deepEqual(
      stripTs(r.stdout).split('\n').filter(Boolean),
      stripTs(readFileSync(t.log, 'utf8'))
        .split('\n')
        .filter((l) => l.startsWith('[linbo-docker-dhcp] ')),
    );
    assert.match(r.stdout, /\[PATCH\] Inserted next-server for pc01: 10\.0\.0\.13\n.*ERROR: dhcpd -t failed/s);
    assert.doesNotMatch(r.stdout, /Internet Systems Consortium/);
  });

  test('--dry-run prints the plan and changes nothing (not even the log)', async () => {
    const t = tree({ dhcp: WITH_WRONG_PC01 });
    const snap = snapshot(t);
    const r = await patch(t, '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'sgm-pc02\tinsert\t12\t\npc01\treplace\t45\twas 10.0.0.1\n');
    assert.match(r.stderr, /dry run: 1 insert, 1 replace, 0 keep/);
    assert.deepEqual(snapshot(t), snap);
    assert.ok(!existsSync(t.log));
  });

  test('broken braces in the DHCP file: exit 2, nothing changed', async () => {
    const t = tree({ dhcp: SAMPLE.replace('host amo-pc02 {\n', 'host amo-pc02 {\n}\n') });
    const before = readFileSync(t.devicesFile);
    const r = await patch(t);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line \d+: /);
    assert.deepEqual(readFileSync(t.devicesFile), before);
  });

  test('a delta CSV with a short row: exit 2, nothing changed', async () => {
    const t = tree({ delta: `${fixture('linbo-docker.devices.csv.sample')}lab01;pc07;win11\n` });
    const r = await patch(t);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /short row\(s\), at least 11 fields needed: line 5 \(3 fields\); nothing changed/);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), SAMPLE);
  });

  test('non-UTF-8 DHCP file or delta: exit 2, nothing changed', async () => {
    const bad = Buffer.concat([Buffer.from(SAMPLE), Buffer.from([0x23, 0x20, 0xff, 0xfe, 0x0a])]);
    const t = tree();
    t.write(t.devicesFile, bad);
    const r = await patch(t);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 52: not valid UTF-8; nothing changed/);
    assert.deepEqual(readFileSync(t.devicesFile), bad);
    const t2 = tree();
    t2.write(t2.delta, Buffer.from([0x61, 0x3b, 0xc3, 0x28, 0x0a]));
    const r2 = await patch(t2);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /linbo-docker\.devices\.csv: line 1: not valid UTF-8/);
    assert.equal(readFileSync(t2.devicesFile, 'utf8'), SAMPLE);
  });

  test('a missing dhcpd.conf: exit 2, nothing changed', async () => {
    const t = tree();
    writeFileSync(t.conf, readFileSync(t.conf, 'utf8').replace(/DHCPD_CONF=.*/, `DHCPD_CONF=${t.root}/missing/dhcpd.conf`));
    const r = await patch(t);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /dhcpd\.conf not found: .*missing\/dhcpd\.conf; nothing changed/);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), SAMPLE);
  });

  test('LINBO_DOCKER_IP missing or not an address: exit 2', async () => {
    const t = tree();
    writeFileSync(t.conf, readFileSync(t.conf, 'utf8').replace(/LINBO_DOCKER_IP=.*\n/, ''));
    const r = await patch(t);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LINBO_DOCKER_IP not set in /);
    writeFileSync(t.conf, `LINBO_DOCKER_IP=10.0.0.300\n${readFileSync(t.conf, 'utf8')}`);
    assert.equal((await patch(t)).code, 2);
    assert.equal((await patch(t, '--next-server', 'nope')).code, 2);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), SAMPLE);
  });

  test('a read-only directory: clear message, exit 1, file unchanged', async (ctx) => {
    if (!requireRoot(ctx, 'a read-only bind mount (unshare -m)')) return;
    const unshare = requireBinary(ctx, 'unshare', ['/usr/bin/unshare']);
    if (!unshare) return;
    const t = tree({ included: false });
    const dhcpDir = join(t.root, 'etc', 'dhcp');
    // A private mount namespace: the read-only bind mount exists only for the child.
    const script = `mount --bind "${dhcpDir}" "${dhcpDir}" && mount -o remount,bind,ro "${dhcpDir}" && exec "${process.execPath}" --import tsx "${fixturePath('labops-src.ts')}" dhcp-patch --conf "${t.conf}"`;
    const r = spawnSync(unshare, ['-m', 'sh', '-c', script], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    if (/Operation not permitted|cannot/.test(r.stderr) && r.status !== 1) {
      if (process.env.CI) assert.fail(`cannot make a read-only mount: ${r.stderr}`);
      ctx.skip('no permission for a read-only bind mount');
      return;
    }
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /labops: cannot write .*default-school\.conf: read-only file system \(file unchanged\)/);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), SAMPLE);
    assert.deepEqual(readdirSync(t.devicesDir), ['default-school.conf']);
  });
});
