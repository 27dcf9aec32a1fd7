// MD4 (RFC 1320) and RC4 (RFC 6229) vectors from NOTES §3.6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { md4 } from '../../src/core/ntlm/md4.js';
import { Rc4, rc4 } from '../../src/core/ntlm/rc4.js';

test('MD4 matches the RFC 1320 vectors', () => {
  const cases: Array<[string, string]> = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ];
  for (const [input, digest] of cases) assert.equal(md4(Buffer.from(input)).toString('hex'), digest, JSON.stringify(input));
});

test('MD4 handles inputs around the 56-byte padding boundary', () => {
  // same result whether computed in one go: just exercise multi-block paths for crashes and determinism
  for (const n of [55, 56, 57, 63, 64, 65, 119, 120]) assert.equal(md4(Buffer.alloc(n, 0x61)).length, 16);
});

test('RC4 keystream for key 0102030405 (RFC 6229)', () => {
  assert.equal(rc4(Buffer.from('0102030405', 'hex'), Buffer.alloc(16)).toString('hex'), 'b2396305f03dc027ccc3524a0a1118a8');
});

test('RC4 "Key" / "Plaintext"', () => {
  assert.equal(rc4(Buffer.from('Key'), Buffer.from('Plaintext')).toString('hex'), 'bbf316e8d940af0ad3');
});

test('RC4 state persists across updates (one keystream)', () => {
  const r = new Rc4(Buffer.from('0102030405', 'hex'));
  const a = r.update(Buffer.alloc(7));
  const b = r.update(Buffer.alloc(9));
  assert.equal(Buffer.concat([a, b]).toString('hex'), 'b2396305f03dc027ccc3524a0a1118a8');
});
