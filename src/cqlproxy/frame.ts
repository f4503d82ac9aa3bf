// CQL native protocol frames (v3, v4, and v5 inside its segments, see segment.ts): a 9-byte
// header followed by the body. Frames are cut from the byte stream without decoding the body,
// so the common path forwards the very bytes the peer sent.

export const HEADER_LENGTH = 9;
/** Cassandra refuses frames above 256 MB by default; anything larger is a corrupt stream. */
export const MAX_BODY_LENGTH = 256 * 1024 * 1024;

export const Opcode = {
  ERROR: 0x00,
  STARTUP: 0x01,
  READY: 0x02,
  AUTHENTICATE: 0x03,
  OPTIONS: 0x05,
  SUPPORTED: 0x06,
  QUERY: 0x07,
  RESULT: 0x08,
  PREPARE: 0x09,
  EXECUTE: 0x0a,
  REGISTER: 0x0b,
  EVENT: 0x0c,
  BATCH: 0x0d,
  AUTH_CHALLENGE: 0x0e,
  AUTH_RESPONSE: 0x0f,
  AUTH_SUCCESS: 0x10,
} as const;

export const OPCODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Opcode).map(([k, v]) => [v, k.toLowerCase()]),
);

export const FrameFlag = {
  COMPRESSION: 0x01,
  TRACING: 0x02,
  CUSTOM_PAYLOAD: 0x04,
  WARNING: 0x08,
  USE_BETA: 0x10,
} as const;

export const ErrorCode = {
  SERVER_ERROR: 0x0000,
  PROTOCOL_ERROR: 0x000a,
  BAD_CREDENTIALS: 0x0100,
  UNAVAILABLE: 0x1000,
  OVERLOADED: 0x1001,
  IS_BOOTSTRAPPING: 0x1002,
  TRUNCATE_ERROR: 0x1003,
  WRITE_TIMEOUT: 0x1100,
  READ_TIMEOUT: 0x1200,
  SYNTAX_ERROR: 0x2000,
  UNAUTHORIZED: 0x2100,
  INVALID: 0x2200,
  CONFIG_ERROR: 0x2300,
  ALREADY_EXISTS: 0x2400,
  UNPREPARED: 0x2500,
} as const;

export interface Frame {
  /** Version byte without the direction bit. */
  version: number;
  /** True for server-to-client frames. */
  response: boolean;
  flags: number;
  stream: number;
  opcode: number;
  /** Body bytes (a view into the received chunk). */
  body: Buffer;
  /** Header + body as received, contiguous (forwarded as is when nothing changes). */
  raw: Buffer;
}

/** Build one contiguous frame buffer (header + body) so it goes out in a single write. */
export function encodeFrame(
  version: number,
  response: boolean,
  flags: number,
  stream: number,
  opcode: number,
  body: Buffer,
): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out[0] = (version & 0x7f) | (response ? 0x80 : 0);
  out[1] = flags;
  out.writeInt16BE(stream, 2);
  out[4] = opcode;
  out.writeUInt32BE(body.length, 5);
  body.copy(out, HEADER_LENGTH);
  return out;
}

export class FrameError extends Error {}

/**
 * Received chunks, kept as a list and only concatenated when a unit (frame, segment) spans
 * them, so large bursts of small units are sliced without copying.
 */
export class ChunkQueue {
  private chunks: Buffer[] = [];
  /** Bytes held. */
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first chunk, made at least `min` bytes long (the caller checked `length`). */
  head(min: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= min) return first;
    let size = 0;
    let n = 0;
    while (size < min) size += this.chunks[n++]!.length;
    const merged = Buffer.concat(this.chunks.slice(0, n), size);
    this.chunks.splice(0, n, merged);
    return merged;
  }

  /** Remove the first `n` bytes (the caller checked `length`), contiguous. */
  take(n: number): Buffer {
    const head = this.head(n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.length -= n;
    return head.subarray(0, n);
  }

  /** Everything held, removed. */
  takeAll(): Buffer {
    const all = Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    this.length = 0;
    return all;
  }
}

/** Incremental frame cutter. Chunks are appended; complete frames come out. */
export class FrameReader {
  private readonly queue = new ChunkQueue();
  private stopped = false;

  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    const q = this.queue;
    q.push(chunk);
    for (;;) {
      if (this.stopped || q.length < HEADER_LENGTH) return;
      const bodyLength = q.head(HEADER_LENGTH).readUInt32BE(5);
      if (bodyLength > MAX_BODY_LENGTH) throw new FrameError(`frame body too large: ${bodyLength}`);
      const total = HEADER_LENGTH + bodyLength;
      if (q.length < total) return;
      const frameBuf = q.take(total);
      const v = frameBuf[0]!;
      onFrame({
        version: v & 0x7f,
        response: (v & 0x80) !== 0,
        flags: frameBuf[1]!,
        stream: frameBuf.readInt16BE(2),
        opcode: frameBuf[4]!,
        body: frameBuf.subarray(HEADER_LENGTH),
        raw: frameBuf,
      });
    }
  }

  /** Bytes received but not yet cut into frames. */
  get pending(): number {
    return this.queue.length;
  }

  /** Cut no more frames (the stream switches to segments after the frame being handled). */
  stop(): void {
    this.stopped = true;
  }

  /** The bytes received but not cut, handed over (see stop). */
  takeRest(): Buffer {
    return this.queue.takeAll();
  }
}

// ---------------------------------------------------------------------------
// Body primitives ([short], [int], [string], [bytes], ...).

export class BodyReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  /**
   * Lengths inside a body must fit in it: a malformed request is refused here rather than
   * forwarded (a cluster node may try to allocate what a bogus length claims).
   */
  private take(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.buf.length) throw new FrameError(`length ${n} at offset ${at} exceeds the body (${this.buf.length} bytes)`);
    this.pos += n;
    return at;
  }
  byte(): number {
    return this.buf[this.take(1)]!;
  }
  /** Throws when fixed-size fields skipped by hand ran past the end. */
  check(): void {
    this.take(0);
  }
  short(): number {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  long(): bigint {
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  string(): string {
    const n = this.short();
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }
  longString(): string {
    const n = this.int();
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }
  /** [bytes]: int length, negative = null. */
  bytes(): Buffer | null {
    const n = this.int();
    if (n < 0) return null;
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  /** [value]: like bytes but -2 means "unset". */
  skipValue(): void {
    const n = this.int();
    if (n > 0) this.take(n);
  }
  shortBytes(): Buffer {
    const n = this.short();
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  stringList(): string[] {
    const n = this.short();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.string());
    return out;
  }
  stringMap(): Record<string, string> {
    const n = this.short();
    const out: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const k = this.string();
      out[k] = this.string();
    }
    return out;
  }
  stringMultimap(): Record<string, string[]> {
    const n = this.short();
    const out: Record<string, string[]> = {};
    for (let i = 0; i < n; i++) {
      const k = this.string();
      out[k] = this.stringList();
    }
    return out;
  }
  skipBytesMap(): void {
    const n = this.short();
    for (let i = 0; i < n; i++) {
      this.string();
      this.bytes();
    }
  }
  inet(): { address: string; port: number } {
    const n = this.byte();
    const at = this.take(n);
    const raw = this.buf.subarray(at, at + n);
    const port = this.int();
    return { address: inetToString(raw), port };
  }
  rest(): Buffer {
    return this.buf.subarray(this.pos);
  }
}

export class BodyWriter {
  private parts: Buffer[] = [];
  private size = 0;
  raw(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  byte(v: number): this {
    return this.raw(Buffer.from([v & 0xff]));
  }
  short(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v, 0);
    return this.raw(b);
  }
  int(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    return this.raw(b);
  }
  long(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(v, 0);
    return this.raw(b);
  }
  string(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.short(b.length).raw(b);
  }
  longString(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.int(b.length).raw(b);
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int(-1);
    return this.int(b.length).raw(b);
  }
  shortBytes(b: Buffer): this {
    return this.short(b.length).raw(b);
  }
  stringList(l: string[]): this {
    this.short(l.length);
    for (const s of l) this.string(s);
    return this;
  }
  stringMap(m: Record<string, string>): this {
    const e = Object.entries(m);
    this.short(e.length);
    for (const [k, v] of e) this.string(k).string(v);
    return this;
  }
  stringMultimap(m: Record<string, string[]>): this {
    const e = Object.entries(m);
    this.short(e.length);
    for (const [k, v] of e) this.string(k).stringList(v);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

export function inetToString(raw: Buffer): string {
  if (raw.length === 4) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < raw.length; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export function inetToBytes(address: string): Buffer {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) return Buffer.from([+v4[1]!, +v4[2]!, +v4[3]!, +v4[4]!]);
  // IPv6: expand "::" then pack 8 groups.
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

/** An ERROR body: [int code][string message] + code-specific extras. */
export function errorBody(code: number, message: string, extra?: Buffer): Buffer {
  const w = new BodyWriter().int(code).string(message);
  if (extra) w.raw(extra);
  return w.build();
}

export function parseError(body: Buffer): { code: number; message: string; reader: BodyReader } {
  const r = new BodyReader(body);
  const code = r.int();
  const message = r.string();
  return { code, message, reader: r };
}

/**
 * Skip the response body prefixes that flags announce (tracing id, warnings, custom payload)
 * and return the offset where the message proper starts.
 */
export function responseBodyStart(flags: number, body: Buffer): number {
  const r = new BodyReader(body);
  if (flags & FrameFlag.TRACING) r.pos += 16;
  if (flags & FrameFlag.WARNING) r.stringList();
  if (flags & FrameFlag.CUSTOM_PAYLOAD) r.skipBytesMap();
  return r.pos;
}

/** Same for request bodies: only the custom payload precedes a request message. */
export function requestBodyStart(flags: number, body: Buffer): number {
  if (!(flags & FrameFlag.CUSTOM_PAYLOAD)) return 0;
  const r = new BodyReader(body);
  r.skipBytesMap();
  return r.pos;
}

/** Give a received frame another stream id, in place (relaying a cluster's answer unchanged). */
export function setStreamId(raw: Buffer, stream: number): Buffer {
  raw.writeInt16BE(stream, 2);
  return raw;
}

/** The [int] code of an ERROR response. */
export function responseErrorCode(f: Frame): number {
  return f.body.readInt32BE(responseBodyStart(f.flags, f.body));
}

/** The error of an ERROR response, its code-specific extras left in `reader`. */
export function responseError(f: Frame): { code: number; message: string; reader: BodyReader } {
  return parseError(f.body.subarray(responseBodyStart(f.flags, f.body)));
}

/** The event type ([string]) of an EVENT frame. */
export function eventType(f: Frame): string {
  return new BodyReader(f.body.subarray(responseBodyStart(f.flags, f.body))).string();
}
