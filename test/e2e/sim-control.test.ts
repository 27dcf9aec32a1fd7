// `labops sim` with faults from its command line and from its control endpoint, through the built binary, as an
// operator rehearses a failure: start it, ask for a fault, watch `labops labs sync` meet it, stop it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BIN, runCli } from '../support/cli.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-sim-control-');
after(() => dir.cleanup());
const env = { HOME: dir.path, XDG_STATE_HOME: join(dir.path, 'state'), XDG_CONFIG_HOME: join(dir.path, 'config') };

interface RunningSim {
  /** what `labops sim --json` prints at start */
  started: { config: string; control: string };
  /** the control endpoint: a JSON body (or raw text), the status and the JSON answer */
  control(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** SIGTERM; its exit code */
  stop(): Promise<number | null>;
  /** SIGKILL if it still runs (after a failed test) */
  kill(): void;
}

/** `labops sim --json <args>` from the built binary, on a base address and state directory of its own. */
async function startSim(name: string, args: string[]): Promise<RunningSim> {
  const all = ['sim', '--base-address', randomLoopbackBase(), '--state-dir', join(dir.path, name), '--json', ...args];
  const child: ChildProcess = spawn(process.execPath, [BIN, ...all], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, CI: '1', NO_COLOR: '1', ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exit = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  await waitFor(() => out.includes('\n') || child.exitCode !== null, 'labops sim to print where it runs', 30_000);
  assert.ok(out.includes('\n'), err);
  const started = JSON.parse(out.split('\n')[0]!) as RunningSim['started'];
  return {
    started,
    async control(method, path, body) {
      const r = await fetch(`${started.control}${path}`, { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exit;
      assert.equal(code, 0, err);
      return code;
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

describe('labops sim: faults on the command line and through the control endpoint', () => {
  let sim: RunningSim;
  const db = `sqlite:${join(dir.path, 'labs.db')}`;
  const sync = () => runCli(['--config', sim.started.config, '--db', db, '--json', 'labs', 'sync', '--timeout', '2s'], { env });
  const serverLine = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.type === 'server')!;
  const control = (method: string, path: string, body?: unknown) => sim.control(method, path, body);

  before(async () => {
    sim = await startSim('cml', ['--stations', '1', '--cml', '1', '--cml-labs', '3', '--cml-change', 'off', '--fault', 'cml.list:html@times=1']);
    assert.equal((await runCli(['--db', db, 'db', 'migrate'], { env })).code, 0);
  });
  after(() => sim?.kill());

  test('it prints its control endpoint, on loopback', () => {
    assert.match(String(sim.started.control), /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('a fault given at start: the first lab list is an HTML 502 page, the next one works', async () => {
    const r1 = await sync();
    assert.equal(r1.code, 1, r1.stderr);
    assert.equal(serverLine(r1.stdout).status, 'failed');
    assert.match(JSON.stringify(serverLine(r1.stdout).error), /HTTP 502 with an HTML page/);
    const r2 = await sync();
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(serverLine(r2.stdout).created, 3);
  });

  test('a fault injected at run time (PATCH /options) is met by the next sync, and shows in GET /options', async () => {
    const p = await control('PATCH', '/options', { fault: ['cml.list:503@times=1'], latency: 'cml.any=5ms' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const g = await control('GET', '/options');
    assert.deepEqual((g.body.options as Record<string, unknown>).fault, ['cml.list:503@times=1']);
    assert.deepEqual(((g.body.faults as Record<string, unknown[]>).cml ?? []).map((f) => (f as { remaining: number }).remaining), [1]);
    const r = await sync();
    assert.equal(r.code, 1, r.stderr);
    assert.match(JSON.stringify(serverLine(r.stdout).error), /503/);
    assert.equal((await sync()).code, 0, 'the fault fired once');
  });

  test('labs changing at run time (POST /cml/change with a change rate set) reach the cache', async () => {
    assert.equal((await control('PATCH', '/options', { 'cml-change': 'every=1h,state=1,nodes=0,title=0,create=0,delete=0' })).status, 200);
    assert.equal((await control('POST', '/cml/change')).status, 200);
    const r = await sync();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(serverLine(r.stdout).updated, 3, 'every lab flipped state');
  });

  test('bad requests are 400 and change nothing', async () => {
    const before = (await control('GET', '/options')).body;
    for (const body of [{ bogus: ['x'] }, { fault: ['cml.nope:500'] }, { fault: ['cml.list:teapot'] }, { fault: 'cml.list:500' }, { latency: 'cml.any=soon' }, '{not json']) {
      const r = await control('PATCH', '/options', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(typeof r.body.error, 'string');
    }
    assert.match(String((await control('PATCH', '/options', { bogus: 1 })).body.error), /bogus: unknown field/);
    assert.deepEqual((await control('GET', '/options')).body, before);
    assert.equal((await control('GET', '/nothing')).status, 404);
    assert.equal((await control('DELETE', '/options')).status, 405);
  });

  test('SIGTERM stops it with exit 0', async () => {
    await sim.stop();
  });
});

describe('labops sim: station faults at start and through the control endpoint, met by labops exec', () => {
  let sim: RunningSim;
  type Row = { host: string; outcome: string };
  const exec = async () => {
    const r = await runCli(['--config', sim.started.config, '--json', 'exec', '--all', '--timeout', '5s', '--', 'status'], { env });
    return { code: r.code, outcomes: Object.fromEntries((JSON.parse(r.stdout) as { hosts: Row[] }).hosts.map((h) => [h.host, h.outcome])), stderr: r.stderr };
  };

  before(async () => {
    sim = await startSim('stations', ['--stations', '3', '--powered-on', '--port', '0', '--station-fault', '2:winrm-down']);
  });
  after(() => sim?.kill());

  test('a WinRM listener down from the start: that station is unreachable, the others answer, exit 5', async () => {
    const r = await exec();
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(r.outcomes, { 'sim-ws-001': 'ok', 'sim-ws-002': 'unreachable', 'sim-ws-003': 'ok' });
  });

  test('wrong credentials injected at run time: an auth failure for that station; cleared, every station answers', async () => {
    const p = await sim.control('PATCH', '/options', { 'station-fault': ['sim-ws-003:wrong-credentials'] });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const r = await exec();
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(r.outcomes, { 'sim-ws-001': 'ok', 'sim-ws-002': 'ok', 'sim-ws-003': 'auth' }, 'the listener came back when its fault was replaced');
    assert.equal((await sim.control('PATCH', '/options', { 'station-fault': ['9:winrm-down'] })).status, 400, 'a station past the fleet');
    assert.equal((await sim.control('PATCH', '/options', { 'station-fault': [] })).status, 200);
    const ok = await exec();
    assert.equal(ok.code, 0, ok.stderr);
    await sim.stop();
  });
});

describe('labops sim: heartbeat, local user and local mode faults, met by labops heartbeat poll', () => {
  let sim: RunningSim;
  const db = `sqlite:${join(dir.path, 'heartbeat.db')}`;
  type Polled = { host: string; ok: boolean; localMode: boolean | null; localSession: boolean | null; error: { kind: string } | null };
  const poll = async () => {
    const r = await runCli(['--config', sim.started.config, '--db', db, '--json', 'heartbeat', 'poll', '--all'], { env });
    return { code: r.code, hosts: (JSON.parse(r.stdout) as { hosts: Polled[] }).hosts.map((h) => [h.host, h.ok, h.localMode, h.localSession, h.error?.kind ?? null]), stderr: r.stderr };
  };

  before(async () => {
    // --time-scale 60: the stations write heartbeat.json every second
    const faults = ['1:heartbeat-missing', '2:heartbeat-corrupt', '3:local-user=teacher'].flatMap((f) => ['--station-fault', f]);
    sim = await startSim('heartbeats', ['--stations', '3', '--powered-on', '--time-scale', '60', '--port', '0', ...faults]);
    assert.equal((await runCli(['--db', db, 'db', 'migrate'], { env })).code, 0);
  });
  after(() => sim?.kill());

  test('a missing and a corrupt heartbeat fail those stations (exit 5); a local user shows as a local session', async () => {
    const r = await poll();
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(r.hosts, [
      ['sim-ws-001', false, null, null, 'missing'],
      ['sim-ws-002', false, null, null, 'format'],
      ['sim-ws-003', true, false, true, null],
    ]);
  });

  test('local mode injected at run time, the other faults cleared: the next heartbeats say so', async () => {
    const p = await sim.control('PATCH', '/options', { 'station-fault': ['1:local-mode'] });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    let last: Awaited<ReturnType<typeof poll>> | undefined;
    const want = [
      ['sim-ws-001', true, true, false, null],
      ['sim-ws-002', true, false, false, null],
      ['sim-ws-003', true, false, false, null],
    ];
    await waitFor(async () => JSON.stringify((last = await poll()).hosts) === JSON.stringify(want), 'the stations to write their new heartbeats', 20_000, 500).catch(() => assert.deepEqual(last?.hosts, want));
    assert.equal(last!.code, 0, last!.stderr);
    await sim.stop();
  });
});

describe('labops sim: bad fault options exit 2 naming the option, and nothing starts', () => {
  const cases: [string[], RegExp][] = [
    [['--cml', '1', '--fault', 'cml.list:teapot'], /--fault 'cml\.list:teapot': unknown fault 'teapot'/],
    [['--cml', '1', '--fault', 'cml.list:500@rate=2'], /--fault 'cml\.list:500@rate=2'/],
    [['--fault', 'cml.list:500'], /--fault 'cml\.list:500': no CML controller runs/],
    [['--cml', '1', '--latency', 'cml.any=soon'], /--latency/],
    [['--cml', '1', '--cml-change', 'every=never'], /--cml-change/],
    [['--station-fault', '1:on-fire'], /--station-fault '1:on-fire'/],
    [['--control', '10.0.0.1:7070'], /--control '10\.0\.0\.1:7070': .*loopback/],
  ];
  for (const [args, message] of cases) {
    test(args.join(' '), async () => {
      const r = await runCli(['sim', '--stations', '1', '--base-address', randomLoopbackBase(), '--state-dir', join(dir.path, 'bad'), ...args], { env, timeoutMs: 20_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    });
  }
});

describe('labops sim: a station answering its WinRM with 500 or a reset, and a stale heartbeat', () => {
  let sim: RunningSim;
  const db = `sqlite:${join(dir.path, 'winrm-faults.db')}`;
  type Polled = { host: string; ok: boolean; timestamp: string | null; error: { kind: string } | null };

  before(async () => {
    const faults = ['--fault', 'station.winrm:500@host=sim-ws-001', '--fault', 'station.winrm:reset@host=sim-ws-002', '--station-fault', '3:heartbeat-stale'];
    sim = await startSim('winrm-faults', ['--stations', '4', '--powered-on', '--time-scale', '60', '--port', '0', ...faults]);
    assert.equal((await runCli(['--db', db, 'db', 'migrate'], { env })).code, 0);
  });
  after(() => sim?.kill());

  test('exec: an HTTP 500 is an error of that station, a reset makes it unreachable, the others answer; exit 5', async () => {
    const r = await runCli(['--config', sim.started.config, '--json', 'exec', '--all', '--timeout', '5s', '--', 'status'], { env });
    assert.equal(r.code, 5, r.stderr);
    const hosts = (JSON.parse(r.stdout) as { hosts: { host: string; outcome: string; message: string }[] }).hosts;
    assert.deepEqual(hosts.map((h) => [h.host, h.outcome]), [['sim-ws-001', 'error'], ['sim-ws-002', 'unreachable'], ['sim-ws-003', 'ok'], ['sim-ws-004', 'ok']]);
    assert.match(hosts[0]!.message, /HTTP 500/);
    assert.match(hosts[1]!.message, /ECONNRESET/);
  });

  test('heartbeat poll: a stale station keeps its old heartbeat while the others move on', async () => {
    const poll = async () => {
      const r = await runCli(['--config', sim.started.config, '--db', db, '--json', 'heartbeat', 'poll', 'sim-ws-003', 'sim-ws-004', '--no-events'], { env });
      assert.equal(r.code, 0, r.stderr);
      return Object.fromEntries((JSON.parse(r.stdout) as { hosts: Polled[] }).hosts.map((h) => [h.host, h.timestamp]));
    };
    const first = await poll();
    // the stations write every second at --time-scale 60
    let second = first;
    await waitFor(async () => (second = await poll())['sim-ws-004'] !== first['sim-ws-004'], 'sim-ws-004 to write a new heartbeat', 15_000, 500);
    assert.equal(second['sim-ws-003'], first['sim-ws-003'], 'the stale station wrote no new heartbeat');
    await sim.stop();
  });
});

describe('labops sim: a station that boots slowly', () => {
  let sim: RunningSim;
  before(async () => {
    sim = await startSim('boot-delay', ['--stations', '2', '--port', '0', '--boot-delay', '100ms', '--station-fault', '2:boot-delay=2500ms']);
  });
  after(() => sim?.kill());

  test('wol: the quick station answers at once, the slow one only after its boot delay, more packets sent', async () => {
    const r = await runCli(['--config', sim.started.config, '--json', 'wol', '--all', '--interval', '400ms', '--timeout', '300ms', '--attempts', '12'], { env });
    assert.equal(r.code, 0, r.stderr);
    const hosts = (JSON.parse(r.stdout) as { hosts: { host: string; status: string; attemptsUsed: number; durationMs: number }[] }).hosts;
    assert.deepEqual(hosts.map((h) => [h.host, h.status]), [['sim-ws-001', 'woke'], ['sim-ws-002', 'woke']]);
    assert.ok(hosts[1]!.attemptsUsed > hosts[0]!.attemptsUsed + 2 && hosts[1]!.durationMs >= 2500, `the slow station needed more attempts and its boot delay: ${JSON.stringify(hosts)}`);
    await sim.stop();
  });
});
