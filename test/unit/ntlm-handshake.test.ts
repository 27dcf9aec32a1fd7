// The initiator against the MS-NLMP spec values, and initiator <-> acceptor end to end (MIC, key exchange, CBT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NtlmAcceptor, NtlmAuthError } from '../../src/core/ntlm/acceptor.js';
import { AvId, Flags } from '../../src/core/ntlm/constants.js';
import { NtlmInitiator, NtlmNegotiationError, splitUsername } from '../../src/core/ntlm/initiator.js';
import { decodeAuthenticate, decodeAvPairs, decodeChallenge, encodeChallenge } from '../../src/core/ntlm/messages.js';
import { PYSPNEGO_NEGOTIATE, SPEC, hex } from '../fixtures/ntlm-vectors.js';

/** Feeds the given buffers in order as "random" bytes. */
function scripted(...chunks: Buffer[]): (n: number) => Buffer {
  return (n) => {
    const c = chunks.shift();
    assert.ok(c && c.length === n, `unexpected random request of ${n} bytes`);
    return c;
  };
}
const FILETIME_ZERO_MS = -11644473600000;

test('initiator answers the spec CHALLENGE with the spec responses and session keys', () => {
  const ini = new NtlmInitiator({
    username: 'Domain\\User',
    password: 'Password',
    workstation: 'COMPUTER',
    random: scripted(SPEC.clientChallenge, SPEC.randomSessionKey),
    now: () => FILETIME_ZERO_MS,
  });
  ini.negotiate();
  const auth = decodeAuthenticate(ini.authenticate(hex(SPEC.challengeMessage)));
  const spec = decodeAuthenticate(hex(SPEC.authenticateMessage));
  assert.deepEqual(auth.lmResponse, spec.lmResponse, 'LMv2 (no server timestamp, so no MIC)');
  assert.deepEqual(auth.ntResponse, spec.ntResponse);
  assert.deepEqual(auth.encryptedRandomSessionKey, spec.encryptedRandomSessionKey);
  assert.equal(auth.user, 'User');
  assert.equal(auth.domain, 'Domain');
  assert.deepEqual(auth.mic, Buffer.alloc(16), 'MIC field left zero without a server timestamp');
  const w = ini.session!.wrap(SPEC.plaintext);
  assert.equal(w.sealed.toString('hex'), SPEC.sealed0);
  assert.equal(w.signature.toString('hex'), SPEC.signature0);
});

test('acceptor verifies the spec AUTHENTICATE and derives the same server keys', () => {
  const acc = new NtlmAcceptor({
    computerName: 'Server',
    domainName: 'Domain',
    lookupPassword: (u) => (u === 'User' ? 'Password' : undefined),
    random: scripted(SPEC.serverChallenge),
  });
  acc.challenge(hex(PYSPNEGO_NEGOTIATE));
  const ok = acc.accept(hex(SPEC.authenticateMessage));
  assert.equal(ok.user, 'User');
  assert.deepEqual(ok.session!.unwrap(hex(SPEC.sealed0), hex(SPEC.signature0)), SPEC.plaintext);
  const w = ok.session!.wrap(SPEC.plaintext);
  assert.equal(w.sealed.toString('hex'), SPEC.serverSealed0);
  assert.equal(w.signature.toString('hex'), SPEC.serverSignature0);
});

function pair(password: string, opts: { cbtClient?: Buffer; cbtServer?: Buffer } = {}) {
  const acc = new NtlmAcceptor({ computerName: 'STATION1', lookupPassword: (u) => (u.toLowerCase() === 'labadmin' ? 'S3cret!' : undefined), channelBindingData: opts.cbtServer });
  const ini = new NtlmInitiator({ username: 'labadmin', password, spn: 'HTTP/127.0.0.1', channelBindingData: opts.cbtClient, requireEncryption: true });
  const challenge = acc.challenge(ini.negotiate());
  return { acc, ini, challenge };
}

test('initiator <-> acceptor: MIC present, key exchange, sealed traffic both ways', () => {
  const { acc, ini, challenge } = pair('S3cret!');
  const ch = decodeChallenge(challenge);
  assert.ok(ch.avPairs.some((p) => p.id === AvId.Timestamp), 'server sends a timestamp');
  const authMsg = ini.authenticate(challenge);
  const auth = decodeAuthenticate(authMsg);
  assert.notDeepEqual(auth.mic, Buffer.alloc(16), 'MIC written');
  assert.deepEqual(auth.lmResponse, Buffer.alloc(24), 'LM zeroed when a MIC is sent');
  const flagsPair = decodeAvPairs(auth.ntResponse.subarray(16 + 28)).find((p) => p.id === AvId.Flags);
  assert.equal(flagsPair!.value.readUInt32LE(0) & 2, 2);
  const ok = acc.accept(authMsg);
  const w = ini.session!.wrap(Buffer.from('<soap/>'));
  assert.equal(ok.session!.unwrap(w.sealed, w.signature).toString(), '<soap/>');
  const r = ok.session!.wrap(Buffer.from('<reply/>'));
  assert.equal(ini.session!.unwrap(r.sealed, r.signature).toString(), '<reply/>');
});

test('acceptor rejects a wrong password without echoing it', () => {
  const { acc, ini, challenge } = pair('wrong-password');
  assert.throws(
    () => acc.accept(ini.authenticate(challenge)),
    (e: unknown) => e instanceof NtlmAuthError && !String((e as Error).message).includes('wrong-password'),
  );
});

test('acceptor rejects a tampered AUTHENTICATE (MIC mismatch)', () => {
  const { acc, ini, challenge } = pair('S3cret!');
  const msg = ini.authenticate(challenge);
  const auth = decodeAuthenticate(msg);
  // flip a byte of the workstation name: the NT proof still verifies, only the MIC catches it
  const wsOffset = msg.readUInt32LE(48);
  msg[wsOffset] = msg[wsOffset]! ^ 0x01;
  assert.ok(auth.mic);
  assert.throws(() => acc.accept(msg), /MIC mismatch/);
});

test('channel binding: matching CBT accepted, different CBT refused', () => {
  const cbt = Buffer.concat([Buffer.from('tls-server-end-point:'), Buffer.alloc(32, 1)]);
  const good = pair('S3cret!', { cbtClient: cbt, cbtServer: cbt });
  assert.equal(good.acc.accept(good.ini.authenticate(good.challenge)).user, 'labadmin');
  const bad = pair('S3cret!', { cbtClient: Buffer.concat([Buffer.from('tls-server-end-point:'), Buffer.alloc(32, 2)]), cbtServer: cbt });
  assert.throws(() => bad.acc.accept(bad.ini.authenticate(bad.challenge)), /channel binding/);
});

test('initiator refuses a CHALLENGE without seal when encryption is required', () => {
  const ini = new NtlmInitiator({ username: 'u', password: 'p', requireEncryption: true });
  ini.negotiate();
  const weak = encodeChallenge({ flags: Flags.UNICODE | Flags.NTLM | Flags.EXTENDED_SESSIONSECURITY, serverChallenge: Buffer.alloc(8), targetName: 'X', targetInfo: Buffer.alloc(4) });
  assert.throws(() => ini.authenticate(weak), NtlmNegotiationError);
});

test('user name forms: DOMAIN\\user splits, UPN stays whole', () => {
  assert.deepEqual(splitUsername('LAB\\admin'), { domain: 'LAB', user: 'admin' });
  assert.deepEqual(splitUsername('admin@lab.local'), { domain: '', user: 'admin@lab.local' });
  assert.deepEqual(splitUsername('admin'), { domain: '', user: 'admin' });
});
