#!/usr/bin/env node
// Runs node's test runner over test/<suite>/*.test.ts with tsx; Node 20's --test has no glob support.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
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
const concurrency = process.env.LABOPS_TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...extra, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
