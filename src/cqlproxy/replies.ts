// Answers to the client: frames written corked per event-loop turn, compressed as negotiated,
// cluster answers relayed with their own bytes where possible, and cluster failures shaped as
// the CQL errors drivers know how to retry.

import type net from 'node:net';
import { BodyWriter, ErrorCode, FrameFlag, Opcode, encodeFrame, errorBody, setStreamId, type Frame } from './frame.js';
import { RequestTimeoutError } from './backend.js';
import { batchType, consistencyAt } from './messages.js';
import { compress, type Compression } from './compress.js';
import { WireWriter } from './segment.js';
import type { ConnectionState } from './context.js';
import type { ProxyRequest, Which } from './request.js';

/** Write types of WRITE_TIMEOUT by batch type (logged, unlogged, counter). */
const BATCH_WRITE_TYPES = ['BATCH', 'UNLOGGED_BATCH', 'COUNTER'];
/** Bodies below this size are not worth compressing. */
const COMPRESS_MIN_BYTES = 64;

export class ClientReplies {
  /** Frame body compression (v3/v4; v5 compresses segments instead). */
  compression: Compression | undefined;
  private corked = false;
  private readonly wire: WireWriter;

  constructor(
    private readonly sock: net.Socket,
    private readonly state: ConnectionState,
    /** Called when the client's socket buffer is full (it does not read fast enough). */
    onFull: () => void,
  ) {
    this.wire = new WireWriter((buf) => this.corkedWrite(buf), onFull);
  }

  /** v5 after the answer to STARTUP: frames go out in segments, LZ4-compressed if negotiated. */
  useSegments(lz4: boolean): void {
    this.wire.useSegments(lz4);
  }

  /** Bytes waiting for the next segment flush. */
  get queued(): number {
    return this.wire.queued;
  }

  /** One complete frame to the client. */
  write(frame: Buffer): void {
    if (this.state.closed) return;
    this.wire.send(frame);
  }

  private corkedWrite(buf: Buffer): boolean {
    if (this.state.closed) return true;
    if (!this.corked) {
      // Coalesce all answers produced in this turn of the event loop into one syscall.
      this.corked = true;
      this.sock.cork();
      setImmediate(this.uncork);
    }
    return this.sock.write(buf);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.sock.uncork();
  };

  reply(stream: number, opcode: number, body: Buffer, flags = 0): void {
    const v = this.state.version;
    if (this.compression && body.length > COMPRESS_MIN_BYTES) {
      this.write(encodeFrame(v, true, flags | FrameFlag.COMPRESSION, stream, opcode, compress(this.compression, body)));
    } else {
      this.write(encodeFrame(v, true, flags, stream, opcode, body));
    }
  }

  /** Relay a cluster's answer, reusing its bytes when no compression is involved. */
  relay(stream: number, res: Frame, body?: Buffer): void {
    if (body === undefined && !this.compression) {
      this.write(setStreamId(res.raw, stream));
      return;
    }
    this.reply(stream, res.opcode, body ?? res.body, res.flags & ~FrameFlag.COMPRESSION);
  }

  error(stream: number, code: number, message: string, extra?: Buffer): void {
    this.reply(stream, Opcode.ERROR, errorBody(code, message, extra));
  }

  /** A cluster did not answer: a timeout shaped as the replicas' timeout, anything else a server error. */
  failure(stream: number, which: Which, err: Error, req?: ProxyRequest): void {
    const message = `cql-proxy: ${which} cluster: ${err.message}`;
    if (!(err instanceof RequestTimeoutError) || !req || req.kind === 'ddl' || req.kind === 'use') {
      return this.error(stream, ErrorCode.SERVER_ERROR, message);
    }
    // A cluster that does not answer in time looks to the client like replicas that did not:
    // drivers' retry policies then treat it as they would (writes are not retried blindly).
    const w = new BodyWriter().short(consistencyAt(req.body, req.consistencyPos)).int(0).int(1);
    if (req.kind === 'write') {
      const type = req.opcode === Opcode.BATCH ? BATCH_WRITE_TYPES[batchType(req.body)] ?? 'BATCH' : 'SIMPLE';
      this.error(stream, ErrorCode.WRITE_TIMEOUT, message, w.string(type).build());
    } else this.error(stream, ErrorCode.READ_TIMEOUT, message, w.byte(0).build());
  }
}
