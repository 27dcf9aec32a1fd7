import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCredentialsFile, resolveCredentials } from '../../src/core/config/credentials.js';
import { loadInventory } from '../../src/core/config/inventory.js';
import { UsageError } from '../../src/domain/errors.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir();
after(() => dir.cleanup());
const fixture = (name: string) => new URL(`../fixtures/hosts/${name}`, import.meta.url).pathname;

test('v0 plaintext and env-refs inventories carry their own credentials', () => {
  const v0 = loadInventory(fixture('hosts.sample.v0-92c1aae.json'), true).hosts[0]!;
  assert.deepEqual(resolveCredentials(v0, {}), { user: 'LABSTATION\\LabGatewaySvc', password: 'REPLACE_ME', source: 'inventory' });
  const refs = loadInventory(fixture('hosts.sample.env-refs-51f2784.json'), true).hosts[0]!;
  const c = resolveCredentials(refs, { env: { WINRM_USER_LAB_WS_01: 'svc', WINRM_PASS_LAB_WS_01: 'pw' } });
  assert.equal(c.user, 'svc');
  assert.equal(c.password, 'pw');
  assert.throws(() => resolveCredentials(refs, { env: {} }), /lab-ws-01: winrm_user: environment variable WINRM_USER_LAB_WS_01 is not set/);
});

test('the head form takes credentials from a separate file, per host or default, or from settings', () => {
  const head = loadInventory(fixture('hosts.sample.head-e993cb3.json'), true).hosts[0]!;
  const pwFile = join(dir.path, 'pw');
  writeFileSync(pwFile, 'from-file\n');
  const path = join(dir.path, 'creds.json');
  writeFileSync(path, JSON.stringify({ default: { user: 'dflt', password: `file:${pwFile}` }, hosts: { 'LAB-WS-01': { user: 'own', password: 'env:OWN_PW' } } }));
  const file = { path, data: loadCredentialsFile(path) };
  const own = resolveCredentials(head, { file, env: { OWN_PW: 'x' } });
  assert.deepEqual(own, { user: 'own', password: 'x', source: `${path}: hosts.lab-ws-01` });
  const other = { ...head, name: 'lab-ws-99', address: 'lab-ws-99' };
  assert.deepEqual(resolveCredentials(other, { file }), { user: 'dflt', password: 'from-file', source: `${path}: default` });
  assert.equal(resolveCredentials(other, { user: 'u', password: 'env:P', env: { P: 'q' } }).password, 'q');
  assert.throws(() => resolveCredentials(other, {}), (e: unknown) => e instanceof UsageError && /no WinRM credentials for host 'lab-ws-99'/.test((e as Error).message));
});

test('a malformed credentials file names the file and the path', () => {
  const path = join(dir.path, 'bad.json');
  writeFileSync(path, JSON.stringify({ hosts: { a: { user: 'x' } } }));
  assert.throws(() => loadCredentialsFile(path), /bad\.json: hosts\.a\.password: /);
});
