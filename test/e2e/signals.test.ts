// The signal policy, with real signals to the built binary: SIGTERM to a one-shot fleet command cleans up
// (remote shells deleted), prints the rows it has and exits 143; SIGTERM to a command that loops stops it
// cleanly with exit 0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../support/cli.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';

const dir = tempDir('labops-signals-');
let sim: Simulator;
const env = { PATH: process.env.PATH, HOME: dir.path, XDG_STATE_HOME: join(dir.path, 'state'), XDG_CONFIG_HOME: join(dir.path, 'config'), CI: '1', NO_COLOR: '1' };

before(async () => {
  // Every LabStation command takes 5 s, so an exec is still in flight when the signal comes.
  sim = await startSimulator({ hosts: 3, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, poweredOn: true, latency: { commandMs: 5000 } });
});
after(async () => {
  await sim.close();
  dir.cleanup();
});

interface Running {
  out(): string;
  err(): string;
  exit: Promise<number | null>;
  kill(sig: NodeJS.Signals): void;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  return { out: () => out, err: () => err, exit: new Promise((r) => child.on('close', (c) => r(c))), kill: (s) => child.kill(s) };
}

describe('SIGTERM to one-shot fleet commands: clean up, print what was done, exit 143', () => {
  test('wol --all: one row per host, then 143', async () => {
    const inv = join(dir.path, 'never.json');
    const hosts = ['n1', 'n2'].map((name, i) => ({ name, address: '127.0.0.1', mac: `02:00:00:00:01:0${i}`, broadcast: '127.0.0.1', wol_port: sim.wolPort, probe: 'tcp:1' }));
    writeFileSync(inv, JSON.stringify({ hosts }));
    const p = start(['--hosts', inv, 'wol', '--all', '--interval', '30s', '--attempts', '5']);
    await new Promise((r) => setTimeout(r, 1500));
    p.kill('SIGTERM');
    assert.equal(await p.exit, 143, p.err());
    const rows = p.out().trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows.map((r) => [r[0], r[1]]), [['n1', 'aborted'], ['n2', 'aborted']]);
    assert.match(p.err(), /terminated, cleaning up/);
  });

  test('exec --all: the commands in flight are cancelled, their shells deleted, rows printed, 143', async () => {
    const p = start(['--hosts', sim.inventoryPath, 'exec', '--all', '--', 'status']);
    await waitFor(() => [...sim.winrmServers.values()].every((s) => s.openShells > 0), 'a shell open on every station', 20_000);
    p.kill('SIGTERM');
    assert.equal(await p.exit, 143, p.err());
    assert.deepEqual(p.out().trim().split('\n').map((l) => l.split('\t')[0]).sort(), sim.stations.map((s) => s.name).sort(), 'a row per host');
    await waitFor(() => [...sim.winrmServers.values()].every((s) => s.openShells === 0), 'every remote shell deleted', 5000);
  });
});

describe('SIGTERM to commands that loop: stop cleanly, exit 0', () => {
  test('sim', async () => {
    const p = start(['sim', '--stations', '1', '--base-address', randomLoopbackBase(), '--port', '0', '--state-dir', join(dir.path, 'sim2')]);
    await waitFor(() => /config\.json/.test(p.out()), 'the simulator', 20_000);
    p.kill('SIGTERM');
    assert.equal(await p.exit, 0, p.err());
  });

  test('daemon --only api', async () => {
    const p = start(['--hosts', sim.inventoryPath, '--json', 'daemon', '--only', 'api', '--listen', '127.0.0.1:0']);
    await waitFor(() => /listening/.test(p.out()), 'the API', 20_000);
    p.kill('SIGTERM');
    assert.equal(await p.exit, 0, p.err());
    assert.match(p.err(), /"msg":"stopped"/);
  });

  for (const args of [['servers', 'check'], ['reserve', 'scan'], ['provision', 'sessions'], ['provision', 'cleanup']]) {
    test(args.join(' '), async () => {
      const db = `sqlite:${join(dir.path, `${args.join('-')}.db`)}`;
      const migrate = start(['--db', db, 'db', 'migrate']);
      assert.equal(await migrate.exit, 0, migrate.err());
      const p = start(['--db', db, '--hosts', sim.inventoryPath, ...args]);
      await new Promise((r) => setTimeout(r, 1500));
      p.kill('SIGTERM');
      assert.equal(await p.exit, 0, p.err());
      assert.doesNotMatch(p.err(), /terminated/);
    });
  }
});
