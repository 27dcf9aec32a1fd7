// labops exec and the WinRM heartbeat source against the simulator's stations (WinRM over HTTP with NTLM
// sealing and over HTTPS), plus Debian's pywinrm against the same stations as the independent check.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { pythonEnv, requirePywinrm, runPywinrm } from '../support/pywinrm.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-exec-');
let sim: Simulator;

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const io = IOStreams.test();
  const code = await run(args, { io, env: { HOME: '/nonexistent', ...env } });
  return { code, stdout: io.outText(), stderr: io.errText() };
}
const exec = (...args: string[]) => cli(['--hosts', sim.inventoryPath, 'exec', ...args]);

before(async () => {
  sim = await startSimulator({ hosts: 3, baseAddress: randomLoopbackBase(), stateDir: dir.path, port: 0, bootDelayMs: 50, poweredOn: true, timeScale: 120 });
});
after(async () => {
  await sim.close();
  dir.cleanup();
});

describe('labops exec', () => {
  test('status-json: parsed and passed through with --json, compact JSON when piped', async () => {
    const r = await cli(['--hosts', sim.inventoryPath, '--json', 'exec', 'sim-ws-001', '--', 'status-json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.hosts[0].outcome, 'ok');
    assert.equal(doc.hosts[0].exitCode, 0);
    assert.equal(doc.hosts[0].status.summary.state, 'ready');
    const piped = await exec('sim-ws-001', '--', 'status-json');
    assert.equal(JSON.parse(piped.stdout).schemaVersion, '1.0.0');
  });

  test('prepare-session on every host: one row each with exit code, message and duration', async () => {
    const r = await exec('--all', '--', 'prepare-session', '--guard-grace=30');
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows.map((x) => [x[0], x[1], x[2], x[4]]), sim.stations.map((s) => [s.name, 'ok', '0', 'Session prepared successfully']));
  });

  // every allow-listed command with the free text it takes, over HTTP (NTLM sealing) and HTTPS (Basic)
  const FREE_TEXT: string[][] = [
    ['prepare-session', '--guard-grace=30', '--guard-message=Lab starts now: save your work & log off (admin) <3', '--user=LabUser'],
    ['session', 'guard', '--grace=5', '--message=Back in 5 minutes', '--user=LabUser'],
    ['release-session', '--user=LabUser'],
    ['status-json', 'C:\\LabStation\\Lab Data (copy) & more\\s @home #1, v2.json'],
    ['status'],
    ['power', 'hibernate', '--delay=0', '--reason=Remote order & more'],
    ['power', 'shutdown', '--delay=0', '--reason=Wartung für Kühlraum: 5 Min'],
    // a custom reason makes the station schedule a safeguard reboot: last
    ['recovery', 'reboot-if-needed', '--timeout=0', '--reason=Nightly check | half done ^ (approx) = ok; see #42 @ops', '--user=LabUser'],
  ];
  for (const ssl of [false, true]) {
    test(`every LabStation command with free-text arguments reaches the station exactly, through cmd.exe without PowerShell${ssl ? ' (HTTPS, Basic)' : ''}`, async () => {
      const s = sim.station('sim-ws-002')!;
      const server = sim.winrmServers.get('sim-ws-002')!;
      const over = ssl ? ['--ssl', '--port', String(s.httpsPort), '--transport', 'basic', '--ca', sim.caFile!] : [];
      const boots = s.boots;
      for (const argv of FREE_TEXT) {
        const before = server.received.length;
        const r = await cli(['--hosts', sim.inventoryPath, '--json', 'exec', 'sim-ws-002', ...over, '--yes', '--', ...argv]);
        const host = JSON.parse(r.stdout).hosts[0];
        // LabStation ran (release-session may report warnings: exit 1); what matters is the argv it got
        assert.ok(host.exitCode === 0 || (argv[0] === 'release-session' && host.exitCode === 1), `${argv.join(' ')}: ${r.stdout}`);
        assert.deepEqual(s.runtime!.receivedArgv.at(-1), argv);
        const started = server.received.slice(before);
        assert.deepEqual(started.map((x) => [x.command, x.via]), [['C:\\LabStation\\LabStation.exe', 'cmd']], 'LabStation.exe alone, started by cmd.exe');
        assert.ok(!started[0]!.commandLine.toLowerCase().includes('powershell'));
        if (argv[0] === 'power') {
          await waitFor(() => s.state === 'off', `${argv[1]} to take the station down`);
          await s.powerOn();
        }
      }
      // status-json wrote to the path with spaces, parentheses, & and #
      assert.ok(existsSync(join(s.runtime!.dir, 'Lab Data (copy) & more', 's @home #1, v2.json')));
      await waitFor(() => s.boots === boots + 3 && s.state === 'on', 'the safeguard reboot to finish');
    });
  }

  test('an argument that cannot pass exactly exits 2 before any connection, naming the argument and the character', async () => {
    const server = sim.winrmServers.get('sim-ws-001')!;
    const before = server.events.length;
    const cases: [string[], RegExp][] = [
      [['power', 'shutdown', '--reason=50% done'], /argument 3 "--reason=50% done" contains '%' \(U\+0025\) at position 12/],
      [['session', 'guard', '--message=say "hi"'], /argument 3 "--message=say \\"hi\\"" contains '"'/],
      [['session', 'guard', '--message=line one\nline two'], /argument 3 "--message=line one\\nline two" contains a line feed \(U\+000A\)/],
      [['status-json', 'C:\\a\u0000b.json'], /argument 2 .* contains NUL \(U\+0000\)/],
      [['power', 'shutdown', `--reason=${'x'.repeat(8100)}`], /argument 3 .* makes the command line \d+ characters long: cmd\.exe takes at most 8191/],
    ];
    for (const [argv, want] of cases) {
      const r = await exec('sim-ws-001', '--yes', '--', ...argv);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, want);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal(server.events.length, before, 'no WinRM request was made');
  });

  test('a command outside the allow-list exits 2 before any connection', async () => {
    const server = sim.winrmServers.get('sim-ws-001')!;
    const before = server.events.length;
    for (const args of [['--', 'account', 'create'], ['--', 'power', 'off'], ['--', 'session']]) {
      const r = await exec('sim-ws-001', ...args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /not an allowed LabStation command|needs one of/);
    }
    assert.equal(server.events.length, before);
  });

  test('power and reboot need --yes without a terminal', async () => {
    const r = await exec('sim-ws-001', '--', 'power', 'shutdown');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--yes required when not running interactively/);
    const reboot = await exec('sim-ws-001', '--', 'release-session', '--reboot');
    assert.equal(reboot.code, 2);
    assert.equal(sim.station('sim-ws-001')!.state, 'on');
  });

  test('a wrong password exits 4 and lists the usual causes, never the password', async () => {
    const pw = join(dir.path, 'wrong-pw');
    writeFileSync(pw, 'not-the-password-xyz\n');
    const r = await exec('sim-ws-001', '--password-file', pw, '--', 'status');
    assert.equal(r.code, 4, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /not-the-password-xyz/);
    const j = await cli(['--hosts', sim.inventoryPath, '--json', 'exec', 'sim-ws-001', '--password-file', pw, '--', 'status']);
    assert.equal(JSON.parse(j.stdout).hosts[0].outcome, 'auth');
  });

  test('HTTPS with the simulator CA; an untrusted certificate is an auth failure', async () => {
    const s = sim.station('sim-ws-003')!;
    const ok = await exec('sim-ws-003', '--ssl', '--port', String(s.httpsPort), '--transport', 'basic', '--ca', sim.caFile!, '--', 'status');
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const untrusted = await cli(['--hosts', sim.inventoryPath, '--json', 'exec', 'sim-ws-003', '--ssl', '--port', String(s.httpsPort), '--', 'status']);
    assert.equal(untrusted.code, 4);
    assert.match(JSON.parse(untrusted.stdout).hosts[0].message, /--ca/);
  });

  test('a host that is off exits 3; mixed results exit 5', async () => {
    const s = sim.station('sim-ws-003')!;
    await s.powerOff();
    const off = await exec('sim-ws-003', '--timeout', '3s', '--', 'status');
    assert.equal(off.code, 3, off.stdout);
    const mixed = await exec('sim-ws-001', 'sim-ws-003', '--timeout', '3s', '--', 'status');
    assert.equal(mixed.code, 5);
    await s.powerOn();
  });

  test('unknown host and missing command are usage errors', async () => {
    assert.equal((await exec('nope', '--', 'status')).code, 2);
    const none = await exec('sim-ws-001');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no LabStation command/);
  });
});

describe('heartbeat over WinRM', () => {
  test('reads the station files as bytes and stores them', async () => {
    const db = `sqlite:${join(dir.path, 'hb.db')}`;
    assert.equal((await cli(['--db', db, 'db', 'migrate'])).code, 0);
    for (const s of sim.stations) if (s.state !== 'on') await s.powerOn();
    for (const s of sim.stations) s.runtime!.writeHeartbeat();
    const commandsBefore = sim.stations.map((s) => sim.winrmServers.get(s.name)!.received.length);
    const r = await cli(['--hosts', sim.inventoryPath, '--db', db, '--json', 'heartbeat', 'poll', '--all']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // heartbeat.json, service-state.ini and the events file in one command: one shell per station, not three
    assert.deepEqual(sim.stations.map((s, i) => sim.winrmServers.get(s.name)!.received.length - commandsBefore[i]!), sim.stations.map(() => 1));
    const res = JSON.parse(r.stdout);
    assert.ok(res.hosts.every((h: { ok: boolean; source: string; reportedHost: string }) => h.ok && h.source.startsWith('winrm://')));
    assert.equal(res.hosts[0].reportedHost, 'SIM-WS-001');
  });
});

describe('pywinrm (the independent client) against the simulated stations', () => {
  test('run_cmd over HTTP with NTLM message encryption, and over HTTPS with Basic', async (t) => {
    if (!requirePywinrm(t)) return;
    const s = sim.station('sim-ws-001')!;
    const password = readFileSync(sim.passwordFile!, 'utf8').trim();
    const env = pythonEnv(dir.path);
    const [http] = await runPywinrm({ endpoint: `http://${s.spec.address}:${s.port}/wsman`, transport: 'ntlm', user: 'labops', password, ops: [{ kind: 'cmd', exe: 'C:\\LabStation\\LabStation.exe', args: ['status-json'] }] }, env);
    assert.ok(http && 'status_code' in http, JSON.stringify(http));
    assert.equal(http.status_code, 0);
    assert.equal(JSON.parse(http.std_out).summary.state, 'ready');
    const [https] = await runPywinrm(
      { endpoint: `https://${s.spec.address}:${s.httpsPort}/wsman`, transport: 'basic', user: 'labops', password, cert_validation: 'ignore', ops: [{ kind: 'cmd', exe: 'C:\\LabStation\\LabStation.exe', args: ['session'] }] },
      env,
    );
    assert.ok(https && 'status_code' in https, JSON.stringify(https));
    assert.equal(https.status_code, 2, 'a usage error is exit 2, as LabStation.exe does');
    assert.match(https.std_out, /Usage: LabStation\.exe session guard/);
  });
});
