// The Lab Gateway's environment (reference HEAD-API §6): every variable of the head ops-worker and of the seeds
// is honoured through a setting with its upstream meaning, belongs to a feature labops does not provide, or is
// refused at start naming the variable; `config show` lists each with its source. Plus the pieces the daemon
// is assembled from: the API address precedence, the loop plan, the merged catalog, the Fernet store, and the
// PowerShell the simulated station understands for local mode.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/core/config/load.js';
import { OTHER_ENV, SETTING_DEFS, UPSTREAM_UNPROVIDED_ENV, unprovidedFeature } from '../../src/core/config/settings.js';
import { apiListen, apiSettings, daemonSettings } from '../../src/app/settings.js';
import { checkEnvironment, unknownOpsVariables } from '../../src/app/daemon/environment.js';
import { planLoops, partsOf } from '../../src/ops/daemon/plan.js';
import { mergeInventories } from '../../src/core/config/catalog.js';
import { parseInventory } from '../../src/core/config/inventory.js';
import { fernetDecrypt, loadWinrmStore } from '../../src/core/config/winrm-store.js';
import { resolveCredentials } from '../../src/core/config/credentials.js';
import { localModeScript } from '../../src/ops/api/local-mode.js';
import { parseFileScript } from '../../src/sim/winrm/file-scripts.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { UsageError } from '../../src/domain/errors.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir();
after(() => dir.cleanup());
const HOME = { HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent' };
const cfgOf = (env: Record<string, string>, file?: Record<string, unknown>) => {
  let configPath: string | undefined;
  if (file) writeFileSync((configPath = join(dir.path, `c${Math.random()}.json`)), JSON.stringify(file));
  return loadConfig({ env: { ...HOME, ...env }, configPath });
};
const refused = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof UsageError && pattern.test(e.message), String(pattern));

describe('every variable of the head ops-worker and the seeds has a treatment', () => {
  const doc = readFileSync(new URL('../fixtures/labgateway/HEAD-API.md', import.meta.url), 'utf8');
  const s6 = doc.slice(doc.indexOf('## 6. Environment variables'), doc.indexOf('## 7.'));
  const seeds = ['OPS_BIND', 'OPS_PORT', 'OPS_CONFIG', 'MYSQL_DSN', 'OPS_POLL_ENABLED', 'OPS_POLL_INTERVAL'];
  // the first column of §6's tables: `A` / `_B`, where _B replaces some trailing parts of A (the notation does
  // not say how many: each reading is a candidate), and `(secret)` names that also come as <NAME>_FILE
  const variables: string[][] = seeds.map((n) => [n]);
  for (const row of s6.split('\n').filter((l) => l.startsWith('| `'))) {
    let anchor = '';
    for (const m of row.split(' | ')[0]!.matchAll(/`([A-Z_][A-Z0-9_]*)`( \(secret\))?/g)) {
      const n = m[1]!;
      const parts = anchor.split('_');
      const candidates = n.startsWith('_') ? parts.slice(1).map((_, i) => `${parts.slice(0, i + 1).join('_')}${n}`) : [n];
      if (!n.startsWith('_')) anchor = n;
      variables.push(candidates);
      if (m[2]) variables.push(candidates.map((c) => `${c}_FILE`));
    }
  }
  const honoured = new Set([...SETTING_DEFS.flatMap((d) => d.env), ...OTHER_ENV.map((e) => e.name)]);
  // the parts of the ops-worker's DSN (opsWorkerDsn)
  const composed = ['OPS_BACKEND_MYSQL_PASSWORD', 'OPS_BACKEND_MYSQL_PASSWORD_FILE', 'OPS_MYSQL_DATABASE', 'BLOCKCHAIN_MYSQL_DATABASE', 'MYSQL_HOSTNAME', 'MYSQL_HOST', 'MYSQL_PORT'];
  const treated = (n: string) => honoured.has(n) || composed.includes(n) || unprovidedFeature(n) !== undefined;

  test(`§6 names ${variables.length} variables; each is a setting's, a DSN part, or of a feature labops does not provide`, () => {
    assert.ok(variables.length > 90, `parsed ${variables.length} names`);
    assert.deepEqual(variables.filter((c) => !c.some(treated)).map((c) => c.join(' | ')), []);
  });

  test('the README names every variable and prefix labops does not use, and every DSN part', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const wanted = [...UPSTREAM_UNPROVIDED_ENV.flatMap((f) => [...(f.names ?? []), ...(f.prefixes ?? []).map((p) => `${p}*`)]), ...composed];
    assert.deepEqual(wanted.filter((n) => !readme.includes(`\`${n}\``)), []);
  });
});

describe('values and precedence', () => {
  test('OPS_BIND and OPS_PORT: flags > environment > config file > defaults, part by part', () => {
    assert.deepEqual(apiListen(cfgOf({})), { host: '127.0.0.1', port: 8081 });
    assert.deepEqual(apiListen(cfgOf({ OPS_BIND: '0.0.0.0', OPS_PORT: '47204' })), { host: '0.0.0.0', port: 47204 });
    assert.deepEqual(apiListen(cfgOf({ OPS_PORT: '47204' }, { api: { listen: '10.0.0.1:9000' } })), { host: '10.0.0.1', port: 47204 }, 'env port over the file');
    assert.deepEqual(apiListen(cfgOf({}, { api: { listen: '10.0.0.1:9000' } })), { host: '10.0.0.1', port: 9000 }, 'the file over defaults');
    assert.deepEqual(apiListen(cfgOf({ LABOPS_LISTEN: '127.0.0.2:5' }, { api: { port: 6 } })), { host: '127.0.0.2', port: 5 });
    assert.deepEqual(apiListen(cfgOf({ OPS_BIND: '0.0.0.0', OPS_PORT: '47204' }), '127.0.0.3:7'), { host: '127.0.0.3', port: 7 }, '--listen wins');
    assert.deepEqual(apiListen(cfgOf({ OPS_BIND: '::1' })), { host: '::1', port: 8081 });
  });

  test('malformed values stop the start naming the variable', () => {
    refused(() => cfgOf({ OPS_PORT: 'http' }), /^api\.port \(from \$OPS_PORT\): expected a whole number, got 'http'/);
    refused(() => apiListen(cfgOf({ OPS_PORT: '70000' })), /^api\.port \(from \$OPS_PORT\): expected a port from 0 to 65535/);
    refused(() => cfgOf({ OPS_RESERVATION_AUTOMATION: 'maybe' }), /^reservations\.automation \(from \$OPS_RESERVATION_AUTOMATION\): expected true or false, got 'maybe'/);
    refused(() => cfgOf({ OPS_LOG_LEVEL: 'loud' }), /^daemon\.log-level \(from \$OPS_LOG_LEVEL\)/);
    refused(() => cfgOf({ OPS_POLL_INTERVAL: 'often' }), /\$OPS_POLL_INTERVAL/);
    refused(() => apiSettings(cfgOf({ OPS_INTERNAL_AUTH_HEADER: 'X Ops' })), /api\.token-header \(from \$OPS_INTERNAL_AUTH_HEADER\)/);
    refused(() => apiSettings(cfgOf({ OPS_ALLOWED_COMMANDS: 'status,rm -rf' })), /\$OPS_ALLOWED_COMMANDS/);
    refused(() => apiSettings(cfgOf({ WINRM_ALLOWED_TRANSPORTS: 'ntlm,telepathy' })), /unknown transport\(s\) telepathy/);
  });

  test('upstream spellings: OPS_LOG_LEVEL in capitals, OPS_RESERVATION_AUTOMATION and OPS_POLL_ENABLED false', () => {
    assert.equal(daemonSettings(cfgOf({ OPS_LOG_LEVEL: 'WARNING' })).logLevel, 'warn');
    assert.equal(daemonSettings(cfgOf({ OPS_LOG_LEVEL: 'CRITICAL' })).logLevel, 'error');
    assert.equal(daemonSettings(cfgOf({ OPS_RESERVATION_AUTOMATION: 'false' })).automation, false);
    assert.equal(daemonSettings(cfgOf({ OPS_POLL_ENABLED: 'FALSE' })).pollEnabled, false);
    assert.equal(apiSettings(cfgOf({ OPS_HEARTBEAT_SSE_INTERVAL_SECONDS: '0' })).streamIntervalMs, 1000, 'at least 1 s, as upstream');
    assert.deepEqual(apiSettings(cfgOf({ OPS_ALLOWED_COMMANDS: ' status , power ' })).allowedCommands, ['status', 'power']);
  });

  test('secrets from <NAME>_FILE are file references, their source the variable', () => {
    const cfg = cfgOf({ OPS_INTERNAL_AUTH_TOKEN_FILE: '/run/secrets/ops_internal_auth_token', OPS_SECRETS_KEY_FILE: '/run/secrets/ops_secrets_key' });
    assert.equal(cfg.get('api.token'), 'file:/run/secrets/ops_internal_auth_token');
    assert.deepEqual(cfg.setting('api.token').source, { kind: 'env', name: 'OPS_INTERNAL_AUTH_TOKEN_FILE' });
    assert.equal(cfg.get('winrm.store-key'), 'file:/run/secrets/ops_secrets_key');
    assert.equal(cfgOf({ OPS_INTERNAL_AUTH_TOKEN: 'literal', OPS_INTERNAL_AUTH_TOKEN_FILE: '/x' }).get('api.token'), 'literal', 'the variable itself first');
  });

  test("the head worker's database from its parts; MYSQL_DSN and LABOPS_DB win", () => {
    const pw = join(dir.path, 'ops_backend_mysql_password');
    writeFileSync(pw, 'p@ss word\n');
    const parts = { OPS_BACKEND_MYSQL_USER: 'ops', OPS_BACKEND_MYSQL_PASSWORD_FILE: pw, BLOCKCHAIN_MYSQL_DATABASE: 'blockchain_services', MYSQL_HOSTNAME: 'mysql' };
    const cfg = cfgOf(parts);
    assert.equal(cfg.get('db'), 'mysql://ops:p%40ss%20word@mysql:3306/blockchain_services');
    assert.deepEqual(cfg.setting('db').source, { kind: 'env', name: 'OPS_BACKEND_MYSQL_USER…' });
    assert.equal(cfgOf({ ...parts, OPS_MYSQL_DATABASE: 'ops', MYSQL_PORT: '3307' }).get('db'), 'mysql://ops:p%40ss%20word@mysql:3307/ops');
    assert.equal(cfgOf({ ...parts, MYSQL_DSN: 'mysql://a:b@c/d' }).get('db'), 'mysql://a:b@c/d');
    refused(() => cfgOf({ ...parts, OPS_BACKEND_MYSQL_PASSWORD_FILE: '/nonexistent/pw' }), /^OPS_BACKEND_MYSQL_PASSWORD_FILE: cannot read \/nonexistent\/pw/);
    refused(() => checkEnvironment(cfgOf({ OPS_BACKEND_MYSQL_USER: 'ops' }), { OPS_BACKEND_MYSQL_USER: 'ops' }), /OPS_BACKEND_MYSQL_PASSWORD \(or _FILE\) and OPS_MYSQL_DATABASE \(or BLOCKCHAIN_MYSQL_DATABASE\) is empty/);
  });
});

describe('refused at start', () => {
  const check = (env: Record<string, string>, api?: { host: string; token?: string }) => checkEnvironment(cfgOf(env), { ...HOME, ...env }, api);

  test("OPS_POLL_ENABLED that meant off upstream (only 'true' was on there)", () => {
    refused(() => check({ OPS_POLL_ENABLED: 'yes' }), /^OPS_POLL_ENABLED='yes': the ops-worker reads only 'true' as on/);
    refused(() => check({ OPS_POLL_ENABLED: '1' }), /OPS_POLL_ENABLED='1'/);
    assert.deepEqual(check({ OPS_POLL_ENABLED: 'True' }), []);
    assert.deepEqual(check({ OPS_POLL_ENABLED: 'off' }), []);
  });

  test('the Lite-mode feed, an API on the network without a token', () => {
    refused(() => check({ RESERVATION_PROJECTION_URL: 'https://x/reservations/projection' }), /^RESERVATION_PROJECTION_URL is set/);
    assert.equal(check({ RESERVATION_PROJECTION_URL: 'https://x', OPS_RESERVATION_AUTOMATION: 'false' }).length, 1, 'named, not refused, with automation off');
    refused(() => check({}, { host: '0.0.0.0' }), /would listen on 0\.0\.0\.0 without api\.token/);
    assert.deepEqual(check({}, { host: '127.0.0.1' }), []);
    assert.deepEqual(check({}, { host: '0.0.0.0', token: 't' }), []);
  });

  test('variables of features labops does not provide are named with the feature; likely typos too', () => {
    const lines = check({ GUAC_ADMIN_PASS: 'secret-guac', BASYX_AAS_URL: 'http://basyx:8081', OPS_POWER_CONFIG: '/app/data/power.json', OPS_POL_INTERVAL: '5' });
    assert.ok(lines.some((l) => /Guacamole.*: GUAC_ADMIN_PASS$/.test(l)));
    assert.ok(lines.some((l) => /AAS \(BaSyx\) sync: BASYX_AAS_URL$/.test(l)));
    assert.ok(lines.some((l) => /power controllers.*OPS_POWER_CONFIG/.test(l)));
    assert.ok(!lines.join('\n').includes('secret-guac'));
    assert.deepEqual(unknownOpsVariables({ OPS_POL_INTERVAL: '5' }), [{ name: 'OPS_POL_INTERVAL', near: 'OPS_POLL_INTERVAL' }]);
  });

  test('labops config show: each variable with its source; the unused ones with their feature, never the value', async () => {
    const io = IOStreams.test();
    const env = { ...HOME, OPS_BIND: '0.0.0.0', OPS_PORT: '47204', OPS_RESERVATION_AUTOMATION: 'false', OPS_INTERNAL_AUTH_TOKEN_FILE: '/run/secrets/t', GUAC_ADMIN_PASS: 'secret-guac' };
    assert.equal(await run(['--json', 'config', 'show'], { io, env }), 0, io.errText());
    const rows = new Map((JSON.parse(io.outText()).settings as { key: string; value: string; source: string }[]).map((r) => [r.key, r]));
    assert.deepEqual(rows.get('api.bind'), { key: 'api.bind', value: '0.0.0.0', source: '$OPS_BIND' });
    assert.deepEqual(rows.get('api.port'), { key: 'api.port', value: '47204', source: '$OPS_PORT' });
    assert.deepEqual(rows.get('reservations.automation'), { key: 'reservations.automation', value: 'false', source: '$OPS_RESERVATION_AUTOMATION' });
    assert.deepEqual(rows.get('api.token'), { key: 'api.token', value: 'file:/run/secrets/t (reference)', source: '$OPS_INTERNAL_AUTH_TOKEN_FILE' });
    assert.match(rows.get('GUAC_ADMIN_PASS')!.value, /^not used: Guacamole/);
    assert.doesNotMatch(io.outText(), /secret-guac/);
  });

  test('labops daemon with OPS_PORT=http or OPS_RESERVATION_AUTOMATION=maybe exits 2 naming the variable, before anything runs', async () => {
    for (const [k, v] of [['OPS_PORT', 'http'], ['OPS_RESERVATION_AUTOMATION', 'maybe'], ['OPS_POLL_ENABLED', 'yes']] as const) {
      const io = IOStreams.test();
      const code = await run(['daemon'], { io, env: { ...HOME, XDG_STATE_HOME: dir.path, [k]: v } });
      assert.equal(code, 2, io.errText());
      assert.match(io.errText(), new RegExp(`\\$?${k}`));
      assert.doesNotMatch(io.errText(), /\n\s+at /, 'no stack trace');
    }
  });
});

describe('the loop plan', () => {
  const gateway = new Set(['lab_hosts', 'lab_host_heartbeat', 'lab_host_events', 'reservation_operations', 'lab_reservations']);
  const none = { 'dc-jobs': 'no worker config', labs: 'no cml.servers' };

  test('a Gateway-only database: the collector loops are disabled, naming the tables they lack', () => {
    const plan = planLoops({ unconfigured: none, tables: gateway });
    const by = Object.fromEntries(plan.map((l) => [l.name, l]));
    assert.deepEqual(plan.filter((l) => l.run).map((l) => l.name), ['api', 'heartbeat', 'reservations']);
    assert.equal(by.provisioning!.reason, "the database lacks lab_sessions, labs, servers (the SSH collector's tables)");
    assert.equal(by.servers!.reason, "the database lacks servers, server_metrics, alerts (the SSH collector's tables)");
    assert.deepEqual(partsOf(plan), ['gateway', 'daemon']);
  });

  test('configuration absent; --only forces, naming what is missing', () => {
    const plan = planLoops({ unconfigured: { ...none, reservations: 'reservations.automation (from $OPS_RESERVATION_AUTOMATION) is off' }, tables: gateway });
    assert.equal(plan.find((l) => l.name === 'reservations')!.run, false);
    const forced = planLoops({ only: ['api', 'provisioning'], unconfigured: none, tables: gateway });
    assert.deepEqual(forced.filter((l) => l.run).map((l) => [l.name, l.forced]), [['api', false], ['provisioning', true]]);
    assert.equal(forced.find((l) => l.name === 'heartbeat')!.reason, 'not named by --only');
    assert.deepEqual(partsOf(forced), ['collector']);
  });

  test("a collector's database: only its loops and parts", () => {
    const plan = planLoops({ unconfigured: { ...none, heartbeat: 'the inventory has no hosts', reservations: 'no hosts' }, tables: new Set(['servers', 'labs', 'lab_sessions', 'server_metrics', 'alerts']) });
    assert.deepEqual(plan.filter((l) => l.run).map((l) => l.name), ['api', 'provisioning', 'cleanup', 'servers']);
    assert.deepEqual(partsOf(plan), ['collector', 'daemon']);
  });
});

describe("the ops-worker's catalog and credential store", () => {
  test('OPS_DYNAMIC_CONFIG merged over OPS_CONFIG by name: an entry replaces the base whole, new ones come last', () => {
    const base = parseInventory(JSON.stringify({ hosts: [{ name: 'a', address: '10.0.0.1', labs: ['1'] }, { name: 'B', address: '10.0.0.2', mac: 'aa:bb:cc:dd:ee:02' }] }), 'base');
    const dyn = parseInventory(JSON.stringify({ hosts: [{ name: 'b', address: '10.0.0.20' }, { name: 'c', address: '10.0.0.3' }] }), 'dynamic');
    const m = mergeInventories(base, dyn);
    assert.deepEqual(m.hosts.map((h) => [h.name, h.address, h.mac]), [['a', '10.0.0.1', undefined], ['b', '10.0.0.20', undefined], ['c', '10.0.0.3', undefined]]);
  });

  test('a store written by Python cryptography decrypts; a wrong key or a tampered token counts as missing', () => {
    const keyFile = join(dir.path, 'key');
    const store = join(dir.path, 'store.json');
    execFileSync('/usr/bin/python3', [
      '-c',
      'import json,sys\nfrom cryptography.fernet import Fernet\nk=Fernet.generate_key()\nopen(sys.argv[1],"wb").write(k)\nf=Fernet(k)\n' +
        'json.dump({"credentials":{"10.7.74.20":{"token":f.encrypt(json.dumps({"user":".\\\\LabGatewaySvc","password":"pä55 w\'rd"}).encode()).decode()},' +
        '"bad":{"token":f.encrypt(b"{}").decode()[:-4]+"AAAA"}},"other":1},open(sys.argv[2],"w"))',
      keyFile,
      store,
    ]);
    const key = readFileSync(keyFile, 'utf8');
    const s = loadWinrmStore(store, key);
    assert.deepEqual(s.byRef.get('10.7.74.20'), { user: '.\\LabGatewaySvc', password: "pä55 w'rd" });
    assert.deepEqual(s.unreadable, ['bad']);
    const host = parseInventory(JSON.stringify({ hosts: [{ name: 'bench-a', address: '10.7.74.20' }] }), 'h').hosts[0]!;
    assert.equal(resolveCredentials(host, { store: s }).password, "pä55 w'rd");
    const other = execFileSync('/usr/bin/python3', ['-c', 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())']).toString().trim();
    assert.equal(loadWinrmStore(store, other).byRef.size, 0, 'another key decrypts nothing');
    refused(() => loadWinrmStore(store, undefined), /holds 2 credential\(s\) but winrm\.store-key/);
    refused(() => loadWinrmStore(store, 'not-a-key'), /not a Fernet key/);
    assert.equal(fernetDecrypt('gAAAAA', { sign: Buffer.alloc(16), encrypt: Buffer.alloc(16) }), undefined);
  });
});

describe("local mode: the Gateway's PowerShell and the simulated station's reading of it", () => {
  test('enable writes the flag; disable removes it and the legacy copy; quotes are doubled', () => {
    assert.deepEqual(parseFileScript(localModeScript(undefined, true)), [{ op: 'write', path: 'C:\\LabStation\\labstation\\data\\local-mode.flag', value: '1' }]);
    assert.deepEqual(parseFileScript(localModeScript(undefined, false)), [
      { op: 'remove', path: 'C:\\LabStation\\labstation\\data\\local-mode.flag' },
      { op: 'remove', path: 'C:\\LabStation\\data\\local-mode.flag' },
    ]);
    assert.deepEqual(parseFileScript(localModeScript("D:\\Lab's\\flag", false)), [{ op: 'remove', path: "D:\\Lab's\\flag" }]);
    assert.equal(parseFileScript("Set-Content -LiteralPath 'x' -Value '1' -Encoding UTF8; Remove-Item C:\\ -Recurse"), undefined);
    assert.equal(parseFileScript("if (Test-Path -LiteralPath 'a') { Remove-Item -LiteralPath 'b' -Force }"), undefined);
  });
});
