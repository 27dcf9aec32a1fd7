// Server side of the NTLM handshake, for the simulator: answers a NEGOTIATE with a CHALLENGE (target info and
// timestamp) and verifies an AUTHENTICATE's NTLMv2 response and MIC for a known user, deriving the same keys.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AV_FLAG_MIC_PRESENT, AvId, Flags, hasFlag } from './constants.js';
import { channelBindingsHash, computeMic, fileTime, hmacMd5, ntHash, ntowfv2 } from './crypto.js';
import { type AvPair, decodeAuthenticate, decodeAvPairs, decodeNegotiate, encodeAvPairs, encodeChallenge, utf16 } from './messages.js';
import { rc4 } from './rc4.js';
import { SessionSecurity } from './session.js';

export class NtlmAuthError extends Error {}

export interface AcceptorOptions {
  computerName: string;
  domainName?: string;
  /** password for a user name (case-insensitive match is the caller's business); undefined = unknown user */
  lookupPassword: (user: string, domain: string) => string | undefined;
  /** expected `tls-server-end-point:` data; when set, a client that sends channel bindings must match */
  channelBindingData?: Buffer;
  random?: (n: number) => Buffer;
  now?: () => number;
}

const SERVER_BASE_FLAGS = (Flags.UNICODE | Flags.REQUEST_TARGET | Flags.NTLM | Flags.ALWAYS_SIGN | Flags.TARGET_TYPE_SERVER | Flags.TARGET_INFO | Flags.VERSION) >>> 0;
const SERVER_OPTIONAL_FLAGS = (Flags.SIGN | Flags.SEAL | Flags.EXTENDED_SESSIONSECURITY | Flags.NEGOTIATE_128 | Flags.NEGOTIATE_56 | Flags.KEY_EXCH) >>> 0;

export interface Accepted {
  user: string;
  domain: string;
  flags: number;
  session: SessionSecurity | undefined;
}

export class NtlmAcceptor {
  private negotiateMsg: Buffer | undefined;
  private challengeMsg: Buffer | undefined;
  private serverChallenge: Buffer | undefined;
  private flags = 0;

  constructor(private readonly opts: AcceptorOptions) {}

  challenge(negotiateMsg: Buffer): Buffer {
    const neg = decodeNegotiate(negotiateMsg);
    this.negotiateMsg = negotiateMsg;
    this.flags = (SERVER_BASE_FLAGS | (neg.flags & SERVER_OPTIONAL_FLAGS)) >>> 0;
    this.serverChallenge = (this.opts.random ?? randomBytes)(8);
    const domain = this.opts.domainName ?? 'WORKGROUP';
    const pairs: AvPair[] = [
      { id: AvId.NbDomainName, value: utf16(domain) },
      { id: AvId.NbComputerName, value: utf16(this.opts.computerName) },
      { id: AvId.DnsDomainName, value: utf16(domain) },
      { id: AvId.DnsComputerName, value: utf16(this.opts.computerName) },
      { id: AvId.Timestamp, value: fileTime((this.opts.now ?? Date.now)()) },
    ];
    this.challengeMsg = encodeChallenge({ flags: this.flags, serverChallenge: this.serverChallenge, targetName: this.opts.computerName, targetInfo: encodeAvPairs(pairs) });
    return this.challengeMsg;
  }

  /** Verifies the AUTHENTICATE; throws NtlmAuthError on any mismatch (the message never names the password). */
  accept(authenticateMsg: Buffer): Accepted {
    if (!this.negotiateMsg || !this.challengeMsg || !this.serverChallenge) throw new NtlmAuthError('AUTHENTICATE without a preceding CHALLENGE');
    const auth = decodeAuthenticate(authenticateMsg);
    if (auth.ntResponse.length < 16 + 28) throw new NtlmAuthError('not an NTLMv2 response (NTLMv1 is refused)');
    const password = this.opts.lookupPassword(auth.user, auth.domain);
    if (password === undefined) throw new NtlmAuthError(`unknown user ${auth.user}`);
    const responseKeyNT = ntowfv2(ntHash(password), auth.user, auth.domain);
    const ntProofStr = auth.ntResponse.subarray(0, 16);
    const temp = auth.ntResponse.subarray(16);
    const expected = hmacMd5(responseKeyNT, this.serverChallenge, temp);
    if (!timingSafeEqual(expected, ntProofStr)) throw new NtlmAuthError(`wrong password for ${auth.user}`);

    const clientPairs = decodeAvPairs(temp.subarray(28));
    const avFlags = clientPairs.find((p) => p.id === AvId.Flags)?.value.readUInt32LE(0) ?? 0;
    const cb = clientPairs.find((p) => p.id === AvId.ChannelBindings)?.value;
    if (this.opts.channelBindingData && cb && !cb.equals(Buffer.alloc(16)) && !cb.equals(channelBindingsHash(this.opts.channelBindingData))) {
      throw new NtlmAuthError('channel binding mismatch');
    }

    const sessionBaseKey = hmacMd5(responseKeyNT, ntProofStr);
    const flags = this.flags;
    let exportedSessionKey = sessionBaseKey;
    if (hasFlag(flags, Flags.KEY_EXCH) && (hasFlag(flags, Flags.SIGN) || hasFlag(flags, Flags.SEAL))) {
      if (auth.encryptedRandomSessionKey.length !== 16) throw new NtlmAuthError('key exchange negotiated but no session key sent');
      exportedSessionKey = rc4(sessionBaseKey, auth.encryptedRandomSessionKey);
    }
    if (avFlags & AV_FLAG_MIC_PRESENT) {
      if (!auth.mic || auth.micOffset === undefined) throw new NtlmAuthError('MIC announced but missing');
      const zeroed = Buffer.from(authenticateMsg);
      zeroed.fill(0, auth.micOffset, auth.micOffset + 16);
      const mic = computeMic(exportedSessionKey, this.negotiateMsg, this.challengeMsg, zeroed);
      if (!timingSafeEqual(mic, auth.mic)) throw new NtlmAuthError('MIC mismatch');
    }
    return {
      user: auth.user,
      domain: auth.domain,
      flags,
      session: hasFlag(flags, Flags.EXTENDED_SESSIONSECURITY) ? new SessionSecurity(exportedSessionKey, flags, 'server') : undefined,
    };
  }
}
