// RFC 5929 tls-server-end-point channel-binding data from the server certificate (NTLM over HTTPS, CBT hardening).
// Node's X509Certificate has no signature algorithm, so read the OID from the DER (Certificate.signatureAlgorithm).
import { createHash } from 'node:crypto';

function readTlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at]!;
  let len = der[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[p + i]!;
    p += n;
  }
  return { tag, start: p, end: p + len };
}

function oidString(bytes: Buffer): string {
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let v = 0;
  for (const b of bytes.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

export function signatureHashOf(der: Buffer): string {
  try {
    const cert = readTlv(der, 0);
    const tbs = readTlv(der, cert.start);
    const algSeq = readTlv(der, tbs.end);
    const oid = readTlv(der, algSeq.start);
    const id = oidString(der.subarray(oid.start, oid.end));
    if (['1.2.840.113549.1.1.12', '1.2.840.10045.4.3.3'].includes(id)) return 'sha384';
    if (['1.2.840.113549.1.1.13', '1.2.840.10045.4.3.4'].includes(id)) return 'sha512';
  } catch {
    // unreadable: fall through to SHA-256, as RFC 5929 prescribes for MD5/SHA-1/unknown
  }
  return 'sha256';
}

export function tlsServerEndPoint(certDer: Buffer): Buffer {
  const hash = createHash(signatureHashOf(certDer)).update(certDer).digest();
  return Buffer.concat([Buffer.from('tls-server-end-point:', 'latin1'), hash]);
}
