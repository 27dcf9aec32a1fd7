// Listings (`heartbeat show`, the status page, GET /api/hosts) and alert runs read what they need of each host's
// latest heartbeat from labops_host_digest, written with every heartbeat labops stores, instead of parsing every
// stored document; the start of a not-ready run is kept there instead of being searched in a week of history.
// Heartbeats stored without a digest (by the ops-worker) are parsed as the poll would: the same answers on SQLite
// and MariaDB, for either place the station puts its operations block, and a stored document that is not JSON (the
// ops-worker's Python may have written NaN) never fails the listing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { tempDir } from '../support/tmp.js';
import { openDatabase } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';
import { latestHeartbeatStates, storeHeartbeats } from '../../src/core/db/heartbeat-store.js';
import { normalizeHeartbeat } from '../../src/domain/heartbeat/normalize.js';
import { DEFAULT_THRESHOLDS } from '../../src/domain/heartbeat/alerts.js';
import { evaluateAndStoreAlerts } from '../../src/ops/heartbeat/alerts.js';
import type { InventoryHost } from '../../src/core/config/inventory.js';

const dir = tempDir('labops-hb-states-');
let maria: MariaDb | undefined;
before(async (t) => {
  maria = await startMariaDb(t as never);
});
after(async () => {
  await maria?.stop();
  dir.cleanup();
});

const DOCS: Record<string, string | null> = {
  'ws-top': JSON.stringify({ summary: { issues: ['WinRM listener missing', 'NIC not armed'] }, operations: { lastPrepareSession: { timestamp: '2026-12-01T08:01:47Z' } } }),
  'ws-status': JSON.stringify({ summary: { issues: [] }, status: { operations: { lastPrepareSession: { timestamp: '2026-12-01T09:15:00+01:00' } } } }),
  'ws-nan': '{"summary": {"issues": ["x"]}, "wake": {"armedCount": NaN}}',
  'ws-odd': JSON.stringify({ summary: { issues: 'not a list' }, operations: { lastPrepareSession: { timestamp: 'yesterday' } } }),
  'ws-never': null,
};
const EXPECTED = {
  'ws-never': { issues: [], lastPrepareTs: null, timestampUtc: null, notReadySince: undefined },
  'ws-nan': { issues: [], lastPrepareTs: null, timestampUtc: '2026-12-01T10:00:00.000Z', notReadySince: undefined },
  'ws-odd': { issues: [], lastPrepareTs: null, timestampUtc: '2026-12-01T10:00:00.000Z', notReadySince: undefined },
  'ws-status': { issues: [], lastPrepareTs: '2026-12-01T08:15:00.000Z', timestampUtc: '2026-12-01T10:00:00.000Z', notReadySince: undefined },
  'ws-top': { issues: ['WinRM listener missing', 'NIC not armed'], lastPrepareTs: '2026-12-01T08:01:47.000Z', timestampUtc: '2026-12-01T10:00:00.000Z', notReadySince: undefined },
};

async function check(url: string): Promise<void> {
  const db = await openDatabase(url);
  try {
    await migrate(db.kysely, db.dialect);
    let id = 0;
    for (const [name, raw] of Object.entries(DOCS)) {
      id++;
      await db.kysely.insertInto('lab_hosts').values({ id, name, address: `10.1.0.${id}`, mac: null, last_seen: null }).execute();
      if (raw === null) continue;
      // an older heartbeat first: the listing shows the latest one
      // the ops-worker's rows: ws-odd not ready since 09:00
      const ready = name === 'ws-odd' ? 0 : 1;
      await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: id, timestamp_utc: '2026-12-01 08:00:00', ready: 1, raw_json: '{}' }).execute();
      await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: id, timestamp_utc: '2026-12-01 09:00:00', ready, raw_json: '{"summary": {"issues": ["old"]}}' }).execute();
      await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: id, timestamp_utc: '2026-12-01 10:00:00', ready, raw_json: raw }).execute();
    }
    const rows = await latestHeartbeatStates(db);
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.host, { issues: r.issues, lastPrepareTs: r.lastPrepareTs, timestampUtc: r.timestampUtc, notReadySince: r.notReadySince }])), EXPECTED);
    assert.deepEqual((await latestHeartbeatStates(db, ['WS-TOP'])).map((r) => r.host), ['ws-top'], 'named hosts, any case');

    // without a digest, an alert run finds the not-ready run in the history
    const hosts = Object.keys(DOCS).map((name) => ({ name, address: '', labs: [] as string[] }) as unknown as InventoryHost);
    const alerts = await evaluateAndStoreAlerts(db, hosts, { ...DEFAULT_THRESHOLDS, missingIntervals: 1000 }, Date.parse('2026-12-01T10:05:00Z'));
    assert.deepEqual(alerts.opened.filter((a) => a.rule === 'not-ready').map((a) => [a.host, a.details.since]), [['ws-odd', '2026-12-01T09:00:00.000Z']]);

    // labops stores the next heartbeats: the digest is written with each and is what the listing reads
    const store = (minute: number, ready: boolean, issues: string[]) =>
      storeHeartbeats(db, [{
        host: { name: 'ws-top', address: '10.1.0.1', labs: [] },
        snapshot: normalizeHeartbeat({ host: 'WS-TOP', timestamp: `2026-12-01T10:0${minute}:00Z`, summary: { ready, issues }, operations: { lastPrepareSession: { timestamp: '2026-12-01T10:00:30Z' } }, wake: { armedCount: 1, nicNonCompliant: [{ name: 'Ethernet 2' }] } }),
        events: [],
        pollTime: `2026-12-01T10:0${minute}:05Z`,
      }]);
    const top = async () => (await latestHeartbeatStates(db, ['ws-top']))[0]!;
    await store(1, false, ['disk full']);
    const digests = await db.kysely.selectFrom('labops_host_digest').selectAll().execute();
    assert.deepEqual(digests.map((r) => [r.host_id, r.issues, r.non_compliant_nics]), [[1, '["disk full"]', '["Ethernet 2"]']]);
    await db.kysely.updateTable('lab_host_heartbeat').set({ raw_json: 'not read' }).where('timestamp_utc', '=', '2026-12-01 10:01:00').execute();
    const first = await top();
    assert.deepEqual([first.issues, first.lastPrepareTs, first.timestampUtc, first.nonCompliantNics, first.armedCount], [['disk full'], '2026-12-01T10:00:30.000Z', '2026-12-01T10:01:00.000Z', ['Ethernet 2'], 1]);
    assert.equal(first.notReadySince, '2026-12-01T10:01:00.000Z');
    await store(2, false, ['disk full']);
    assert.equal((await top()).notReadySince, '2026-12-01T10:01:00.000Z', 'a not-ready run keeps the time it began');
    await store(3, true, []);
    assert.equal((await top()).notReadySince, null);
    await store(4, false, []);
    assert.equal((await top()).notReadySince, '2026-12-01T10:04:00.000Z', 'a new run begins');
    // the ops-worker stores a newer heartbeat beside labops: the digest no longer describes the newest, which is read
    await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: 1, timestamp_utc: '2026-12-01 10:05:00', ready: 1, raw_json: '{"summary": {"ready": true, "issues": ["from the ops-worker"]}}' }).execute();
    const newest = await top();
    assert.deepEqual([newest.timestampUtc, newest.issues, newest.notReadySince], ['2026-12-01T10:05:00.000Z', ['from the ops-worker'], undefined]);
    assert.equal((await latestHeartbeatStates(db)).length, 5, 'each host once');
  } finally {
    await db.close();
  }
}

describe('the latest heartbeat of each host, with what a listing reads from its document', () => {
  test('SQLite', async () => {
    await check(`sqlite:${join(dir.path, 'states.db')}`);
  });

  test('MariaDB', async (t) => {
    if (!maria) return t.skip('MariaDB not installed');
    await check(maria.createDatabase('hb_states'));
  });

  test('MariaDB: batches of every size do not pile up prepared statements (each size is a statement of its own)', async (t) => {
    if (!maria) return t.skip('MariaDB not installed');
    const db = await openDatabase(maria.createDatabase('hb_prepared'));
    try {
      await migrate(db.kysely, db.dialect);
      for (let n = 1; n <= 60; n++) {
        const at = new Date(Date.UTC(2026, 11, 1, 12, 0) + n * 60_000).toISOString();
        await storeHeartbeats(db, Array.from({ length: n }, (_, i) => ({
          host: { name: `ws-${i}`, address: `10.2.0.${i}`, labs: [] },
          snapshot: normalizeHeartbeat({ host: `WS-${i}`, timestamp: at, summary: { ready: true, issues: [] } }),
          events: [],
          pollTime: at,
        })));
      }
      const open = Number(maria.sql("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").trim().split(/\s+/)[1]);
      assert.ok(open <= 32, `${open} prepared statements open on the server (60 batch sizes × 4 INSERTs without a bound)`);
    } finally {
      await db.close();
    }
  });
});
