// Child processes never inherit labops' secrets: each program labops starts (ping, the notify command, the import
// script, ldbsearch/ldbmodify, dhcpd, the repair script) is replaced by a stand-in that dumps its environment and
// argv, and is started the way labops starts the real one, from an environment full of labops' secrets.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { childEnv } from '../../src/core/child-env.js';
import { icmpProbe } from '../../src/core/net/probe.js';
import { createNotifier } from '../../src/core/notify.js';
import { ldbModify, ldbSearch } from '../../src/core/samba/ldb.js';
import { systemDhcpPatchPorts } from '../../src/ops/dhcp-patch.js';
import { systemMacctPorts } from '../../src/ops/macct-repair.js';
import { systemProvisionPorts } from '../../src/ops/provision-hosts.js';

const dir = tempDir('labops-childenv-');
after(() => dir.cleanup());

/** What a labops process holds in its environment: none of it may reach a child. */
const SECRETS: Record<string, string> = {
  LABOPS_DB: 'mysql://labops:db-secret-1@db:3306/gw',
  MYSQL_DSN: 'mysql+pymysql://labops:db-secret-2@db:3306/gw',
  OPS_INTERNAL_AUTH_TOKEN: 'api-token-secret-3',
  LABOPS_WINRM_PASSWORD: 'winrm-secret-4',
  API_KEY: 'linbo-key-secret-5',
  REDIS_PASSWORD: 'redis-secret-6',
  CML1_PASSWORD: 'cml-secret-7',
  LABOPS_DB_PASSWORD: 'db-secret-8',
};

const bin = join(dir.path, 'bin');
mkdirSync(bin);
const parentEnv: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH}`, LANG: 'C.UTF-8', LC_TIME: 'C', HOME: dir.path, TZ: 'UTC', ...SECRETS };

/** A program that writes its environment and argv to <name>.dump (reads its stdin with `stdin`) and exits 0. */
function standIn(name: string, stdin = false): { path: string; dump(): { env: Record<string, string>; argv: string[] } } {
  const path = join(bin, name);
  const out = join(dir.path, `${name}.dump`);
  writeFileSync(path, `#!/bin/sh\n{ env; echo "--argv--"; for a in "$@"; do echo "$a"; done; } > '${out}'\n${stdin ? 'cat >/dev/null\n' : ''}exit 0\n`);
  chmodSync(path, 0o755);
  return {
    path,
    dump() {
      const [envText, argvText = ''] = readFileSync(out, 'utf8').split('--argv--\n');
      const env = Object.fromEntries(envText!.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      return { env, argv: argvText.split('\n').filter(Boolean) };
    },
  };
}

function assertClean(what: string, env: Record<string, string>): void {
  for (const [k, v] of Object.entries(SECRETS)) {
    assert.ok(!(k in env), `${what}: ${k} reached the child`);
    assert.ok(!Object.values(env).some((x) => x.includes(v)), `${what}: the value of ${k} reached the child`);
  }
  assert.equal(env.PATH, parentEnv.PATH, `${what}: PATH kept`);
  assert.equal(env.LANG, 'C.UTF-8', `${what}: LANG kept`);
  assert.equal(env.LC_TIME, 'C', `${what}: LC_* kept`);
}

/** Runs `fn` with process.env replaced by the secret-laden parent environment (for code that reads process.env). */
async function withProcessEnv<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, parentEnv);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('childEnv', () => {
  test('PATH, HOME, TMPDIR, TZ and the locale, plus what the caller names or sets; nothing else', () => {
    const env = childEnv({ ...parentEnv, TMPDIR: '/t', LDB_MODULES_PATH: '/m', OTHER: 'x' }, { pass: ['LDB_MODULES_PATH'], set: { LABOPS_NOTIFY_KIND: 'k' } });
    assert.deepEqual(Object.keys(env).sort(), ['HOME', 'LABOPS_NOTIFY_KIND', 'LANG', 'LC_TIME', 'LDB_MODULES_PATH', 'PATH', 'TMPDIR', 'TZ']);
    assert.match(childEnv({}).PATH!, /\/usr\/bin/, 'a PATH even when labops has none');
  });
});

describe('every child labops starts gets an environment built for it', () => {
  test('ping (the boot probe): no secrets, and the target after --', async () => {
    const ping = standIn('ping');
    const r = await withProcessEnv(() => icmpProbe('-f', 1000));
    assert.equal(r.up, true);
    const { env, argv } = ping.dump();
    assertClean('ping', env);
    assert.deepEqual(argv.slice(-2), ['--', '-f'], 'a value that slipped past validation is still no option');
  });

  test('the notify command: no secrets; LABOPS_NOTIFY_KIND and the variables notify.env names', async () => {
    const cmd = standIn('notify-cmd', true);
    await createNotifier({ command: [cmd.path], env: ['LABOPS_NOTIFY_CHANNEL'], timeoutMs: 5000 }, { ...parentEnv, LABOPS_NOTIFY_CHANNEL: '#lab' }).send('cml.labs', [{ a: 1 }]);
    const { env } = cmd.dump();
    assertClean('notify', env);
    assert.equal(env.LABOPS_NOTIFY_KIND, 'cml.labs');
    assert.equal(env.LABOPS_NOTIFY_CHANNEL, '#lab');
  });

  test('the import script and ldbsearch of provision hosts', async () => {
    const imp = standIn('import-devices');
    const ports = await systemProvisionPorts({ env: parentEnv, confirm: async () => true, lockWaitMs: 0, lockOwner: 'labops test', sleep: async () => {} });
    const r = await ports.runImport(imp.path, ['-s', 'default-school'], 10_000);
    assert.equal(r.code, 0);
    assertClean('import-devices', imp.dump().env);
    const ldb = standIn('ldbsearch');
    await ports.adComputerExists(join(dir.path, 'sam.ldb'), 'PC01');
    const { env, argv } = ldb.dump();
    assertClean('ldbsearch (provision)', env);
    assert.deepEqual(argv.slice(2), ['--', '(sAMAccountName=PC01$)', 'dn']);
  });

  test('ldbsearch and ldbmodify of macct-repair (the LDIF over stdin), and the repair script', async () => {
    const search = standIn('ldbsearch-2');
    const modify = standIn('ldbmodify-2', true);
    await ldbSearch('/x/sam.ldb', '(cn=a)', ['dn'], { ldbsearch: search.path, env: { ...parentEnv, LDB_MODULES_PATH: '/usr/lib/ldb' } });
    await ldbModify('/x/sam.ldb', 'dn: cn=a\n', { ldbmodify: modify.path, env: parentEnv });
    const s = search.dump();
    assertClean('ldbsearch', s.env);
    assert.equal(s.env.LDB_MODULES_PATH, '/usr/lib/ldb');
    assert.deepEqual(s.argv, ['--url=/x/sam.ldb', '--', '(cn=a)', 'dn']);
    assertClean('ldbmodify', modify.dump().env);
    const python = standIn('python3');
    const r = await (await systemMacctPorts(parentEnv)).runScript('python3', ['--', '/usr/share/repair_macct.py', '--only-hosts', 'pc01'], 10_000);
    assert.equal(r.code, 0);
    assertClean('repair script', python.dump().env);
  });

  test('dhcpd -t of the DHCP hook', async () => {
    const dhcpd = standIn('dhcpd');
    const r = await withProcessEnv(async () => (await systemDhcpPatchPorts()).runDhcpd(dhcpd.path, '/etc/dhcp/dhcpd.conf'));
    assert.equal(r.code, 0);
    assertClean('dhcpd', dhcpd.dump().env);
  });
});
