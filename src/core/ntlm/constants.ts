// NTLM negotiate flags and AV pair ids (MS-NLMP 2.2.2.5 / 2.2.2.1).

export const Flags = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  SIGN: 0x00000010,
  SEAL: 0x00000020,
  LM_KEY: 0x00000080,
  NTLM: 0x00000200,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  TARGET_TYPE_SERVER: 0x00020000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  KEY_EXCH: 0x40000000,
  NEGOTIATE_56: 0x80000000,
} as const;

/** What a client asks for: pyspnego's default (0xE2088237), sign + seal + key exchange. */
export const CLIENT_FLAGS =
  (Flags.NEGOTIATE_56 |
    Flags.KEY_EXCH |
    Flags.NEGOTIATE_128 |
    Flags.VERSION |
    Flags.EXTENDED_SESSIONSECURITY |
    Flags.ALWAYS_SIGN |
    Flags.NTLM |
    Flags.SEAL |
    Flags.SIGN |
    Flags.REQUEST_TARGET |
    Flags.OEM |
    Flags.UNICODE) >>>
  0;

/** Everything message encryption needs from the server's CHALLENGE. */
export const ENCRYPTION_FLAGS = (Flags.SIGN | Flags.SEAL | Flags.KEY_EXCH | Flags.EXTENDED_SESSIONSECURITY | Flags.NEGOTIATE_128) >>> 0;

export const AvId = {
  EOL: 0,
  NbComputerName: 1,
  NbDomainName: 2,
  DnsComputerName: 3,
  DnsDomainName: 4,
  DnsTreeName: 5,
  Flags: 6,
  Timestamp: 7,
  SingleHost: 8,
  TargetName: 9,
  ChannelBindings: 10,
} as const;

export const AV_FLAG_MIC_PRESENT = 0x2;

export const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

export function hasFlag(flags: number, f: number): boolean {
  return ((flags & f) >>> 0) === f >>> 0;
}
