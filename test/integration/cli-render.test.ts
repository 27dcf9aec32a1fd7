// Every listing command rendered three ways: a table that fits a terminal of 80, 120 and 200 columns (header
// first, no line wider than the terminal, long free text cut with …), tab-separated lines when piped (no
// header, every column, full values), and --wide / --format / --no-headers on top. The data comes from a
// simulated lab: stations' files on a share, WinRM stations, a CML controller.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { textWidth } from '../../src/cli/io/render.js';
import { createStationRuntime, ManualClock, type StationRuntime } from '../../src/sim/labstation/index.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startCmlControllers, type CmlControllers } from '../../src/sim/cml/index.js';
import { randomLoopbackBase } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-render-');
const clock = new ManualClock(Date.UTC(2026, 7, 24, 8, 0, 0));
let stations: StationRuntime[];
let sim: Simulator;
let cml: CmlControllers;
let base: string[];
let share: string;

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex

async function cli(args: string[], o: { tty?: boolean; columns?: number } = {}) {
  const io = IOStreams.test({ tty: o.tty, columns: o.columns });
  const code = await run([...base, ...args], { io, env: { HOME: dir.path, XDG_STATE_HOME: join(dir.path, 'state'), XDG_CONFIG_HOME: join(dir.path, 'cfg'), CML_PW: 'admin-pw' }, clock: { now: () => clock.now(), sleep: async () => {} } });
  return { code, stdout: io.outText(), stderr: io.errText() };
}

before(async () => {
  const names = ['lab-ws-01', 'lab-ws-02-with-a-rather-long-name', 'lab-ws-03'];
  stations = names.map((name) => createStationRuntime({ name, stateDir: dir.path, clock, fsync: false }));
  for (const s of stations) s.writeHeartbeat();
  share = join(dir.path, 'stations', '{host}', 'labstation', 'data', 'telemetry', 'heartbeat.json');
  sim = await startSimulator({ hosts: 2, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, poweredOn: true });
  cml = await startCmlControllers({ count: 1, labsPerController: 4, stateDir: join(dir.path, 'cml') });
  // the inventory: the share's stations (heartbeats) and the simulator's (WinRM), and a host that never answers
  const inventory = join(dir.path, 'hosts.json');
  const simHosts = JSON.parse((await import('node:fs')).readFileSync(sim.inventoryPath, 'utf8')).hosts as Record<string, unknown>[];
  writeFileSync(
    inventory,
    JSON.stringify({
      hosts: [
        ...names.map((name, i) => ({ name, address: `127.0.3.${i + 1}`, mac: `02:00:00:00:03:0${i + 1}`, labs: [String(i + 1)] })),
        ...simHosts,
        { name: 'ghost', address: '127.0.0.1', mac: '02:00:00:00:09:99', broadcast: '127.0.0.1', wol_port: 9, probe: 'tcp:1', wake_attempts: 1 },
      ],
    }),
  );
  const config = join(dir.path, 'config.json');
  mkdirSync(join(dir.path, 'cfg'), { recursive: true });
  writeFileSync(config, JSON.stringify({ cml: { servers: cml.servers } }));
  base = ['--config', config, '--hosts', inventory, '--db', `sqlite:${join(dir.path, 'labops.db')}`];
  assert.equal((await cli(['db', 'migrate'])).code, 0);
  assert.equal((await cli(['heartbeat', 'poll', ...names, '--source', 'file', '--path', share])).code, 0);
  assert.equal((await cli(['labs', 'sync'])).code, 0);
  const journal = await cli(['reserve', 'start', '0xrender', '--host', 'sim-ws-001', '--no-wake', '--guard-grace', '30']);
  assert.equal(journal.code, 0, journal.stderr);
});

after(async () => {
  for (const s of stations) s.close();
  await sim.close();
  await cml.close();
  dir.cleanup();
});

/** [name, argv]: every listing command, with data where the lab has it */
const COMMANDS: [string, () => string[]][] = [
  ['heartbeat show', () => ['heartbeat', 'show']],
  ['heartbeat show --events', () => ['heartbeat', 'show', '--events']],
  ['heartbeat poll', () => ['heartbeat', 'poll', 'lab-ws-01', 'ghost', '--source', 'file', '--path', share, '--no-store']],
  ['heartbeat alerts', () => ['heartbeat', 'alerts']],
  ['labs list', () => ['labs', 'list']],
  ['labs sync', () => ['labs', 'sync']],
  ['wol', () => ['wol', 'ghost', '--interval', '10ms', '--timeout', '50ms', '--attempts', '1']],
  ['exec', () => ['exec', 'sim-ws-001', 'sim-ws-002', '--', 'status']],
  ['reserve log', () => ['reserve', 'log', '0xrender']],
  ['reserve start', () => ['reserve', 'start', '0xrender', '--host', 'sim-ws-001', '--no-wake', '--guard-grace', '30']],
  ['db status', () => ['db', 'status']],
  ['config show', () => ['config', 'show']],
  ['doctor', () => ['doctor', '--sample', '0']],
  ['provision sessions --once', () => ['provision', 'sessions', '--once']],
  ['servers check --once', () => ['servers', 'check', '--once']],
  ['reserve scan --once', () => ['reserve', 'scan', '--once']],
];

describe('tables fit the terminal; piped output is complete', () => {
  for (const [name, argv] of COMMANDS) {
    for (const columns of [80, 120, 200]) {
      test(`${name} at ${columns} columns`, async () => {
        const r = await cli(argv(), { tty: true, columns });
        const lines = r.stdout.split('\n').filter((l) => l.length).map(plain);
        if (r.code === 2) return assert.fail(`usage error: ${r.stderr}`);
        for (const l of lines) assert.ok(textWidth(l) <= columns, `${textWidth(l)} > ${columns}: ${l}`);
        if (lines.length) assert.match(lines[0]!, /^[A-Z][A-Z %#/-]*[A-Z%]( |$)/, `a header first: ${lines[0]}`);
      });
    }
    test(`${name} piped: no header, tab-separated`, async () => {
      const r = await cli(argv());
      const lines = r.stdout.split('\n').filter((l) => l.length);
      for (const l of lines) assert.doesNotMatch(l, /^[A-Z][A-Z ]+\t[A-Z]/, 'no header row');
      const widths = new Set(lines.map((l) => l.split('\t').length));
      assert.ok(widths.size <= 1, `every row has the same fields: ${[...widths].join(', ')}`);
    });
  }

  test('a long message is cut with … on a terminal, kept whole when piped or with --wide', async () => {
    const tty = await cli(['heartbeat', 'poll', 'ghost', '--source', 'file', '--path', join(dir.path, 'missing', `${'x'.repeat(150)}-{host}.json`), '--no-store'], { tty: true, columns: 80 });
    const line = plain(tty.stdout.split('\n').find((l) => plain(l).startsWith('ghost'))!);
    assert.ok(line.endsWith('…'), line);
    const piped = await cli(['heartbeat', 'poll', 'ghost', '--source', 'file', '--path', join(dir.path, 'missing', `${'x'.repeat(150)}-{host}.json`), '--no-store']);
    assert.match(piped.stdout, /x{150}-ghost\.json/);
    const wide = await cli(['heartbeat', 'poll', 'ghost', '--source', 'file', '--path', join(dir.path, 'missing', `${'x'.repeat(150)}-{host}.json`), '--no-store', '--wide'], { tty: true, columns: 80 });
    assert.match(wide.stdout, /x{150}-ghost\.json/);
  });

  test('--format table when piped (for watch), --no-headers, --format tsv on a terminal, --format json', async () => {
    const table = await cli(['heartbeat', 'show', '--format', 'table']);
    assert.match(table.stdout, /^HOST\s+READY/);
    // the inventory's hosts, sorted: ghost and the simulator's stations never reported
    const bare = await cli(['heartbeat', 'show', '--format', 'table', '--no-headers']);
    assert.match(bare.stdout, /^ghost\s+-.*never/);
    const tsv = await cli(['heartbeat', 'show', '--format', 'tsv'], { tty: true, columns: 80 });
    assert.match(tsv.stdout, /^ghost\t/);
    const json = await cli(['heartbeat', 'show', '--format', 'json']);
    const hosts = JSON.parse(json.stdout).hosts as { host: string; reported: boolean }[];
    assert.deepEqual(hosts.filter((h) => h.reported).map((h) => h.host), ['lab-ws-01', 'lab-ws-02-with-a-rather-long-name', 'lab-ws-03']);
    assert.equal(hosts.length, 6);
  });

  test('a narrow terminal keeps the most important columns rather than garbage', async () => {
    const r = await cli(['heartbeat', 'show'], { tty: true, columns: 40 });
    const lines = r.stdout.split('\n').filter(Boolean).map(plain);
    assert.match(lines[0]!, /^HOST\s+READY/);
    for (const l of lines) assert.ok(textWidth(l) <= 40, l);
    assert.ok(lines.some((l) => l.startsWith('lab-ws-01')));
  });
});
