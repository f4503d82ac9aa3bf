// One client connection: frames in, dispatched to the handshake, to request rewriting and to
// routing; its own connections to the source and the target live in ClusterLinks.

import type net from 'node:net';
import { BodyWriter, ErrorCode, FrameFlag, Opcode, eventType, requestBodyStart, type Frame } from './frame.js';
import { WireReader } from './segment.js';
import { decompress } from './compress.js';
import { ClusterLinks } from './cluster-links.js';
import { Handshake } from './handshake.js';
import { ClientReplies } from './replies.js';
import { RequestMetrics } from './request-metrics.js';
import { Router } from './routing.js';
import { UnknownPreparedError, rewriteBatch, rewriteExecute, rewriteQuery, type Received, type RewriteContext } from './rewrite.js';
import type { ConnectionState, ProxyContext } from './context.js';

export class ClientSession {
  private readonly reader = new WireReader();
  private readonly state: ConnectionState = { version: 0, keyspace: null, closed: false };
  private readonly replies: ClientReplies;
  private readonly links: ClusterLinks;
  private readonly handshake: Handshake;
  private readonly router: Router;
  private readonly metrics: RequestMetrics;

  constructor(
    private readonly sock: net.Socket,
    private readonly ctx: ProxyContext,
  ) {
    sock.setNoDelay(true);
    const local = ctx.settings.advertise ?? {
      address: (sock.localAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      port: sock.localPort ?? 29042,
    };
    this.metrics = new RequestMetrics(ctx.metrics);
    this.links = new ClusterLinks(ctx, this.state, {
      pause: () => sock.pause(),
      resume: () => sock.resume(),
      sourceLost: () => sock.destroy(),
    });
    this.replies = new ClientReplies(sock, this.state, () => this.links.pauseClusters());
    const segments = (lz4: boolean): void => {
      this.reader.useSegments(lz4);
      this.replies.useSegments(lz4);
    };
    this.handshake = new Handshake(ctx, this.state, this.links, this.replies, (ev) => this.onEvent(ev), segments);
    this.router = new Router(ctx, this.state, this.links, this.replies, this.metrics, local);
    ctx.metrics.connections.inc();
    sock.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (f) => this.onFrame(f));
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message }, 'cql-proxy: dropping client connection');
        sock.destroy();
      }
    });
    sock.on('drain', () => this.links.resumeClusters());
    sock.on('error', () => {});
    sock.on('close', () => void this.cleanup(ctx.settings.targetTimeoutMs));
  }

  private onFrame(f: Frame): void {
    if (f.response) throw new Error('client sent a response frame');
    if (!this.handshake.acceptVersion(f)) return;
    let body = f.body;
    let raw: Buffer | undefined = f.raw;
    if (f.flags & FrameFlag.COMPRESSION) {
      if (!this.replies.compression) {
        this.replies.error(f.stream, ErrorCode.PROTOCOL_ERROR, 'compressed frame without negotiated compression');
        return;
      }
      body = decompress(this.replies.compression, body);
      raw = undefined;
    }
    const flags = f.flags & ~FrameFlag.COMPRESSION;
    switch (f.opcode) {
      case Opcode.OPTIONS:
        return this.handshake.options(f.stream);
      case Opcode.STARTUP:
        return void this.handshake.startup(f.stream, body);
      case Opcode.AUTH_RESPONSE:
        return this.handshake.authResponse(f.stream, body);
      case Opcode.REGISTER:
        return this.register(f.stream, flags, body);
      case Opcode.QUERY:
      case Opcode.PREPARE:
      case Opcode.EXECUTE:
      case Opcode.BATCH:
        if (!this.links.source) return this.replies.error(f.stream, ErrorCode.PROTOCOL_ERROR, 'STARTUP first');
        return this.request(f.stream, f.opcode, flags, body, raw && flags === f.flags ? raw : undefined);
      default:
        this.replies.error(f.stream, ErrorCode.PROTOCOL_ERROR, `unexpected opcode ${f.opcode}`);
    }
  }

  private onEvent(ev: Frame): void {
    // Schema changes are relayed; topology and status events name the cluster's nodes,
    // which the client must not learn about (it would connect around the proxy).
    if (eventType(ev) === 'SCHEMA_CHANGE') this.replies.relay(-1, ev);
  }

  /** REGISTER goes to the source only: its events come back on the source connection. */
  private register(stream: number, flags: number, body: Buffer): void {
    const source = this.links.source;
    if (!source) return this.replies.error(stream, ErrorCode.PROTOCOL_ERROR, 'STARTUP first');
    const t0 = process.hrtime.bigint();
    source.send(Opcode.REGISTER, flags, body, (res) => {
      this.metrics.observe(Opcode.REGISTER, 'register', t0, 0n);
      if (res instanceof Error) this.replies.failure(stream, 'source', res);
      else this.replies.relay(stream, res);
    });
  }

  private request(stream: number, opcode: number, flags: number, fullBody: Buffer, raw: Buffer | undefined): void {
    const t0 = process.hrtime.bigint();
    const start = requestBodyStart(flags, fullBody);
    // The custom payload (rare) is dropped: the proxy's rewrites work on the message.
    const r: Received = {
      stream,
      flags: start ? flags & ~FrameFlag.CUSTOM_PAYLOAD : flags,
      body: start ? fullBody.subarray(start) : fullBody,
      raw: start ? undefined : raw,
      t0,
    };
    const ctx: RewriteContext = { version: this.state.version, prepared: this.ctx.prepared, keepReadValues: this.ctx.settings.mirrorReads > 0 };
    try {
      switch (opcode) {
        case Opcode.QUERY:
          return this.router.route(rewriteQuery(ctx, r));
        case Opcode.PREPARE:
          return this.router.prepare(stream, r.flags, r.body, t0);
        case Opcode.EXECUTE:
          return this.router.route(rewriteExecute(ctx, r));
        case Opcode.BATCH:
          return this.router.route(rewriteBatch(ctx, r));
      }
    } catch (err) {
      if (err instanceof UnknownPreparedError) {
        // The proxy never saw this id prepared (e.g. it restarted): make the driver re-prepare.
        return this.replies.error(stream, ErrorCode.UNPREPARED, err.message, new BodyWriter().shortBytes(err.id).build());
      }
      this.replies.error(stream, ErrorCode.PROTOCOL_ERROR, `cql-proxy: cannot decode request: ${(err as Error).message}`);
    }
  }

  /** Closes the cluster links (see ClusterLinks.close); settles when they are closed. */
  private cleanup(graceMs: number): Promise<void> {
    if (!this.state.closed) {
      this.state.closed = true;
      this.ctx.metrics.connections.dec();
    }
    return this.links.close(graceMs);
  }

  /** Bytes this session holds in socket buffers (both directions, all its sockets). */
  bufferedBytes(): number {
    return this.sock.writableLength + this.sock.readableLength + this.reader.pending + this.replies.queued + this.links.bufferedBytes();
  }

  /** Drops the client connection and closes the cluster connections (see cleanup). */
  close(graceMs: number): Promise<void> {
    this.sock.destroy();
    return this.cleanup(graceMs);
  }
}
