// Sign and seal with per-direction sequence numbers (NOTES §3.2, §3.6 derived vectors), both roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Flags } from '../../src/core/ntlm/constants.js';
import { NtlmIntegrityError, SessionSecurity } from '../../src/core/ntlm/session.js';
import { SPEC, hex } from '../fixtures/ntlm-vectors.js';

const FLAGS = (Flags.EXTENDED_SESSIONSECURITY | Flags.NEGOTIATE_128 | Flags.NEGOTIATE_56 | Flags.KEY_EXCH | Flags.SIGN | Flags.SEAL) >>> 0;

test('client wrap: seq 0 and seq 1 on the same RC4 handle', () => {
  const c = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'client');
  const m0 = c.wrap(SPEC.plaintext);
  assert.equal(m0.sealed.toString('hex'), SPEC.sealed0);
  assert.equal(m0.signature.toString('hex'), SPEC.signature0);
  const m1 = c.wrap(SPEC.plaintext);
  assert.equal(m1.sealed.toString('hex'), SPEC.sealed1);
  assert.equal(m1.signature.toString('hex'), SPEC.signature1);
});

test('without KEY_EXCH the checksum is not RC4-encrypted (sealed bytes unchanged)', () => {
  const c = new SessionSecurity(SPEC.randomSessionKey, (FLAGS & ~Flags.KEY_EXCH) >>> 0, 'client');
  const m0 = c.wrap(SPEC.plaintext);
  assert.equal(m0.sealed.toString('hex'), SPEC.sealed0);
  assert.equal(m0.signature.toString('hex'), SPEC.signatureNoKeyExch);
});

test('server wrap (s->c seq 0) and client unwrap of it', () => {
  const s = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server');
  const m = s.wrap(SPEC.plaintext);
  assert.equal(m.sealed.toString('hex'), SPEC.serverSealed0);
  assert.equal(m.signature.toString('hex'), SPEC.serverSignature0);
  const c = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'client');
  assert.deepEqual(c.unwrap(hex(SPEC.serverSealed0), hex(SPEC.serverSignature0)), SPEC.plaintext);
});

test('server unwraps the client vectors seq 0 then seq 1', () => {
  const s = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server');
  assert.deepEqual(s.unwrap(hex(SPEC.sealed0), hex(SPEC.signature0)), SPEC.plaintext);
  assert.deepEqual(s.unwrap(hex(SPEC.sealed1), hex(SPEC.signature1)), SPEC.plaintext);
});

test('tampered data or a skipped message fails verification', () => {
  const s = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server');
  const bad = hex(SPEC.sealed0);
  bad[0] = bad[0]! ^ 1;
  assert.throws(() => s.unwrap(bad, hex(SPEC.signature0)), NtlmIntegrityError);
  const s2 = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server');
  assert.throws(() => s2.unwrap(hex(SPEC.sealed1), hex(SPEC.signature1)), NtlmIntegrityError, 'seq 1 first must fail');
});

test('a long conversation stays in step in both directions', () => {
  const key = Buffer.alloc(16, 7);
  const c = new SessionSecurity(key, FLAGS, 'client');
  const s = new SessionSecurity(key, FLAGS, 'server');
  for (let i = 0; i < 20; i++) {
    const msg = Buffer.from(`request ${i} ` + 'x'.repeat(i * 37));
    const w = c.wrap(msg);
    assert.deepEqual(s.unwrap(w.sealed, w.signature), msg);
    const r = s.wrap(Buffer.from(`reply ${i}`));
    assert.equal(c.unwrap(r.sealed, r.signature).toString(), `reply ${i}`);
  }
});

test('NTLMv1 session security is refused', () => {
  assert.throws(() => new SessionSecurity(SPEC.randomSessionKey, Flags.SIGN | Flags.SEAL, 'client'), /NTLMv1/);
});
