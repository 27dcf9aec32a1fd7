// The simulated station's files against the reference fixtures: a station driven through the cycle the
// synthesized fixtures describe writes heartbeat.json, status.json, status-json stdout, the events JSONL
// and service-state.ini byte for byte like them.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { ManualClock, createStationRuntime, windowsPathToHostPath, IniDocument, type StationRuntime } from '../../src/sim/labstation/index.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/labgateway/${name}`, import.meta.url));
const HB = 'C:\\LabStation\\labstation\\data\\telemetry\\heartbeat.json';
const EVENTS = 'C:\\LabStation\\labstation\\data\\telemetry\\session-guard-events.jsonl';
const INI = 'C:\\LabStation\\labstation\\data\\service-state.ini';
const t = (iso: string) => Date.parse(iso);

async function run(clock: ManualClock, rt: StationRuntime, argv: string[]) {
  return clock.drive(rt.execute(argv));
}

/** Drive a station through the reservation cycles behind the synthesized fixtures. */
async function fixtureStation(stateDir: string) {
  const clock = new ManualClock('2026-08-20T07:00:00Z');
  const rt = createStationRuntime({
    name: 'lab-ws-01',
    stateDir,
    clock,
    bootDelayMs: 55_000,
    tickOffsetMs: 19_000,
    fsync: false,
    machine: { collectionMs: 14_000, shutdownMs: 5_000, workMs: { prepare: 5312, release: 3120, power: 0 } },
  });
  const m = rt.machine;
  // cycle 1 (Aug 20): prepare with nobody to evict, an explicit session guard evicts "profesor", release with reboot, shutdown
  await clock.advanceTo(t('2026-08-20T07:50:00Z'));
  assert.equal((await run(clock, rt, ['prepare-session'])).exitCode, 0);
  m.logoff(m.logon('visitor'));
  assert.equal(m.logon('profesor'), 3);
  await clock.advanceTo(t('2026-08-20T07:56:01Z'));
  assert.deepEqual(await run(clock, rt, ['session', 'guard']), { exitCode: 0, stdout: 'Local sessions cleared\n', stderr: '' });
  assert.equal(clock.now(), t('2026-08-20T07:58:01Z'));
  await clock.advanceTo(t('2026-08-20T18:00:00Z'));
  assert.equal((await run(clock, rt, ['release-session', '--reboot'])).exitCode, 0);
  await clock.advance(120_000);
  assert.equal(rt.power, 'on');
  assert.equal((await run(clock, rt, ['power', 'shutdown', '--reason=Nightly'])).exitCode, 0);
  await clock.advance(60_000);
  assert.equal(rt.power, 'off');
  // cycle 2 (Aug 23-24): the evening shutdown, the morning prepare that evicts "teacher", the release with reboot
  await clock.advanceTo(t('2026-08-23T18:00:00Z'));
  rt.powerOn();
  await clock.advanceTo(t('2026-08-23T19:00:11Z'));
  assert.equal((await run(clock, rt, ['power', 'shutdown', '--delay=60', '--reason=Reservation completed'])).stdout, 'Power action scheduled\n');
  await clock.advance(65_000);
  assert.equal(rt.power, 'off');
  await clock.advanceTo(t('2026-08-24T07:59:00Z'));
  rt.powerOn();
  assert.equal(m.logon('teacher'), 2);
  await clock.advanceTo(t('2026-08-24T08:00:12Z'));
  assert.deepEqual(await run(clock, rt, ['prepare-session', '--guard-grace=90']), { exitCode: 0, stdout: 'Session prepared successfully\n', stderr: '' });
  assert.equal(clock.now(), t('2026-08-24T08:01:47.312Z'));
  await clock.advanceTo(t('2026-08-24T08:58:59.880Z'));
  assert.deepEqual(await run(clock, rt, ['release-session', '--reboot']), { exitCode: 0, stdout: 'Session released successfully\n', stderr: '' });
  await clock.advanceTo(t('2026-08-24T09:00:05Z'));
  assert.equal(rt.power, 'on');
  const statusJson = await run(clock, rt, ['status-json']);
  await clock.advanceTo(t('2026-08-24T09:00:19Z'));
  return { clock, rt, statusJson };
}

describe('station files reproduce the reference fixtures', async () => {
  const dir = tempDir();
  after(() => dir.cleanup());
  const { rt, statusJson } = await fixtureStation(dir.path);
  after(() => rt.close());

  test('heartbeat.json is byte-identical to heartbeat.ready-hybrid.wire.json (BOM, one line, sorted keys, 0/1 as booleans, [] for empty maps)', () => {
    const bytes = rt.readFile(HB)!;
    assert.deepEqual(bytes.subarray(0, 3), Buffer.from([0xef, 0xbb, 0xbf]));
    assert.equal(bytes.toString('utf8').slice(1), fixture('heartbeat.ready-hybrid.wire.json').toString('utf8').slice(1));
    assert.ok(bytes.equals(fixture('heartbeat.ready-hybrid.wire.json')));
  });

  test('status-json stdout is byte-identical to status-json.stdout.ready-hybrid.json (no BOM, no newline)', () => {
    assert.equal(statusJson.exitCode, 0);
    assert.equal(statusJson.stdout, fixture('status-json.stdout.ready-hybrid.json').toString('utf8'));
  });

  test('status.json holds the status object with a BOM, and 3.2.0 mirrors both files into C:\\LabStation\\data', () => {
    const status = rt.readFile('C:\\LabStation\\labstation\\data\\status.json')!;
    const hb = JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.deepEqual(status.subarray(0, 3), Buffer.from([0xef, 0xbb, 0xbf]));
    assert.deepEqual(JSON.parse(status.toString('utf8').slice(1)), hb.status);
    assert.ok(rt.readFile('C:\\LabStation\\data\\telemetry\\heartbeat.json')!.equals(rt.readFile(HB)!));
    assert.ok(rt.readFile('C:\\LabStation\\data\\status.json')!.equals(status));
  });

  test('session-guard-events.jsonl is byte-identical to the fixture (BOM once, LF, sessionId as a string)', () => {
    assert.ok(rt.readFile(EVENTS)!.equals(fixture('session-guard-events.wire.jsonl')));
  });

  test('service-state.ini is byte-identical to the UTF-16LE fixture (BOM, CRLF, 1/0, IniWrite key order)', () => {
    assert.ok(rt.readFile(INI)!.equals(fixture('service-state.wire-utf16le.ini')));
  });

  test('the file share: every file sits at the Windows layout under <stateDir>/stations/<name>/', () => {
    const base = join(dir.path, 'stations', 'lab-ws-01', 'labstation', 'data');
    assert.ok(existsSync(join(base, 'telemetry', 'heartbeat.json')));
    assert.ok(existsSync(join(base, 'telemetry', 'session-guard-events.jsonl')));
    assert.ok(existsSync(join(base, 'service-state.ini')));
    assert.ok(existsSync(join(base, 'status.json')));
  });
});

describe('heartbeat shapes', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  test('a fresh station with nothing run writes [] for every operations entry, like heartbeat.fresh-server.wire.json', async () => {
    const clock = new ManualClock('2026-08-24T07:31:00Z');
    const rt = createStationRuntime({
      name: 'lab-ws-02',
      stateDir: dir.path,
      clock,
      fsync: false,
      machine: { collectionMs: 13_000 },
      config: {
        profile: 'server',
        autoStartConfigured: false,
        denyInteractive: { configured: false, members: [], raw: '' },
        armedDevices: [],
        power: { activePlan: 'Balanced', sleepAc: 1800, sleepDc: 900, hibernateAc: 0, hibernateDc: 0 },
      },
    });
    rt.machine.updateConfig((c) => (c.nics[0]!.allowTurnOff = 'Enabled'));
    await clock.advanceTo(t('2026-08-24T07:31:15Z'));
    rt.writeHeartbeat();
    const want = fixture('heartbeat.fresh-server.wire.json').toString('utf8');
    // the fixture's LABUSER session logged on at 9:00 AM; ours at boot (07:31)
    const got = rt.readFile(HB)!.toString('utf8').replace('8/24/2026 7:31 AM', '8/24/2026 9:00 AM');
    assert.equal(got, want);
    rt.close();
  });

  test("'pre-3.2' has schemaVersion 1.0.0 but no summary.ready", () => {
    const rt = createStationRuntime({ name: 'old-ws', stateDir: dir.path, clock: new ManualClock(), heartbeatShape: 'pre-3.2', fsync: false });
    const hb = JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.equal(hb.schemaVersion, '1.0.0');
    assert.equal(hb.status.schemaVersion, '1.0.0');
    assert.ok(!('ready' in hb.summary));
    assert.ok(!('ready' in hb.status.summary));
    assert.equal(hb.summary.state, 'ready');
    rt.close();
  });

  test("'nov-2025' writes the invalid JSON of Lab Station 3.0.0 to C:\\LabStation\\data only", () => {
    const rt = createStationRuntime({ name: 'nov-ws', stateDir: dir.path, clock: new ManualClock(), heartbeatShape: 'nov-2025', fsync: false });
    assert.equal(rt.readFile(HB), undefined, 'the 3.2.0 path does not exist on those builds');
    const bytes = rt.readFile('C:\\LabStation\\data\\telemetry\\heartbeat.json')!;
    assert.deepEqual(bytes.subarray(0, 3), Buffer.from([0xef, 0xbb, 0xbf]));
    const text = bytes.toString('utf8').slice(1);
    assert.throws(() => JSON.parse(text));
    assert.ok(text.includes('"profilePath":"C:\\Users\\LABUSER"'), 'single backslashes unescaped');
    assert.ok(text.includes('(Balanced)\r\n  Subgroup'), 'raw CR LF inside a string');
    assert.ok(text.includes('"biosChecklist":{"1":"Verify in BIOS/UEFI that Wake-on-LAN is enabled","2":'), 'arrays as {"1":…}');
    assert.ok(text.includes('"labUserSessionId":true'), 'the string "1" became true');
    assert.ok(text.includes('"version":"1.0.0-alpha"'));
    assert.ok(!text.includes('"ready":true,"state"'), 'no summary.ready');
    rt.close();
  });

  test('withoutSchemaVersion drops schemaVersion (files before 2025-11-24)', () => {
    const rt = createStationRuntime({ name: 'older-ws', stateDir: dir.path, clock: new ManualClock(), heartbeatShape: 'pre-3.2', withoutSchemaVersion: true, fsync: false });
    const hb = JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.ok(!('schemaVersion' in hb));
    assert.ok(!('schemaVersion' in hb.status));
    rt.close();
  });
});

describe('runtime: periodic tick, local mode, file access', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  test('heartbeat.json is rewritten every 60 s of simulated time, and not while the station is off', async () => {
    const clock = new ManualClock('2026-08-24T10:00:00Z');
    const rt = createStationRuntime({ name: 'tick-ws', stateDir: dir.path, clock, tickOffsetMs: 30_000, writeOnChange: false, fsync: false });
    const ts = () => JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1)).timestamp;
    assert.equal(ts(), '2026-08-24T10:00:00Z');
    await clock.advance(29_000);
    assert.equal(ts(), '2026-08-24T10:00:00Z');
    await clock.advance(1_000);
    assert.equal(ts(), '2026-08-24T10:00:30Z');
    await clock.advance(60_000);
    assert.equal(ts(), '2026-08-24T10:01:30Z');
    rt.machine.powerCut();
    await clock.advance(180_000);
    assert.equal(ts(), '2026-08-24T10:01:30Z');
    rt.close();
  });

  test('state changes rewrite heartbeat.json at once (writeOnChange)', async () => {
    const clock = new ManualClock('2026-08-24T10:00:00Z');
    const rt = createStationRuntime({ name: 'change-ws', stateDir: dir.path, clock, fsync: false });
    const hb = () => JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.equal(hb().status.localSessionActive, false);
    await clock.advance(5_000);
    rt.machine.logon('teacher');
    await clock.advance(0);
    assert.equal(hb().status.localSessionActive, true);
    assert.equal(hb().status.sessions.otherUsers[0].user, 'teacher');
    assert.equal(hb().timestamp, '2026-08-24T10:00:05Z');
    rt.close();
  });

  test('local-mode.flag written over WinRM (Set-Content) turns localModeEnabled on; removing it turns it off', async () => {
    const clock = new ManualClock();
    const rt = createStationRuntime({ name: 'local-ws', stateDir: dir.path, clock, fsync: false });
    const flag = 'C:\\LabStation\\labstation\\data\\local-mode.flag';
    const hb = () => JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.equal(rt.writeFile(flag, '\ufeff1\r\n'), true);
    await clock.advance(0);
    assert.equal(hb().status.localModeEnabled, true);
    assert.equal(rt.deleteFile(flag), true);
    await clock.advance(0);
    assert.equal(hb().status.localModeEnabled, false);
    // the legacy location counts too, and a flag dropped straight onto the share is seen at the next tick
    mkdirSync(join(rt.dir, 'data'), { recursive: true });
    writeFileSync(join(rt.dir, 'data', 'local-mode.flag'), 'local-mode');
    await clock.advance(60_000);
    assert.equal(hb().status.localModeEnabled, true);
    rt.close();
  });

  test('the GUI toggle writes "local-mode" into the flag', async () => {
    const clock = new ManualClock();
    const rt = createStationRuntime({ name: 'gui-ws', stateDir: dir.path, clock, fsync: false });
    rt.machine.setLocalMode(true);
    await clock.advance(0);
    assert.equal(rt.readFile('C:\\LabStation\\labstation\\data\\local-mode.flag')!.toString(), 'local-mode');
    rt.machine.setLocalMode(false);
    assert.equal(rt.readFile('C:\\LabStation\\labstation\\data\\local-mode.flag'), undefined);
    rt.close();
  });

  test('status-json <path> writes the status file (BOM, no stdout), relative paths against C:\\LabStation; UNC fails with 1', async () => {
    const clock = new ManualClock();
    const rt = createStationRuntime({ name: 'export-ws', stateDir: dir.path, clock, fsync: false });
    assert.deepEqual(await clock.drive(rt.execute(['status-json', 'exports\\now.json'])), { exitCode: 0, stdout: '', stderr: '' });
    const bytes = rt.readFile('C:\\LabStation\\exports\\now.json')!;
    assert.deepEqual(bytes.subarray(0, 3), Buffer.from([0xef, 0xbb, 0xbf]));
    assert.equal(JSON.parse(bytes.toString('utf8').slice(1)).summary.ready, true);
    assert.equal((await clock.drive(rt.execute(['status-json', 'D:\\reports\\s.json']))).exitCode, 0);
    assert.ok(rt.readFile('d:\\REPORTS\\s.json'));
    assert.deepEqual(await clock.drive(rt.execute(['status-json', '\\\\server\\share\\s.json'])), { exitCode: 1, stdout: '', stderr: '' });
    const diag = await clock.drive(rt.execute(['diagnostics']));
    assert.deepEqual(diag, { exitCode: 0, stdout: 'Report saved to C:\\LabStation\\labstation\\data\\status.json\n', stderr: '' });
    rt.close();
  });

  test('service-state.ini survives a restart of the simulator (read back at start)', async () => {
    const clock = new ManualClock('2026-08-24T08:00:00Z');
    const a = createStationRuntime({ name: 'persist-ws', stateDir: dir.path, clock, fsync: false });
    await clock.drive(a.execute(['prepare-session']));
    a.close();
    const b = createStationRuntime({ name: 'persist-ws', stateDir: dir.path, clock, fsync: false });
    const prep = b.machine.operations().lastPrepareSession as Record<string, unknown>;
    assert.equal(prep.success, true);
    assert.equal(prep.timestamp, '2026-08-24T08:00:01Z');
    b.close();
  });
});

describe('Windows path mapping', () => {
  const dir = tempDir();
  after(() => dir.cleanup());
  const host = join(dir.path, 'stations', 'ws');

  test('C:\\LabStation\\… maps under the host directory; case and doubled backslashes are tolerated', () => {
    mkdirSync(join(host, 'labstation', 'data', 'telemetry'), { recursive: true });
    const want = join(host, 'labstation', 'data', 'telemetry', 'heartbeat.json');
    assert.equal(windowsPathToHostPath(host, 'C:\\LabStation\\labstation\\data\\telemetry\\heartbeat.json'), want);
    assert.equal(windowsPathToHostPath(host, 'c:\\labstation\\LABSTATION\\Data\\Telemetry\\heartbeat.json'), want);
    assert.equal(windowsPathToHostPath(host, 'C:\\\\LabStation\\\\labstation\\\\data\\\\telemetry\\\\heartbeat.json'), want);
    assert.equal(windowsPathToHostPath(host, 'C:/LabStation/labstation/data/telemetry/heartbeat.json'), want);
  });

  test('other drives go under _drives; UNC, relative, climbing out and reserved characters are refused', () => {
    assert.equal(windowsPathToHostPath(host, 'C:\\Windows\\win.ini'), join(host, '_drives', 'c', 'Windows', 'win.ini'));
    assert.equal(windowsPathToHostPath(host, '\\\\srv\\share\\x'), undefined);
    assert.equal(windowsPathToHostPath(host, 'labstation\\data'), undefined);
    assert.equal(windowsPathToHostPath(host, 'C:\\..\\..\\etc\\passwd'), undefined);
    assert.equal(windowsPathToHostPath(host, 'C:\\LabStation\\a:b'), undefined);
    assert.equal(windowsPathToHostPath(host, 'C:\\LabStation\\data\\..\\..\\..\\x'), undefined);
  });

  test('IniDocument reads the UTF-16LE fixture back and writes the same bytes', () => {
    const bytes = fixture('service-state.wire-utf16le.ini');
    const doc = IniDocument.decode(bytes);
    assert.ok(doc.encode().equals(bytes));
    assert.deepEqual(doc.readSection('forced-logoff').sessionId, 2);
    assert.deepEqual(doc.readSection('prepare-session').user, '');
  });
});

describe('runtime: commands, power and files together', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  test('a guard eviction is appended to the JSONL (sessionId a string) and shows in heartbeat operations.lastForcedLogoff (sessionId 1 → true)', async () => {
    const clock = new ManualClock('2026-08-24T08:00:00Z');
    // without autologon nobody holds session 1, so the local user gets it
    const rt = createStationRuntime({ name: 'evict-ws', stateDir: dir.path, clock, fsync: false, config: { autoLogon: { enabled: false, passwordSet: false, user: 'LABUSER' } } });
    assert.equal(rt.machine.logon('alumno'), 1);
    const r = await clock.drive(rt.execute(['prepare-session', '--guard-grace=60']));
    assert.equal(r.exitCode, 0);
    const jsonl = rt.readFile(EVENTS)!.toString('utf8');
    assert.ok(jsonl.startsWith('\ufeff{"force":true,"grace":60,'));
    assert.ok(jsonl.includes('"sessionId":"1"'));
    assert.ok(jsonl.endsWith('"user":"alumno"}\n'));
    const hb = JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.equal(hb.operations.lastForcedLogoff.sessionId, true);
    assert.equal(hb.operations.lastForcedLogoff.user, 'alumno');
    assert.equal(hb.operations.lastForcedLogoff.timestamp, '2026-08-24T08:01:00Z');
    assert.deepEqual(hb.status.lastForcedLogoff, hb.operations.lastForcedLogoff);
    // a second eviction appends a line without a second BOM
    rt.machine.logon('otro');
    await clock.drive(rt.execute(['session', 'guard', '--grace=30']));
    const lines = rt.readFile(EVENTS)!.toString('utf8').split('\n');
    assert.equal(lines.length, 3);
    assert.ok(lines[1]!.startsWith('{"force":true,"grace":30,'));
    assert.equal(lines[2], '');
    rt.close();
  });

  test('power shutdown through the runtime: power events, commands refused while off, files still readable, heartbeat resumes on power-on', async () => {
    const clock = new ManualClock('2026-08-24T18:00:00Z');
    const rt = createStationRuntime({ name: 'power-ws', stateDir: dir.path, clock, fsync: false, machine: { workMs: { power: 0 }, shutdownMs: 2_000 } });
    const events: string[] = [];
    rt.onPower((s, c) => events.push(`${s}:${c}`));
    assert.equal((await clock.drive(rt.execute(['power', 'shutdown', '--delay=30']))).stdout, 'Power action scheduled\n');
    await clock.advance(32_000);
    assert.deepEqual(events, ['off:shutdown']);
    assert.equal(rt.power, 'off');
    assert.equal(rt.wakeOnLanWorks, true);
    await assert.rejects(rt.execute(['status-json']), /is off/);
    const stale = JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1));
    assert.equal(stale.operations.lastPowerAction.mode, 'shutdown');
    await clock.advance(600_000);
    assert.equal(JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1)).timestamp, stale.timestamp, 'no heartbeat while off');
    rt.powerOn();
    await clock.advance(0);
    assert.deepEqual(events, ['off:shutdown', 'on:power-on']);
    assert.equal(JSON.parse(rt.readFile(HB)!.toString('utf8').slice(1)).timestamp, '2026-08-24T18:10:32Z');
    rt.close();
  });

  test('release-session --reboot through the runtime: down, booting, up again after bootDelayMs', async () => {
    const clock = new ManualClock('2026-08-24T18:00:00Z');
    const rt = createStationRuntime({ name: 'reboot-ws', stateDir: dir.path, clock, bootDelayMs: 45_000, fsync: false, machine: { workMs: { release: 0 }, shutdownMs: 1_000 } });
    const events: string[] = [];
    rt.onPower((s, c) => events.push(`${s}:${c}`));
    await clock.drive(rt.execute(['release-session', '--reboot']));
    await clock.advance(1_000);
    assert.equal(rt.power, 'booting');
    await clock.advance(45_000);
    assert.equal(rt.power, 'on');
    assert.deepEqual(events, ['off:reboot', 'booting:reboot', 'on:boot']);
    rt.close();
  });
});
