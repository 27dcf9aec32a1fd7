import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pythonJsonDumps } from '../../src/domain/python-json.js';

const SAMPLES: unknown[] = [
  { a: 1, b: [true, false, null], 'c:d': 'x, y: z', e: { f: [] }, g: {} },
  { path: 'C:\\Users\\LABUSER', quote: 'say "hi"', nl: 'a\nb\r\tc', ctrl: '\u0001\u001f\u007f', uni: 'Grüße – 日本語 ✓ 😀', sep: '\u2028' },
  [1.5, -2, 0, 1e21, 123456789012],
  'plain',
  null,
];

test('matches the documented json.dumps output', () => {
  assert.equal(pythonJsonDumps({ a: 1, b: [1, 2], c: 'x:y,z' }), '{"a": 1, "b": [1, 2], "c": "x:y,z"}');
  assert.equal(pythonJsonDumps({ s: 'é😀' }), '{"s": "\\u00e9\\ud83d\\ude00"}');
  assert.equal(pythonJsonDumps({ q: 'a"b\\c' }), '{"q": "a\\"b\\\\c"}');
});

test('byte-identical to Python json.dumps on tricky values', (t) => {
  const py = spawnSync('/usr/bin/python3', ['-c', 'import json,sys; [print(json.dumps(json.loads(l))) for l in sys.stdin.read().split("\\n")]'], {
    input: SAMPLES.map((s) => JSON.stringify(s)).join('\n'),
    encoding: 'utf8',
  });
  if (py.status !== 0) {
    if (process.env.CI) throw new Error(py.stderr);
    return t.skip('python3 not available');
  }
  const expected = py.stdout.trim().split('\n');
  SAMPLES.forEach((s, i) => assert.equal(pythonJsonDumps(s), expected[i], JSON.stringify(s)));
});
