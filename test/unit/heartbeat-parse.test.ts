import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HeartbeatFormatError, normalizeHeartbeat, parseHeartbeat, toUtcIso } from '../../src/domain/heartbeat/normalize.js';
import { toDbDateTime } from '../../src/core/db/time.js';
import { parseLenientJson } from '../../src/domain/heartbeat/lenient-json.js';
import { parseGuardEvents, newerEvents } from '../../src/domain/heartbeat/events.js';
import { operationsFromServiceState, parseServiceStateIni } from '../../src/domain/heartbeat/service-state.js';

const fixture = (p: string) => readFileSync(new URL(`../fixtures/heartbeat/${p}`, import.meta.url));

describe('every heartbeat shape in the reference', () => {
  test('3.2.0 wire file: BOM, one line, 0/1 as booleans, [] for empty objects', () => {
    const s = parseHeartbeat(fixture('heartbeat.ready-hybrid.wire.json'));
    assert.equal(s.schemaVersion, '1.0.0');
    assert.equal(s.host, 'LAB-WS-01');
    assert.equal(s.ready, true);
    assert.equal(s.localMode, false);
    assert.equal(s.localSession, false);
    assert.equal(s.timestamp?.endsWith('Z'), true);
    assert.deepEqual(
      { ts: s.lastForcedLogoff?.timestamp, user: s.lastForcedLogoff?.user, sessionId: s.lastForcedLogoff?.sessionId, grace: s.lastForcedLogoff?.grace },
      { ts: '2026-08-24T08:01:42.000Z', user: 'teacher', sessionId: '2', grace: 90 },
    );
    assert.equal(s.lastPowerAction?.mode, 'shutdown');
    assert.equal(s.lastPowerAction?.delay, 60);
    assert.equal(s.wake.armedCount, 1, 'armedCount true means 1');
    assert.equal(s.repaired, false);
  });

  test('the pretty copy gives the same snapshot as the wire file', () => {
    const wire = parseHeartbeat(fixture('heartbeat.ready-hybrid.wire.json'));
    const pretty = parseHeartbeat(fixture('heartbeat.ready-hybrid.pretty.json'));
    assert.deepEqual({ ...pretty, raw: null }, { ...wire, raw: null });
  });

  test('fresh server: every operation is [] and the station needs action', () => {
    const s = parseHeartbeat(fixture('heartbeat.fresh-server.wire.json'));
    assert.equal(s.lastForcedLogoff, null);
    assert.equal(s.lastPowerAction, null);
    assert.equal(s.lastPrepare, null);
    assert.equal(s.state, 'needs-action');
    assert.ok(s.issues.length > 0);
    assert.equal(s.readyEffective, false);
  });

  test('schemaVersion 2.0.0 fixture', () => {
    const s = parseHeartbeat(fixture('v2.windows-heartbeat.fixture.json'));
    assert.equal(s.contract, 2);
    assert.equal(s.ready, true);
    assert.equal(s.localSession, false);
    assert.equal(s.localMode, false);
    assert.equal(s.host, 'lab-windows-01');
  });

  test('schemaVersion 3.0.0 document per the v3 schema', () => {
    const s = normalizeHeartbeat({
      schemaVersion: '3.0.0', timestamp: '2026-11-01T10:00:00+01:00', host: 'lab-ws-07', version: '4.0.0', platform: { os: 'windows' }, profile: 'hybrid',
      management: { transport: 'winrm', ready: true }, remoteAccess: { mode: 'rdp', ready: true }, summary: { state: 'degraded', ready: false, issues: ['x'] },
      readiness: {}, sessions: { active: [{ kind: 'local', active: true, evictable: true }], localSessionActive: true }, operations: {}, localModeEnabled: true,
    });
    assert.equal(s.contract, 3);
    assert.equal(s.timestamp, '2026-11-01T09:00:00.000Z');
    assert.equal(s.localSession, true);
    assert.equal(s.localMode, true);
    assert.equal(s.ready, false);
    assert.equal(s.profile, 'hybrid');
  });

  test('missing summary.ready (pre-3.2.0) stores null and derives readiness from the state', () => {
    const s = normalizeHeartbeat({ schemaVersion: '1.0.0', timestamp: '2026-01-01T12:00:00.000Z', summary: { state: 'ready', issues: [] } });
    assert.equal(s.ready, null);
    assert.equal(s.readyEffective, true);
  });

  test('the Nov-2025 invalid JSON is repaired: raw backslashes, raw newlines, {"1":…} arrays', () => {
    const text = '{"host":"LAB-WS-02","timestamp":"2025-11-22T10:00:00Z","summary":{"state":"needs-action","issues":{"1":"Lab user not found","2":"RemoteApp policy missing"}},' +
      '"status":{"identity":{"profilePath":"C:\\Users\\LABUSER"},"power":{"sleep":{"raw":"line one\r\nline two"}},"localModeEnabled":false,"localSessionActive":true},"operations":[]}';
    const s = parseHeartbeat(new TextEncoder().encode(text));
    assert.equal(s.repaired, true);
    assert.deepEqual(s.issues, ['Lab user not found', 'RemoteApp policy missing']);
    assert.equal((s.raw.status as { identity: { profilePath: string } }).identity.profilePath, 'C:\\Users\\LABUSER');
    assert.equal(s.localSession, true);
    assert.equal(s.ready, null);
    assert.equal(s.readyEffective, false);
  });

  test('the repair keeps a "__proto__" key as JSON.parse does: an own key, not the prototype (the stored raw JSON lost it)', () => {
    const doc = '{"host":"LAB-WS-02","timestamp":"2025-11-22T10:00:00Z","status":{"__proto__":{"localModeEnabled":true},"path":"C:\\Users"}}';
    const escaped = doc.replace('C:\\Users', 'C:\\\\Users');
    assert.deepEqual(parseLenientJson(escaped), JSON.parse(escaped));
    const s = parseHeartbeat(new TextEncoder().encode(doc));
    assert.equal(s.repaired, true);
    assert.deepEqual(Object.keys(s.raw.status as object), ['__proto__', 'path']);
  });

  test('every heartbeat fixture copied from reference/labgateway parses', () => {
    const dir = new URL('../fixtures/heartbeat/', import.meta.url).pathname;
    const files = readdirSync(dir).filter((x) => /heartbeat.*\.json$/.test(x));
    assert.ok(files.length >= 4);
    for (const f of files) assert.ok(parseHeartbeat(readFileSync(join(dir, f))).timestamp, f);
  });
});

describe('files that are not heartbeats', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(), /the file is empty/],
    ['truncated', new TextEncoder().encode('\uFEFF{"host":"A","summary":{"ready":tr'), /not valid JSON: .*\(line 1, column \d+\)/],
    ['binary', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]), /binary data \(NUL byte at offset 4\)/],
    ['a JSON array', new TextEncoder().encode('[1,2]'), /not a JSON object/],
    ['another JSON document', new TextEncoder().encode('{"foo": 1}'), /not a Lab Station heartbeat/],
    ['schema 9', new TextEncoder().encode('{"schemaVersion":"9.0.0","timestamp":"2026-01-01T00:00:00Z"}'), /unsupported schemaVersion 9\.0\.0/],
  ];
  for (const [what, bytes, msg] of cases) {
    test(what, () => {
      assert.throws(() => parseHeartbeat(bytes), (e: unknown) => e instanceof HeartbeatFormatError && msg.test((e as Error).message));
    });
  }
});

describe('timestamps', () => {
  test('Z, offsets, none (UTC, not local), fractions, space separator', () => {
    assert.equal(toUtcIso('2026-08-24T09:00:19Z'), '2026-08-24T09:00:19.000Z');
    assert.equal(toUtcIso('2026-01-01T12:00:00.000Z'), '2026-01-01T12:00:00.000Z');
    assert.equal(toUtcIso('2026-01-01T12:00:00+00:00'), '2026-01-01T12:00:00.000Z');
    assert.equal(toUtcIso('2026-01-01T14:00:00+0200'), '2026-01-01T12:00:00.000Z');
    assert.equal(toUtcIso('2026-01-01 12:00:00'), '2026-01-01T12:00:00.000Z');
    assert.equal(toUtcIso('2026-01-01T12:00:00.5'), '2026-01-01T12:00:00.500Z');
    assert.equal(toUtcIso('yesterday'), null);
    assert.equal(toUtcIso(12), null);
  });
  test('UTC timestamps read by slicing give what the Date path gives, for storage too; out-of-range ones are no time', () => {
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const p2 = (n: number) => String(n).padStart(2, '0');
    for (let i = 0; i < 2_000; i++) {
      const day = `${1970 + rnd(100)}-${p2(1 + rnd(12))}-${p2(1 + rnd(28))}T${p2(rnd(24))}:${p2(rnd(60))}:${p2(rnd(60))}`;
      const frac = ['', '.5', '.25', '.125', '.1234567', '.999'][rnd(6)]!;
      const x = `${day}${frac}${rnd(2) ? 'Z' : '+00:00'}`;
      const viaDate = new Date(x).toISOString();
      assert.equal(toUtcIso(x), viaDate, x);
      assert.equal(toDbDateTime(x), viaDate.slice(0, 19).replace('T', ' '), x);
    }
    // Days past the month's end are no time at all: never rolled over into the next month.
    assert.equal(toUtcIso('2026-02-30T00:00:00Z'), null);
    assert.equal(toUtcIso('2026-13-45T99:99:99Z'), null);
    assert.equal(toUtcIso('2028-02-29T00:00:00Z'), '2028-02-29T00:00:00.000Z');
    assert.equal(toUtcIso('2026-01-01T12:00:00+25:00'), null);
    assert.equal(toDbDateTime('2026-02-30T00:00:00Z'), '2026-03-02 00:00:00');
    assert.equal(toDbDateTime(Date.UTC(2026, 0, 2, 3, 4, 5, 600)), '2026-01-02 03:04:05');
  });
});

describe('events and service-state.ini', () => {
  test('events JSONL with BOM; only newer lines are returned', () => {
    const r = parseGuardEvents(fixture('session-guard-events.wire.jsonl'));
    assert.equal(r.bad.length, 0);
    assert.ok(r.events.length >= 2);
    assert.equal(r.events[0]!.sessionId, '3');
    const last = r.events[r.events.length - 1]!;
    assert.deepEqual(newerEvents(r.events, last.timestamp), []);
    assert.deepEqual(newerEvents(r.events, r.events[0]!.timestamp).length, r.events.length - 1);
  });

  test('a broken events line is reported, the others kept', () => {
    const r = parseGuardEvents(new TextEncoder().encode('{"timestamp":"2026-01-01T00:00:00Z","user":"a"}\n{broken\n'));
    assert.equal(r.events.length, 1);
    assert.deepEqual(r.bad.map((b) => b.line), [2]);
  });

  test('UTF-16LE service-state.ini reads back with the station typing and fills operations', () => {
    const ini = parseServiceStateIni(fixture('service-state.wire-utf16le.ini'));
    assert.equal(ini['prepare-session']!.success, true);
    assert.equal(ini['prepare-session']!.durationMs, 95312);
    assert.equal(ini['forced-logoff']!.sessionId, 2);
    const readable = parseServiceStateIni(fixture('service-state.readable-utf8.ini'));
    assert.deepEqual(readable, ini);
    const ops = operationsFromServiceState(ini);
    const s = normalizeHeartbeat({ timestamp: '2026-08-24T09:00:00Z', summary: { ready: true }, operations: ops });
    assert.equal(s.lastForcedLogoff?.user, 'teacher');
    assert.equal(s.lastPowerAction?.mode, 'shutdown');
    assert.deepEqual(operationsFromServiceState({}).lastPowerAction, []);
  });

  test('an INI that is not UTF-16 or UTF-8 text is rejected', () => {
    assert.throws(() => parseServiceStateIni(Uint8Array.from([0xff, 0xfe, 0x00, 0xd8])), /./);
  });
});
