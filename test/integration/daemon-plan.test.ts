// The daemon against the databases of the systems it replaces, on a real MariaDB: a Lab Gateway database
// (the ops-worker's tables and lab_reservations, nothing of the collector) gives /health 200 with the collector
// loops disabled and their missing tables named, configured intervals from the first /health, only Gateway
// tables created, and `labops doctor` telling the same plan; `--only` forces a loop on and its failure degrades
// /health; OPS_RESERVATION_AUTOMATION=false keeps the orchestrator off. A collector's database gets only the
// collector's tables from `labops db migrate`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { createStatements } from '../../src/core/db/table.js';
import { COLLECTOR_TABLES } from '../../src/core/db/tables-collector.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const UPSTREAM_DDL = readFileSync(new URL('../fixtures/upstream-002-labstation-ops.sql', import.meta.url), 'utf8');
const LAB_RESERVATIONS = `CREATE TABLE lab_reservations (id BIGINT AUTO_INCREMENT PRIMARY KEY, transaction_hash VARCHAR(66) NOT NULL UNIQUE, lab_id VARCHAR(128),
  wallet_address VARCHAR(64), start_time TIMESTAMP NULL, end_time TIMESTAMP NULL, status ENUM('PENDING','CONFIRMED','ACTIVE','COMPLETED','CANCELLED') DEFAULT 'PENDING',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)`;

const dir = tempDir('labops-plan-');
let maria: MariaDb | undefined;
let sim: Simulator;
let inventory = '';
const env = (extra: Record<string, string> = {}) => ({ HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path, MACCT_WORKER_CONF: join(dir.path, 'none.conf'), PATH: process.env.PATH ?? '', ...extra });

async function cli(args: string[], extra: Record<string, string> = {}) {
  const io = IOStreams.test();
  const code = await run(args, { io, env: env(extra) });
  return { code, stdout: io.outText(), stderr: io.errText() };
}

function get(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    })
      .on('error', reject)
      .end();
  });
}

/** Runs `labops daemon` until `body` is done, then stops it. */
async function withDaemon(args: string[], extra: Record<string, string>, body: (base: string, log: () => string) => Promise<void>): Promise<void> {
  const io = IOStreams.test();
  const signals = new RunSignals();
  const daemon = run(['--json', 'daemon', ...args, '--listen', '127.0.0.1:0'], { io, env: env(extra), signals });
  try {
    await waitFor(() => /listening/.test(io.outText()) || io.errText().includes('"level":50'), 'the API to listen', 30_000);
    const base = JSON.parse(io.outText().trim().split('\n')[0]!).listening as string;
    await body(base, () => io.errText());
  } finally {
    signals.receive('SIGTERM');
    assert.equal(await daemon, 0, io.errText());
  }
}

const tablesOf = (m: MariaDb, db: string) => m.sql(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${db}' ORDER BY table_name`).trim().split('\n').filter(Boolean);

before(async (t) => {
  maria = await startMariaDb(t as never);
  sim = await startSimulator({ hosts: 1, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, poweredOn: true, bootDelayMs: 10 });
  inventory = sim.inventoryPath;
});
after(async () => {
  await maria?.stop();
  await sim?.close();
  dir.cleanup();
});

describe('a Lab Gateway database (the ops-worker tables and lab_reservations only)', () => {
  let url = '';
  before(() => {
    if (!maria) return;
    url = maria.createDatabase('gateway');
    maria.sql(`USE gateway; ${UPSTREAM_DDL}; ${LAB_RESERVATIONS};`);
  });

  test('plain labops daemon: /health 200, the collector loops disabled with the tables they lack, configured intervals at once', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    await withDaemon([], { MYSQL_DSN: url.replace('mysql://', 'mysql+pymysql://'), OPS_CONFIG: inventory, OPS_POLL_INTERVAL: '120', OPS_RESERVATION_SCAN_INTERVAL: '45' }, async (base, log) => {
      const h = await get(`${base}/health`);
      assert.equal(h.status, 200, JSON.stringify(h.json));
      assert.equal(h.json.status, 'ok');
      const loops = h.json.loops as Record<string, Record<string, unknown>>;
      for (const n of ['provisioning', 'cleanup']) assert.deepEqual(loops[n], { name: n, status: 'disabled', reason: "the database lacks lab_sessions, labs, servers (the SSH collector's tables)", healthy: true });
      assert.equal(loops.servers!.reason, "the database lacks servers, server_metrics, alerts (the SSH collector's tables)");
      assert.equal(loops.labs!.reason, 'no cml.servers in the config');
      assert.match(String(loops['dc-jobs']!.reason), /^no worker config at /);
      assert.deepEqual([loops.heartbeat!.intervalMs, loops.reservations!.intervalMs], [120_000, 45_000], 'the configured intervals from the first /health');
      assert.deepEqual([loops.heartbeat!.status, loops.reservations!.status], ['ok', 'ok']);
      // reported once at start
      assert.equal(log().match(/provisioning: not started/g)?.length, 1, log());
    });
    const tables = tablesOf(maria, 'gateway');
    for (const mine of ['labops_host_poll_state', 'labops_alerts', 'reservation_forced_logoffs', 'labops_reservation_claims', 'labops_instances']) assert.ok(tables.includes(mine), mine);
    for (const foreign of ['servers', 'lab_sessions', 'labops_session_log', 'labops_session_state', 'cml_lab_records']) assert.ok(!tables.includes(foreign), `${foreign} must not be created in the Gateway's database`);
  });

  test('labops doctor reports exactly what the daemon runs, and why not', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const r = await cli(['--json', 'doctor', '--sample', '0'], { MYSQL_DSN: url, OPS_CONFIG: inventory });
    const checks = JSON.parse(r.stdout).checks as { check: string; status: string; detail: string }[];
    const daemon = Object.fromEntries(checks.filter((c) => c.check.startsWith('daemon ')).map((c) => [c.check.slice(7), c]));
    assert.deepEqual(Object.keys(daemon), ['api', 'heartbeat', 'reservations', 'provisioning', 'cleanup', 'servers', 'labs', 'dc-jobs']);
    assert.deepEqual(['api', 'heartbeat', 'reservations'].map((n) => daemon[n]!.status), ['ok', 'ok', 'ok']);
    assert.equal(daemon.provisioning!.detail, "would not run: the database lacks lab_sessions, labs, servers (the SSH collector's tables)");
    const db = checks.find((c) => c.check === 'database')!;
    assert.deepEqual([db.status, db.detail.endsWith('reachable, migrated')], ['ok', true], db.detail);
  });

  test('OPS_RESERVATION_AUTOMATION=false: the orchestrator is off, named as such', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    await withDaemon([], { MYSQL_DSN: url, OPS_CONFIG: inventory, OPS_RESERVATION_AUTOMATION: 'false' }, async (base) => {
      const loops = (await get(`${base}/health`)).json.loops as Record<string, Record<string, unknown>>;
      assert.deepEqual([loops.reservations!.status, loops.reservations!.reason], ['disabled', 'reservations.automation (from $OPS_RESERVATION_AUTOMATION) is off']);
    });
  });

  test('--only forces a loop on; its failure degrades /health', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    await withDaemon(['--only', 'api,servers'], { MYSQL_DSN: url, OPS_CONFIG: inventory }, async (base, log) => {
      assert.match(log(), /servers: started because --only names it, although the database lacks servers/);
      await waitFor(async () => (await get(`${base}/health`)).status === 503, '/health to degrade', 20_000);
      const h = await get(`${base}/health`);
      assert.equal(h.json.status, 'degraded');
      const servers = (h.json.loops as Record<string, Record<string, unknown>>).servers!;
      assert.equal(servers.status, 'failing');
      assert.match(String(servers.forced), /lacks servers/);
    });
  });
});

describe("the collector's database", () => {
  test("labops db migrate creates only the tables of the collector's loops; --only adds a part", async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const url = maria.createDatabase('collector');
    const ddl = COLLECTOR_TABLES.filter((x) => x.foreign).flatMap((x) => createStatements(x, 'mysql'));
    maria.sql(`USE collector; ${ddl.join(';\n')};`);
    const before = tablesOf(maria, 'collector');
    writeFileSync(join(dir.path, 'empty-hosts.json'), '{"hosts": []}');
    const r = await cli(['--json', 'db', 'migrate'], { LABOPS_DB: url, OPS_CONFIG: join(dir.path, 'empty-hosts.json') });
    assert.equal(r.code, 0, r.stderr);
    // the servers check is sharded: its lease table comes with it
    assert.deepEqual(JSON.parse(r.stdout).parts, ['collector', 'daemon']);
    assert.deepEqual(tablesOf(maria, 'collector').filter((x) => !before.includes(x)), ['labops_instances', 'labops_migrations', 'labops_session_log', 'labops_session_state']);
    const status = await cli(['db', 'status'], { LABOPS_DB: url, OPS_CONFIG: join(dir.path, 'empty-hosts.json') });
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const more = await cli(['--json', 'db', 'migrate', '--only', 'labs'], { LABOPS_DB: url });
    assert.deepEqual(JSON.parse(more.stdout).parts, ['cml', 'daemon']);
    assert.ok(tablesOf(maria, 'collector').includes('cml_lab_records'));
    assert.ok(!tablesOf(maria, 'collector').includes('lab_hosts'));
    const bad = await cli(['db', 'migrate', '--only', 'gatway'], { LABOPS_DB: url });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--only: unknown part\(s\) gatway/);
  });
});
