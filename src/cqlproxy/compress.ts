// Frame body compression as negotiated in STARTUP. Cassandra's lz4 body is a 4-byte
// big-endian uncompressed length followed by one raw LZ4 block; snappy is the raw format.

import { createRequire } from 'node:module';

export type Compression = 'lz4' | 'snappy';

interface SnappyModule {
  compressSync(b: Buffer): Buffer;
  uncompressSync(b: Buffer, opts?: { asBuffer: true }): Buffer | string;
}

let snappyMod: SnappyModule | null | undefined;
function snappy(): SnappyModule | null {
  if (snappyMod === undefined) {
    try {
      snappyMod = createRequire(import.meta.url)('snappy') as SnappyModule;
    } catch {
      snappyMod = null; // no prebuilt binary for this platform: snappy is simply not offered
    }
  }
  return snappyMod;
}

export function supportedCompressions(): Compression[] {
  return snappy() ? ['lz4', 'snappy'] : ['lz4'];
}

export function compress(kind: Compression, body: Buffer): Buffer {
  if (kind === 'snappy') return snappy()!.compressSync(body);
  const block = lz4CompressBlock(body);
  const out = Buffer.allocUnsafe(4 + block.length);
  out.writeUInt32BE(body.length, 0);
  block.copy(out, 4);
  return out;
}

export function decompress(kind: Compression, body: Buffer): Buffer {
  if (kind === 'snappy') return snappy()!.uncompressSync(body, { asBuffer: true }) as Buffer;
  if (body.length < 4) throw new Error('lz4 body too short');
  const size = body.readUInt32BE(0);
  return lz4DecompressBlock(body.subarray(4), size);
}

// --- LZ4 block format ------------------------------------------------------------------
// Sequence: token (4 bits literal length, 4 bits match length - 4), extra length bytes,
// literals, 2-byte little-endian offset, extra match length bytes. The last 5 bytes are
// always literals and the last match starts at least 12 bytes before the end.

const MIN_MATCH = 4;
const HASH_LOG = 14;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;

export function lz4DecompressBlock(src: Buffer, size: number): Buffer {
  const dst = Buffer.allocUnsafe(size);
  let s = 0;
  let d = 0;
  while (s < src.length) {
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (d + lit > size || s + lit > src.length) throw new Error('lz4: corrupt input');
    src.copy(dst, d, s, s + lit);
    s += lit;
    d += lit;
    if (s >= src.length) break; // last sequence has no match
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d) throw new Error('lz4: bad offset');
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    len += MIN_MATCH;
    if (d + len > size) throw new Error('lz4: output overflow');
    let m = d - offset;
    // Byte by byte: matches may overlap their own output (run-length style).
    for (let i = 0; i < len; i++) dst[d++] = dst[m++]!;
  }
  if (d !== size) throw new Error('lz4: size mismatch');
  return dst;
}

function writeLength(dst: Buffer, pos: number, n: number): number {
  while (n >= 255) {
    dst[pos++] = 255;
    n -= 255;
  }
  dst[pos++] = n;
  return pos;
}

export function lz4CompressBlock(src: Buffer): Buffer {
  const n = src.length;
  const dst = Buffer.allocUnsafe(n + Math.ceil(n / 255) + 16);
  const table = new Int32Array(1 << HASH_LOG).fill(-1);
  let anchor = 0;
  let d = 0;
  let s = 0;
  const limit = n - MF_LIMIT;
  while (s < limit) {
    const seq = src.readUInt32LE(s);
    const h = Math.imul(seq, 2654435761) >>> (32 - HASH_LOG);
    const ref = table[h]!;
    table[h] = s;
    if (ref < 0 || s - ref > 65535 || src.readUInt32LE(ref) !== seq) {
      s++;
      continue;
    }
    // Extend the match forward, keeping the last literals out of it.
    let len = MIN_MATCH;
    const maxLen = n - LAST_LITERALS - s;
    while (len < maxLen && src[s + len] === src[ref + len]) len++;
    const lit = s - anchor;
    const tokenPos = d++;
    let token = (lit >= 15 ? 15 : lit) << 4;
    if (lit >= 15) d = writeLength(dst, d, lit - 15);
    src.copy(dst, d, anchor, s);
    d += lit;
    const off = s - ref;
    dst[d++] = off & 255;
    dst[d++] = off >>> 8;
    const ml = len - MIN_MATCH;
    token |= ml >= 15 ? 15 : ml;
    if (ml >= 15) d = writeLength(dst, d, ml - 15);
    dst[tokenPos] = token;
    s += len;
    anchor = s;
  }
  const lit = n - anchor;
  const tokenPos = d++;
  dst[tokenPos] = (lit >= 15 ? 15 : lit) << 4;
  if (lit >= 15) d = writeLength(dst, d, lit - 15);
  src.copy(dst, d, anchor, n);
  d += lit;
  return dst.subarray(0, d);
}
