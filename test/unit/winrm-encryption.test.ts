// multipart/encrypted framing (NOTES §2.3) with the pywinrm fixture and the complete derived vector (NOTES §3.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Flags } from '../../src/core/ntlm/constants.js';
import { SessionSecurity } from '../../src/core/ntlm/session.js';
import { ENCRYPTED_CONTENT_TYPE, frameEncrypted, isEncryptedContentType, unframeEncrypted } from '../../src/core/winrm/encryption.js';
import { SPEC } from '../fixtures/ntlm-vectors.js';

const FLAGS = (Flags.EXTENDED_SESSIONSECURITY | Flags.NEGOTIATE_128 | Flags.NEGOTIATE_56 | Flags.KEY_EXCH | Flags.SIGN | Flags.SEAL) >>> 0;
const FULL_BODY =
  '2d2d456e6372797074656420426f756e646172790d0a09436f6e74656e742d547970653a206170706c69636174696f6e2f485454502d53504e45474f2d73657373696f6e2d656e637279707465640d0a094f726967696e616c436f6e74656e743a20747970653d6170706c69636174696f6e2f736f61702b786d6c3b636861727365743d5554462d383b4c656e6774683d31380d0a2d2d456e6372797074656420426f756e646172790d0a09436f6e74656e742d547970653a206170706c69636174696f6e2f6f637465742d73747265616d0d0a10000000010000007fb38ec5c55d49760000000054e50165bf1936dc996020c1811b0f06fb5f2d2d456e6372797074656420426f756e646172792d2d0d0a';

test('complete encrypted request body for "Plaintext", c->s seq 0 (274 bytes)', () => {
  const body = frameEncrypted(SPEC.plaintext, new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'client'));
  assert.equal(body.length, 274);
  assert.equal(body.toString('hex'), FULL_BODY);
  const server = new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server');
  assert.deepEqual(unframeEncrypted(Buffer.from(FULL_BODY, 'hex'), server), SPEC.plaintext);
});

test('pywinrm framing fixture: stub wrap, Content-Length 272', () => {
  const stub = { wrap: (p: Buffer) => ({ sealed: Buffer.from(p.toString('base64')), signature: Buffer.from('1234') }) };
  const body = frameEncrypted(Buffer.from('unencrypted message'), stub);
  assert.equal(body.length, 272);
  assert.match(body.toString('latin1'), /\tOriginalContent: type=application\/soap\+xml;charset=UTF-8;Length=19\r\n/);
  assert.ok(body.toString('latin1').includes('\x04\x00\x00\x001234dW5lbmNyeXB0ZWQgbWVzc2FnZQ==--Encrypted Boundary--\r\n'));
});

test('unframe works without the closing boundary, and rejects truncation and bad signatures', () => {
  const full = Buffer.from(FULL_BODY, 'hex');
  const noTrailer = full.subarray(0, full.length - '--Encrypted Boundary--\r\n'.length);
  assert.deepEqual(unframeEncrypted(noTrailer, new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server')), SPEC.plaintext);
  assert.throws(() => unframeEncrypted(full.subarray(0, 240), new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server')), /truncated/);
  const tampered = Buffer.from(full);
  tampered[tampered.length - 30] = tampered[tampered.length - 30]! ^ 1;
  assert.throws(() => unframeEncrypted(tampered, new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server')), /signature mismatch/);
  assert.throws(() => unframeEncrypted(Buffer.from('<soap/>'), new SessionSecurity(SPEC.randomSessionKey, FLAGS, 'server')), /without any encrypted part/);
});

test('content type detection', () => {
  assert.equal(isEncryptedContentType(ENCRYPTED_CONTENT_TYPE), true);
  assert.equal(isEncryptedContentType('application/soap+xml;charset=UTF-8'), false);
});
