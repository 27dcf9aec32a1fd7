// labops doctor against a simulated lab: every check ok, then failures named; and it writes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startCmlControllers, type CmlControllers } from '../../src/sim/cml/index.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { randomLoopbackBase } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-doctor-');
let sim: Simulator;
let cml: CmlControllers;
let config: string;

async function cli(args: string[]) {
  const io = IOStreams.test();
  const code = await run(args, { io, env: { HOME: dir.path, PATH: process.env.PATH, LINBO_DOCKER_DHCP_CONF: join(dir.path, 'none.conf'), MACCT_WORKER_CONF: join(dir.path, 'none.conf') } });
  return { code, stdout: io.outText(), stderr: io.errText() };
}

before(async () => {
  sim = await startSimulator({ hosts: 3, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, poweredOn: true, bootDelayMs: 10 });
  cml = await startCmlControllers({ count: 1, labsPerController: 2, stateDir: join(dir.path, 'sim') });
  config = join(dir.path, 'config.json');
  writeFileSync(config, JSON.stringify({ hosts: sim.inventoryPath, db: `sqlite:${join(dir.path, 'labops.db')}`, cml: { servers: cml.servers } }));
});
after(async () => {
  await cml.close();
  await sim.close();
  dir.cleanup();
});

test('a database that does not exist fails the check and is not created', async () => {
  const r = await cli(['--config', config, '--json', 'doctor']);
  assert.equal(r.code, 1);
  const db = JSON.parse(r.stdout).checks.find((c: { check: string }) => c.check === 'database');
  assert.equal(db.status, 'fail');
  assert.match(db.detail, /no SQLite database at .*labops\.db/);
  assert.equal(existsSync(join(dir.path, 'labops.db')), false, 'doctor is read-only');
});

test('everything configured and up: every check ok, exit 0', async () => {
  assert.equal((await cli(['--config', config, 'db', 'migrate'])).code, 0);
  const r = await cli(['--config', config, '--json', 'doctor']);
  assert.equal(r.code, 0, r.stdout);
  const checks = JSON.parse(r.stdout).checks as { check: string; status: string; detail: string }[];
  assert.deepEqual(
    checks.filter((c) => !c.check.startsWith('daemon ')).map((c) => `${c.check}:${c.status}`),
    ['config:ok', 'inventory:ok', 'database:ok', `cml ${cml.servers[0]!.id}:ok`, 'hosts:ok', 'dhcp hook:skip', 'dc worker:skip'],
  );
  // what labops daemon would run here, loop by loop: db migrate gave SQLite (labops' own store) every part's
  // tables, so only the DC consumer lacks its configuration (a MySQL database of one upstream system:
  // daemon-plan.test.ts)
  assert.deepEqual(
    checks.filter((c) => c.check.startsWith('daemon ')).map((c) => `${c.check}:${c.status}`),
    ['daemon api:ok', 'daemon heartbeat:ok', 'daemon reservations:ok', 'daemon provisioning:ok', 'daemon cleanup:ok', 'daemon servers:ok', 'daemon labs:ok', 'daemon dc-jobs:skip'],
  );
  assert.match(checks.find((c) => c.check === 'daemon dc-jobs')!.detail, /^would not run: no worker config at /);
});

test('the database check says where its URL came from (MYSQL_DSN quietly winning over the config file)', async () => {
  const r = await cli(['--config', config, '--json', 'doctor', '--sample', '0']);
  const db = JSON.parse(r.stdout).checks.find((c: { check: string }) => c.check === 'database');
  assert.match(db.detail, new RegExp(`labops\\.db \\(from ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): reachable, migrated`));
});

test('a wrong CML password fails the check with the sync\'s hint; --strict fails on warnings', async () => {
  const wrong = join(dir.path, 'wrong.json');
  writeFileSync(wrong, JSON.stringify({ hosts: sim.inventoryPath, db: `sqlite:${join(dir.path, 'labops.db')}`, cml: { servers: [{ ...cml.servers[0]!, password: 'not-the-password' }] } }));
  const r = await cli(['--config', wrong, '--json', 'doctor', '--sample', '0']);
  assert.equal(r.code, 1);
  const c = JSON.parse(r.stdout).checks.find((x: { check: string }) => x.check.startsWith('cml '));
  assert.equal(c.status, 'fail', 'systemInformation answers without a login; the login must be checked too');
  assert.ok(c.hint, 'a hint');
  const warned = join(dir.path, 'warned.json');
  // no inventory at all (the default path): a warning, not a failure
  writeFileSync(warned, JSON.stringify({ db: `sqlite:${join(dir.path, 'labops.db')}` }));
  assert.equal((await cli(['--config', warned, 'doctor', '--sample', '0'])).code, 0);
  assert.equal((await cli(['--config', warned, 'doctor', '--sample', '0', '--strict'])).code, 1);
});

test('an inventory with several bad entries: one failing row for each', async () => {
  const inv = join(dir.path, 'bad-hosts.json');
  writeFileSync(inv, JSON.stringify({ hosts: [{ name: 'a', address: 'b', mac: 'zz' }, { name: 'c', address: 'd', probe: 'udp:9' }] }));
  const r = await cli(['--hosts', inv, '--json', 'doctor', '--sample', '0']);
  assert.equal(r.code, 1);
  const rows = JSON.parse(r.stdout).checks.filter((x: { check: string }) => x.check === 'inventory');
  assert.deepEqual(rows.map((x: { status: string; detail: string }) => [x.status, x.detail.slice(inv.length + 2)]), [
    ['fail', 'hosts[0].mac: is not a MAC address'],
    ['fail', "hosts[1].probe: must be 'icmp' or 'tcp:<port>'"],
  ]);
});

test('a host down and a controller gone are named; exit 1 when a check fails; --all-hosts probes every host', async () => {
  await sim.stations[1]!.powerOff();
  const sampled = await cli(['--config', config, 'doctor', '--timeout', '1s', '--sample', '2']);
  assert.match(sampled.stdout, /^(ok|warn)\thosts\t\d\/2 sampled host\(s\) reachable/m);
  await cml.close();
  const r = await cli(['--config', config, 'doctor', '--timeout', '1s', '--all-hosts']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^warn\thosts\t2\/3 host\(s\) reachable; not: sim-ws-002 \(refused\)$/m);
  assert.match(r.stdout, /^fail\tcml sim-cml-01\t/m);
});
