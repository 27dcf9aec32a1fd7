// IOStreams decisions and the two renderings of every table.
/* eslint-disable no-control-regex -- the assertions look for ANSI colour escapes */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { renderTable, relativeTime } from '../../src/cli/io/render.js';
import { exitCodeFor, exitFor, EXIT_CODES } from '../../src/cli/exit-codes.js';
import { AuthFailed, Interrupted, OperationFailed, Partial, TempFail, Unreachable, UsageError } from '../../src/domain/errors.js';

const rows = [{ host: 'lab-ws-01', status: 'woke' }, { host: 'lab-ws-02', status: 'did not respond' }];
const cols = [
  { header: 'HOST', value: (r: (typeof rows)[number]) => r.host },
  { header: 'STATUS', value: (r: (typeof rows)[number]) => r.status, pretty: (r: (typeof rows)[number], c: { red(s: string): string }) => c.red(r.status) },
];

test('piped: tab-separated, no header, no colour', () => {
  const io = IOStreams.test({ tty: false });
  renderTable(io, cols, rows);
  assert.equal(io.outText(), 'lab-ws-01\twoke\nlab-ws-02\tdid not respond\n');
});

test('terminal: a table with headers, colour unless NO_COLOR or --no-color', () => {
  const io = IOStreams.test({ tty: true, env: {} });
  renderTable(io, cols, rows);
  const out = io.outText();
  assert.match(out, /\u001b\[1mHOST\u001b\[22m\s+\u001b\[1mSTATUS/);
  assert.match(out, /\u001b\[31mwoke\u001b\[39m/);
  const plain = IOStreams.test({ tty: true, env: { NO_COLOR: '1' } });
  renderTable(plain, cols, rows);
  assert.doesNotMatch(plain.outText(), /\u001b\[/);
  assert.match(plain.outText(), /^HOST\s+STATUS\nlab-ws-01\s+woke\nlab-ws-02\s+did not respond\n$/);
  const flag = IOStreams.test({ tty: true, env: {} });
  flag.noColor = true;
  renderTable(flag, cols, rows);
  assert.doesNotMatch(flag.outText(), /\u001b\[/);
});

test('prompting and progress need a terminal; --json pretty-prints only on a terminal', () => {
  const tty = IOStreams.test({ tty: true, env: {} });
  assert.equal(tty.canPrompt(), true);
  assert.equal(tty.progressEnabled, true);
  tty.noInput = true;
  assert.equal(tty.canPrompt(), false);
  const ci = IOStreams.test({ tty: true, env: { CI: 'true' } });
  assert.equal(ci.canPrompt(), false);
  const json = IOStreams.test({ tty: true, env: {} });
  json.json = true;
  assert.equal(json.progressEnabled, false);
  json.printJson({ a: 1 });
  assert.equal(json.outText(), '{\n  "a": 1\n}\n');
  // a terminal that reports 0 columns (script(1) in cron, ssh -tt, CI ptys) or cannot move the cursor: no spinner
  assert.equal(IOStreams.test({ tty: true, columns: 0, env: {} }).progressEnabled, false);
  assert.equal(IOStreams.test({ tty: true, env: { TERM: 'dumb' } }).progressEnabled, false);
  const piped = IOStreams.test({ tty: false });
  piped.printJson({ a: 1 });
  assert.equal(piped.outText(), '{"a":1}\n');
});

test('relative times on a terminal', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  assert.equal(relativeTime(new Date('2026-01-01T11:59:30Z'), now), '30s ago');
  assert.equal(relativeTime(new Date('2026-01-01T10:00:00Z'), now), '2h ago');
});

test('one table maps errors to exit codes', () => {
  assert.deepEqual(EXIT_CODES.map((r) => r.code), [0, 1, 2, 3, 4, 5, 75, 130, 143]);
  assert.equal(exitCodeFor(new OperationFailed('x')), 1);
  assert.equal(exitCodeFor(new UsageError('x')), 2);
  assert.equal(exitCodeFor(new Unreachable('x')), 3);
  assert.equal(exitCodeFor(new AuthFailed('x')), 4);
  assert.equal(exitCodeFor(new Partial('x')), 5);
  assert.equal(exitCodeFor(new TempFail('x')), 75);
  assert.equal(exitCodeFor(new Interrupted()), 130);
  assert.equal(exitCodeFor(new Error('bug')), 1);
});

test('exitFor: 0 all ok, 5 only when one target succeeded and one did not, else the shared kind or 1', () => {
  assert.equal(exitFor([]), 0);
  assert.equal(exitFor(['ok', 'ok']), 0);
  assert.equal(exitFor(['ok', 'unreachable']), 5);
  assert.equal(exitFor(['unreachable', 'unreachable']), 3);
  assert.equal(exitFor(['auth']), 4);
  // two hosts that both fail, in different ways: nothing succeeded, so not partial
  assert.equal(exitFor(['auth', 'unreachable']), 1);
  assert.equal(exitFor(['tempfail', 'tempfail']), 75);
});

test('fitColumns: free text is cut first, then the least important columns go, never the first', async () => {
  const { fitColumns } = await import('../../src/cli/io/render.js');
  const headers = ['HOST', 'STATUS', 'A', 'B', 'DETAIL'];
  const natural = [10, 6, 8, 8, 60];
  const o = { flex: [false, false, false, false, true], priority: [0, 2, 3, 4, 1] };
  // everything fits at 200 columns
  assert.deepEqual(fitColumns(headers, natural, { ...o, width: 200 }), { shown: [0, 1, 2, 3, 4], widths: [10, 6, 8, 8, 60] });
  // at 60: DETAIL is cut to what is left
  assert.deepEqual(fitColumns(headers, natural, { ...o, width: 60 }), { shown: [0, 1, 2, 3, 4], widths: [10, 6, 8, 8, 20] });
  // at 40: DETAIL at its floor (12), then B and A dropped
  assert.deepEqual(fitColumns(headers, natural, { ...o, width: 40 }), { shown: [0, 1, 4], widths: [10, 6, 20] });
  // unknown width (or --wide): natural widths
  assert.deepEqual(fitColumns(headers, natural, { ...o, width: undefined }).widths, [10, 6, 8, 8, 60]);
});
