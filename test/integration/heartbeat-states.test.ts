// The host listing (`heartbeat show`, the status page, GET /api/hosts) reads each host's issues and last prepare
// from labops_host_listing, written with every heartbeat labops stores, instead of parsing every stored document;
// heartbeats stored without it (by the ops-worker) are parsed as the poll would: the same answers on SQLite and
// MariaDB, for either place the station puts its operations block, and a stored document that is not JSON (the
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
  'ws-never': { issues: [], lastPrepareTs: null, timestampUtc: null },
  'ws-nan': { issues: [], lastPrepareTs: null, timestampUtc: '2026-12-01T10:00:00.000Z' },
  'ws-odd': { issues: [], lastPrepareTs: null, timestampUtc: '2026-12-01T10:00:00.000Z' },
  'ws-status': { issues: [], lastPrepareTs: '2026-12-01T08:15:00.000Z', timestampUtc: '2026-12-01T10:00:00.000Z' },
  'ws-top': { issues: ['WinRM listener missing', 'NIC not armed'], lastPrepareTs: '2026-12-01T08:01:47.000Z', timestampUtc: '2026-12-01T10:00:00.000Z' },
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
      await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: id, timestamp_utc: '2026-12-01 09:00:00', raw_json: '{"summary": {"issues": ["old"]}}' }).execute();
      await db.kysely.insertInto('lab_host_heartbeat').values({ host_id: id, timestamp_utc: '2026-12-01 10:00:00', raw_json: raw }).execute();
    }
    const rows = await latestHeartbeatStates(db);
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.host, { issues: r.issues, lastPrepareTs: r.lastPrepareTs, timestampUtc: r.timestampUtc }])), EXPECTED);
    assert.deepEqual((await latestHeartbeatStates(db, ['WS-TOP'])).map((r) => r.host), ['ws-top'], 'named hosts, any case');

    // labops stores the next heartbeat: its listing row is written with it and is what the listing reads
    const doc = { host: 'WS-TOP', timestamp: '2026-12-01T10:01:00Z', summary: { ready: false, issues: ['disk full'] }, operations: { lastPrepareSession: { timestamp: '2026-12-01T10:00:30Z' } } };
    await storeHeartbeats(db, [{ host: { name: 'ws-top', address: '10.1.0.1', labs: [] }, snapshot: normalizeHeartbeat(doc), events: [], pollTime: '2026-12-01T10:01:05Z' }]);
    const listed = await db.kysely.selectFrom('labops_host_listing').selectAll().execute();
    assert.deepEqual(listed.map((r) => [r.host_id, r.issues]), [[1, '["disk full"]']]);
    await db.kysely.updateTable('lab_host_heartbeat').set({ raw_json: 'not read' }).where('timestamp_utc', '=', '2026-12-01 10:01:00').execute();
    const [top] = await latestHeartbeatStates(db, ['ws-top']);
    assert.deepEqual([top!.issues, top!.lastPrepareTs, top!.timestampUtc], [['disk full'], '2026-12-01T10:00:30.000Z', '2026-12-01T10:01:00.000Z']);
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
});
