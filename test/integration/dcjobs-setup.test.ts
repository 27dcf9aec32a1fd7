// labops dc setup / dc check / dc setup --uninstall in a temp root, against a real Redis and the API peer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { cli } from '../support/dc-tree.js';
import { redisAvailable, startRedis, type TestRedis } from '../support/redis.js';
import { freePort, requireRoot } from '../support/services.js';
import { startLinboApi, type LinboApi } from '../../src/sim/linbo/index.js';
import { labopsSelfCommand } from '../../src/core/self-command.js';
import { shJoin } from '../../src/domain/shell-quote.js';

const work = tempDir('labops-dcsetup-');
let redis: TestRedis | undefined;
let api: LinboApi | undefined;
let apiPort = 0;
before(async () => {
  if (!redisAvailable()) return;
  redis = await startRedis();
  apiPort = await freePort();
  api = await startLinboApi({ redisUrl: redis.url, internalKey: 'setup-key-42', port: apiPort });
});
after(async () => {
  await api?.close();
  await redis?.stop();
  work.cleanup();
});

const root = join(work.path, 'root');
const keyFile = join(work.path, 'api.key');
const args = (extra: string[] = []) => ['dc', 'setup', '--root', root, '--no-input', '--no-enable', '--linbo-ip', '127.0.0.1', '--redis-port', String(redis!.port), '--api-port', String(apiPort), '--api-key-file', keyFile, ...extra];
const mode = (p: string) => statSync(p).mode & 0o777;

test('dc setup: tests Redis and the API first, merges an old config (keeps its keys, reports the missing ones), installs hook and unit; check; uninstall', async (ctx) => {
  if (!redis) return ctx.skip('redis-server not installed');
  if (!requireRoot(ctx, 'dc setup (it refuses to run as anyone else)')) return;
  const workerConf = join(root, 'etc', 'macct-worker.conf');
  mkdirSync(join(root, 'etc'), { recursive: true });
  const master = join(work.path, 'devices.csv');
  writeFileSync(master, 'lab;pc1;nopxe;AA:BB:CC:DD:EE:01;DHCP;;;;;;0;;;;;\n');
  // a Phase-8-only config from an older install
  writeFileSync(workerConf, `# old install\nREDIS_HOST=10.9.9.9\nAPI_KEY=old\nCONSUMER_NAME=dc-01\nFOO=bar\nDEVICES_CSV_MASTER=${master}\n`, { mode: 0o644 });

  // wrong key: the API refuses it (401), an authentication failure (4); nothing is written
  writeFileSync(keyFile, 'wrong-key\n');
  const bad = await cli(args(), {});
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /api: LINBO API GET .*: 401 Invalid or missing internal API key; nothing written/);
  assert.ok(!bad.stderr.includes('wrong-key'));
  assert.match(readFileSync(workerConf, 'utf8'), /^API_KEY=old$/m);

  writeFileSync(keyFile, 'setup-key-42\n');
  const r = await cli(args(['--school', 'default-school']), {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /the existing worker config lacked 10 key\(s\), added with defaults: SCHOOL, LINBO_DOMAIN, DEVICES_CSV_DELTA, IMPORT_SCRIPT,/);
  const conf = readFileSync(workerConf, 'utf8');
  assert.match(conf, /^# old install$/m);
  assert.match(conf, /^CONSUMER_NAME=dc-01$/m);
  assert.match(conf, /^FOO=bar$/m);
  assert.match(conf, /^REDIS_HOST=127\.0\.0\.1$/m);
  assert.match(conf, new RegExp(`^API_URL=http://127\\.0\\.0\\.1:${apiPort}/api/v1$`, 'm'));
  assert.match(conf, /^API_KEY=setup-key-42$/m);
  assert.match(conf, /^PROVISION_BATCH_SIZE=50$/m);
  assert.equal(mode(workerConf), 0o600);
  const hookConf = join(root, 'etc', 'linbo-docker-dhcp.conf');
  assert.match(readFileSync(hookConf, 'utf8'), /^LINBO_DOCKER_IP=127\.0\.0\.1$/m);
  assert.equal(mode(hookConf), 0o600);
  const hook = join(root, 'var/lib/linuxmuster/hooks/device-import.post.d/50-linbo-docker-dhcp');
  assert.equal(mode(hook), 0o755);
  // the labops running this test (Node and the test file, in process), by absolute path
  const self = await labopsSelfCommand();
  assert.equal(self[0], process.execPath);
  assert.ok(readFileSync(hook, 'utf8').split('\n').includes(`exec ${shJoin(self)} dhcp-patch "$@"`));
  const unit = join(root, 'etc/systemd/system/labops-dc-jobs.service');
  assert.ok(readFileSync(unit, 'utf8').split('\n').includes(`ExecStart=${self.join(' ')} dc jobs`));
  assert.match(readFileSync(unit, 'utf8'), /^Restart=always$/m);

  const check = await cli(['dc', 'check', '--root', root, '--json'], {});
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const checks = JSON.parse(check.stdout).checks as { name: string; status: string }[];
  assert.deepEqual(checks.filter((c) => c.status === 'ok').map((c) => c.name), ['redis', 'api', 'worker config', 'hook config', 'hook', 'systemd unit', 'devices.csv', 'macct-worker.service']);
  chmodSync(hook, 0o644);
  const check2 = await cli(['dc', 'check', '--root', root], {});
  assert.equal(check2.code, 1);
  assert.match(check2.stdout, /^hook\tfail\t.*is not executable/m);
  chmodSync(hook, 0o755);
  // the Debian package of the Python worker, reading the same worker config: the same consumer name
  const oldUnit = join(root, 'lib/systemd/system/macct-worker.service');
  mkdirSync(join(root, 'lib/systemd/system'), { recursive: true });
  writeFileSync(oldUnit, `[Service]\nExecStart=/usr/bin/python3 /usr/lib/linbo-docker-dc-worker/macct-worker.py -c ${workerConf}\n`);
  const check3 = await cli(['dc', 'check', '--root', root], {});
  assert.equal(check3.code, 1);
  assert.match(check3.stdout, /^macct-worker\.service\tfail\t.*consumes linbo:jobs in group dc-workers as 'dc-01', the consumer name labops dc jobs uses/m);
  // a unit whose labops is gone (a moved install): systemd would restart it forever
  const unitText = readFileSync(unit, 'utf8');
  writeFileSync(unit, unitText.replace(/^ExecStart=\S+/m, 'ExecStart=/opt/gone/labops'));
  const check4 = await cli(['dc', 'check', '--root', root], {});
  assert.match(check4.stdout, /^systemd unit\tfail\t.*starts \/opt\/gone\/labops.*, but \/opt\/gone\/labops does not exist/m);
  writeFileSync(unit, unitText);

  const u = await cli(['dc', 'setup', '--uninstall', '--root', root, '--no-enable'], {});
  assert.equal(u.code, 0, u.stderr);
  assert.ok(!existsSync(hook) && !existsSync(unit));
  assert.ok(existsSync(workerConf) && existsSync(hookConf), 'configs are kept');
});

test('dc setup --no-input without the LINBO IP: exit 2, nothing written; Redis unreachable: exit 3', async (ctx) => {
  if (!redis) return ctx.skip('redis-server not installed');
  if (!requireRoot(ctx, 'dc setup (it refuses to run as anyone else)')) return;
  const r2 = join(work.path, 'root2');
  const r = await cli(['dc', 'setup', '--root', r2, '--no-input', '--no-enable', '--api-key-file', keyFile], {});
  assert.equal(r.code, 2);
  assert.match(r.stderr, /LINBO Docker host IP \(--linbo-ip\) is required/);
  const dead = await freePort();
  const u = await cli(['dc', 'setup', '--root', r2, '--no-input', '--no-enable', '--linbo-ip', '127.0.0.1', '--redis-port', String(dead), '--api-port', String(apiPort), '--api-key-file', keyFile], {});
  assert.equal(u.code, 3);
  assert.match(u.stderr, /redis: Redis at 127\.0\.0\.1:\d+ \(check\): connection refused/);
  assert.ok(!existsSync(join(r2, 'etc')));
});
