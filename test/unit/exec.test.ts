import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED_COMMANDS, isAllowedCommandWord, parseLabStationCommand, stationOutcome } from '../../src/domain/labstation-commands.js';
import { execOnHosts } from '../../src/ops/exec.js';
import { splitOperands } from '../../src/cli/commands/exec.js';
import { HostIndex, parseInventory } from '../../src/core/config/inventory.js';
import { AuthFailed, Unreachable, UsageError } from '../../src/domain/errors.js';
import { ManualClock } from '../support/fakes.js';

const hosts = new HostIndex(parseInventory(JSON.stringify({ hosts: ['a', 'b', 'c', 'd'].map((n) => ({ name: n, address: `${n}.lab` })) }), 'h.json')).hosts;

test('the allow-list and what counts as destructive', () => {
  assert.deepEqual(ALLOWED_COMMANDS.map((c) => c.name), ['prepare-session', 'release-session', 'session guard', 'power shutdown', 'power hibernate', 'status-json', 'recovery reboot-if-needed', 'status']);
  const cases: [string[], string | { name: string; destructive: boolean; json: boolean }][] = [
    [['status-json'], { name: 'status-json', destructive: false, json: true }],
    [['status-json', 'C:\\x.json'], { name: 'status-json', destructive: false, json: false }],
    [['release-session'], { name: 'release-session', destructive: false, json: false }],
    [['release-session', '--reboot'], { name: 'release-session', destructive: true, json: false }],
    [['power', 'shutdown', '--delay=60'], { name: 'power shutdown', destructive: true, json: false }],
    [['recovery', 'reboot-if-needed'], { name: 'recovery reboot-if-needed', destructive: true, json: false }],
    [['power'], "'power' needs one of: shutdown, hibernate"],
    [['account', 'create'], /not an allowed LabStation command/.source],
    [[], 'no LabStation command given'],
  ];
  for (const [argv, want] of cases) {
    const got = parseLabStationCommand(argv);
    if (typeof want === 'string') assert.match(String(got), new RegExp(want), argv.join(' '));
    else assert.deepEqual({ name: (got as { name: string }).name, destructive: (got as { destructive: boolean }).destructive, json: (got as { json: boolean }).json }, want);
  }
  assert.equal(stationOutcome(0), 'ok');
  assert.equal(stationOutcome(1), 'failed');
  assert.equal(stationOutcome(2), 'rejected');
});

test('hosts before --, the command after it; without --, the first allowed word starts the command', () => {
  assert.deepEqual(splitOperands(['a', 'b', 'power', 'shutdown', '--delay=1'], ['exec', 'a', 'b', '--json', '--', 'power', 'shutdown', '--delay=1'], isAllowedCommandWord), { hosts: ['a', 'b'], command: ['power', 'shutdown', '--delay=1'] });
  assert.deepEqual(splitOperands(['status', 'status'], ['exec', 'status', '--', 'status'], isAllowedCommandWord), { hosts: ['status'], command: ['status'] });
  assert.deepEqual(splitOperands(['a', 'status-json'], ['exec', 'a', 'status-json'], isAllowedCommandWord), { hosts: ['a'], command: ['status-json'] });
  assert.deepEqual(splitOperands(['a'], ['exec', 'a'], isAllowedCommandWord), { hosts: ['a'], command: [] });
});

test('per-host outcomes: ok, station failure, rejection, unreachable, auth; each runner closed', async () => {
  const clock = new ManualClock();
  let closed = 0;
  const replies: Record<string, () => { exitCode: number; stdout: string; stderr: string; durationMs: number }> = {
    a: () => ({ exitCode: 0, stdout: 'Session prepared successfully\n', stderr: '', durationMs: 5 }),
    b: () => ({ exitCode: 1, stdout: 'Session guard finished with warnings (see log)\n', stderr: '', durationMs: 5 }),
    c: () => ({ exitCode: 2, stdout: 'Unknown power mode\n', stderr: '', durationMs: 5 }),
  };
  const r = await execOnHosts(hosts, parseLabStationCommand(['prepare-session']) as never, { concurrency: 2, timeoutMs: 1000 }, {
    now: clock.now,
    connect: (h) => {
      if (h.name === 'd') throw new AuthFailed('WinRM rejected the credentials');
      return {
        run: async () => {
          if (!replies[h.name]) throw new Unreachable('refused');
          return replies[h.name]!();
        },
        close: () => {
          closed++;
        },
      };
    },
  });
  assert.deepEqual(r.hosts.map((h) => [h.host, h.outcome, h.exitCode, h.message]), [
    ['a', 'ok', 0, 'Session prepared successfully'],
    ['b', 'failed', 1, 'Session guard finished with warnings (see log)'],
    ['c', 'rejected', 2, 'LabStation rejected the command: Unknown power mode'],
    ['d', 'auth', null, 'WinRM rejected the credentials'],
  ]);
  assert.equal(closed, 3);
});

test('arguments that cannot reach LabStation.exe exactly are refused by the allow-list check, naming argument and character', () => {
  const refused: [string[], RegExp][] = [
    [['power', 'shutdown', '--reason=50% done'], /^argument 3 "--reason=50% done" contains '%'/],
    [['session', 'guard', '--message=say "hi"'], /^argument 3 .* contains '"'/],
    [['session', 'guard', '--message=line1\nline2'], /^argument 3 .* contains a line feed/],
    [['status-json', 'C:\\a\u0000b'], /^argument 2 .* contains NUL/],
    [['power', 'shutdown', `--reason=${'x'.repeat(8000)}`], /^argument 3 .* makes the command line \d+ characters long/],
  ];
  for (const [argv, want] of refused) assert.match(String(parseLabStationCommand(argv)), want, JSON.stringify(argv).slice(0, 60));
  // free text with spaces, & and cmd.exe's other operators is fine
  for (const argv of [['power', 'shutdown', '--reason=Remote order & more'], ['session', 'guard', '--message=Back in 5 minutes'], ['prepare-session', '--guard-message=Save (now) <or> lose | it ^^']]) {
    assert.equal(typeof parseLabStationCommand(argv), 'object', argv.join(' '));
  }
});

test('a host whose labstation_exe cannot be started unquoted stops the run before any connection', async () => {
  // the inventory refuses such a path when it loads; the run checks again (hosts may come from elsewhere, the API)
  assert.throws(() => parseInventory(JSON.stringify({ hosts: [{ name: 'spaced', address: 'b.lab', labstation_exe: 'C:\\Program Files\\LabStation\\LabStation.exe' }] }), 'h.json'), /hosts\[0\]\.labstation_exe: is not a LabStation\.exe path/);
  const inv = new HostIndex(parseInventory(JSON.stringify({ hosts: [{ name: 'ok', address: 'a.lab' }, { name: 'spaced', address: 'b.lab' }] }), 'h.json')).hosts;
  inv[1]!.labstationExe = 'C:\\Program Files\\LabStation\\LabStation.exe';
  let connects = 0;
  await assert.rejects(
    execOnHosts(inv, parseLabStationCommand(['status']) as never, { concurrency: 2, timeoutMs: 1000 }, { now: () => 0, connect: () => (connects++, { run: async () => ({ exitCode: 0, stdout: '', stderr: '', durationMs: 0 }), close: () => {} }) }),
    (e: unknown) => e instanceof UsageError && /^host 'spaced': LabStation\.exe path "C:\\\\Program Files\\\\LabStation\\\\LabStation\.exe" contains a space/.test(e.message) && /labstation_exe of spaced/.test(e.suggestion ?? ''),
  );
  assert.equal(connects, 0);
});
