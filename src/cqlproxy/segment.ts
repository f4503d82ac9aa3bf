// Protocol v5 segment framing. After the answer to STARTUP (READY or AUTHENTICATE) both
// directions carry segments: a little-endian header (payload length, and with LZ4 the
// uncompressed length; a self-contained flag) protected by a CRC24, then the payload and its
// CRC32. A self-contained payload holds whole frames; a frame larger than one payload is cut
// into consecutive segments that are not self-contained. Frames inside are plain v5 frames,
// so a segment reader feeds its payloads, as one byte stream, to a FrameReader.

import zlib from 'node:zlib';
import { ChunkQueue, FrameError, FrameReader, type Frame } from './frame.js';
import { lz4CompressBlock, lz4DecompressBlock } from './compress.js';

/** 17 bits of payload length. */
export const MAX_SEGMENT_PAYLOAD = 128 * 1024 - 1;
const CRC24_LENGTH = 3;
const CRC32_LENGTH = 4;
const PLAIN_HEADER = 3;
const LZ4_HEADER = 5;
const LENGTH_BITS = 2 ** 17;

const CRC24_INIT = 0x875060;
const CRC24_POLY = 0x1974f0b;
/** Cassandra's payload CRC32 starts as if these 4 bytes preceded the payload. */
const CRC32_INIT = zlib.crc32(Buffer.from([0xfa, 0x2d, 0x55, 0xca]));

/** CRC24 of a segment header, over its bytes in wire (little-endian) order. */
export function crc24(bytes: Buffer): number {
  let crc = CRC24_INIT;
  for (const b of bytes) {
    crc ^= b << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= CRC24_POLY;
    }
  }
  return crc;
}

export function payloadCrc32(payload: Buffer): number {
  return zlib.crc32(payload, CRC32_INIT);
}

function writeUIntLE(out: Buffer, value: number, pos: number, n: number): void {
  for (let i = 0; i < n; i++) {
    out[pos + i] = value % 256;
    value = Math.floor(value / 256);
  }
}

function readUIntLE(buf: Buffer, pos: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[pos + i]!;
  return v;
}

/** One segment around `payload` (at most MAX_SEGMENT_PAYLOAD bytes). */
export function encodeSegment(payload: Buffer, selfContained: boolean, lz4: boolean): Buffer {
  if (payload.length > MAX_SEGMENT_PAYLOAD) throw new FrameError(`segment payload too large: ${payload.length}`);
  let stored = payload;
  let header: number;
  const headerLength = lz4 ? LZ4_HEADER : PLAIN_HEADER;
  if (lz4) {
    const block = payload.length ? lz4CompressBlock(payload) : payload;
    // Uncompressed length 0 means "stored as is": compression did not pay.
    const compressed = block.length < payload.length;
    if (compressed) stored = block;
    header = stored.length + (compressed ? payload.length : 0) * LENGTH_BITS + (selfContained ? LENGTH_BITS * LENGTH_BITS : 0);
  } else {
    header = payload.length + (selfContained ? LENGTH_BITS : 0);
  }
  const out = Buffer.allocUnsafe(headerLength + CRC24_LENGTH + stored.length + CRC32_LENGTH);
  writeUIntLE(out, header, 0, headerLength);
  writeUIntLE(out, crc24(out.subarray(0, headerLength)), headerLength, CRC24_LENGTH);
  stored.copy(out, headerLength + CRC24_LENGTH);
  out.writeUInt32LE(payloadCrc32(stored), headerLength + CRC24_LENGTH + stored.length);
  return out;
}

/**
 * Segments for a run of frames: small frames share self-contained segments, a frame larger than
 * one payload gets its own run of segments that are not self-contained.
 */
export function encodeSegments(frames: Buffer[], lz4: boolean): Buffer {
  const out: Buffer[] = [];
  let batch: Buffer[] = [];
  let batchSize = 0;
  const flush = (): void => {
    if (batchSize === 0) return;
    out.push(encodeSegment(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchSize), true, lz4));
    batch = [];
    batchSize = 0;
  };
  for (const f of frames) {
    if (f.length > MAX_SEGMENT_PAYLOAD) {
      flush();
      for (let i = 0; i < f.length; i += MAX_SEGMENT_PAYLOAD) out.push(encodeSegment(f.subarray(i, i + MAX_SEGMENT_PAYLOAD), false, lz4));
      continue;
    }
    if (batchSize + f.length > MAX_SEGMENT_PAYLOAD) flush();
    batch.push(f);
    batchSize += f.length;
  }
  flush();
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

/** Incremental segment cutter: verifies both CRCs and hands out the (decompressed) payloads. */
export class SegmentReader {
  private readonly queue = new ChunkQueue();

  constructor(private readonly lz4: boolean) {}

  push(chunk: Buffer, onPayload: (payload: Buffer, selfContained: boolean) => void): void {
    const q = this.queue;
    q.push(chunk);
    const headerLength = this.lz4 ? LZ4_HEADER : PLAIN_HEADER;
    for (;;) {
      if (q.length < headerLength + CRC24_LENGTH) return;
      const head = q.head(headerLength + CRC24_LENGTH);
      const header = readUIntLE(head, 0, headerLength);
      const crc = readUIntLE(head, headerLength, CRC24_LENGTH);
      if (crc24(head.subarray(0, headerLength)) !== crc) throw new FrameError('segment header CRC24 mismatch');
      const stored = header % LENGTH_BITS;
      const uncompressed = this.lz4 ? Math.floor(header / LENGTH_BITS) % LENGTH_BITS : 0;
      const selfContained = Math.floor(header / (this.lz4 ? LENGTH_BITS * LENGTH_BITS : LENGTH_BITS)) % 2 === 1;
      const total = headerLength + CRC24_LENGTH + stored + CRC32_LENGTH;
      if (q.length < total) return;
      const seg = q.take(total);
      const payload = seg.subarray(headerLength + CRC24_LENGTH, total - CRC32_LENGTH);
      if (payloadCrc32(payload) !== seg.readUInt32LE(total - CRC32_LENGTH)) throw new FrameError('segment payload CRC32 mismatch');
      onPayload(uncompressed > 0 ? lz4DecompressBlock(payload, uncompressed) : payload, selfContained);
    }
  }

  get pending(): number {
    return this.queue.length;
  }
}

/**
 * Frames from a connection's byte stream: 9-byte-header frames until `useSegments()` (called
 * while handling the STARTUP answer), segments from the next byte on.
 */
export class WireReader {
  private readonly legacy = new FrameReader();
  private segments: SegmentReader | undefined;
  /** Frames cut from segment payloads (a large frame arrives in several). */
  private readonly inner = new FrameReader();

  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    if (this.segments) {
      this.segments.push(chunk, (p) => this.inner.push(p, onFrame));
      return;
    }
    this.legacy.push(chunk, onFrame);
    if (this.segments) {
      const rest = this.legacy.takeRest();
      if (rest.length) this.push(rest, onFrame);
    }
  }

  /** Everything after the frame being handled is segments. */
  useSegments(lz4: boolean): void {
    if (this.segments) return;
    this.segments = new SegmentReader(lz4);
    this.legacy.stop();
  }

  get segmented(): boolean {
    return this.segments !== undefined;
  }

  get pending(): number {
    return this.legacy.pending + (this.segments?.pending ?? 0) + this.inner.pending;
  }
}

/**
 * Frames to a connection's socket: written as they come until `useSegments()`, then queued and
 * packed into segments once per event-loop turn (the callers cork per turn anyway).
 */
export class WireWriter {
  private lz4: boolean | undefined;
  private queue: Buffer[] = [];
  private scheduled = false;

  /** `write` returns false when the socket's buffer is full. */
  constructor(private readonly write: (buf: Buffer) => boolean, private readonly onFull: () => void) {}

  useSegments(lz4: boolean): void {
    this.lz4 = lz4;
  }

  get segmented(): boolean {
    return this.lz4 !== undefined;
  }

  send(frame: Buffer): void {
    if (this.lz4 === undefined) {
      if (!this.write(frame)) this.onFull();
      return;
    }
    this.queue.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Bytes queued for the next segment flush. */
  get queued(): number {
    let n = 0;
    for (const f of this.queue) n += f.length;
    return n;
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const frames = this.queue;
    this.queue = [];
    if (!this.write(encodeSegments(frames, this.lz4!))) this.onFull();
  };
}
