// The README's "Try it" and "play with it yourself" blocks, run step by step as a new user would: in a copy of
// the checkout, with a fresh HOME and XDG state, `npm link` into a prefix of the test's own. A README edit that
// breaks a step fails here.
//
// What the harness changes, and why:
// - `npm ci` is not run again: CI ran it on this clean clone just before (a second run would replace
//   node_modules under the other test files); the step checks that its result is here instead.
// - `labops sim` gets `--base-address` of the test's own (other processes on this machine may use 127.0.1.x), and
//   /tmp/lab is a temp directory.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomLoopbackBase } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The lines of the first ```sh block after the line that contains `marker`. */
export function shBlockAfter(markdown: string, marker: string): string[] {
  const at = markdown.indexOf(marker);
  assert.ok(at >= 0, `README has no '${marker}'`);
  const m = /```sh\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(m, `no sh block after '${marker}'`);
  return m[1]!.split('\n').filter((l) => l.trim() !== '');
}

/** One line into its steps: `a && b` is two steps; a trailing comment goes; a trailing `&` runs in the background. */
export function stepsOf(line: string): { command: string; background: boolean }[] {
  const code = line.replace(/\s+#\s.*$/, '').trim();
  const background = /[^&]&$/.test(code);
  const parts = (background ? code.slice(0, -1) : code).split(/\s+&&\s+/).map((s) => s.trim());
  return parts.map((command, i) => ({ command, background: background && i === parts.length - 1 }));
}

const dir = tempDir('labops-readme-');
after(() => dir.cleanup());

/** A copy of the checkout as git sees it (tracked and new files), sharing node_modules. */
function checkoutCopy(): string {
  const copy = join(dir.path, 'labops');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    if (f === 'node_modules' || !existsSync(join(ROOT, f))) continue; // deleted in the work tree; node_modules is linked below
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(ROOT, f), join(copy, f));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

interface StepResult {
  command: string;
  code: number;
}

/**
 * Runs the steps in one bash, so `export` and background jobs carry over from step to step as at a terminal.
 * Each step's exit code is written to fd 3; a background step is followed by a wait for the files it prints.
 */
async function runBlock(lines: string[], o: { cwd: string; env: NodeJS.ProcessEnv; substitute: (s: string) => string; afterBackground: string; timeoutMs: number }): Promise<{ steps: StepResult[]; output: string }> {
  const steps = lines.flatMap(stepsOf).map((s) => ({ ...s, command: o.substitute(s.command) }));
  const script = [
    'set -u',
    // `npm ci` ran on this checkout before the tests (see the top of this file): check its result, keep the tree.
    'npm() { if [ "${1:-}" = ci ]; then test -f node_modules/.package-lock.json && echo "(npm ci: installed by CI before this test)"; else command npm "$@"; fi; }',
    ...steps.flatMap((s, i) =>
      s.background
        ? [`${s.command} &`, `echo "${i} $?" >&3`, o.afterBackground]
        : [`${s.command}`, `echo "${i} $?" >&3`],
    ),
    'kill $(jobs -p) 2>/dev/null; wait',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let output = '';
    let codes = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (codes += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const byIndex = new Map(codes.trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number) as [number, number]));
      resolve({ steps: steps.map((s, i) => ({ command: s.command, code: byIndex.get(i) ?? -1 })), output });
    });
  });
}

function freshUser(): NodeJS.ProcessEnv {
  const home = join(dir.path, `home-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(home, { recursive: true });
  return {
    PATH: `${join(home, 'npm-global', 'bin')}:${process.env.PATH}`,
    HOME: home,
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CONFIG_HOME: join(home, '.config'),
    // `npm link` links into a prefix of this test's own, never the machine's global one
    NPM_CONFIG_PREFIX: join(home, 'npm-global'),
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    NPM_CONFIG_FUND: 'false',
    NPM_CONFIG_AUDIT: 'false',
    LANG: 'C.UTF-8',
  };
}

describe('README', { concurrency: false }, () => {
  const copy = checkoutCopy();

  test('the parser sees the blocks as a reader does', () => {
    assert.deepEqual(stepsOf('npm ci && npm run build && npm link          # puts `labops` on your PATH'), [
      { command: 'npm ci', background: false },
      { command: 'npm run build', background: false },
      { command: 'npm link', background: false },
    ]);
    assert.deepEqual(stepsOf('labops sim --state-dir /tmp/lab &   # prints x'), [{ command: 'labops sim --state-dir /tmp/lab', background: true }]);
    assert.deepEqual(stepsOf('labops heartbeat poll --all && labops heartbeat show'), [
      { command: 'labops heartbeat poll --all', background: false },
      { command: 'labops heartbeat show', background: false },
    ]);
  });

  test('"Try it": every step exits 0', { timeout: 180_000 }, async () => {
    const lines = shBlockAfter(README, '## Try it');
    const env = { ...freshUser(), DEMO_BASE_ADDRESS: randomLoopbackBase() };
    const r = await runBlock(lines, { cwd: copy, env, substitute: (s) => s, afterBackground: '', timeoutMs: 170_000 });
    assert.ok(r.steps.length >= 2, 'the block has steps');
    assert.deepEqual(r.steps.filter((s) => s.code !== 0), [], r.output.slice(-4000));
    assert.match(r.output, /demo finished: the whole cycle ran/);
  });

  test('"play with it yourself": every step exits 0 on a fresh state directory', { timeout: 180_000 }, async () => {
    const lines = shBlockAfter(README, 'To play with it yourself');
    const env = freshUser();
    const lab = join(env.HOME!, 'lab');
    const base = randomLoopbackBase();
    const substitute = (s: string) => {
      let c = s.replaceAll('/tmp/lab', lab);
      if (/^labops sim\b/.test(c)) c = `${c} --base-address ${base}`;
      return c;
    };
    const waitForSim = `for _ in $(seq 1 150); do [ -f '${lab}/config.json' ] && break; sleep 0.1; done`;
    const r = await runBlock(lines, { cwd: copy, env, substitute, afterBackground: waitForSim, timeoutMs: 170_000 });
    assert.ok(r.steps.some((s) => s.command.startsWith('labops heartbeat show')), 'the block shows the fleet');
    assert.deepEqual(r.steps.filter((s) => s.code !== 0), [], r.output.slice(-4000));
    // the embedded store was made by the first command that stored something, in the fresh XDG state
    assert.ok(existsSync(join(env.XDG_STATE_HOME!, 'labops', 'labops.db')));
    assert.match(r.output, /sim-ws-003/);
  });
});
