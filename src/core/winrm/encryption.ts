// MS-WSMV 2.2.9.1.1 multipart/encrypted framing for NTLM-sealed SOAP over HTTP, byte for byte as pywinrm builds it.

export const ENCRYPTED_CONTENT_TYPE = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"';
const PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted';
const BOUNDARY = '--Encrypted Boundary';
const OCTET_LINE = '\tContent-Type: application/octet-stream\r\n';

export interface Sealer {
  wrap(plaintext: Buffer): { sealed: Buffer; signature: Buffer };
}
export interface Unsealer {
  unwrap(sealed: Buffer, signature: Buffer): Buffer;
}

export class EncryptionFormatError extends Error {}

export function isEncryptedContentType(contentType: string | undefined): boolean {
  return !!contentType && contentType.toLowerCase().includes(`protocol="${PROTOCOL.toLowerCase()}"`);
}

export function frameEncrypted(plaintext: Buffer, sealer: Sealer): Buffer {
  const { sealed, signature } = sealer.wrap(plaintext);
  const sigLen = Buffer.alloc(4);
  sigLen.writeUInt32LE(signature.length);
  return Buffer.concat([
    Buffer.from(
      `${BOUNDARY}\r\n\tContent-Type: ${PROTOCOL}\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=${plaintext.length}\r\n${BOUNDARY}\r\n${OCTET_LINE}`,
      'latin1',
    ),
    sigLen,
    signature,
    sealed,
    Buffer.from(`${BOUNDARY}--\r\n`, 'latin1'),
  ]);
}

/**
 * Reads every encrypted part: after the octet-stream line it takes exactly 4 + signature + Length bytes rather than
 * searching binary data for the boundary.
 */
export function unframeEncrypted(body: Buffer, unsealer: Unsealer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  const boundary = Buffer.from(`${BOUNDARY}\r\n`, 'latin1');
  for (;;) {
    const start = body.indexOf(boundary, pos);
    if (start < 0) break;
    const metaStart = start + boundary.length;
    const metaEnd = body.indexOf(boundary, metaStart);
    if (metaEnd < 0) throw new EncryptionFormatError('encrypted body: missing payload part');
    const meta = body.subarray(metaStart, metaEnd).toString('latin1');
    const m = /Length=(\d+)/.exec(meta);
    if (!m) throw new EncryptionFormatError('encrypted body: no Length= in the part header');
    const length = Number(m[1]);
    let p = metaEnd + boundary.length;
    // the octet-stream line may come with or without a leading tab
    const lineEnd = body.indexOf('\r\n', p);
    if (lineEnd < 0 || !/content-type/i.test(body.subarray(p, lineEnd).toString('latin1'))) throw new EncryptionFormatError('encrypted body: no payload Content-Type');
    p = lineEnd + 2;
    if (p + 4 > body.length) throw new EncryptionFormatError('encrypted body truncated');
    const sigLen = body.readUInt32LE(p);
    p += 4;
    if (sigLen !== 16 || p + sigLen + length > body.length) throw new EncryptionFormatError('encrypted body truncated or signature length wrong');
    const signature = body.subarray(p, p + sigLen);
    const sealed = body.subarray(p + sigLen, p + sigLen + length);
    const plain = unsealer.unwrap(Buffer.from(sealed), Buffer.from(signature));
    if (plain.length !== length) throw new EncryptionFormatError('encrypted length does not match the announced size');
    out.push(plain);
    pos = p + sigLen + length;
  }
  if (out.length === 0) throw new EncryptionFormatError('encrypted body without any encrypted part');
  return Buffer.concat(out);
}
