// LabStation.exe 3.2.0 as simulated: each command's exit code and headless stdout line (reference NOTES §4),
// the session guard on a fake clock, power and reboot, and what lands in service-state.ini.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, LabStationMachine, StationUnavailableError, HELP_TEXT, type PowerState } from '../../src/sim/labstation/index.js';
import type { LabStationMachineOptions } from '../../src/sim/labstation/machine.js';

const START = Date.parse('2026-08-24T08:00:00Z');

function station(o: Partial<LabStationMachineOptions> = {}) {
  const clock = new ManualClock(START);
  const powerLog: string[] = [];
  const m = new LabStationMachine({ clock, name: 'ws-01', bootDelayMs: 30_000, shutdownMs: 5_000, ...o });
  m.on('power', (s: PowerState, c) => powerLog.push(`${s}:${c}`));
  const run = (...argv: string[]) => clock.drive(m.execute(argv));
  return { clock, m, run, powerLog };
}
const line = (s: string) => ({ exitCode: 0, stdout: `${s}\n`, stderr: '' });
const fail = (s: string, code = 1) => ({ exitCode: code, stdout: `${s}\n`, stderr: '' });
const op = (m: LabStationMachine, k: string) => m.operations()[k] as Record<string, unknown>;

describe('command line conventions', () => {
  test('no arguments exits 0 with no output', async () => {
    const { run } = station();
    assert.deepEqual(await run(), { exitCode: 0, stdout: '', stderr: '' });
  });

  test('an unknown command prints the help text and exits 2', async () => {
    const { run } = station();
    assert.deepEqual(await run('frobnicate'), { exitCode: 2, stdout: `${HELP_TEXT}\n`, stderr: '' });
  });

  test('commands are case-insensitive; unknown flags are silently ignored', async () => {
    const { run } = station();
    assert.deepEqual(await run('PREPARE-SESSION', '--bogus', '--what=ever'), line('Session prepared successfully'));
  });

  test('every argv is recorded exactly as received, values keep their case and spaces', async () => {
    const { run, m } = station();
    await run('power', 'shutdown', '--Reason=Remote order & calc', '--delay=60');
    assert.deepEqual(m.receivedArgv, [['power', 'shutdown', '--Reason=Remote order & calc', '--delay=60']]);
    assert.equal(op(m, 'lastPowerAction').reason, 'Remote order & calc');
  });
});

describe('prepare-session and the session guard', () => {
  test('with no local session it prepares at once: exit 0, [prepare-session] written with user ""', async () => {
    const { run, m, clock } = station({ workMs: { prepare: 1500 } });
    assert.deepEqual(await run('prepare-session'), line('Session prepared successfully'));
    assert.equal(clock.now(), START + 1500);
    assert.deepEqual(op(m, 'lastPrepareSession'), { durationMs: 1500, success: true, timestamp: '2026-08-24T08:00:01Z', user: '' });
    assert.deepEqual(op(m, 'lastForcedLogoff'), {});
  });

  test('a local user is warned, gets the 90 s grace on the simulated clock, then is logged off; the event reaches the JSONL feed and operations.lastForcedLogoff', async () => {
    const { m, clock } = station({ workMs: { prepare: 0 } });
    const id = m.logon('Teacher');
    const events: unknown[] = [];
    m.on('forced-logoff', (e) => events.push(e));
    const p = m.execute(['prepare-session']);
    let done = false;
    void p.then(() => (done = true));
    await clock.advance(89_999);
    assert.equal(done, false, 'still inside the grace');
    assert.ok(m.sessions.some((s) => s.id === id));
    assert.deepEqual(m.notices, [{ sessionId: id, user: 'Teacher', message: 'A remote lab reservation is about to start. Your session will close in 90 seconds.', seconds: 90, at: START }]);
    await clock.advance(1);
    assert.deepEqual(await p, line('Session prepared successfully'));
    assert.ok(!m.sessions.some((s) => s.id === id));
    const message = 'A remote lab reservation is about to start. Your session will close in 90 seconds.';
    assert.deepEqual(events, [{ force: true, grace: 90, message, sessionId: '2', source: 'session-guard', state: 'Active', timestamp: '2026-08-24T08:01:30Z', user: 'teacher' }]);
    assert.deepEqual(op(m, 'lastForcedLogoff'), { grace: 90, message, sessionId: 2, source: 'session-guard', state: 'Active', success: true, timestamp: '2026-08-24T08:01:30Z', user: 'teacher' });
    assert.equal(op(m, 'lastPrepareSession').durationMs, 90_000);
    const status = m.status();
    assert.deepEqual(status.lastForcedLogoff, op(m, 'lastForcedLogoff'));
    assert.equal((status.sessions as Record<string, unknown>).localSessionActive, false);
  });

  test('--guard-grace is honoured with a minimum of 30; --guard-message keeps its case; --guard-silent sends no msg', async () => {
    const { m, run, clock } = station({ workMs: { prepare: 0 } });
    m.logon('a');
    await run('prepare-session', '--guard-grace=10', '--guard-message=Bye NOW', '--guard-silent');
    assert.equal(clock.now(), START + 30_000);
    assert.equal(m.notices.length, 0);
    assert.equal(m.forcedLogoffs[0]!.message, 'Bye NOW');
    assert.equal(m.forcedLogoffs[0]!.grace, 30);
    m.logon('b');
    await run('prepare-session', '--guard-grace=45', '--guard-notify=no');
    assert.equal(clock.now(), START + 75_000);
    assert.equal(m.notices.length, 0);
    m.logon('c');
    await run('prepare-session', '--guard-grace=45', '--guard-message=say "hi"');
    assert.equal(m.notices[0]!.message, "say 'hi'", 'double quotes become single quotes in msg');
  });

  test('--no-guard and --guard=no leave local sessions alone and return at once', async () => {
    const { m, run, clock } = station({ workMs: { prepare: 0 } });
    m.logon('teacher');
    assert.deepEqual(await run('prepare-session', '--no-guard'), line('Session prepared successfully'));
    assert.deepEqual(await run('prepare-session', '--guard=no'), line('Session prepared successfully'));
    assert.equal(clock.now(), START);
    assert.equal(m.sessions.length, 2);
  });

  test('disconnected sessions are not targeted, and quser shows them with shifted columns', async () => {
    const { m, run, clock } = station({ workMs: { prepare: 0 } });
    const id = m.logon('teacher');
    m.disconnect(id, '5');
    assert.deepEqual(await run('prepare-session'), line('Session prepared successfully'));
    assert.equal(clock.now(), START);
    const entries = (m.status().sessions as { entries: Record<string, string>[] }).entries;
    assert.deepEqual(entries[1], { user: 'teacher', session: '2', id: 'Disc', state: '5', idle: '8/24/2026', logonTime: '8:00 AM' });
  });

  test('a user who leaves during the grace makes logoff fail: exit 1 with warnings, no forced-logoff event', async () => {
    const { m, clock } = station({ workMs: { prepare: 0 } });
    const id = m.logon('teacher');
    const p = m.execute(['prepare-session']);
    await clock.advance(10_000);
    m.logoff(id);
    assert.deepEqual(await clock.drive(p), fail('Prepare-session finished with warnings (see log)'));
    assert.deepEqual(m.forcedLogoffs, []);
    assert.equal(op(m, 'lastPrepareSession').success, false);
  });

  test('--user=<name> is the user the guard keeps', async () => {
    const { m, run } = station({ workMs: { prepare: 0 } });
    m.logon('teacher');
    await run('prepare-session', '--user=Teacher');
    assert.deepEqual(
      m.sessions.map((s) => s.user),
      ['teacher'],
    );
    assert.equal(op(m, 'lastPrepareSession').user, 'Teacher');
  });

  test('session guard: default grace 120, --soft logs off without /f, --guard-grace is ignored, usage errors exit 2', async () => {
    const { m, run, clock } = station();
    m.logon('profesor');
    assert.deepEqual(await run('session', 'guard', '--guard-grace=30', '--soft'), line('Local sessions cleared'));
    assert.equal(clock.now(), START + 120_000);
    assert.equal(m.forcedLogoffs[0]!.force, false);
    assert.equal(m.forcedLogoffs[0]!.grace, 120);
    m.logon('x');
    await run('session', 'guard', '--grace=60', '--silent', '--message=Reservation');
    assert.equal(clock.now(), START + 180_000);
    assert.equal(m.notices.length, 1, 'the second run was silent');
    assert.equal(m.forcedLogoffs[1]!.message, 'Reservation');
    assert.deepEqual(await run('session', 'guard'), line('Local sessions cleared'));
    assert.equal((await run('session')).exitCode, 2);
    assert.match((await run('session')).stdout, /^Usage: LabStation\.exe session guard/);
    assert.deepEqual(await run('session', 'kick'), fail('Unknown session subcommand', 2));
  });

  test('session guard with a failing logoff exits 1', async () => {
    const { m, run } = station({ faults: { logoff: true } });
    m.logon('x');
    assert.deepEqual(await run('session', 'guard', '--grace=30'), fail('Session guard finished with warnings (see log)'));
  });
});

describe('release-session', () => {
  test('logs LABUSER off: exit 0; with no LABUSER session it exits 1 (as upstream)', async () => {
    const { m, run } = station({ workMs: { release: 1000 } });
    assert.equal(m.sessions[0]!.user, 'LABUSER');
    assert.deepEqual(await run('release-session'), line('Session released successfully'));
    assert.deepEqual(m.sessions, []);
    assert.deepEqual(op(m, 'lastReleaseSession'), { durationMs: 1000, success: true, timestamp: '2026-08-24T08:00:01Z', user: '' });
    assert.deepEqual(await run('release-session'), fail('Release-session finished with warnings (see log)'));
    assert.equal(op(m, 'lastReleaseSession').success, false);
  });

  test('--reboot reboots at once (/t 0): down after the shutdown time, up again after the boot delay, LABUSER logged on again', async () => {
    let reboots = 0;
    const { m, run, clock, powerLog } = station({ workMs: { release: 0 }, onReboot: () => reboots++ });
    m.logon('teacher');
    assert.deepEqual(await run('release-session', '--reboot'), line('Session released successfully'));
    assert.equal(m.power, 'on', 'the answer gets out before Windows goes down');
    assert.deepEqual(m.scheduledPowerAction, { kind: 'reboot', at: START + 5_000 });
    assert.deepEqual(op(m, 'lastReleaseSession'), { durationMs: false /* 0 reads back from the INI as false */, rebootRequested: true, success: true, timestamp: '2026-08-24T08:00:00Z', user: '' });
    await clock.advance(5_000);
    assert.equal(m.power, 'booting');
    assert.equal(reboots, 1);
    await assert.rejects(m.execute(['status']), StationUnavailableError);
    await clock.advance(30_000);
    assert.equal(m.power, 'on');
    assert.deepEqual(powerLog, ['off:reboot', 'booting:reboot', 'on:boot']);
    assert.deepEqual(
      m.sessions.map((s) => [s.id, s.user, s.sessionName]),
      [[1, 'LABUSER', 'console']],
    );
  });

  test('--reboot-timeout=N (and the bare word reboot) schedule the reboot N s later and record rebootTimeout', async () => {
    const { run, m, clock } = station({ workMs: { release: 0 } });
    await run('release-session', '--reboot-timeout=30');
    assert.equal(op(m, 'lastReleaseSession').rebootTimeout, 30);
    assert.deepEqual(m.scheduledPowerAction, { kind: 'reboot', at: START + 35_000 });
    await clock.advance(70_000);
    assert.equal(m.power, 'on');
    m.logon('x');
    await run('release-session', 'reboot');
    assert.equal(m.scheduledPowerAction?.kind, 'reboot');
  });

  test('cutOffImmediateReboot: /t 0 takes the host down before it answers (NOTES §5.9 item 8)', async () => {
    const { m, clock } = station({ workMs: { release: 0 }, cutOffImmediateReboot: true });
    await assert.rejects(clock.drive(m.execute(['release-session', '--reboot'])), StationUnavailableError);
    assert.equal(m.power, 'booting');
    assert.equal(op(m, 'lastReleaseSession').success, true, 'the INI was written before the reboot');
  });

  test('a reboot that cannot be scheduled makes release exit 1', async () => {
    const { run } = station({ faults: { shutdown: true } });
    assert.deepEqual(await run('release-session', '--reboot'), fail('Release-session finished with warnings (see log)'));
  });
});

describe('power', () => {
  test('shutdown: scheduled (exit 0), off after the delay, commands impossible until powered on; sessions start fresh', async () => {
    const offs: string[] = [];
    const { m, run, clock } = station({ workMs: { power: 0 }, onPowerOff: (s, c) => offs.push(`${s}:${c}`) });
    m.logon('teacher');
    assert.deepEqual(await run('power', 'shutdown', '--delay=60', '--reason=Reservation completed'), line('Power action scheduled'));
    assert.deepEqual(op(m, 'lastPowerAction'), { delay: 60, force: true, mode: 'shutdown', reason: 'Reservation completed', success: true, timestamp: '2026-08-24T08:00:00Z', wakeArmed: true, wakeReady: true });
    await clock.advance(64_999);
    assert.equal(m.power, 'on');
    await clock.advance(1);
    assert.equal(m.power, 'off');
    assert.deepEqual(offs, ['off:shutdown']);
    await assert.rejects(m.execute(['status-json']), (e: unknown) => e instanceof StationUnavailableError && e.power === 'off');
    await clock.advance(3_600_000);
    assert.equal(m.power, 'off', 'stays off until woken');
    m.powerOn();
    assert.equal(m.power, 'on');
    assert.deepEqual(
      m.sessions.map((s) => s.user),
      ['LABUSER'],
    );
    assert.equal((await run('status')).exitCode, 0);
  });

  test('hibernate: the host is hibernated and resumes with its sessions', async () => {
    const { m, run, clock } = station({ workMs: { power: 0 } });
    m.logon('teacher');
    assert.deepEqual(await run('power', 'hibernate', '--no-force'), line('Power action scheduled'));
    assert.equal(op(m, 'lastPowerAction').force, false);
    await clock.advance(5_000);
    assert.equal(m.power, 'hibernated');
    m.powerOn();
    assert.deepEqual(
      m.sessions.map((s) => s.user),
      ['LABUSER', 'teacher'],
    );
  });

  test('usage: missing subcommand and unknown subcommand exit 2', async () => {
    const { run } = station();
    const r = await run('power');
    assert.equal(r.exitCode, 2);
    assert.match(r.stdout, /^Usage: LabStation\.exe power/);
    assert.deepEqual(await run('power', 'reboot'), fail('Unknown power subcommand', 2));
  });

  test('wake check: a drifted NIC is repaired by default; with --no-repair-wake the shutdown goes ahead with wakeReady false and WoL no longer works', async () => {
    const { m, run, clock } = station({ workMs: { power: 0 } });
    m.updateConfig((c) => (c.nics[0]!.allowTurnOff = 'Enabled'));
    await run('power', 'shutdown');
    assert.equal(op(m, 'lastPowerAction').wakeReady, true);
    assert.equal(m.config.nics[0]!.allowTurnOff, 'Disabled');
    await clock.advance(10_000);
    m.powerOn();
    m.updateConfig((c) => (c.nics[0]!.wakeOnMagicPacket = 'Disabled'));
    assert.deepEqual(await run('power', 'shutdown', '--no-repair-wake'), line('Power action scheduled'));
    assert.deepEqual(op(m, 'lastPowerAction').wakeIssues, 'Ethernet: Wake on Magic Packet disabled');
    assert.equal(op(m, 'lastPowerAction').wakeReady, false);
    await clock.advance(10_000);
    assert.equal(m.power, 'off');
    assert.equal(m.wakeOnLanWorks, false);
  });

  test('--require-wake fails (exit 1) when WoL is not ready and cannot be repaired; the host stays on and the failure is recorded', async () => {
    const { m, run, clock } = station({ workMs: { power: 0 }, config: { wakeRepairable: false, armedDevices: [] } });
    assert.deepEqual(await run('power', 'shutdown', '--require-wake'), fail('Power action failed (see log)'));
    assert.equal(op(m, 'lastPowerAction').success, false);
    assert.equal(op(m, 'lastPowerAction').wakeArmed, false, 'armedCount 0 reads back as false');
    assert.equal(op(m, 'lastPowerAction').wakeIssues, 'No wake-armed devices detected');
    await clock.advance(600_000);
    assert.equal(m.power, 'on');
    assert.deepEqual(await run('power', 'shutdown', '--require-wake', '--skip-wake-check'), line('Power action scheduled'));
  });

  test('a second power action while one is pending fails with exit 1', async () => {
    const { run } = station({ workMs: { power: 0 } });
    assert.equal((await run('power', 'shutdown', '--delay=600')).exitCode, 0);
    assert.deepEqual(await run('power', 'hibernate'), fail('Power action failed (see log)'));
  });

  test('a command still running when the host goes down is cut off', async () => {
    const { m, run, clock } = station({ workMs: { power: 0 } });
    m.logon('teacher');
    const guard = m.execute(['session', 'guard']);
    guard.catch(() => {});
    await clock.advance(1_000);
    await run('power', 'shutdown');
    await clock.advance(10_000);
    await assert.rejects(guard, StationUnavailableError);
    assert.deepEqual(m.forcedLogoffs, []);
  });
});

describe('recovery reboot-if-needed', () => {
  test('healthy: reboot skipped (exit 0), [safeguard-reboot] records the healthy skip', async () => {
    const { m, run } = station();
    assert.deepEqual(await run('recovery', 'reboot-if-needed'), line('Healthy state detected; reboot skipped'));
    assert.deepEqual(op(m, 'lastSafeguardReboot'), { message: 'Healthy state detected; reboot skipped', reason: 'healthy', rebooted: false, success: true, timestamp: '2026-08-24T08:00:00Z' });
    assert.equal(m.scheduledPowerAction, undefined);
  });

  test('another user logged on: a safeguard reboot is scheduled with its reasons after --timeout (default 20 s)', async () => {
    const { m, run, clock } = station({ workMs: { recovery: 0 } });
    m.logon('teacher');
    assert.deepEqual(await run('recovery', 'reboot-if-needed'), line('Safeguard reboot scheduled (other-users-active)'));
    assert.deepEqual(m.scheduledPowerAction, { kind: 'reboot', at: START + 25_000 });
    assert.equal(op(m, 'lastSafeguardReboot').rebooted, true);
    await clock.advance(25_000);
    assert.equal(m.power, 'booting');
  });

  test('--force (or the bare word force) short-circuits to forced-by-backend; a failing shutdown exits 1', async () => {
    const { run } = station({ workMs: { recovery: 0 } });
    assert.deepEqual(await run('recovery', 'reboot-if-needed', 'force', '--timeout=5'), line('Safeguard reboot scheduled (forced-by-backend)'));
    const broken = station({ faults: { shutdown: true } });
    assert.deepEqual(await broken.run('recovery', 'reboot-if-needed', '--force'), fail('Unable to schedule safeguard reboot'));
  });

  test('needs-action status and a custom reason are both reasons', async () => {
    const { run } = station({ workMs: { recovery: 0 }, config: { autoStartConfigured: false } });
    assert.deepEqual(await run('recovery', 'reboot-if-needed', '--reason=drift'), line('Safeguard reboot scheduled (drift, status-needs-action, autostart-missing)'));
  });

  test('usage errors exit 2', async () => {
    const { run } = station();
    assert.equal((await run('recovery')).exitCode, 2);
    assert.equal((await run('recovery', 'nuke')).exitCode, 2);
  });
});

describe('status and status-json', () => {
  test('status prints the documented lines', async () => {
    const { run } = station();
    assert.deepEqual(await run('status'), line(['State: ready', 'Issues: none', 'RemoteApp: OK', 'WinRM: OK', 'Profile: hybrid', 'Autostart: OK', 'Wake-capable devices: 2', 'Active power plan: Balanced'].join('\n')));
  });

  test('status-json prints the compact status JSON with no newline and exits 0; it follows sessions, local mode and compliance', async () => {
    const { m, run } = station();
    const r = await run('status-json');
    assert.equal(r.exitCode, 0);
    assert.ok(!r.stdout.endsWith('\n'));
    assert.ok(!r.stdout.startsWith('\ufeff'));
    const s = JSON.parse(r.stdout);
    assert.equal(s.summary.ready, true);
    assert.equal(s.wake.armedCount, true, '1 armed device is written as true');
    m.logon('teacher');
    m.setLocalMode(true);
    m.updateConfig((c) => (c.power.sleepAc = 1800));
    const s2 = JSON.parse((await run('status-json')).stdout);
    assert.equal(s2.localSessionActive, true);
    assert.equal(s2.localModeEnabled, true);
    assert.equal(s2.power.sleepCompliant, false);
    assert.deepEqual(s2.summary, { issues: ['Sleep timeout is not disabled'], ready: false, state: 'needs-action' });
  });

  test('a server-profile station reports the server-only checks', async () => {
    const { run } = station({ config: { profile: 'server', remoteDesktopUsers: ['LABUSER', 'alice'], autoLogon: { enabled: false, passwordSet: true, user: 'LABUSER' } } });
    const s = JSON.parse((await run('status-json')).stdout);
    assert.deepEqual(s.summary.issues, ['AutoAdminLogon disabled', 'Unexpected Remote Desktop Users members: alice']);
    assert.deepEqual(s.policy.remoteDesktopUsers.otherMembers, ['alice']);
  });
});
