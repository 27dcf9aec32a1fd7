// Completion driven through the real shells: bash (its completion function, as bash-completion calls it), fish
// (`complete -C`) and zsh in a tmux pty, installed as the Debian package installs it (a file in $fpath, the
// user's compinit, nothing else) and tested with the first TAB of a fresh shell. The lab's names come from an
// inventory, a config file with CML servers and a store with a cached lab and a reservation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../support/cli.js';
import { requireBinary, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { openDatabase } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';

const dir = tempDir('labops-complete-');
const bin = join(dir.path, 'bin');
let env: NodeJS.ProcessEnv;

before(async () => {
  mkdirSync(bin);
  symlinkSync(BIN, join(bin, 'labops'));
  const hosts = join(dir.path, 'hosts.json');
  writeFileSync(hosts, JSON.stringify({ hosts: [{ name: 'lab-ws-01', address: '127.0.3.1' }, { name: 'lab-ws-02', address: '127.0.3.2' }, { name: 'kiosk', address: '127.0.3.3' }] }));
  const config = join(dir.path, 'config.json');
  writeFileSync(config, JSON.stringify({ cml: { servers: [{ id: 'cml-east', url: 'https://127.0.0.1:1', username: 'u', password: 'env:X' }] } }));
  const dbPath = join(dir.path, 'labops.db');
  const db = await openDatabase(`sqlite:${dbPath}`);
  await migrate(db.kysely, db.dialect);
  await db.kysely.insertInto('reservation_operations').values({ reservation_id: '0xfeedbeef', lab_id: '1', host: 'lab-ws-01', action: 'wake', status: 'completed', success: 1, payload: '{}', created_at: '2026-01-01 00:00:00' }).execute();
  await db.kysely
    .insertInto('cml_lab_records')
    .values({ record_id: 'r1', server_id: 'cml-east', lab_id: 'lab-0042', title: 'BGP peering', description: '', notes: '', state: 'STARTED', node_count: 3, link_count: 2, groups_json: '[]', first_seen_at: '2026-01-01 00:00:00', last_synced_at: '2026-01-01 00:00:00' })
    .execute();
  await db.close();
  env = { PATH: `${bin}:${process.env.PATH}`, HOME: dir.path, LABOPS_CONFIG: config, OPS_CONFIG: hosts, LABOPS_DB: `sqlite:${dbPath}`, TERM: 'xterm' };
});
after(() => dir.cleanup());

/** What bash completes for the words (the last one being typed). */
function bash(...words: string[]): string[] {
  const script = `source <(labops completion bash); COMP_WORDS=(labops ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _labops; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** What fish completes for the command line. */
function fish(line: string): string[] {
  const r = spawnSync('fish', ['--no-config', '-c', `labops completion fish | source; complete -C '${line}'`], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!);
}

/** The cases every shell must answer: [words, expected candidates that must all be present]. */
const CASES: [string[], string[]][] = [
  [['he'], ['heartbeat']],
  [['heartbeat', ''], ['poll', 'show', 'alerts']],
  [['wol', '--con'], ['--concurrency', '--config']],
  [['exec', '--transport', ''], ['basic', 'ntlm']],
  [['exec', 'lab-ws'], ['lab-ws-01', 'lab-ws-02']],
  [['exec', 'lab-ws-01', '--', ''], ['prepare-session', 'power', 'status-json']],
  [['exec', 'lab-ws-01', '--', 'power', ''], ['shutdown', 'hibernate']],
  [['labs', 'sync', '--server', ''], ['cml-east']],
  [['labs', 'history', ''], ['lab-0042']],
  [['reserve', 'log', '0x'], ['0xfeedbeef']],
  [['reserve', 'start', '0x1', '--host', 'k'], ['kiosk']],
  [['wol', '--probe', ''], ['icmp', 'tcp:5985', 'tcp:5986']],
  [['labs', 'list', '--format', ''], ['table', 'tsv', 'json', 'api', 'lab-record']],
];

describe('bash', () => {
  for (const [words, expected] of CASES) {
    test(words.join(' ') || '(empty)', () => {
      const got = bash(...words);
      for (const e of expected) assert.ok(got.includes(e) || got.includes(e.split(':').pop()!), `${e} in ${JSON.stringify(got)}`);
    });
  }
  test('already typed hosts are not offered again; file options complete files', () => {
    assert.deepEqual(bash('exec', 'lab-ws-01', 'lab-ws-0'), ['lab-ws-02']);
    writeFileSync(join(dir.path, 'inventory-x.json'), '{}');
    assert.ok(bash('--hosts', join(dir.path, 'inventory-x')).some((f) => f.endsWith('inventory-x.json')));
  });
});

describe('fish', () => {
  before(() => {
    requireBinary(undefined, 'fish', ['/usr/bin/fish']);
  });
  for (const [words, expected] of CASES) {
    test(words.join(' ') || '(empty)', () => {
      const got = fish(`labops ${words.join(' ')}`);
      for (const e of expected) assert.ok(got.includes(e), `${e} in ${JSON.stringify(got)}`);
    });
  }
});

describe('zsh in a pty, installed as the package installs it', () => {
  const session = `labops-complete-${process.pid}`;
  let ready = false;
  before(async () => {
    if (!requireBinary(undefined, 'zsh', ['/usr/bin/zsh']) || !requireBinary(undefined, 'tmux', ['/usr/bin/tmux'])) return;
    // the package's file in a directory of $fpath, and a user's ordinary .zshrc: compinit, nothing for labops
    const site = join(dir.path, 'vendor-completions');
    mkdirSync(site);
    writeFileSync(join(site, '_labops'), execFileSync(BIN, ['completion', 'zsh'], { env, encoding: 'utf8' }));
    const zdot = join(dir.path, 'zdot');
    mkdirSync(zdot);
    writeFileSync(join(zdot, '.zshrc'), `fpath=(${site} $fpath)\nautoload -U compinit && compinit -u -d ${zdot}/.zcompdump\nPROMPT='$ '\n`);
    const tmuxEnv = { ...env, ZDOTDIR: zdot, TMUX: undefined };
    execFileSync('tmux', ['-L', session, 'new-session', '-d', '-s', session, '-x', '200', '-y', '50', 'zsh', '-i'], { env: tmuxEnv });
    await waitFor(() => /^\$/m.test(execFileSync('tmux', ['-L', session, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' })), 'the zsh prompt', 10_000);
    ready = true;
  });
  after(() => {
    spawnSync('tmux', ['-L', session, 'kill-server']);
  });

  /** Types `text`, presses TAB once and returns the screen once it shows `expected` (or after 10 s). */
  async function typeAndTab(text: string, expected: RegExp): Promise<string> {
    execFileSync('tmux', ['-L', session, 'send-keys', '-t', session, 'C-u', text, 'Tab']);
    let screen = '';
    await waitFor(() => expected.test((screen = execFileSync('tmux', ['-L', session, 'capture-pane', '-p', '-t', session], { encoding: 'utf8' }))), `completion of '${text}'`, 10_000).catch(() => undefined);
    execFileSync('tmux', ['-L', session, 'send-keys', '-t', session, 'C-c']);
    return screen;
  }

  test('the first TAB in a new shell completes a command', async (t) => {
    if (!ready) return t.skip('zsh or tmux missing');
    // capture-pane drops the space completion adds after the word
    assert.match(await typeAndTab('labops heartb', /^\$ labops heartbeat$/m), /^\$ labops heartbeat$/m);
  });

  test('LabStation commands after exec … --, hosts, option values, lab ids', async (t) => {
    if (!ready) return t.skip('zsh or tmux missing');
    const hib = /shutdown[\s\S]*hibernate|hibernate[\s\S]*shutdown/;
    assert.match(await typeAndTab('labops exec lab-ws-01 -- power ', hib), hib);
    assert.match(await typeAndTab('labops exec kio', /^\$ labops exec kiosk$/m), /^\$ labops exec kiosk$/m);
    assert.match(await typeAndTab('labops exec --transport ', /basic[\s\S]*ntlm/), /basic[\s\S]*ntlm/);
    assert.match(await typeAndTab('labops labs history lab-00', /^\$ labops labs history lab-0042$/m), /^\$ labops labs history lab-0042$/m);
  });
});
