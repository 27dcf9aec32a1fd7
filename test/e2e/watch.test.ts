// The live view at a real terminal (tmux): redrawn in place, a changed row highlighted, q ends it and gives the
// screen back; without a terminal, --watch is a usage error with a hint.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runCli } from '../support/cli.js';
import { requireBinary, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { highlightChanges } from '../../src/cli/io/watch.js';

const dir = tempDir('labops-watch-');
const session = `labops-watch-${process.pid}`;
const heartbeat = new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url);
let env: NodeJS.ProcessEnv;

before(async () => {
  const share = join(dir.path, 'share');
  mkdirSync(share);
  copyFileSync(heartbeat, join(share, 'ws1.json'));
  writeFileSync(join(dir.path, 'hosts.json'), JSON.stringify({ hosts: [{ name: 'ws1', address: '127.0.0.1' }, { name: 'ws2', address: '127.0.0.2' }] }));
  env = { PATH: process.env.PATH, HOME: dir.path, XDG_STATE_HOME: join(dir.path, 'state'), OPS_CONFIG: join(dir.path, 'hosts.json'), TERM: 'xterm', LABOPS_HEARTBEAT_SOURCE: 'file', LABOPS_HEARTBEAT_PATH: join(share, '{host}.json') };
  const r = await runCli(['heartbeat', 'poll', 'ws1', '--no-events'], { env });
  assert.equal(r.code, 0, r.stderr);
});
after(() => {
  spawnSync('tmux', ['-L', session, 'kill-server']);
  dir.cleanup();
});

test('highlightChanges: a row whose text changed is shown inverted, by its first cell (the nth of a repeated one)', () => {
  const first = highlightChanges(['HOST  READY', 'ws1   yes', 'ws2   no'], new Map());
  assert.deepEqual(first.lines, ['HOST  READY', 'ws1   yes', 'ws2   no'], 'nothing highlighted on the first frame');
  const second = highlightChanges(['HOST  READY', 'ws1   yes', 'ws2   yes'], first.rows);
  assert.deepEqual(second.lines, ['HOST  READY', 'ws1   yes', '\x1b[7mws2   yes\x1b[27m']);
  const labs = highlightChanges(['SERVER  LAB', 'c1  a', 'c1  b'], new Map());
  assert.deepEqual([...labs.rows.keys()], ['c1#1', 'c1#2']);
});

test('--watch without a terminal: exit 2 with a hint', async () => {
  const r = await runCli(['heartbeat', 'show', '--watch'], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--watch needs a terminal\nhint: .*--format tsv/);
  assert.equal((await runCli(['heartbeat', 'show', '--watch', 'soon'], { env })).code, 2);
});

describe('at a terminal', () => {
  test('redraws in place, shows a host that never reported, q ends it and the shell gets its screen back', async (t) => {
    if (!requireBinary(undefined, 'tmux', ['/usr/bin/tmux'])) return t.skip('tmux missing');
    execFileSync('tmux', ['-L', session, 'new-session', '-d', '-s', session, '-x', '120', '-y', '30', 'bash', '--norc', '-i'], { env: { ...env, PS1: '$ ', HISTFILE: '' } });
    const screen = () => execFileSync('tmux', ['-L', session, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' });
    execFileSync('tmux', ['-L', session, 'send-keys', '-t', session, `node ${BIN} heartbeat show --watch 300ms; echo "exit=$?"`, 'Enter']);
    await waitFor(() => /Every 0\.3s: labops heartbeat show/.test(screen()), 'the live view', 15_000);
    assert.match(screen(), /^ws1\s+yes/m);
    assert.match(screen(), /^ws2\s+-.*never/m, 'a host that never reported is listed as such');
    execFileSync('tmux', ['-L', session, 'send-keys', '-t', session, 'q']);
    await waitFor(() => /exit=0/.test(screen()), 'q to end it with exit 0', 10_000);
    assert.doesNotMatch(screen(), /Every 0\.3s/, 'the alternate screen is gone');
  });
});
