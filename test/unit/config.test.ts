import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/core/config/load.js';
import { HostIndex, loadInventory, normaliseWindowsPath, parseInventory } from '../../src/core/config/inventory.js';
import { resolveSecret } from '../../src/core/config/secrets.js';
import { UsageError } from '../../src/domain/errors.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir();
after(() => dir.cleanup());
const fixture = (name: string) => new URL(`../fixtures/hosts/${name}`, import.meta.url).pathname;

describe('config precedence: flags > environment > config file > defaults', () => {
  const file = join(dir.path, 'config.json');
  writeFileSync(file, JSON.stringify({ hosts: '/from/file.json', db: 'sqlite:/file.db', wol: { port: 7, attempts: 5 } }));

  test('each layer wins over the next, and the source is recorded', () => {
    const cfg = loadConfig({ configPath: file, env: { HOME: '/home/op', OPS_CONFIG: '/from/env.json' }, flags: { hosts: '/from/flag.json' } });
    assert.equal(cfg.get('hosts'), '/from/flag.json');
    assert.deepEqual(cfg.setting('hosts').source, { kind: 'flag', name: '--hosts' });
    const envOnly = loadConfig({ configPath: file, env: { HOME: '/home/op', OPS_CONFIG: '/from/env.json' } });
    assert.equal(envOnly.get('hosts'), '/from/env.json');
    assert.deepEqual(envOnly.setting('hosts').source, { kind: 'env', name: 'OPS_CONFIG' });
    const fileOnly = loadConfig({ configPath: file, env: { HOME: '/home/op' } });
    assert.equal(fileOnly.get('hosts'), '/from/file.json');
    assert.equal(fileOnly.value('wol.port'), 7);
    assert.deepEqual(fileOnly.setting('wol.port').source, { kind: 'file', path: file });
    assert.equal(fileOnly.value('wol.repeat'), 3);
    assert.deepEqual(fileOnly.setting('wol.repeat').source, { kind: 'default' });
  });

  test('MYSQL_DSN is honoured and LABOPS_DB wins over it', () => {
    assert.equal(loadConfig({ env: { HOME: '/h', MYSQL_DSN: 'mysql+pymysql://u:p@db/x' } }).get('db'), 'mysql+pymysql://u:p@db/x');
    assert.equal(loadConfig({ env: { HOME: '/h', MYSQL_DSN: 'mysql://a', LABOPS_DB: 'sqlite:/x' } }).get('db'), 'sqlite:/x');
  });

  test('defaults follow XDG', () => {
    const cfg = loadConfig({ env: { HOME: '/home/op', XDG_STATE_HOME: '/state' }, systemConfigPath: '/nonexistent/config.json' });
    assert.equal(cfg.get('db'), 'sqlite:/state/labops/labops.db');
    assert.equal(cfg.get('hosts'), '/home/op/.config/labops/hosts.json');
    assert.equal(cfg.file, undefined);
  });

  test('the system config file (the package\'s /etc/labops) is read when the user has none', () => {
    const system = join(dir.path, 'etc-labops-config.json');
    writeFileSync(system, JSON.stringify({ wol: { port: 11 } }));
    const home = join(dir.path, 'home-without-config');
    const cfg = loadConfig({ env: { HOME: home }, systemConfigPath: system });
    assert.equal(cfg.value('wol.port'), 11);
    assert.equal(cfg.file, system);
    // the user's own config wins over it
    const userCfg = join(home, '.config', 'labops');
    mkdirSync(userCfg, { recursive: true });
    writeFileSync(join(userCfg, 'config.json'), JSON.stringify({ wol: { port: 12 } }));
    assert.equal(loadConfig({ env: { HOME: home }, systemConfigPath: system }).value('wol.port'), 12);
    // as does an explicit one
    assert.equal(loadConfig({ configPath: file, env: { HOME: home }, systemConfigPath: system }).value('wol.port'), 7);
  });

  test('an unknown key in the config file is a warning with the closest known key', () => {
    const typo = join(dir.path, 'typo.json');
    writeFileSync(typo, JSON.stringify({ wol: { intervall: '5s' }, heartbeat: { source: 'file' }, notify: { command: ['x'] }, zzz: 1 }));
    const cfg = loadConfig({ configPath: typo, env: { HOME: '/h' } });
    assert.deepEqual(cfg.warnings, [`config file ${typo}: unknown key 'wol.intervall' (did you mean 'wol.interval'?); ignored`, `config file ${typo}: unknown key 'zzz'; ignored`]);
  });

  test('an enum setting refuses other values, naming the choices', () => {
    assert.throws(() => loadConfig({ env: { HOME: '/h', LABOPS_HEARTBEAT_SOURCE: 'smb' } }), /heartbeat\.source \(from \$LABOPS_HEARTBEAT_SOURCE\): expected winrm or file, got 'smb'/);
  });

  test('a bad value names the setting and its source', () => {
    assert.throws(() => loadConfig({ env: { HOME: '/h', LABOPS_WOL_PORT: 'nine' } }), /wol\.port \(from \$LABOPS_WOL_PORT\): expected a whole number, got 'nine'/);
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, '{"wol": {"interval": "soon"}}');
    assert.throws(() => loadConfig({ configPath: bad, env: { HOME: '/h' } }), /wol\.interval \(from .*bad\.json\): expected a duration/);
  });

  test('a malformed or missing explicit config file is a usage error', () => {
    const broken = join(dir.path, 'broken.json');
    writeFileSync(broken, '{"hosts": ');
    assert.throws(() => loadConfig({ configPath: broken, env: { HOME: '/h' } }), (e: unknown) => e instanceof UsageError && /not valid JSON/.test((e as Error).message));
    assert.throws(() => loadConfig({ configPath: join(dir.path, 'nope.json'), env: { HOME: '/h' } }), /cannot read \(ENOENT\)/);
  });

  test('secrets are redacted in entries()', () => {
    const cfg = loadConfig({ env: { HOME: '/h', LABOPS_WINRM_PASSWORD: 'hunter2' } });
    const shown = cfg.entries().find((e) => e.key === 'winrm.password');
    assert.equal(shown?.value, '<redacted>');
    const ref = loadConfig({ env: { HOME: '/h', LABOPS_WINRM_PASSWORD: 'env:WINRM_PW' } }).entries().find((e) => e.key === 'winrm.password');
    assert.equal(ref?.value, 'env:WINRM_PW (reference)');
  });
});

describe('secret references', () => {
  test('env:, file: and literals', () => {
    const f = join(dir.path, 'pw');
    writeFileSync(f, 's3cret\n');
    assert.equal(resolveSecret('env:PW', 'x', { PW: 'abc' }), 'abc');
    assert.equal(resolveSecret(`file:${f}`, 'x'), 's3cret');
    assert.equal(resolveSecret('plain', 'x'), 'plain');
  });
  test('errors name the reference, never a value', () => {
    assert.throws(() => resolveSecret('env:MISSING_PW', 'hosts[0].winrm_pass', {}), /hosts\[0\]\.winrm_pass: environment variable MISSING_PW is not set/);
    assert.throws(() => resolveSecret(`file:${join(dir.path, 'none')}`, 'winrm.password'), /cannot read secret file .*none: ENOENT/);
  });
});

describe('inventory: the three historical hosts.json forms', () => {
  test('v0 with plaintext winrm_pass loads with a warning', () => {
    const inv = loadInventory(fixture('hosts.sample.v0-92c1aae.json'), true);
    assert.equal(inv.hosts.length, 1);
    assert.equal(inv.hosts[0]!.winrmUser, 'LABSTATION\\LabGatewaySvc');
    assert.equal(inv.hosts[0]!.winrmPass, 'REPLACE_ME');
    assert.match(inv.warnings.join('\n'), /1 host\(s\) keep winrm_pass in plain text/);
  });

  test('env-refs form keeps references unresolved and normalises doubled backslashes', () => {
    const inv = loadInventory(fixture('hosts.sample.env-refs-51f2784.json'), true);
    const h = inv.hosts[0]!;
    assert.equal(h.winrmPass, 'env:WINRM_PASS_LAB_WS_01');
    assert.equal(h.heartbeatPath, 'C:\\LabStation\\labstation\\data\\telemetry\\heartbeat.json');
    assert.equal(h.eventsPath, 'C:\\LabStation\\labstation\\data\\telemetry\\session-guard-events.jsonl');
    assert.deepEqual(h.labs, ['1']);
    assert.deepEqual(inv.warnings, []);
  });

  test('head form without credentials', () => {
    const inv = loadInventory(fixture('hosts.sample.head-e993cb3.json'), true);
    const h = inv.hosts[0]!;
    assert.equal(h.winrmPort, 5986);
    assert.equal(h.winrmUseSsl, true);
    assert.equal(h.winrmUser, undefined);
    assert.equal(h.mac, '00:11:22:33:44:55');
    assert.equal(loadInventory(fixture('hosts.empty.head-e993cb3.json'), true).hosts.length, 0);
  });

  test('names are case-insensitive; labs are trimmed and lower-cased; first host wins a lab', () => {
    const inv = parseInventory(
      JSON.stringify({ hosts: [
        { name: 'Lab-WS-01', address: 'a', labs: [' Lab-A ', 7], broadcast: '10.0.0.255', wol_port: 7, ping_target: 'p', wake_attempts: 5 },
        { name: 'lab-ws-02', address: 'b', labs: ['lab-a'] },
      ] }),
      'inline.json',
    );
    const index = new HostIndex(inv);
    assert.equal(index.find('LAB-ws-01')?.name, 'Lab-WS-01');
    assert.equal(index.forLab('LAB-A')?.name, 'Lab-WS-01');
    assert.equal(index.forLab('7')?.name, 'Lab-WS-01');
    const h = index.find('lab-ws-01')!;
    assert.equal(h.broadcast, '10.0.0.255');
    assert.equal(h.wolPort, 7);
    assert.equal(h.pingTarget, 'p');
    assert.equal(h.wakeAttempts, 5);
  });

  test('UNC paths keep their leading backslashes', () => {
    assert.equal(normaliseWindowsPath('\\\\\\\\fs01\\\\share\\\\hb.json'), '\\\\fs01\\share\\hb.json');
    assert.equal(normaliseWindowsPath('C:\\\\a\\\\b'), 'C:\\a\\b');
    assert.equal(normaliseWindowsPath('C:\\a\\b'), 'C:\\a\\b');
  });

  const invalid: [string, unknown, RegExp][] = [
    ['not JSON', '{"hosts": [', /bad\.json: \(top level\): not valid JSON/],
    ['no hosts array', { host: [] }, /bad\.json: hosts: /],
    ['missing address', { hosts: [{ name: 'a' }] }, /bad\.json: hosts\[0\]\.address: /],
    ['bad MAC', { hosts: [{ name: 'a', address: 'b', mac: '00:11:22:33:44:zz' }] }, /hosts\[0\]\.mac: is not a MAC address/],
    ['bad port', { hosts: [{ name: 'a', address: 'b' }, { name: 'c', address: 'd', winrm_port: 70000 }] }, /hosts\[1\]\.winrm_port: /],
    ['bad probe', { hosts: [{ name: 'a', address: 'b', probe: 'udp:9' }] }, /hosts\[0\]\.probe: must be 'icmp' or 'tcp:<port>'/],
    ['duplicate name', { hosts: [{ name: 'A', address: 'b' }, { name: 'a', address: 'c' }] }, /hosts\[1\]\.name: duplicate host name 'a' \(also hosts\[0\]/],
  ];
  for (const [what, content, expected] of invalid) {
    test(`invalid inventory (${what}) is a usage error naming the file and JSON path`, () => {
      assert.throws(
        () => parseInventory(typeof content === 'string' ? content : JSON.stringify(content), 'bad.json'),
        (e: unknown) => e instanceof UsageError && expected.test((e as Error).message),
      );
    });
  }

  test('every problem of an inventory is reported at once, each with its JSON path; the first ten in the message', () => {
    const hosts = [{ name: 'a', address: 'b', mac: 'zz' }, { name: 'c', address: 'd', winrm_port: 0, probe: 'udp:9' }, { name: 'A', address: 'e' }];
    const e = (() => {
      try {
        parseInventory(JSON.stringify({ hosts }), 'bad.json');
      } catch (err) {
        return err as UsageError;
      }
      assert.fail('no error');
    })();
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /^inventory bad\.json: 4 problems:\n {2}hosts\[0\]\.mac: is not a MAC address\n {2}hosts\[1\]\.winrm_port: .*\n {2}hosts\[1\]\.probe: .*\n {2}hosts\[2\]\.name: duplicate host name 'A'/);
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `h${i}`, address: 'x', mac: 'no' }));
    assert.throws(() => parseInventory(JSON.stringify({ hosts: many }), 'm.json'), /hosts\[9\]\.mac: is not a MAC address\n {2}… and 2 more$/);
  });

  test('an absent default inventory is empty with a warning; an absent explicit one is an error', () => {
    const missing = join(dir.path, 'none.json');
    const inv = loadInventory(missing, false);
    assert.equal(inv.hosts.length, 0);
    assert.match(inv.warnings[0]!, /no inventory/);
    assert.throws(() => loadInventory(missing, true), UsageError);
  });

  test('a BOM at the start of hosts.json is accepted', () => {
    const f = join(dir.path, 'bom.json');
    writeFileSync(f, `\uFEFF${readFileSync(fixture('hosts.sample.head-e993cb3.json'), 'utf8')}`);
    assert.equal(loadInventory(f, true).hosts.length, 1);
  });
});
