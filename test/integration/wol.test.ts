// labops wol end to end in-process: the real magic-packet sender, real TCP and ICMP probes, and the
// simulator's stations on random 127.x.y.z addresses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { randomLoopbackBase, requireBinary } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

async function cli(args: string[]) {
  const io = IOStreams.test();
  const code = await run(args, { io, env: { HOME: '/nonexistent' } });
  return { code, stdout: io.outText(), stderr: io.errText() };
}

const FAST = ['--interval', '150ms', '--timeout', '300ms', '--attempts', '4'];

describe('wol against simulated stations', () => {
  const dir = tempDir();
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ hosts: 6, baseAddress: randomLoopbackBase(), stateDir: dir.path, port: 0, bootDelayMs: 100 });
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  test('wakes every station, then reports them already up', async () => {
    const first = await cli(['--hosts', sim.inventoryPath, '--json', 'wol', '--all', ...FAST]);
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout);
    assert.deepEqual(result.hosts.map((h: { status: string }) => h.status), Array(6).fill('woke'));
    assert.equal(result.up, 6);
    assert.ok(sim.stations.every((s) => s.state === 'on' && s.packets >= 1));
    const again = await cli(['--hosts', sim.inventoryPath, 'wol', '--all', ...FAST]);
    assert.equal(again.code, 0);
    const lines = again.stdout.trim().split('\n');
    assert.equal(lines.length, 6);
    assert.ok(lines.every((l) => l.split('\t')[1] === 'already-up'), again.stdout);
  });

  test('a MAC target and --no-wait', async () => {
    await Promise.all(sim.stations.map((s) => s.powerOff()));
    const s = sim.stations[0]!;
    const r = await cli(['wol', s.spec.mac.replace(/:/g, '-').toUpperCase(), '--broadcast', '127.0.0.1', '--port', String(sim.wolPort), '--no-wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^02:1a:b0:00:00:01\tsent\t/);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(s.state, 'on');
  });

  test('partial (exit 5) and none reached (exit 3)', async () => {
    await Promise.all(sim.stations.map((x) => x.powerOff()));
    const inv = JSON.parse(readFileSync(sim.inventoryPath, 'utf8'));
    // A station whose MAC the simulator does not know never boots.
    inv.hosts[1].mac = '02:00:00:00:00:99';
    const partial = join(dir.path, 'partial.json');
    writeFileSync(partial, JSON.stringify({ hosts: inv.hosts.slice(0, 2) }));
    const r = await cli(['--hosts', partial, '--json', 'wol', '--all', '--interval', '150ms', '--timeout', '200ms', '--attempts', '2']);
    assert.equal(r.code, 5, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.deepEqual(res.hosts.map((h: { status: string; attemptsUsed: number }) => [h.status, h.attemptsUsed]), [['woke', 1], ['no-response', 2]]);
    const none = join(dir.path, 'none.json');
    writeFileSync(none, JSON.stringify({ hosts: [inv.hosts[1]] }));
    const n = await cli(['--hosts', none, 'wol', '--all', '--interval', '100ms', '--timeout', '100ms', '--attempts', '1']);
    assert.equal(n.code, 3);
    assert.match(n.stdout, /did not accept TCP|no-response/);
  });

  test('ICMP probe with the system ping', async (t) => {
    if (!requireBinary(t, 'ping', ['/usr/bin/ping', '/bin/ping'])) return;
    const r = await cli(['--json', 'wol', '02:1a:b0:00:00:42', '--broadcast', '127.0.0.1', '--port', String(sim.wolPort), '--probe', 'icmp', ...FAST]);
    // A bare MAC has no address to probe: the packet is sent and reported as such.
    assert.equal(JSON.parse(r.stdout).hosts[0].status, 'sent');
    const inv = join(dir.path, 'icmp.json');
    writeFileSync(inv, JSON.stringify({ hosts: [{ name: 'loop', address: '127.0.0.1', mac: '02:1a:b0:00:00:42', broadcast: '127.0.0.1', wol_port: sim.wolPort, probe: 'icmp' }] }));
    const up = await cli(['--hosts', inv, '--json', 'wol', 'loop', ...FAST]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(JSON.parse(up.stdout).hosts[0].status, 'already-up');
  });
});
