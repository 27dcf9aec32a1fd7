// The file source polled more often than stations write: a host whose files are unchanged since its last stored
// poll costs a stat, not a read; a changed file is read again; a half-written, vanished or replaced file is
// counted, never stored torn, never a crash, and read again at the next run.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { FileHeartbeatSource } from '../../src/core/heartbeat-file-source.js';
import { pollHeartbeats, type HeartbeatSink, type PollMemory, type StationFile } from '../../src/ops/heartbeat/poll.js';
import type { InventoryHost } from '../../src/core/config/inventory.js';

const dir = tempDir('labops-hb-changes-');
after(() => dir.cleanup());

const WIRE = readFileSync(new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url), 'utf8');
const EVENTS = readFileSync(new URL('../fixtures/heartbeat/session-guard-events.wire.jsonl', import.meta.url));

const host = (name: string): InventoryHost => ({
  name, address: `10.9.0.${name.length}`, winrmTransport: 'ntlm', labstationExe: 'x', eventsPath: 'C:\\LabStation\\labstation\\data\\telemetry\\session-guard-events.jsonl',
  heartbeatPath: 'C:\\LabStation\\labstation\\data\\telemetry\\heartbeat.json', labs: [], quarantined: false,
});

/** A station's heartbeat (wire bytes: BOM, one line) naming itself, dated `at`. */
function heartbeat(name: string, at: string): string {
  return `\uFEFF${JSON.stringify({ ...JSON.parse(WIRE.replace(/^\uFEFF/, '')), host: name.toUpperCase(), timestamp: at })}`;
}

const iso = (t: string | null) => (t === null ? null : new Date(t).toISOString());

/** The file source over `root`, counting what it reads. */
function countingSource(root: string) {
  const source = new FileHeartbeatSource(join(root, '{host}', 'heartbeat.json'), 1 << 20);
  const reads: string[] = [];
  const read = source.read.bind(source);
  source.read = (h: InventoryHost, f: StationFile) => {
    reads.push(`${h.name}:${f}`);
    return read(h, f);
  };
  return { source, reads };
}

/** A sink that keeps what it is given: the snapshots must be whole heartbeats. */
function recordingSink(fail?: (name: string) => boolean) {
  const stored: { host: string; timestamp: string | null; raw: Record<string, unknown> }[] = [];
  const sink: HeartbeatSink = {
    async store({ host: h, snapshot }) {
      if (fail?.(h.name)) throw new Error('database down');
      stored.push({ host: h.name, timestamp: snapshot.timestamp, raw: snapshot.raw });
      return { heartbeatStored: true, eventsStored: 0, forcedLogoffs: [] };
    },
  };
  return { sink, stored };
}

/** Writes a station file as Lab Station does: a temp file renamed over the old one. */
function writeAtomic(path: string, text: string | Buffer): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function station(root: string, name: string, at: string, events = false): void {
  writeAtomic(join(root, name, 'heartbeat.json'), heartbeat(name, at));
  if (events) writeAtomic(join(root, name, 'session-guard-events.jsonl'), EVENTS);
}

describe('heartbeat poll over a file share, remembering the last stored poll', () => {
  test('unchanged files are looked at, not read; a rewritten heartbeat or an appended event is read again', async () => {
    const root = join(dir.path, 'share-1');
    const hosts = ['ws-a', 'ws-b', 'ws-c'].map(host);
    for (const h of hosts) station(root, h.name, '2026-12-01T08:00:00Z', true);
    const { source, reads } = countingSource(root);
    const { sink, stored } = recordingSink();
    const memory: PollMemory = new Map();
    const poll = () => pollHeartbeats({ hosts, allHosts: hosts, events: true, concurrency: 4, memory }, { source, sink, now: Date.now });

    const first = await poll();
    assert.equal(first.ok, 3);
    assert.deepEqual(new Set(reads.map((r) => r.split(':')[0])), new Set(['ws-a', 'ws-b', 'ws-c']));
    assert.equal(stored.length, 3);

    reads.length = 0;
    const second = await poll();
    assert.equal(reads.length, 0, 'nothing changed: nothing read');
    assert.equal(second.ok, 3);
    assert.ok(second.hosts.every((h) => h.unchanged === true && h.heartbeatStored === false));
    assert.deepEqual(second.hosts.map((h) => [h.ready, h.timestamp]), first.hosts.map((h) => [h.ready, h.timestamp]), 'the remembered poll stands for the host');
    assert.equal(stored.length, 3, 'nothing stored again');

    station(root, 'ws-b', '2026-12-01T08:01:00Z');
    appendFileSync(join(root, 'ws-c', 'session-guard-events.jsonl'), '{"timestamp":"2026-12-01T08:01:10Z","user":"x"}\n');
    const third = await poll();
    assert.deepEqual([...new Set(reads.map((r) => r.split(':')[0]))].sort(), ['ws-b', 'ws-c']);
    assert.deepEqual(third.hosts.map((h) => Boolean(h.unchanged)), [true, false, false]);
    assert.equal(iso(third.hosts[1]!.timestamp), '2026-12-01T08:01:00.000Z');
  });

  test('half-written, vanished and directory-replaced files: counted as failures, never stored torn, read again next run', async () => {
    const root = join(dir.path, 'share-2');
    const hosts = ['ws-torn', 'ws-gone', 'ws-dir', 'ws-fine'].map(host);
    for (const h of hosts) station(root, h.name, '2026-12-01T09:00:00Z');
    const { source, reads } = countingSource(root);
    const { sink, stored } = recordingSink();
    const memory: PollMemory = new Map();
    const poll = () => pollHeartbeats({ hosts, allHosts: hosts, events: true, concurrency: 4, memory }, { source, sink, now: Date.now });
    await poll();
    stored.length = 0;

    // the next minute's writes, caught at a bad moment
    const whole = heartbeat('ws-torn', '2026-12-01T09:01:00Z');
    writeFileSync(join(root, 'ws-torn', 'heartbeat.json'), whole.slice(0, Math.floor(whole.length / 2))); // written in place, half done
    rmSync(join(root, 'ws-gone', 'heartbeat.json'));
    rmSync(join(root, 'ws-dir', 'heartbeat.json'));
    mkdirSync(join(root, 'ws-dir', 'heartbeat.json'));
    station(root, 'ws-fine', '2026-12-01T09:01:00Z');
    const bad = await poll();
    const kind = (name: string) => bad.hosts.find((h) => h.host === name)!.error?.kind ?? 'ok';
    assert.deepEqual(['ws-torn', 'ws-gone', 'ws-dir', 'ws-fine'].map(kind), ['format', 'missing', 'error', 'ok']);
    assert.equal(bad.failed, 3);
    assert.deepEqual(stored.map((s) => s.host), ['ws-fine'], 'only the whole heartbeat was stored');

    // the files become whole again: each is read and stored; a torn file left as it was is read again, still not stored
    writeFileSync(join(root, 'ws-torn', 'heartbeat.json'), whole);
    station(root, 'ws-gone', '2026-12-01T09:01:00Z');
    rmSync(join(root, 'ws-dir', 'heartbeat.json'), { recursive: true });
    station(root, 'ws-dir', '2026-12-01T09:01:00Z');
    reads.length = 0;
    const healed = await poll();
    assert.equal(healed.ok, 4);
    assert.deepEqual([...new Set(reads.map((r) => r.split(':')[0]))].sort(), ['ws-dir', 'ws-gone', 'ws-torn']);
    for (const s of stored) assert.equal(iso(s.timestamp), '2026-12-01T09:01:00.000Z');
    assert.deepEqual(stored.map((s) => s.host).sort(), ['ws-dir', 'ws-fine', 'ws-gone', 'ws-torn']);
  });

  test('a heartbeat whose store failed is read again; hosts that left the share are forgotten', async () => {
    const root = join(dir.path, 'share-3');
    const hosts = ['ws-x', 'ws-y'].map(host);
    for (const h of hosts) station(root, h.name, '2026-12-01T10:00:00Z');
    const { source, reads } = countingSource(root);
    let down = true;
    const { sink, stored } = recordingSink((name) => down && name === 'ws-y');
    const memory: PollMemory = new Map();
    const poll = (hs: InventoryHost[]) => pollHeartbeats({ hosts: hs, allHosts: hosts, events: false, concurrency: 2, memory }, { source, sink, now: Date.now });
    const first = await poll(hosts);
    assert.equal(first.hosts[1]!.error?.kind, 'store');
    down = false;
    reads.length = 0;
    await poll(hosts);
    assert.deepEqual(reads.map((r) => r.split(':')[0]), ['ws-y'], 'the unstored heartbeat is read again, the stored one is not');
    assert.deepEqual(stored.map((s) => s.host).sort(), ['ws-x', 'ws-y']);
    await poll([hosts[0]!]);
    assert.deepEqual([...memory.keys()], ['ws-x']);
  });
});

describe('a share polled more often than stations write', () => {
  test('a heartbeat is missing after alerts.missing-intervals of the station interval, not of the shorter poll interval', async () => {
    const { loadConfig } = await import('../../src/core/config/load.js');
    const { alertSettings } = await import('../../src/app/settings.js');
    const { evaluateAlerts } = await import('../../src/domain/heartbeat/alerts.js');
    const file = join(dir.path, 'config.json');
    writeFileSync(file, JSON.stringify({ heartbeat: { interval: '20s' }, alerts: { 'missing-intervals': 3 } }));
    const now = Date.parse('2026-12-01T12:00:00Z');
    const latest = (ageS: number) => ({ timestampUtc: new Date(now - ageS * 1000).toISOString(), ready: true, localMode: false, localSession: false, lastForcedLogoffTs: null, nonCompliantNics: [], armedCount: null, sleepCompliant: null, hibernateCompliant: null, stationTimestamp: null });
    const missing = (t: ReturnType<typeof alertSettings>) =>
      evaluateAlerts([100, 200].map((age) => ({ host: `ws-${age}`, latest: latest(age), notReadySince: null, reservations: [] })), now, t).filter((c) => c.rule === 'heartbeat-missing').map((c) => c.host);
    const stationEveryMinute = alertSettings(loadConfig({ configPath: file, env: { HOME: dir.path } }));
    assert.equal(stationEveryMinute.heartbeatIntervalMs, 60_000);
    assert.deepEqual(missing(stationEveryMinute), ['ws-200'], '100 s is less than three station minutes');
    writeFileSync(file, JSON.stringify({ heartbeat: { interval: '20s', 'station-interval': '20s' }, alerts: { 'missing-intervals': 3 } }));
    assert.deepEqual(missing(alertSettings(loadConfig({ configPath: file, env: { HOME: dir.path } }))), ['ws-100', 'ws-200']);
  });
});
