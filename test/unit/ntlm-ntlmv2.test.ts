// NTLMv2 computations and messages against NOTES §3.2-§3.5 (MS-NLMP 4.2.4, Chromium, gss-ntlmssp, pyspnego).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AvId, Flags } from '../../src/core/ntlm/constants.js';
import {
  channelBindingsHash,
  computeMic,
  hmacMd5,
  lmv2Response,
  ntHash,
  ntlmv2Response,
  ntlmv2Temp,
  ntowfv2,
  sealKey,
  signKey,
} from '../../src/core/ntlm/crypto.js';
import {
  avString,
  decodeAuthenticate,
  decodeAvPairs,
  decodeChallenge,
  decodeNegotiate,
  encodeAuthenticate,
  encodeAvPairs,
  encodeChallenge,
  encodeNegotiate,
  utf16,
} from '../../src/core/ntlm/messages.js';
import { rc4 } from '../../src/core/ntlm/rc4.js';
import { CHROMIUM, PYSPNEGO_NEGOTIATE, SPEC, WIN2016_CHALLENGE, WIN7_CBT, hex } from '../fixtures/ntlm-vectors.js';

const responseKeyNT = () => ntowfv2(ntHash(SPEC.password), SPEC.user, SPEC.domain);

test('NTOWFv1 and NTOWFv2 (ResponseKeyNT)', () => {
  assert.equal(ntHash(SPEC.password).toString('hex'), SPEC.ntowfv1);
  assert.equal(responseKeyNT().toString('hex'), SPEC.responseKeyNT);
});

test('NTLMv2 temp, NTProofStr, LMv2 and SessionBaseKey', () => {
  const temp = ntlmv2Temp(SPEC.time, SPEC.clientChallenge, SPEC.targetInfo);
  assert.equal(temp.toString('hex'), SPEC.temp);
  const r = ntlmv2Response(responseKeyNT(), SPEC.serverChallenge, temp);
  assert.equal(r.ntProofStr.toString('hex'), SPEC.ntProofStr);
  assert.equal(r.sessionBaseKey.toString('hex'), SPEC.sessionBaseKey);
  assert.equal(lmv2Response(responseKeyNT(), SPEC.serverChallenge, SPEC.clientChallenge).toString('hex'), SPEC.lmv2);
});

test('key exchange: EncryptedRandomSessionKey = RC4(SessionBaseKey, 55x16)', () => {
  assert.equal(rc4(hex(SPEC.sessionBaseKey), SPEC.randomSessionKey).toString('hex'), SPEC.encryptedRandomSessionKey);
});

test('sign and seal keys in both directions, 128/56/40-bit', () => {
  const k = SPEC.randomSessionKey;
  const f128 = Flags.NEGOTIATE_128 | Flags.EXTENDED_SESSIONSECURITY;
  assert.equal(sealKey(k, f128, 'client-to-server').toString('hex'), SPEC.clientSealKey);
  assert.equal(sealKey(k, f128, 'server-to-client').toString('hex'), SPEC.serverSealKey);
  assert.equal(signKey(k, 'client-to-server').toString('hex'), SPEC.clientSignKey);
  assert.equal(signKey(k, 'server-to-client').toString('hex'), SPEC.serverSignKey);
  const f56 = Flags.NEGOTIATE_56 | Flags.EXTENDED_SESSIONSECURITY;
  assert.equal(sealKey(k, f56, 'client-to-server').toString('hex'), SPEC.seal56.client);
  assert.equal(sealKey(k, f56, 'server-to-client').toString('hex'), SPEC.seal56.server);
  assert.equal(sealKey(k, Flags.EXTENDED_SESSIONSECURITY, 'client-to-server').toString('hex'), SPEC.seal40.client);
  assert.equal(sealKey(k, Flags.EXTENDED_SESSIONSECURITY, 'server-to-client').toString('hex'), SPEC.seal40.server);
});

test('spec CHALLENGE: encoder reproduces the bytes, decoder reads them back', () => {
  const bytes = encodeChallenge({
    flags: SPEC.challengeFlags,
    serverChallenge: SPEC.serverChallenge,
    targetName: 'Server',
    targetInfo: SPEC.targetInfo,
    version: hex('060070170000000f'),
  });
  assert.equal(bytes.toString('hex'), SPEC.challengeMessage);
  const ch = decodeChallenge(hex(SPEC.challengeMessage));
  assert.equal(ch.flags >>> 0, SPEC.challengeFlags);
  assert.equal(ch.targetName, 'Server');
  assert.deepEqual(ch.serverChallenge, SPEC.serverChallenge);
  assert.equal(avString(ch.avPairs, AvId.NbDomainName), 'Domain');
  assert.equal(avString(ch.avPairs, AvId.NbComputerName), 'Server');
  assert.deepEqual(encodeAvPairs(ch.avPairs), SPEC.targetInfo);
});

test('spec AUTHENTICATE (no MIC): encoder reproduces the 232 bytes, decoder reads them back', () => {
  const temp = ntlmv2Temp(SPEC.time, SPEC.clientChallenge, SPEC.targetInfo);
  const r = ntlmv2Response(responseKeyNT(), SPEC.serverChallenge, temp);
  const bytes = encodeAuthenticate(
    {
      flags: SPEC.authenticateFlags,
      lmResponse: hex(SPEC.lmv2),
      ntResponse: r.ntChallengeResponse,
      domain: SPEC.domain,
      user: SPEC.user,
      workstation: SPEC.workstation,
      encryptedRandomSessionKey: hex(SPEC.encryptedRandomSessionKey),
      version: hex(SPEC.authenticateVersion),
    },
    { withMic: false },
  );
  assert.equal(bytes.length, 232);
  assert.equal(bytes.toString('hex'), SPEC.authenticateMessage);
  const a = decodeAuthenticate(bytes);
  assert.equal(a.user, 'User');
  assert.equal(a.domain, 'Domain');
  assert.equal(a.workstation, 'COMPUTER');
  assert.equal(a.mic, undefined);
  assert.equal(a.encryptedRandomSessionKey.toString('hex'), SPEC.encryptedRandomSessionKey);
});

test('pyspnego client NEGOTIATE (0xE2088237 with version) round-trips', () => {
  const neg = decodeNegotiate(hex(PYSPNEGO_NEGOTIATE));
  assert.equal(neg.flags >>> 0, 0xe2088237);
  assert.equal(encodeNegotiate({ flags: neg.flags, version: neg.version }).toString('hex'), PYSPNEGO_NEGOTIATE);
  assert.equal(encodeNegotiate({ flags: 0x00088207 }).toString('hex'), CHROMIUM.negotiate);
});

test('Chromium MIC + channel binding vector', () => {
  assert.equal(channelBindingsHash(CHROMIUM.cbApplicationData).toString('hex'), CHROMIUM.cbHash);
  const ch = decodeChallenge(hex(SPEC.challengeMessage));
  const flagsAv = Buffer.alloc(4);
  flagsAv.writeUInt32LE(2);
  const pairs = encodeAvPairs([
    ...ch.avPairs,
    { id: AvId.Flags, value: flagsAv },
    { id: AvId.ChannelBindings, value: hex(CHROMIUM.cbHash) },
    { id: AvId.TargetName, value: utf16(CHROMIUM.spn) },
  ]);
  const temp = ntlmv2Temp(CHROMIUM.clientTimestamp, SPEC.clientChallenge, pairs);
  const r = ntlmv2Response(responseKeyNT(), SPEC.serverChallenge, temp);
  assert.equal(r.ntProofStr.toString('hex'), CHROMIUM.ntProofStr);
  assert.equal(r.sessionBaseKey.toString('hex'), CHROMIUM.sessionBaseKey);
  const auth = encodeAuthenticate(
    {
      flags: CHROMIUM.authFlags,
      lmResponse: Buffer.alloc(24),
      ntResponse: r.ntChallengeResponse,
      domain: SPEC.domain,
      user: SPEC.user,
      workstation: SPEC.workstation,
      encryptedRandomSessionKey: Buffer.alloc(0),
    },
    { withMic: true, order: ['lm', 'nt', 'domain', 'user', 'workstation', 'key'], emptyAtPayloadStart: true },
  );
  assert.equal(auth.length, 286);
  assert.equal(auth.readUInt32LE(16), 88, 'LM at 88');
  assert.equal(auth.readUInt32LE(24), 112, 'NT at 112');
  const mic = computeMic(r.sessionBaseKey, hex(CHROMIUM.negotiate), hex(SPEC.challengeMessage), auth);
  assert.equal(mic.toString('hex'), CHROMIUM.mic);
});

test('real Windows 7 AUTHENTICATE with MIC and CBT (gss-ntlmssp): hashes, NTProofStr, parse', () => {
  assert.equal(ntHash(WIN7_CBT.password).toString('hex'), WIN7_CBT.ntHash);
  const auth = decodeAuthenticate(hex(WIN7_CBT.authenticate));
  assert.equal(auth.user, 'Administrator');
  assert.equal(auth.domain, 'WS2008R2');
  assert.equal(auth.workstation, 'WIN7-2-PC');
  assert.equal(auth.flags >>> 0, 0xa2888205);
  assert.equal(auth.mic?.toString('hex'), WIN7_CBT.mic);
  assert.deepEqual(auth.lmResponse, Buffer.alloc(24));
  const rk = ntowfv2(hex(WIN7_CBT.ntHash), auth.user, auth.domain);
  assert.equal(rk.toString('hex'), WIN7_CBT.responseKeyNT);
  const temp = auth.ntResponse.subarray(16);
  assert.equal(hmacMd5(rk, hex(WIN7_CBT.serverChallenge), temp).toString('hex'), WIN7_CBT.ntProofStr);
  assert.equal(auth.ntResponse.subarray(0, 16).toString('hex'), WIN7_CBT.ntProofStr);
  const pairs = decodeAvPairs(temp.subarray(28));
  assert.deepEqual(
    pairs.map((p) => p.id),
    [2, 1, 4, 3, 5, 7, 6, 8, 10, 9],
  );
  assert.equal(pairs.find((p) => p.id === AvId.ChannelBindings)?.value.toString('hex'), WIN7_CBT.cbHash);
  assert.equal(avString(pairs, AvId.TargetName), 'HTTP/dc-ws2008r2.ws2008r2.local');
  const ch = decodeChallenge(hex(WIN7_CBT.challenge));
  assert.equal(ch.serverChallenge.toString('hex'), WIN7_CBT.serverChallenge);
  assert.equal(ch.avPairs.find((p) => p.id === AvId.Timestamp)?.value.readBigUInt64LE(0), 0x01cdde0bc33fe77bn);
});

test('real Windows Server 2016 CHALLENGE (pyspnego) parses', () => {
  const ch = decodeChallenge(hex(WIN2016_CHALLENGE));
  assert.equal(ch.flags >>> 0, 3800662581);
  assert.equal(ch.serverChallenge.toString('hex').toUpperCase(), 'E4101014CF8A90BE');
  assert.equal(ch.targetName, 'DOMAIN');
  const raw = hex(WIN2016_CHALLENGE);
  assert.equal(raw.readUInt16LE(40), 138);
  assert.equal(raw.readUInt32LE(44), 68);
  assert.deepEqual([ch.version?.[0], ch.version?.[1], ch.version?.readUInt16LE(2), ch.version?.[7]], [10, 0, 14393, 15]);
  assert.equal(avString(ch.avPairs, AvId.NbDomainName), 'DOMAIN');
  assert.equal(avString(ch.avPairs, AvId.NbComputerName), 'DC01');
  assert.equal(avString(ch.avPairs, AvId.DnsDomainName), 'domain.local');
  assert.equal(avString(ch.avPairs, AvId.DnsComputerName), 'DC01.domain.local');
  assert.equal(avString(ch.avPairs, AvId.DnsTreeName), 'domain.local');
  const ts = ch.avPairs.find((p) => p.id === AvId.Timestamp)!.value;
  assert.equal(ts.toString('hex'), 'f8819288991ed601');
  const unixMs = Number((ts.readBigUInt64LE(0) - 116444736000000000n) / 10000n);
  assert.equal(new Date(unixMs).toISOString(), '2020-04-30T02:46:22.414Z');
});

test('malformed messages are rejected with a clear error', () => {
  assert.throws(() => decodeChallenge(Buffer.from('hello')), /not an NTLMSSP message/);
  assert.throws(() => decodeChallenge(hex(PYSPNEGO_NEGOTIATE)), /expected NTLM message type 2/);
  const truncated = hex(SPEC.challengeMessage).subarray(0, 60);
  assert.throws(() => decodeChallenge(truncated), /past the end/);
});
