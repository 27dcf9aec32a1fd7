// The reservation orchestrator against a real MariaDB: two `labops reserve scan --once` processes over many
// reservations never start one twice; scheduler rows, allowed transitions, backoff for failures, ends; and a
// database that goes away mid-run leaves the status unchanged and exits 75.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';
import { toDbDateTime } from '../../src/core/db/time.js';
import { runSrcCli } from '../support/cli.js';

const N = 30;

const labops = runSrcCli;

describe('reservation orchestrator on MariaDB', () => {
  let maria: MariaDb | undefined;
  let sim: Simulator;
  let db: Database;
  let url: string;
  const tmp = tempDir('labops-reserve-maria-');
  const config = join(tmp.path, 'config.json');
  const env = () => ({ HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, LABOPS_DB: url, LABOPS_CONFIG: config, OPS_CONFIG: sim.inventoryPath, CI: process.env.CI ?? '' });

  before(async (t) => {
    maria = await startMariaDb(t as never);
    if (!maria) return;
    sim = await startSimulator({ hosts: N, baseAddress: randomLoopbackBase(), stateDir: join(tmp.path, 'sim'), port: 0, bootDelayMs: 100, timeScale: 100 });
    writeFileSync(config, JSON.stringify({ wol: { interval: '500ms', timeout: '500ms', attempts: 4 }, reservations: { 'backoff-base': '10m' } }));
    url = maria.createDatabase('reserve');
    db = await openDatabase(url);
    await migrate(db.kysely, db.dialect, { createForeign: true });
  });
  after(async () => {
    await db?.close();
    await sim?.close();
    await maria?.stop();
    tmp.cleanup();
  });

  const count = async (action: string, id: string) =>
    Number((await db.kysely.selectFrom('reservation_operations').select(sql<number>`count(*)`.as('n')).where('reservation_id', '=', id).where('action', '=', action).executeTakeFirst())!.n);
  const status = async (id: string) => (await db.kysely.selectFrom('lab_reservations').select('status').where('transaction_hash', '=', id).executeTakeFirstOrThrow()).status;

  test('two processes, many reservations: every start exactly once, scheduler rows, CONFIRMED -> ACTIVE', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const now = Date.now();
    const values = Array.from({ length: N }, (_, i) => ({ transaction_hash: `0xr${i + 1}`, lab_id: String(i + 1), status: 'CONFIRMED' as 'CONFIRMED' | 'CANCELLED', start_time: toDbDateTime(now + 30_000), end_time: toDbDateTime(now + 3_600_000) }));
    values.push({ transaction_hash: '0xunmapped', lab_id: '999', status: 'CONFIRMED', start_time: toDbDateTime(now + 30_000), end_time: toDbDateTime(now + 3_600_000) });
    values.push({ transaction_hash: '0xcancelled', lab_id: '1', status: 'CANCELLED', start_time: toDbDateTime(now + 30_000), end_time: toDbDateTime(now + 3_600_000) });
    await db.kysely.insertInto('lab_reservations').values(values).execute();

    const [a, b] = await Promise.all([labops(['--json', 'reserve', 'scan', '--once', '--concurrency', '16'], { ...env(), LABOPS_INSTANCE: 'a' }), labops(['--json', 'reserve', 'scan', '--once', '--concurrency', '16'], { ...env(), LABOPS_INSTANCE: 'b' })]);
    // exit 1 or 5: the unmapped reservation failed in whichever process claimed it
    for (const r of [a, b]) assert.ok([0, 1, 5].includes(r.code), `exit ${r.code}: ${r.stderr} ${r.stdout.slice(0, 3000)}`);
    const ra = JSON.parse(a.stdout);
    const rb = JSON.parse(b.stdout);
    assert.equal(ra.items.length + rb.items.length, N + 1, 'every due reservation dispatched once across both instances');
    for (let i = 1; i <= N; i++) {
      const id = `0xr${i}`;
      assert.equal(await count('prepare', id), 1, `${id}: one prepare`);
      assert.equal(await count('scheduler:start', id), 1, `${id}: one scheduler:start`);
      assert.equal(await status(id), 'ACTIVE');
    }
    for (const s of sim.stations) assert.equal(s.runtime!.receivedArgv.filter((x) => x[0] === 'prepare-session').length, 1, `${s.name} prepared once`);
    assert.equal(await status('0xcancelled'), 'CANCELLED');
    assert.equal(await count('scheduler:start', '0xcancelled'), 0);
    const unmapped = await db.kysely.selectFrom('reservation_operations').selectAll().where('reservation_id', '=', '0xunmapped').execute();
    assert.deepEqual(unmapped.map((r) => [r.host, r.action, r.status, r.response_code, r.message]), [['unmapped', 'scheduler:start', 'failed', null, 'No host mapping for lab 999']]);
    assert.equal(await status('0xunmapped'), 'CONFIRMED');
  });

  test('a failed reservation backs off instead of being retried on the next scan', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const claim = await db.kysely.selectFrom('labops_reservation_claims').selectAll().where('reservation_id', '=', '0xunmapped').executeTakeFirstOrThrow();
    assert.equal(claim.attempts, 1);
    assert.ok(Date.parse(`${String(claim.next_attempt_at).replace(' ', 'T')}Z`) > Date.now() + 5 * 60_000, 'next attempt 10 min later (backoff-base)');
    const r = await labops(['--json', 'reserve', 'scan', '--once'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).items.length, 0);
    assert.equal(await count('scheduler:start', '0xunmapped'), 1);
  });

  test('ends: release, scheduler:end, ACTIVE -> COMPLETED', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const past = toDbDateTime(Date.now() - 5 * 60_000);
    await db.kysely.updateTable('lab_reservations').set({ end_time: past }).where('transaction_hash', 'in', ['0xr1', '0xr2', '0xr3']).execute();
    const r = await labops(['--json', 'reserve', 'scan', '--once'], env());
    assert.equal(r.code, 0, r.stderr);
    for (const id of ['0xr1', '0xr2', '0xr3']) {
      assert.equal(await count('release', id), 1);
      assert.equal(await count('scheduler:end', id), 1);
      assert.equal(await status(id), 'COMPLETED');
    }
    assert.equal(await status('0xr4'), 'ACTIVE');
  });

  test('the database going away mid-run: exit 75, status unchanged', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    await db.kysely.insertInto('lab_reservations').values({ transaction_hash: '0xdbgone', lab_id: '10', status: 'CONFIRMED', start_time: toDbDateTime(Date.now()), end_time: toDbDateTime(Date.now() + 3_600_000) }).execute();
    const st = sim.station('sim-ws-010')!;
    await st.powerOff();
    const packets = st.packets;
    const child = labops(['reserve', 'scan', '--once'], env());
    await waitFor(() => st.packets > packets, 'the wake to start', 30_000, 20);
    maria.sql('SHUTDOWN');
    const r = await child;
    assert.equal(r.code, 75, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /db-error|database|unavailable|ECONNREFUSED|could not be written/i);
    await maria.restart();
    await db.close();
    db = await openDatabase(url);
    assert.equal(await status('0xdbgone'), 'CONFIRMED');
    assert.equal(await count('scheduler:start', '0xdbgone'), 0);
  });
});
