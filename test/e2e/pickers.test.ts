// The pickers at a real terminal (tmux): hosts filtered as you type, the LabStation command searched, and fleet
// confirmations that name the hosts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, runCli } from '../support/cli.js';
import { randomLoopbackBase, requireBinary, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { hostList } from '../../src/cli/commands/exec.js';

const dir = tempDir('labops-pick-');
const session = `labops-pick-${process.pid}`;
let sim: Simulator;

before(async () => {
  sim = await startSimulator({ hosts: 12, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, poweredOn: true });
});
after(async () => {
  spawnSync('tmux', ['-L', session, 'kill-server']);
  await sim.close();
  dir.cleanup();
});

test('hostList: every host of a few; the first ones and how many more of many', () => {
  assert.equal(hostList(['a', 'b']), 'a, b');
  assert.equal(hostList(Array.from({ length: 9 }, (_, i) => `h${i}`)), 'h0, h1, h2, h3, h4, h5, h6, h7, h8');
  assert.equal(hostList(Array.from({ length: 20 }, (_, i) => `h${i}`)), 'h0, h1, h2, h3, h4, h5, h6, h7 and 12 more');
});

test('a fleet confirmation names the hosts it is about', async () => {
  const r = await runCli(['--hosts', sim.inventoryPath, 'exec', '--all', '--', 'power', 'shutdown']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /power shutdown on sim-ws-001, sim-ws-002, .*sim-ws-008 and 4 more: --yes required/);
});

test('at a terminal: type to filter the hosts, space to choose, then search the command', async (t) => {
  if (!requireBinary(undefined, 'tmux', ['/usr/bin/tmux'])) return t.skip('tmux missing');
  execFileSync('tmux', ['-L', session, 'new-session', '-d', '-s', session, '-x', '160', '-y', '40', 'bash', '--norc', '-i'], { env: { PATH: process.env.PATH, HOME: dir.path, TERM: 'xterm', PS1: '$ ', HISTFILE: '' } });
  const screen = () => execFileSync('tmux', ['-L', session, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' });
  const keys = (...k: string[]) => execFileSync('tmux', ['-L', session, 'send-keys', '-t', session, ...k]);
  keys(`node ${BIN} --hosts ${sim.inventoryPath} exec; echo "exit=$?"`, 'Enter');
  await waitFor(() => /Hosts/.test(screen()) && /12\/12 shown/.test(screen()), 'the host picker', 15_000);
  keys('-l', 'ws-01');
  await waitFor(() => /\/12 shown/.test(screen()) && !/12\/12 shown/.test(screen()), 'the list filtered', 5_000);
  assert.doesNotMatch(screen(), /sim-ws-002/, 'filtered out');
  keys('Down', 'Space');
  await waitFor(() => /1 chosen/.test(screen()), 'one host chosen', 5_000);
  keys('Enter');
  await waitFor(() => /LabStation command/.test(screen()), 'the command picker', 5_000);
  keys('-l', 'status-js');
  await waitFor(() => /❯ status-json/.test(screen()), 'the search result', 5_000);
  keys('Enter');
  await waitFor(() => /exit=0/.test(screen()), 'the command to run', 20_000);
  // the chosen host (the filter ws-01 shows sim-ws-010, -011, -012; Down then Space chose the second) ran it
  const ran = sim.stations.filter((s) => s.runtime!.receivedArgv.some((a) => a[0] === 'status-json')).map((s) => s.name);
  assert.deepEqual(ran, ['sim-ws-011']);
});
