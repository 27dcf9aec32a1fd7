import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCmlTimestamp, pythonIso, toSqlTime, fromSqlTime } from '../../src/domain/labs/timestamps.js';
import { applySnapshot, historyCutoff, parseLabDetail, pushHistory, MAX_HISTORY, type HistoryEntry, type LabRecord, type LabSnapshot } from '../../src/domain/labs/record.js';
import { planOrphans } from '../../src/domain/labs/orphans.js';
import { toCloudManagerLab, toLabRecordDocument } from '../../src/domain/labs/shapes.js';

const refJson = (p: string) => JSON.parse(readFileSync(new URL(`../fixtures/cml/${p}`, import.meta.url), 'utf8')) as unknown;

describe('timestamps', () => {
  test('Z, offsets, no offset (UTC), fractions', () => {
    assert.deepEqual(parseCmlTimestamp('2021-02-28T07:33:47+00:00'), { ok: true, value: '2021-02-28T07:33:47.000Z' });
    assert.deepEqual(parseCmlTimestamp('2021-02-28T07:33:47Z'), { ok: true, value: '2021-02-28T07:33:47.000Z' });
    assert.deepEqual(parseCmlTimestamp('2025-11-19T21:11:59'), { ok: true, value: '2025-11-19T21:11:59.000Z' });
    assert.deepEqual(parseCmlTimestamp('2025-11-19T21:11:59.123456'), { ok: true, value: '2025-11-19T21:11:59.123Z' });
    assert.deepEqual(parseCmlTimestamp('2025-11-19T23:11:59+02:00'), { ok: true, value: '2025-11-19T21:11:59.000Z' });
    assert.deepEqual(parseCmlTimestamp('2025-11-19T16:11:59.5-0500'), { ok: true, value: '2025-11-19T21:11:59.500Z' });
    assert.deepEqual(parseCmlTimestamp('2025-11-19 21:11:59'), { ok: true, value: '2025-11-19T21:11:59.000Z' });
  });
  test('empty means none; garbage and impossible dates are rejected', () => {
    assert.deepEqual(parseCmlTimestamp(''), { ok: true, value: null });
    assert.deepEqual(parseCmlTimestamp(null), { ok: true, value: null });
    assert.deepEqual(parseCmlTimestamp('yesterday'), { ok: false });
    assert.deepEqual(parseCmlTimestamp('2025-02-30T00:00:00'), { ok: false });
    assert.deepEqual(parseCmlTimestamp(12345), { ok: false });
  });
  test('UTC timestamps (the sliced fast path) validate every field like the general path', () => {
    const utc = (x: string) => parseCmlTimestamp(x);
    assert.deepEqual(utc('2024-02-29T12:00:00.9999Z'), { ok: true, value: '2024-02-29T12:00:00.999Z' });
    assert.deepEqual(utc('2024-02-29T12:00:00.1+00:00'), { ok: true, value: '2024-02-29T12:00:00.100Z' });
    assert.deepEqual(utc('2000-02-29T00:00:00Z'), { ok: true, value: '2000-02-29T00:00:00.000Z' });
    for (const bad of ['2025-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2025-04-31T00:00:00Z', '2025-13-01T00:00:00Z', '2025-00-10T00:00:00Z', '2025-01-00T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T23:60:00+00:00', '0000-01-01T00:00:00Z']) {
      assert.deepEqual(utc(bad), { ok: false }, bad);
    }
    // Second 60 is out of the fast path's range; the general one rolls it into the next minute, as before.
    assert.deepEqual(utc('2025-01-01T10:59:60Z'), { ok: true, value: '2025-01-01T11:00:00.000Z' });
  });
  test('python isoformat and SQL round trip', () => {
    assert.equal(pythonIso('2022-06-10T14:23:33.000Z'), '2022-06-10T14:23:33+00:00');
    assert.equal(pythonIso('2025-11-17T10:30:00.123Z'), '2025-11-17T10:30:00.123000+00:00');
    assert.equal(toSqlTime('2025-11-17T10:30:00.123Z'), '2025-11-17 10:30:00.123');
    assert.equal(fromSqlTime('2025-11-17 10:30:00.123'), '2025-11-17T10:30:00.123Z');
    assert.equal(fromSqlTime('2025-11-17 10:30:00'), '2025-11-17T10:30:00.000Z');
  });
});

const older = refJson('lab_metadata.older-cml.virl2-client-testdata.json') as Record<string, unknown>[];
const cml29 = refJson('synthesized/get_lab_detail.response.cml29.json') as Record<string, unknown>;

describe('lab detail mapping', () => {
  test('CML 2.9 LabResponse maps every field', () => {
    const r = parseLabDetail(cml29, cml29.id as string);
    assert.ok(r.ok);
    assert.deepEqual(r.snapshot, {
      labId: '90f84e38-a71c-4d57-8d90-00fa8a197385',
      title: 'Lab at Mon 17:27 PM',
      state: 'STOPPED',
      description: 'CCNA study lab',
      notes: 'Find why this topology does not perform as expected!',
      owner: '90f84e38-a71c-4d57-8d90-00fa8a197385',
      ownerUsername: 'admin',
      ownerFullname: 'Dr. Super User',
      nodeCount: 7,
      linkCount: 8,
      groups: [{ id: '640a1c81-f1e7-4159-8fa2-ad35d9a68586', permission: 'read_only', name: 'students' }],
      effectivePermissions: ['lab_admin', 'lab_exec'],
      cmlCreatedAt: '2021-02-28T07:33:47.000Z',
      modifiedAt: '2021-02-28T07:33:47.000Z',
    });
  });
  test('older controllers without owner_fullname and effective_permissions are accepted', () => {
    for (const lab of older) {
      const r = parseLabDetail(lab, lab.id as string);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.snapshot.ownerFullname, undefined);
      assert.equal(r.snapshot.effectivePermissions, undefined);
    }
  });
  test('unknown states are kept as given', () => {
    const r = parseLabDetail({ ...cml29, state: 'BOOTED' }, cml29.id as string);
    assert.ok(r.ok);
    assert.equal(r.snapshot.state, 'BOOTED');
  });
  test('only a body that is not this lab is rejected', () => {
    const id = cml29.id as string;
    const cases: [unknown, RegExp][] = [
      ['<html>', /not a JSON object/],
      [[cml29], /not a JSON object/],
      [{ ...cml29, id: 'someone-else' }, /id: expected the requested id/],
    ];
    for (const [body, re] of cases) {
      const r = parseLabDetail(body, id);
      assert.equal(r.ok, false);
      assert.match((r as { error: string }).error, re);
    }
  });
  test('what upstream keeps is kept: its defaults, null dates, numeric strings; each repair a warning', () => {
    const id = cml29.id as string;
    const cases: [Record<string, unknown>, Partial<LabSnapshot>, RegExp | null][] = [
      [{ lab_title: undefined }, { title: 'Untitled Lab' }, /lab_title: expected a string, got nothing; stored as "Untitled Lab"/],
      [{ lab_title: 42 }, { title: '42' }, null],
      [{ state: undefined }, { state: 'UNKNOWN' }, /state: expected a non-empty string/],
      [{ state: 3 }, { state: 'UNKNOWN' }, /state/],
      [{ node_count: '7', link_count: ' 12 ' }, { nodeCount: 7, linkCount: 12 }, null],
      [{ node_count: 'seven' }, { nodeCount: undefined }, /node_count: expected a whole number ≥ 0, got "seven"; the stored value kept/],
      [{ node_count: -1 }, { nodeCount: undefined }, /node_count/],
      [{ node_count: '1e3' }, { nodeCount: undefined }, /node_count/],
      [{ created: 'not a date' }, { cmlCreatedAt: null }, /created: expected an ISO-8601 date-time, got "not a date"; stored as null/],
      [{ modified: 1_700_000_000 }, { modifiedAt: null }, /modified/],
      [{ groups: 'x' }, { groups: undefined }, /groups/],
      [{ lab_description: 42 }, { description: undefined }, /lab_description/],
      [{ owner_username: 7 }, { ownerUsername: undefined }, /owner_username/],
      [{ effective_permissions: 'lab_admin' }, { effectivePermissions: undefined }, /effective_permissions/],
      [{ id: undefined }, {}, null],
    ];
    for (const [patch, want, warning] of cases) {
      const r = parseLabDetail({ ...cml29, ...patch }, id);
      assert.ok(r.ok, JSON.stringify(patch));
      for (const [k, v] of Object.entries(want)) assert.deepEqual(r.snapshot[k as keyof LabSnapshot], v, `${JSON.stringify(patch)} ${k}`);
      if (warning) {
        assert.equal(r.warnings.length, 1, JSON.stringify(patch));
        assert.match(r.warnings[0]!, warning);
        assert.match(r.warnings[0]!, new RegExp(`^lab ${id}: `));
      } else assert.deepEqual(r.warnings, [], JSON.stringify(patch));
    }
  });
  test('a clean body has no warnings', () => {
    const r = parseLabDetail(cml29, cml29.id as string);
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, []);
  });
});

const NOW1 = '2025-11-17T10:00:00.000Z';
const NOW2 = '2025-11-17T10:30:00.000Z';
const ctx = (now: string) => ({ serverId: 'cml-1', now, newRecordId: () => 'rec-1' });
const snap = (over: Partial<LabSnapshot> = {}): LabSnapshot => {
  const r = parseLabDetail(older[0], older[0]!.id as string);
  assert.ok(r.ok);
  return { ...r.snapshot, ...over };
};

describe('change detection', () => {
  test('first sight creates with first_seen = last_synced = now, no history, a created event', () => {
    const d = applySnapshot(undefined, snap(), ctx(NOW1));
    assert.equal(d.kind, 'created');
    assert.equal(d.record.firstSeenAt, NOW1);
    assert.equal(d.record.lastSyncedAt, NOW1);
    assert.equal(d.record.historySeq, 0);
    assert.equal(d.record.ownerFullname, null);
    assert.deepEqual(d.kind === 'created' && d.events.map((e) => e.event), ['created']);
  });
  test('nothing changed: unchanged, only last_synced moves', () => {
    const first = applySnapshot(undefined, snap(), ctx(NOW1)).record;
    const d = applySnapshot(first, snap(), ctx(NOW2));
    assert.equal(d.kind, 'unchanged');
    assert.equal(d.record.lastSyncedAt, NOW2);
    assert.equal(d.record.firstSeenAt, NOW1);
  });
  test('state change: history entry with changed fields and a state_changed event', () => {
    const first = applySnapshot(undefined, snap({ nodeCount: 0 }), ctx(NOW1)).record;
    const d = applySnapshot(first, snap({ state: 'STARTED' }), ctx(NOW2));
    assert.equal(d.kind, 'updated');
    if (d.kind !== 'updated') return;
    assert.deepEqual(d.history, { seq: 1, timestamp: NOW2, previous_state: 'STOPPED', new_state: 'STARTED', changed_fields: { node_count: { old: 0, new: 7 } } });
    assert.equal(d.record.historySeq, 1);
    assert.deepEqual(d.events.map((e) => [e.event, e.previous_state, e.state]), [['state_changed', 'STOPPED', 'STARTED']]);
  });
  test('title, node or link count change without a state change still writes history (upstream does not)', () => {
    const first = applySnapshot(undefined, snap(), ctx(NOW1)).record;
    for (const over of [{ title: 'renamed' }, { nodeCount: 9 }, { linkCount: 1 }]) {
      const d = applySnapshot(first, snap(over), ctx(NOW2));
      assert.equal(d.kind, 'updated');
      assert.ok(d.kind === 'updated' && d.history, JSON.stringify(over));
      assert.equal(d.kind === 'updated' && d.events.length, 0);
    }
  });
  test('a description change updates without history', () => {
    const first = applySnapshot(undefined, snap(), ctx(NOW1)).record;
    const d = applySnapshot(first, snap({ description: 'new text' }), ctx(NOW2));
    assert.equal(d.kind, 'updated');
    assert.equal(d.kind === 'updated' && d.history, null);
  });
  test('omitted fields keep the stored value instead of a default', () => {
    const first = applySnapshot(undefined, { ...snap(), ownerFullname: 'Jane Doe', effectivePermissions: ['lab_view'] }, ctx(NOW1)).record;
    const d = applySnapshot(first, snap(), ctx(NOW2));
    assert.equal(d.kind, 'unchanged');
    assert.equal(d.record.ownerFullname, 'Jane Doe');
  });
  test('array fields compare by content: equal copies are unchanged, a changed permission or group updates', () => {
    const groups = [{ id: 'g1', permission: 'read_only', name: 'students' }];
    const first = applySnapshot(undefined, snap({ effectivePermissions: ['lab_view', 'lab_exec'], groups }), ctx(NOW1)).record;
    const copies = applySnapshot(first, snap({ effectivePermissions: ['lab_view', 'lab_exec'], groups: groups.map((g) => ({ ...g })) }), ctx(NOW2));
    assert.equal(copies.kind, 'unchanged');
    const perm = applySnapshot(first, snap({ effectivePermissions: ['lab_view', 'lab_admin'], groups }), ctx(NOW2));
    assert.deepEqual(perm.kind === 'updated' && perm.changed, ['effectivePermissions']);
    const shorter = applySnapshot(first, snap({ effectivePermissions: ['lab_view'], groups }), ctx(NOW2));
    assert.deepEqual(shorter.kind === 'updated' && shorter.changed, ['effectivePermissions']);
    const group = applySnapshot(first, snap({ effectivePermissions: ['lab_view', 'lab_exec'], groups: [{ ...groups[0]!, permission: 'read_write' }] }), ctx(NOW2));
    assert.deepEqual(group.kind === 'updated' && group.changed, ['groups']);
  });
  test('a created record carries exactly the LabRecord fields, the CML ones first', () => {
    const d = applySnapshot(undefined, snap(), ctx(NOW1));
    assert.deepEqual(Object.keys(d.record), [
      'title', 'description', 'notes', 'state', 'owner', 'ownerUsername', 'ownerFullname', 'nodeCount', 'linkCount', 'groups', 'effectivePermissions',
      'cmlCreatedAt', 'modifiedAt', 'serverId', 'labId', 'recordId', 'firstSeenAt', 'lastSyncedAt', 'orphanedAt', 'historySeq', 'stateVersion',
    ]);
  });
  test('an orphaned lab that comes back is un-marked', () => {
    const first = { ...applySnapshot(undefined, snap(), ctx(NOW1)).record, orphanedAt: NOW1 };
    const d = applySnapshot(first, snap(), ctx(NOW2));
    assert.equal(d.kind, 'updated');
    assert.equal(d.record.orphanedAt, null);
  });
});

describe('history ring buffer', () => {
  const entry = (seq: number): HistoryEntry => ({ seq, timestamp: NOW1, previous_state: 'A', new_state: 'B', changed_fields: {} });
  test('keeps the newest 50', () => {
    let h: HistoryEntry[] = [];
    for (let i = 1; i <= 120; i++) h = pushHistory(h, entry(i));
    assert.equal(h.length, MAX_HISTORY);
    assert.equal(h[0]!.seq, 71);
    assert.equal(h.at(-1)!.seq, 120);
  });
  test('cutoff for stored entries', () => {
    assert.equal(historyCutoff(50), 0);
    assert.equal(historyCutoff(51), 1);
  });
});

describe('orphan rules', () => {
  const stored = [
    { labId: 'a', orphanedAt: null },
    { labId: 'b', orphanedAt: null },
    { labId: 'c', orphanedAt: NOW1 },
  ];
  test('labs missing from a good list are marked, already-marked ones are not re-marked', () => {
    assert.deepEqual(planOrphans(stored, { kind: 'ok', ids: ['a'] }), { orphan: ['b'] });
  });
  test('never when the list call failed', () => {
    const p = planOrphans(stored, { kind: 'failed', reason: 'timeout' });
    assert.deepEqual(p.orphan, []);
    assert.match(p.skipped!, /failed/);
  });
  test('never when the list returned 404', () => {
    const p = planOrphans(stored, { kind: 'not-found' });
    assert.deepEqual(p.orphan, []);
    assert.match(p.skipped!, /404/);
  });
  test('never on an unexpectedly empty list', () => {
    const p = planOrphans(stored, { kind: 'ok', ids: [] });
    assert.deepEqual(p.orphan, []);
    assert.match(p.skipped!, /empty lab list while 2 lab/);
  });
  test('an empty list is fine when nothing live is stored, or when explicitly accepted', () => {
    assert.deepEqual(planOrphans([stored[2]!], { kind: 'ok', ids: [] }), { orphan: [] });
    assert.deepEqual(planOrphans(stored, { kind: 'ok', ids: [] }, { acceptEmptyList: true }), { orphan: ['a', 'b'] });
  });
});

describe('Cloud Manager shapes', () => {
  const rec: LabRecord = applySnapshot(undefined, snap(), ctx(NOW1)).record;
  test('API shape has exactly the upstream keys', () => {
    const api = toCloudManagerLab(rec);
    assert.deepEqual(Object.keys(api), ['id', 'title', 'description', 'notes', 'state', 'owner', 'owner_username', 'node_count', 'link_count', 'created', 'modified', 'groups', 'last_synced']);
    assert.equal(api.owner, 'Unknown');
    assert.equal(api.created, '2022-06-10T14:23:33+00:00');
  });
  test('lab_records document matches the synthesized reference keys', () => {
    const ref = refJson('synthesized/cml-cloud-manager.lab_record.document.json') as Record<string, unknown>;
    const doc = toLabRecordDocument(rec, [{ seq: 1, timestamp: NOW2, previous_state: 'STOPPED', new_state: 'STARTED', changed_fields: { node_count: { old: 0, new: 7 } } }]);
    assert.deepEqual(Object.keys(doc).sort(), Object.keys(ref).sort());
    assert.deepEqual(doc.operation_history, [{ timestamp: '2025-11-17T10:30:00+00:00', previous_state: 'STOPPED', new_state: 'STARTED', changed_fields: { node_count: { old: 0, new: 7 } } }]);
  });
});
