// NTLM message codecs (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE, AUTHENTICATE and AV pairs.
import { AvId, Flags, SIGNATURE, hasFlag } from './constants.js';

export class NtlmFormatError extends Error {}

export interface AvPair {
  id: number;
  value: Buffer;
}

export function utf16(s: string): Buffer {
  return Buffer.from(s, 'utf16le');
}

export function encodeAvPairs(pairs: AvPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of pairs) {
    if (p.id === AvId.EOL) continue;
    const h = Buffer.alloc(4);
    h.writeUInt16LE(p.id, 0);
    h.writeUInt16LE(p.value.length, 2);
    parts.push(h, p.value);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

/** Parses AV pairs up to MsvAvEOL (excluded from the result). */
export function decodeAvPairs(buf: Buffer): AvPair[] {
  const out: AvPair[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const id = buf.readUInt16LE(off);
    const len = buf.readUInt16LE(off + 2);
    if (id === AvId.EOL) return out;
    if (off + 4 + len > buf.length) throw new NtlmFormatError('AV pair runs past the end of TargetInfo');
    out.push({ id, value: Buffer.from(buf.subarray(off + 4, off + 4 + len)) });
    off += 4 + len;
  }
  throw new NtlmFormatError('TargetInfo has no MsvAvEOL');
}

export function avString(pairs: AvPair[], id: number): string | undefined {
  const p = pairs.find((x) => x.id === id);
  return p ? p.value.toString('utf16le') : undefined;
}

function readSecBuf(msg: Buffer, at: number): Buffer {
  if (at + 8 > msg.length) throw new NtlmFormatError('NTLM message truncated');
  const len = msg.readUInt16LE(at);
  const off = msg.readUInt32LE(at + 4);
  if (len === 0) return Buffer.alloc(0);
  if (off + len > msg.length) throw new NtlmFormatError('NTLM field runs past the end of the message');
  return Buffer.from(msg.subarray(off, off + len));
}

function checkHeader(msg: Buffer, type: number): void {
  if (msg.length < 12 || !msg.subarray(0, 8).equals(SIGNATURE)) throw new NtlmFormatError('not an NTLMSSP message');
  const t = msg.readUInt32LE(8);
  if (t !== type) throw new NtlmFormatError(`expected NTLM message type ${type}, got ${t}`);
}

/** Windows 10-ish version block: major, minor, build, 3 reserved, revision 15. */
export function versionBytes(major = 10, minor = 0, build = 17763): Buffer {
  const v = Buffer.alloc(8);
  v.writeUInt8(major, 0);
  v.writeUInt8(minor, 1);
  v.writeUInt16LE(build, 2);
  v.writeUInt8(0x0f, 7);
  return v;
}

// ---- NEGOTIATE ----

export interface NegotiateMessage {
  flags: number;
  domain: string;
  workstation: string;
  version?: Buffer;
}

export function encodeNegotiate(opts: { flags: number; version?: Buffer }): Buffer {
  const withVersion = hasFlag(opts.flags, Flags.VERSION);
  const headerLen = withVersion ? 40 : 32;
  const m = Buffer.alloc(headerLen);
  SIGNATURE.copy(m, 0);
  m.writeUInt32LE(1, 8);
  m.writeUInt32LE(opts.flags >>> 0, 12);
  m.writeUInt32LE(headerLen, 20);
  m.writeUInt32LE(headerLen, 28);
  if (withVersion) (opts.version ?? versionBytes()).copy(m, 32);
  return m;
}

export function decodeNegotiate(msg: Buffer): NegotiateMessage {
  checkHeader(msg, 1);
  if (msg.length < 32) throw new NtlmFormatError('NEGOTIATE message truncated');
  const flags = msg.readUInt32LE(12);
  const oem = (b: Buffer) => b.toString('latin1');
  return {
    flags,
    domain: oem(readSecBuf(msg, 16)),
    workstation: oem(readSecBuf(msg, 24)),
    version: hasFlag(flags, Flags.VERSION) && msg.length >= 40 ? Buffer.from(msg.subarray(32, 40)) : undefined,
  };
}

// ---- CHALLENGE ----

export interface ChallengeMessage {
  flags: number;
  serverChallenge: Buffer;
  targetName: string;
  targetInfo: Buffer;
  avPairs: AvPair[];
  version?: Buffer;
}

export function encodeChallenge(opts: { flags: number; serverChallenge: Buffer; targetName: string; targetInfo: Buffer; version?: Buffer }): Buffer {
  const name = hasFlag(opts.flags, Flags.UNICODE) ? utf16(opts.targetName) : Buffer.from(opts.targetName, 'latin1');
  const header = Buffer.alloc(56);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(2, 8);
  header.writeUInt16LE(name.length, 12);
  header.writeUInt16LE(name.length, 14);
  header.writeUInt32LE(56, 16);
  header.writeUInt32LE(opts.flags >>> 0, 20);
  opts.serverChallenge.copy(header, 24);
  header.writeUInt16LE(opts.targetInfo.length, 40);
  header.writeUInt16LE(opts.targetInfo.length, 42);
  header.writeUInt32LE(56 + name.length, 44);
  (opts.version ?? versionBytes()).copy(header, 48);
  return Buffer.concat([header, name, opts.targetInfo]);
}

export function decodeChallenge(msg: Buffer): ChallengeMessage {
  checkHeader(msg, 2);
  if (msg.length < 32) throw new NtlmFormatError('CHALLENGE message truncated');
  const flags = msg.readUInt32LE(20);
  const nameBytes = readSecBuf(msg, 12);
  const targetInfo = hasFlag(flags, Flags.TARGET_INFO) && msg.length >= 48 ? readSecBuf(msg, 40) : Buffer.alloc(0);
  return {
    flags,
    serverChallenge: Buffer.from(msg.subarray(24, 32)),
    targetName: hasFlag(flags, Flags.UNICODE) ? nameBytes.toString('utf16le') : nameBytes.toString('latin1'),
    targetInfo,
    avPairs: targetInfo.length ? decodeAvPairs(targetInfo) : [],
    version: hasFlag(flags, Flags.VERSION) && msg.length >= 56 ? Buffer.from(msg.subarray(48, 56)) : undefined,
  };
}

// ---- AUTHENTICATE ----

export type AuthField = 'lm' | 'nt' | 'domain' | 'user' | 'workstation' | 'key';

export interface AuthenticateFields {
  flags: number;
  lmResponse: Buffer;
  ntResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Buffer;
  version?: Buffer;
}

export interface AuthenticateMessage extends AuthenticateFields {
  /** the MIC, when the message has a MIC field */
  mic?: Buffer;
  /** offset of the MIC field, when present */
  micOffset?: number;
}

/** Payload order as Windows and the MS-NLMP example write it. */
export const SPEC_ORDER: AuthField[] = ['domain', 'user', 'workstation', 'lm', 'nt', 'key'];

/**
 * Encodes an AUTHENTICATE. With `withMic` the header has the 16-byte MIC field at offset 72 (zeroed; the caller
 * writes the MIC there afterwards). `order` only matters for reproducing other implementations' exact bytes.
 */
export function encodeAuthenticate(f: AuthenticateFields, opts: { withMic: boolean; order?: AuthField[]; emptyAtPayloadStart?: boolean }): Buffer {
  const unicode = hasFlag(f.flags, Flags.UNICODE);
  const str = (s: string) => (unicode ? utf16(s) : Buffer.from(s, 'latin1'));
  const fields: Record<AuthField, Buffer> = {
    lm: f.lmResponse,
    nt: f.ntResponse,
    domain: str(f.domain),
    user: str(f.user),
    workstation: str(f.workstation),
    key: f.encryptedRandomSessionKey,
  };
  const secBufAt: Record<AuthField, number> = { lm: 12, nt: 20, domain: 28, user: 36, workstation: 44, key: 52 };
  const headerLen = opts.withMic ? 88 : hasFlag(f.flags, Flags.VERSION) ? 72 : 64;
  const header = Buffer.alloc(headerLen);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let off = headerLen;
  const payload: Buffer[] = [];
  for (const name of opts.order ?? SPEC_ORDER) {
    const b = fields[name];
    header.writeUInt16LE(b.length, secBufAt[name]);
    header.writeUInt16LE(b.length, secBufAt[name] + 2);
    header.writeUInt32LE(b.length === 0 && opts.emptyAtPayloadStart ? headerLen : off, secBufAt[name] + 4);
    payload.push(b);
    off += b.length;
  }
  header.writeUInt32LE(f.flags >>> 0, 60);
  if (headerLen >= 72) (f.version ?? Buffer.alloc(8)).copy(header, 64);
  return Buffer.concat([header, ...payload]);
}

export function decodeAuthenticate(msg: Buffer): AuthenticateMessage {
  checkHeader(msg, 3);
  if (msg.length < 64) throw new NtlmFormatError('AUTHENTICATE message truncated');
  const flags = msg.readUInt32LE(60);
  const unicode = hasFlag(flags, Flags.UNICODE);
  const str = (b: Buffer) => (unicode ? b.toString('utf16le') : b.toString('latin1'));
  // The payload starts at the lowest non-empty field offset; the MIC sits at 72 when there is room for it.
  let payloadStart = msg.length;
  for (const at of [12, 20, 28, 36, 44, 52]) {
    if (msg.readUInt16LE(at) > 0) payloadStart = Math.min(payloadStart, msg.readUInt32LE(at + 4));
  }
  const hasMic = payloadStart >= 88;
  return {
    flags,
    lmResponse: readSecBuf(msg, 12),
    ntResponse: readSecBuf(msg, 20),
    domain: str(readSecBuf(msg, 28)),
    user: str(readSecBuf(msg, 36)),
    workstation: str(readSecBuf(msg, 44)),
    encryptedRandomSessionKey: readSecBuf(msg, 52),
    version: payloadStart >= 72 ? Buffer.from(msg.subarray(64, 72)) : undefined,
    mic: hasMic ? Buffer.from(msg.subarray(72, 88)) : undefined,
    micOffset: hasMic ? 72 : undefined,
  };
}
