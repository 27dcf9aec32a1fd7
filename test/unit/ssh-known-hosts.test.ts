import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { KnownHosts, knownHostName, parseKnownHosts, patternsMatch, preferredHostKeyAlgorithms } from '../../src/core/ssh/known-hosts.js';
import { BoundedCapture } from '../../src/core/ssh/capture.js';

function blob(type: string, body: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(body)]);
}
const KEY_A = blob('ssh-ed25519', 'key-a');
const KEY_B = blob('ssh-ed25519', 'key-b');
const KEY_R = blob('ssh-rsa', 'key-r');

test('[host]:port form for non-22 ports, patterns, negation', () => {
  assert.equal(knownHostName('h', 22), 'h');
  assert.equal(knownHostName('h', 2222), '[h]:2222');
  assert.ok(patternsMatch('[h]:2222', 'h', 2222));
  assert.ok(!patternsMatch('h', 'h', 2222));
  assert.ok(patternsMatch('*.lab,other', 'ws1.lab', 22));
  assert.ok(!patternsMatch('*.lab,!bad.lab', 'bad.lab', 22));
  assert.ok(patternsMatch('ws?', 'ws1', 22));
});

test('hashed entries: |1|salt|HMAC-SHA1(name)', () => {
  const salt = Buffer.from('0123456789abcdef0123');
  const hash = createHmac('sha1', salt).update('[127.0.0.1]:2200').digest('base64');
  const kh = new KnownHosts('x', parseKnownHosts(`|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${KEY_A.toString('base64')}\n`));
  assert.deepEqual(kh.check('127.0.0.1', 2200, KEY_A), { status: 'ok' });
  assert.deepEqual(kh.check('127.0.0.1', 22, KEY_A), { status: 'unknown' });
});

test('ok, unknown, changed, revoked; comments and markers', () => {
  const text = [
    '# comment',
    `h1,h2 ssh-ed25519 ${KEY_A.toString('base64')} comment`,
    `@cert-authority *.lab ssh-ed25519 ${KEY_B.toString('base64')}`,
    `@revoked * ssh-rsa ${KEY_R.toString('base64')}`,
  ].join('\n');
  const kh = new KnownHosts('f', parseKnownHosts(text));
  assert.deepEqual(kh.check('h2', 22, KEY_A), { status: 'ok' });
  assert.deepEqual(kh.check('h3', 22, KEY_A), { status: 'unknown' });
  assert.deepEqual(kh.check('h1', 22, KEY_B), { status: 'changed', line: 2, knownType: 'ssh-ed25519' });
  assert.deepEqual(kh.check('anything', 22, KEY_R), { status: 'revoked', line: 4 });
  assert.deepEqual(kh.knownKeyTypes('h1', 22), ['ssh-ed25519']);
  assert.deepEqual(preferredHostKeyAlgorithms(['ssh-rsa']), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
});

test('bounded capture keeps head and tail and counts what it dropped', () => {
  const c = new BoundedCapture(10);
  for (const ch of 'abcdefghijklmnopqrstuvwxyz') c.push(Buffer.from(ch));
  assert.equal(c.total, 26);
  assert.equal(c.truncated, true);
  assert.equal(c.toString(), 'abcde\n[… 16 bytes omitted …]\nvwxyz');
  const small = new BoundedCapture(10);
  small.push(Buffer.from('hello'));
  assert.equal(small.toString(), 'hello');
});
