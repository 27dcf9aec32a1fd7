#!/usr/bin/env node
// Runs test/<suite>/*.test.ts with node's test runner under tsx, one process group per file, a few at a
// time. Each file has a deadline (LABOPS_TEST_FILE_TIMEOUT seconds, default 900): a file that hangs —
// a handle left open, a server that never answers — is killed with everything it started and fails by
// name, instead of holding CI until its overall limit. A file's output is printed whole when it ends
// (no interleaving), and a table of durations closes the run.
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const suites = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = [];
for (const suite of suites.length ? suites : ['unit']) {
  const dir = join('test', suite);
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.test.ts')) files.push(join(dir, f));
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = Math.max(1, Number(process.env.LABOPS_TEST_CONCURRENCY ?? '2'));
const deadlineMs = Math.max(1, Number(process.env.LABOPS_TEST_FILE_TIMEOUT ?? '900')) * 1000;

/** @returns {Promise<{ file: string, status: 'ok' | 'failed' | 'timed out', ms: number }>} */
function runFile(file) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...extra, file], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => out.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, deadlineMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      process.stdout.write(`# ---- ${file} (${(ms / 1000).toFixed(1)} s)\n`);
      process.stdout.write(Buffer.concat(out));
      if (timedOut) process.stdout.write(`not ok - ${file} did not finish within ${deadlineMs / 1000} s and was killed\n`);
      resolve({ file, status: timedOut ? 'timed out' : code === 0 ? 'ok' : 'failed', ms });
    });
  });
}

const queue = [...files];
const results = [];
await Promise.all(
  Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) results.push(await runFile(file));
  }),
);

const bad = results.filter((r) => r.status !== 'ok');
process.stdout.write('\n# file durations\n');
for (const r of results.sort((a, b) => b.ms - a.ms)) process.stdout.write(`#   ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.status.padEnd(9)} ${r.file}\n`);
process.stdout.write(`# ${results.length - bad.length}/${results.length} files passed\n`);
for (const r of bad) process.stdout.write(`# ${r.status}: ${r.file}\n`);
process.exit(bad.length ? 1 : 0);
