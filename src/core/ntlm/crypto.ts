// NTLMv2 computations (MS-NLMP 3.3.2, 3.4.5): hashes, responses, key derivation, MIC.
import { createHash, createHmac } from 'node:crypto';
import { Flags, hasFlag } from './constants.js';
import { md4 } from './md4.js';
import { utf16 } from './messages.js';

export function hmacMd5(key: Uint8Array, ...data: Uint8Array[]): Buffer {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
}

export function md5(...data: Uint8Array[]): Buffer {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return h.digest();
}

/** NTOWFv1: MD4 of the UTF-16LE password. */
export function ntHash(password: string): Buffer {
  return md4(utf16(password));
}

/** NTOWFv2 (ResponseKeyNT): only the user name is upper-cased, the domain keeps its case. */
export function ntowfv2(ntHashValue: Buffer, user: string, domain: string): Buffer {
  return hmacMd5(ntHashValue, utf16(user.toUpperCase() + domain));
}

/** The NTLMv2 client blob ("temp"), AV pairs given encoded with their EOL. */
export function ntlmv2Temp(timestamp: Buffer, clientChallenge: Buffer, avPairs: Buffer): Buffer {
  return Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), timestamp, clientChallenge, Buffer.alloc(4), avPairs, Buffer.alloc(4)]);
}

export interface Ntlmv2Response {
  ntProofStr: Buffer;
  ntChallengeResponse: Buffer;
  sessionBaseKey: Buffer;
}

export function ntlmv2Response(responseKeyNT: Buffer, serverChallenge: Buffer, temp: Buffer): Ntlmv2Response {
  const ntProofStr = hmacMd5(responseKeyNT, serverChallenge, temp);
  return {
    ntProofStr,
    ntChallengeResponse: Buffer.concat([ntProofStr, temp]),
    sessionBaseKey: hmacMd5(responseKeyNT, ntProofStr),
  };
}

export function lmv2Response(responseKeyNT: Buffer, serverChallenge: Buffer, clientChallenge: Buffer): Buffer {
  return Buffer.concat([hmacMd5(responseKeyNT, serverChallenge, clientChallenge), clientChallenge]);
}

export type Direction = 'client-to-server' | 'server-to-client';

export function signKey(exportedSessionKey: Buffer, dir: Direction): Buffer {
  return md5(exportedSessionKey, Buffer.from(`session key to ${dir} signing key magic constant\0`, 'latin1'));
}

export function sealKey(exportedSessionKey: Buffer, flags: number, dir: Direction): Buffer {
  const k = hasFlag(flags, Flags.NEGOTIATE_128)
    ? exportedSessionKey
    : hasFlag(flags, Flags.NEGOTIATE_56)
      ? exportedSessionKey.subarray(0, 7)
      : exportedSessionKey.subarray(0, 5);
  return md5(k, Buffer.from(`session key to ${dir} sealing key magic constant\0`, 'latin1'));
}

export function computeMic(exportedSessionKey: Buffer, negotiate: Buffer, challenge: Buffer, authenticateWithZeroMic: Buffer): Buffer {
  return hmacMd5(exportedSessionKey, negotiate, challenge, authenticateWithZeroMic);
}

const FILETIME_UNIX_EPOCH = 116444736000000000n;

/** FILETIME (100 ns ticks since 1601) as 8 LE bytes. */
export function fileTime(unixMs: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(Math.floor(unixMs)) * 10000n + FILETIME_UNIX_EPOCH);
  return b;
}

/** MsvAvChannelBindings: MD5 of the packed gss_channel_bindings_struct with only application data. */
export function channelBindingsHash(applicationData: Buffer): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(applicationData.length, 16);
  return md5(head, applicationData);
}
