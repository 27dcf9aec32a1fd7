// MD4 (RFC 1320), written here because OpenSSL 3 (Node 20) no longer provides it without the legacy provider.

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

const ROUND2_ORDER = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
const ROUND3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];

export function md4(data: Uint8Array): Buffer {
  const len = data.length;
  const blocks = ((len + 8) >>> 6) + 1;
  const x = new Uint32Array(blocks * 16);
  for (let i = 0; i < len; i++) x[i >>> 2]! |= data[i]! << ((i & 3) * 8);
  x[len >>> 2]! |= 0x80 << ((len & 3) * 8);
  x[blocks * 16 - 2] = (len * 8) >>> 0;
  x[blocks * 16 - 1] = Math.floor(len / 0x20000000) >>> 0;

  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  for (let blk = 0; blk < blocks; blk++) {
    const w = (k: number) => x[blk * 16 + k]!;
    const [aa, bb, cc, dd] = [a, b, c, d];
    const S1 = [3, 7, 11, 19];
    for (let i = 0; i < 16; i++) {
      const f = (b & c) | (~b & d);
      const t = rotl((a + f + w(i)) >>> 0, S1[i & 3]!);
      [a, b, c, d] = [d, t, b, c];
    }
    const S2 = [3, 5, 9, 13];
    for (let i = 0; i < 16; i++) {
      const g = (b & c) | (b & d) | (c & d);
      const t = rotl((a + g + w(ROUND2_ORDER[i]!) + 0x5a827999) >>> 0, S2[i & 3]!);
      [a, b, c, d] = [d, t, b, c];
    }
    const S3 = [3, 9, 11, 15];
    for (let i = 0; i < 16; i++) {
      const h = b ^ c ^ d;
      const t = rotl((a + h + w(ROUND3_ORDER[i]!) + 0x6ed9eba1) >>> 0, S3[i & 3]!);
      [a, b, c, d] = [d, t, b, c];
    }
    a = (a + aa) >>> 0;
    b = (b + bb) >>> 0;
    c = (c + cc) >>> 0;
    d = (d + dd) >>> 0;
  }
  const out = Buffer.alloc(16);
  out.writeUInt32LE(a, 0);
  out.writeUInt32LE(b, 4);
  out.writeUInt32LE(c, 8);
  out.writeUInt32LE(d, 12);
  return out;
}
