// labops provision hosts against a real Samba AD database (samba-tool domain provision --targetdir),
// with the import-devices test stand-in, which writes the DHCP file and runs the real hook wrapper
// (the one labops dc setup writes -> labops dhcp-patch).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, fixture } from '../support/dc-tree.js';
import { provisionSamba } from '../support/samba.js';
import { makeSite, type Site, type SiteOptions } from '../support/dc-site.js';
import { tempDir } from '../support/tmp.js';
import { startDns } from '../support/dns.js';
import { readAdDnsDomain, dnsNameFromDn } from '../../src/core/samba/ldb.js';
import { processStartTicks, bootId } from '../../src/core/fs/lock.js';
import { hostname } from 'node:os';

const work = tempDir('labops-prov-');
after(() => work.cleanup());
let samLdb = '';
let ready = false;

before(async () => {
  const ldb = provisionSamba(work.path);
  if (!ldb) return;
  samLdb = ldb;
  ready = true;
});

const site = (o: SiteOptions = {}): Site => makeSite(work.path, samLdb, o);

const prov = (s: Site, ...args: string[]) => cli(['provision', 'hosts', ...args], s.env);
const adHas = (name: string) => /^dn: /m.test(execFileSync('ldbsearch', ['-H', samLdb, `(sAMAccountName=${name.toUpperCase()}$)`, 'dn'], { encoding: 'utf8' }));
function files(s: Site): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of [s.master, s.delta, s.dhcpFile, `${s.master}.bak`]) out[p] = existsSync(p) ? readFileSync(p, 'utf8') : '<absent>';
  return out;
}

describe('provision hosts (real sam.ldb, import-devices stand-in, real hook)', () => {
  test('create, update, rename and delete: files, import, hook, AD/DHCP verify', { timeout: 180_000 }, async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site();
    const original = readFileSync(s.master, 'utf8');
    const c = await prov(s, 'create', 'pc01', '--mac', 'aa:bb:cc:dd:ee:ff', '--ip', '10.0.0.100', '--room', 'lab01', '--group', 'win11_efi_sata', '--yes', '--json');
    assert.equal(c.code, 0, c.stderr);
    const r = JSON.parse(c.stdout);
    assert.equal(r.status, 'done');
    assert.deepEqual(r.verify, { ad_object_exists: true, dhcp_configured: true, dns_a_exists: null, expected_absent: false, ok: true });
    assert.equal(readFileSync(s.delta, 'utf8'), '# managed-by: linbo-docker — DO NOT EDIT MANUALLY\nlab01;pc01;win11_efi_sata;AA:BB:CC:DD:EE:FF;10.0.0.100;;;;;;1;;;;\n');
    assert.equal(readFileSync(s.master, 'utf8'), `${original}lab01;pc01;win11_efi_sata;AA:BB:CC:DD:EE:FF;10.0.0.100;;;;;;1;;;;;\n`);
    assert.equal(readFileSync(`${s.master}.bak`, 'utf8'), original);
    // the hook ran inside the import: pc01 points at the Docker TFTP server
    assert.match(readFileSync(s.dhcpFile, 'utf8'), /host pc01 \{\n {2}option host-name "pc01";\n {2}hardware ethernet AA:BB:CC:DD:EE:FF;\n {2}next-server 10\.0\.0\.13;\n/);
    assert.match(r.importOutput, /\[PATCH\] Inserted next-server for pc01: 10\.0\.0\.13/);
    assert.ok(adHas('pc01'));

    const u = await prov(s, 'update', 'pc01', '--ip', '10.0.0.101', '--yes');
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /update pc01: verified\n {2}AD computer object: present\n {2}DHCP host block: {4}present\n {2}DNS A record: {7}not checked\n/);
    assert.match(readFileSync(s.dhcpFile, 'utf8'), /hardware ethernet AA:BB:CC:DD:EE:FF;\n {2}next-server 10\.0\.0\.13;\n {2}fixed-address 10\.0\.0\.101;/);
    assert.match(readFileSync(s.master, 'utf8'), /^lab01;pc01;win11_efi_sata;AA:BB:CC:DD:EE:FF;10\.0\.0\.101;/m);

    // updating a manual host keeps its role (the worker wiped it)
    const m = await prov(s, 'update', 'amo-pc02', '--ip', '10.0.0.112', '--yes');
    assert.equal(m.code, 0, m.stderr);
    assert.match(readFileSync(s.master, 'utf8'), /^amo;amo-pc02;win11_efi_sata;BC:24:11:2A:E9:8C;10\.0\.0\.112;;;;classroom-studentcomputer;;1;;;;;$/m);

    const rn = await prov(s, 'update', 'pc02', '--rename-from', 'pc01', '--yes', '--json');
    assert.equal(rn.code, 0, rn.stderr);
    assert.ok(adHas('pc02'));
    assert.ok(!adHas('pc01'));
    assert.ok(!/;pc01;/.test(readFileSync(s.master, 'utf8')));

    const d = await prov(s, 'delete', 'pc02', '--yes', '--json');
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(JSON.parse(d.stdout).verify, { ad_object_exists: false, dhcp_configured: false, dns_a_exists: null, expected_absent: true, ok: true });
    assert.ok(!/;pc02;/.test(readFileSync(s.master, 'utf8')));
    assert.equal(readFileSync(s.delta, 'utf8').includes(';pc02;'), false);
    assert.deepEqual(readdirSync(join(s.root, 'dhcp', 'devices')), ['default-school.conf']);
    assert.ok(!existsSync(s.lock), 'the lock is released');
  });

  test('--dry-run shows the plan and merge statistics and changes nothing', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site();
    const before = files(s);
    const r = await prov(s, 'delete', 'fgy-pc01', '--dry-run', '--json');
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.status, 'dry-run');
    assert.deepEqual(res.plan.mergeStats, { total_master_lines: 7, total_delta_lines: 0, total_merged_lines: 6, deleted_hosts: ['fgy-pc01'], batch_size: 1 });
    assert.equal(res.plan.masterBefore, 'fgy;fgy-pc01;bios_sata;00:21:CC:67:58:8F;10.0.0.200;;;;classroom-studentcomputer;;1;;;;;');
    assert.deepEqual(files(s), before);
    const text = await prov(s, 'create', 'pc05', '--mac', '00:11:22:33:44:55', '--dry-run');
    assert.match(text.stdout, /create pc05 .*\n {2}delta .*lab|create pc05/);
    assert.match(text.stdout, /merge: 7 master rows \+ 1 delta rows -> 8 rows/);
    assert.deepEqual(files(s), before);
  });

  test('verification failure: import ran but no AD object -> exit 1', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site({ importScript: '/bin/true' });
    const r = await prov(s, 'create', 'pc07', '--mac', '00:11:22:33:44:57', '--ip', '10.0.0.107', '--yes', '--json');
    assert.equal(r.code, 1);
    const res = JSON.parse(r.stdout);
    assert.equal(res.verify.ok, false);
    assert.equal(res.verify.ad_object_exists, false);
  });

  test('import failure (non-zero exit) -> exit 1 with the reason', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site({ importScript: '/bin/false' });
    const r = await prov(s, 'create', 'pc08', '--mac', '00:11:22:33:44:58', '--yes');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /import-devices failed: exit code 1/);
  });

  test('non-default school: <school>.devices.csv, <school>-<host> in AD and DHCP', { timeout: 120_000 }, async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site({ school: 'schoolb', master: 'r1;pc1;grp;AA:BB:CC:00:00:01;10.0.1.1;;;;;;1;;;;;\n' });
    assert.ok(s.master.endsWith('/schoolb/schoolb.devices.csv'));
    const r = await prov(s, 'create', 'pc05', '--mac', '00:11:22:33:44:05', '--ip', '10.0.1.5', '--room', 'r1', '--group', 'grp', '--yes', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).verify.ok, true);
    assert.ok(adHas('schoolb-pc05'));
    assert.match(readFileSync(s.dhcpFile, 'utf8'), /host schoolb-pc05 \{[^}]*next-server 10\.0\.0\.13;/);
    assert.match(readFileSync(s.master, 'utf8'), /^r1;pc05;grp;00:11:22:33:44:05;10\.0\.1\.5;/m);
  });
});

describe('LINBO_DOMAIN=auto: the AD domain of this DC, from Samba', () => {
  test('read from sam.ldb: the realm, lowercased (the domain DN samba-tool provision made from --realm=LAB.TEST)', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    assert.equal(await readAdDnsDomain(samLdb), 'lab.test');
    assert.equal(dnsNameFromDn('DC=Linuxmuster,DC=lan'), 'linuxmuster.lan');
    assert.equal(dnsNameFromDn('CN=Configuration,DC=lab,DC=test'), undefined);
    await assert.rejects(readAdDnsDomain(join(work.path, 'none.ldb')), /sam\.ldb not found: .*none\.ldb/);
    const plain = join(work.path, 'plain.ldb');
    execFileSync('ldbadd', ['-H', plain], { input: 'dn: cn=x\ncn: x\n' });
    await assert.rejects(readAdDnsDomain(plain), /plain\.ldb is not the sam\.ldb of an AD domain controller/);
  });

  test('provision hosts checks <host>.lab.test (it looked up <host>.auto); an unreadable realm: exit 2, nothing changed', { timeout: 120_000 }, async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site({ workerExtra: ['LINBO_DOMAIN=auto'] });
    const dns = await startDns({ 'pc09.lab.test': '10.0.0.109' });
    try {
      const r = await prov(s, 'create', 'pc09', '--mac', '00:11:22:33:44:59', '--ip', '10.0.0.109', '--room', 'lab01', '--config', 'win11_efi_sata', '--yes', '--json', '--dns-server', dns.server);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).verify, { ad_object_exists: true, dhcp_configured: true, dns_a_exists: true, dns_name: 'pc09.lab.test', expected_absent: false, ok: true });
      assert.deepEqual(dns.queries, ['pc09.lab.test']);
      const u = await prov(s, 'update', 'pc09', '--ip', '10.0.0.109', '--yes', '--dns-server', dns.server);
      assert.match(u.stdout, /\n {2}DNS A record: {7}present \(pc09\.lab\.test\)\n/);
    } finally {
      await dns.close();
    }

    const before = files(s);
    const bad = await prov(s, 'create', 'pc10', '--mac', '00:11:22:33:44:60', '--yes', '--sam-ldb', join(work.path, 'missing', 'sam.ldb'));
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /LINBO_DOMAIN=auto: cannot read this DC's AD domain from .*missing\/sam\.ldb: sam\.ldb not found/);
    assert.deepEqual(files(s), before);
  });
});

describe('provision hosts: bad input changes nothing', () => {
  test('a lock held by another live run: exit 75', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site();
    const before = files(s);
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      mkdirSync(join(s.root, 'lock'), { recursive: true });
      writeFileSync(s.lock, JSON.stringify({ pid: holder.pid, hostname: hostname(), bootId: bootId(), startTicks: processStartTicks(holder.pid!), createdAt: '2026-11-23T08:00:00Z', command: 'labops provision hosts' }));
      const r = await prov(s, 'create', 'pc09', '--mac', '00:11:22:33:44:59', '--yes');
      assert.equal(r.code, 75);
      assert.match(r.stderr, /labops: lock .*linbo-provision\.lock is held by pid \d+ on /);
      assert.deepEqual(files(s), before);
      assert.ok(existsSync(s.lock), 'a live lock is not broken');
    } finally {
      holder.kill('SIGKILL');
    }
    // the holder is gone: its lock is stale and the next run proceeds (dry run here)
    await new Promise((r) => setTimeout(r, 100));
    const again = await prov(s, 'create', 'pc09', '--mac', '00:11:22:33:44:59', '--dry-run');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /removed a stale lock .*no longer running/);
  });

  test('without a TTY and without --yes: exit 2, nothing changed', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site();
    const before = files(s);
    const r = await prov(s, 'create', 'pc10', '--mac', '00:11:22:33:44:60');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--yes required when not running interactively/);
    assert.deepEqual(files(s), before);
  });

  test('conflicts, invalid master, bad flags: exit 2, nothing changed', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site();
    const before = files(s);
    const dupMac = await prov(s, 'create', 'pc11', '--mac', '4f:55:ff:69:15:cc', '--yes');
    assert.equal(dupMac.code, 2);
    assert.match(dupMac.stderr, /Conflict: Duplicate MAC 4F:55:FF:69:15:CC with host server; nothing changed/);
    const dupIp = await prov(s, 'update', 'amo-pc04', '--ip', '10.0.0.122', '--yes');
    assert.match(dupIp.stderr, /Conflict: Duplicate IP 10\.0\.0\.122 with host amo-pc09/);
    assert.equal((await prov(s, 'create', 'sgm-pc02', '--mac', '00:00:00:00:00:01', '--yes')).code, 2);
    assert.equal((await prov(s, 'create', 'waytoolonghostname1', '--mac', '00:00:00:00:00:01', '--yes')).code, 2);
    assert.equal((await prov(s, 'create', 'pc12', '--mac', 'zz:00:00:00:00:01', '--yes')).code, 2);
    assert.equal((await prov(s, 'create', 'pc12', '--mac', '00:00:00:00:00:01', '--role', 'teacher', '--yes')).code, 2);
    assert.equal((await prov(s, 'update', 'nosuchpc', '--ip', '10.0.0.9', '--yes')).code, 2);
    assert.deepEqual(files(s), before);

    const bad = site({ master: fixture('devices.malformed.csv.sample') });
    const beforeBad = files(bad);
    const r = await prov(bad, 'create', 'pc13', '--mac', '00:11:22:33:44:13', '--yes');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /would make sophomorix-device fail \(exit 88\)/);
    for (const line of [8, 11, 14, 17]) assert.match(r.stderr, new RegExp(`devices\\.csv:${line}: `));
    assert.deepEqual(files(bad), beforeBad);
  });

  test('non-UTF-8 master: exit 2, nothing changed', async (ctx) => {
    if (!ready) return ctx.skip('samba-tool/ldbsearch not installed');
    const s = site();
    writeFileSync(s.master, Buffer.concat([Buffer.from(fixture('devices.csv.sample')), Buffer.from([0xc3, 0x28, 0x0a])]));
    const before = readFileSync(s.master);
    const r = await prov(s, 'create', 'pc14', '--mac', '00:11:22:33:44:14', '--yes');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /devices\.csv: line 12: not valid UTF-8; nothing changed/);
    assert.deepEqual(readFileSync(s.master), before);
  });
});
