// Client side of the NTLM handshake: NEGOTIATE, then AUTHENTICATE (NTLMv2, MIC, key exchange) from the CHALLENGE.
import { randomBytes } from 'node:crypto';
import { AV_FLAG_MIC_PRESENT, AvId, CLIENT_FLAGS, ENCRYPTION_FLAGS, Flags, hasFlag } from './constants.js';
import { channelBindingsHash, computeMic, fileTime, lmv2Response, ntHash, ntlmv2Response, ntlmv2Temp, ntowfv2 } from './crypto.js';
import { type AvPair, decodeChallenge, encodeAuthenticate, encodeAvPairs, encodeNegotiate, utf16, versionBytes } from './messages.js';
import { rc4 } from './rc4.js';
import { SessionSecurity } from './session.js';

export class NtlmNegotiationError extends Error {}

export interface InitiatorOptions {
  /** `user`, `DOMAIN\user` or `user@realm` (the UPN is used whole, with an empty domain) */
  username: string;
  password: string;
  workstation?: string;
  /** e.g. `HTTP/host`; sent as MsvAvTargetName */
  spn?: string;
  /** RFC 5929 `tls-server-end-point:` application data, for channel binding over HTTPS */
  channelBindingData?: Buffer;
  /** require sign + seal + key exchange (message encryption over HTTP) */
  requireEncryption?: boolean;
  /** injectable randomness and clock (tests) */
  random?: (n: number) => Buffer;
  now?: () => number;
}

export function splitUsername(username: string): { user: string; domain: string } {
  const i = username.indexOf('\\');
  if (i >= 0) return { domain: username.slice(0, i), user: username.slice(i + 1) };
  return { user: username, domain: '' };
}

export class NtlmInitiator {
  private negotiateMsg: Buffer | undefined;
  session: SessionSecurity | undefined;
  private readonly random: (n: number) => Buffer;

  constructor(private readonly opts: InitiatorOptions) {
    this.random = opts.random ?? randomBytes;
  }

  negotiate(): Buffer {
    this.negotiateMsg = encodeNegotiate({ flags: CLIENT_FLAGS, version: versionBytes() });
    return this.negotiateMsg;
  }

  /** Builds the AUTHENTICATE for a CHALLENGE and sets up `session`. */
  authenticate(challengeMsg: Buffer, extra: { channelBindingData?: Buffer } = {}): Buffer {
    if (!this.negotiateMsg) throw new Error('negotiate() must come first');
    const ch = decodeChallenge(challengeMsg);
    if (this.opts.requireEncryption && !hasFlag(ch.flags, ENCRYPTION_FLAGS)) {
      throw new NtlmNegotiationError('the server did not agree to NTLM sign + seal + key exchange, so messages cannot be encrypted');
    }
    const { user, domain } = splitUsername(this.opts.username);
    const responseKeyNT = ntowfv2(ntHash(this.opts.password), user, domain);
    const serverTime = ch.avPairs.find((p) => p.id === AvId.Timestamp)?.value;
    const micRequired = serverTime !== undefined;
    const timestamp = serverTime ?? fileTime((this.opts.now ?? Date.now)());
    const clientChallenge = this.random(8);

    const pairs: AvPair[] = ch.avPairs.filter((p) => p.id !== AvId.Flags);
    const serverAvFlags = ch.avPairs.find((p) => p.id === AvId.Flags)?.value.readUInt32LE(0) ?? 0;
    if (micRequired) {
      const f = Buffer.alloc(4);
      f.writeUInt32LE((serverAvFlags | AV_FLAG_MIC_PRESENT) >>> 0);
      pairs.push({ id: AvId.Flags, value: f });
    }
    const cbData = extra.channelBindingData ?? this.opts.channelBindingData;
    if (cbData) pairs.push({ id: AvId.ChannelBindings, value: channelBindingsHash(cbData) });
    if (this.opts.spn) pairs.push({ id: AvId.TargetName, value: utf16(this.opts.spn) });

    const temp = ntlmv2Temp(timestamp, clientChallenge, encodeAvPairs(pairs));
    const { ntChallengeResponse, sessionBaseKey } = ntlmv2Response(responseKeyNT, ch.serverChallenge, temp);
    const lm = micRequired ? Buffer.alloc(24) : lmv2Response(responseKeyNT, ch.serverChallenge, clientChallenge);

    const flags = ch.flags;
    let exportedSessionKey = sessionBaseKey;
    let encryptedKey: Buffer = Buffer.alloc(0);
    if (hasFlag(flags, Flags.KEY_EXCH) && (hasFlag(flags, Flags.SIGN) || hasFlag(flags, Flags.SEAL))) {
      exportedSessionKey = this.random(16);
      encryptedKey = rc4(sessionBaseKey, exportedSessionKey);
    }
    const msg = encodeAuthenticate(
      {
        flags,
        lmResponse: lm,
        ntResponse: ntChallengeResponse,
        domain,
        user,
        workstation: this.opts.workstation ?? 'LABOPS',
        encryptedRandomSessionKey: encryptedKey,
        version: versionBytes(),
      },
      { withMic: true },
    );
    if (micRequired) computeMic(exportedSessionKey, this.negotiateMsg, challengeMsg, msg).copy(msg, 72);
    if (hasFlag(flags, Flags.EXTENDED_SESSIONSECURITY)) this.session = new SessionSecurity(exportedSessionKey, flags, 'client');
    return msg;
  }
}
