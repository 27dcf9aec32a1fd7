// NTLM session security (MS-NLMP 3.4): sealing and signing with ESS, one long-lived RC4 state and one
// sequence number per direction. Both roles: the client seals with client-to-server keys, the server with
// server-to-client keys.
import { timingSafeEqual } from 'node:crypto';
import { Flags, hasFlag } from './constants.js';
import { type Direction, hmacMd5, sealKey, signKey } from './crypto.js';
import { Rc4 } from './rc4.js';

export class NtlmIntegrityError extends Error {}

export type Role = 'client' | 'server';

export class SessionSecurity {
  private readonly outSign: Buffer;
  private readonly inSign: Buffer;
  private readonly outRc4: Rc4;
  private readonly inRc4: Rc4;
  private outSeq = 0;
  private inSeq = 0;
  private readonly keyExch: boolean;

  constructor(
    exportedSessionKey: Buffer,
    readonly flags: number,
    readonly role: Role,
  ) {
    if (!hasFlag(flags, Flags.EXTENDED_SESSIONSECURITY)) throw new Error('NTLM session security without extended session security (NTLMv1) is not supported');
    const out: Direction = role === 'client' ? 'client-to-server' : 'server-to-client';
    const inn: Direction = role === 'client' ? 'server-to-client' : 'client-to-server';
    this.outSign = signKey(exportedSessionKey, out);
    this.inSign = signKey(exportedSessionKey, inn);
    this.outRc4 = new Rc4(sealKey(exportedSessionKey, flags, out));
    this.inRc4 = new Rc4(sealKey(exportedSessionKey, flags, inn));
    this.keyExch = hasFlag(flags, Flags.KEY_EXCH);
  }

  /** Seals a message: returns the ciphertext and the 16-byte signature. Sealing comes first (keystream order). */
  wrap(plaintext: Buffer): { sealed: Buffer; signature: Buffer } {
    const seq = this.outSeq++;
    const sealed = this.outRc4.update(plaintext);
    return { sealed, signature: this.signature(this.outSign, this.outRc4, seq, plaintext) };
  }

  /** Unseals and verifies; throws NtlmIntegrityError when the signature does not match. */
  unwrap(sealed: Buffer, signature: Buffer): Buffer {
    const seq = this.inSeq++;
    const plaintext = this.inRc4.update(sealed);
    const expected = this.signature(this.inSign, this.inRc4, seq, plaintext);
    if (signature.length !== 16 || !timingSafeEqual(expected, signature)) {
      throw new NtlmIntegrityError('NTLM signature mismatch: the message was altered or the security context is out of step');
    }
    return plaintext;
  }

  private signature(key: Buffer, rc4: Rc4, seq: number, plaintext: Buffer): Buffer {
    const seqBuf = Buffer.alloc(4);
    seqBuf.writeUInt32LE(seq >>> 0);
    let checksum = hmacMd5(key, seqBuf, plaintext).subarray(0, 8);
    if (this.keyExch) checksum = rc4.update(checksum);
    const sig = Buffer.alloc(16);
    sig.writeUInt32LE(1, 0);
    checksum.copy(sig, 4);
    seqBuf.copy(sig, 12);
    return sig;
  }
}
