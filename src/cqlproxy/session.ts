// One client connection: its own connection to the source and to the target, routing,
// prepared-id translation, the failure policy and mirrored-read comparison.

import type net from 'node:net';
import {
  BodyReader,
  BodyWriter,
  ErrorCode,
  FrameFlag,
  FrameReader,
  OPCODE_NAMES,
  Opcode,
  encodeFrame,
  errorBody,
  parseError,
  requestBodyStart,
  responseBodyStart,
  type Frame,
} from './frame.js';
import {
  BackendConnection,
  NotSentError,
  RequestTimeoutError,
  handshake,
  plainToken,
  type BackendTls,
  type Endpoint,
} from './backend.js';
import {
  classify,
  hasNonDeterministic,
  ndLiteral,
  nextTimestampMicros,
  substituteNonDeterministic,
  type Classified,
} from './classify.js';
import {
  QueryFlag,
  ResultKind,
  bindsRepeatingType,
  parseBatch,
  parseExecuteHead,
  parsePreparedResult,
  parseQuery,
  parseQueryParams,
  replaceLongString,
  replaceShortBytes,
  resultKind,
  rowsDigest,
  withTimestamp,
  type BatchRequest,
} from './messages.js';
import { hideNdMarkers, rewriteNdQuery, spliceNdValues } from './nd.js';
import type { PreparedEntry, PreparedRegistry } from './prepared.js';
import type { FailedWriteLog } from './failedlog.js';
import type { ReadReportLog } from './readreport.js';
import type { ProxyMetrics } from './metrics.js';
import { compress, decompress, supportedCompressions, type Compression } from './compress.js';
import { rewriteSystemResult, supportedBody } from './system.js';

export interface Logger {
  info(o: object | string, msg?: string): void;
  warn(o: object | string, msg?: string): void;
  error(o: object | string, msg?: string): void;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ProxySettings {
  source: Endpoint[];
  target: Endpoint[];
  sourceTls?: BackendTls | undefined;
  targetTls?: BackendTls | undefined;
  /** Used for the target; without them the client's own credentials are tried. */
  targetCredentials?: Credentials | undefined;
  wait: boolean;
  onTargetFailure: 'fail' | 'log';
  requestTimeoutMs: number;
  targetTimeoutMs: number;
  /** Fraction of reads mirrored to the target (0 = none). */
  mirrorReads: number;
  advertise?: { address: string; port: number } | undefined;
  datacenter?: string | undefined;
  cqlVersion: string;
}

export interface ProxyContext {
  settings: ProxySettings;
  prepared: PreparedRegistry;
  metrics: ProxyMetrics;
  failedLog: FailedWriteLog;
  readReport: ReadReportLog;
  logger: Logger;
  /** Round-robin start index for multi-host lists. */
  pick(which: 'source' | 'target'): Endpoint[];
}

type Which = 'source' | 'target';
type Result = Frame | Error;

interface Req {
  stream: number;
  opcode: number;
  kind: string;
  t0: bigint;
  procNs: bigint;
  cls: Classified;
  /** Body (without custom payload) as sent to the source, with client-visible ids. */
  body: Buffer;
  flags: number;
  /** Client frame, forwarded untouched to the source when `body` was not rewritten. */
  raw?: Buffer | undefined;
  entries: PreparedEntry[];
  build(which: Which): Buffer;
  src?: Result;
  tgt?: Result | null;
  answered: boolean;
  retries: number;
  /** Offset of the [consistency] in body, for timeout errors. */
  clPos: number;
  /** A following page (the request carries a paging state). */
  paged?: boolean;
  values?: string[];
}

const TARGET_RETRY_MS = 2000;
const TARGET_STARTUP_WAIT_MS = 1000;
/** Write types of WRITE_TIMEOUT by batch type (logged, unlogged, counter). */
const BATCH_WRITE_TYPES = ['BATCH', 'UNLOGGED_BATCH', 'COUNTER'];
const BATCH_TYPE_COUNTER = 2;
const WRITE_FAILURE = 0x1500;

function errorCodeOf(f: Frame): number {
  const start = responseBodyStart(f.flags, f.body);
  return f.body.readInt32BE(start);
}

function isError(r: Result | null | undefined): boolean {
  return r instanceof Error || (r !== undefined && r !== null && r.opcode === Opcode.ERROR);
}

function describe(r: Result | null | undefined): string {
  if (!r) return 'no response';
  if (r instanceof Error) return r.message;
  if (r.opcode !== Opcode.ERROR) return 'ok';
  const e = parseError(r.body.subarray(responseBodyStart(r.flags, r.body)));
  return `error 0x${e.code.toString(16).padStart(4, '0')}: ${e.message}`;
}

export class ClientSession {
  private version = 0;
  private readonly reader = new FrameReader();
  private compression: Compression | undefined;
  private source: BackendConnection | undefined;
  private target: BackendConnection | undefined;
  private targetConnecting: Promise<void> | undefined;
  private startupBody: Buffer | undefined;
  private clientToken: Buffer | undefined;
  private tokenWaiters: Array<(t: Buffer | undefined) => void> = [];
  private keyspace: string | null = null;
  private closed = false;
  private corked = false;
  private congestedBackends = 0;
  private clientPausedAt = 0;
  private backendsPausedAt = 0;
  private readonly local: { address: string; port: number };
  /** Every cluster connection of this session, connecting or open, so closing reaches them all. */
  private readonly backends = new Set<BackendConnection>();

  constructor(
    private readonly sock: net.Socket,
    private readonly ctx: ProxyContext,
  ) {
    sock.setNoDelay(true);
    this.local = ctx.settings.advertise ?? {
      address: (sock.localAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      port: sock.localPort ?? 29042,
    };
    ctx.metrics.connections.inc();
    sock.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (f) => this.onFrame(f));
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message }, 'cql-proxy: dropping client connection');
        sock.destroy();
      }
    });
    sock.on('drain', () => this.onClientDrain());
    sock.on('error', () => {});
    sock.on('close', () => void this.cleanup(ctx.settings.targetTimeoutMs));
  }

  // ------------------------------------------------------------------ client side

  private onFrame(f: Frame): void {
    if (f.response) throw new Error('client sent a response frame');
    if (f.version !== this.version) {
      if (f.version !== 3 && f.version !== 4) {
        // v5 (cqlsh, Java driver 4) and anything else: answer like Cassandra does for an
        // unsupported version, so drivers retry with v4.
        const v = f.version > 4 ? 4 : Math.max(1, f.version);
        this.write(
          encodeFrame(v, true, 0, f.stream, Opcode.ERROR, errorBody(
            ErrorCode.PROTOCOL_ERROR,
            `Invalid or unsupported protocol version (${f.version}); supported versions are (3/v3, 4/v4)`,
          )),
        );
        return;
      }
      if (this.version !== 0) {
        this.replyError(f.stream, ErrorCode.PROTOCOL_ERROR, `protocol version changed from ${this.version} to ${f.version}`);
        return;
      }
      this.version = f.version;
    }
    let body = f.body;
    let raw: Buffer | undefined = f.raw;
    if (f.flags & FrameFlag.COMPRESSION) {
      if (!this.compression) {
        this.replyError(f.stream, ErrorCode.PROTOCOL_ERROR, 'compressed frame without negotiated compression');
        return;
      }
      body = decompress(this.compression, body);
      raw = undefined;
    }
    const flags = f.flags & ~FrameFlag.COMPRESSION;
    switch (f.opcode) {
      case Opcode.OPTIONS:
        this.reply(f.stream, Opcode.SUPPORTED, supportedBody(this.ctx.settings.cqlVersion, supportedCompressions()));
        return;
      case Opcode.STARTUP:
        void this.startup(f.stream, body);
        return;
      case Opcode.AUTH_RESPONSE:
        this.authResponse(f.stream, body);
        return;
      case Opcode.REGISTER:
        this.simpleForward(f.stream, f.opcode, flags, body, 'register');
        return;
      case Opcode.QUERY:
      case Opcode.PREPARE:
      case Opcode.EXECUTE:
      case Opcode.BATCH:
        if (!this.source) {
          this.replyError(f.stream, ErrorCode.PROTOCOL_ERROR, 'STARTUP first');
          return;
        }
        this.handleRequest(f.stream, f.opcode, flags, body, raw && flags === f.flags ? raw : undefined);
        return;
      default:
        this.replyError(f.stream, ErrorCode.PROTOCOL_ERROR, `unexpected opcode ${f.opcode}`);
    }
  }

  private write(buf: Buffer): void {
    if (this.closed) return;
    if (!this.corked) {
      // Coalesce all answers produced in this turn of the event loop into one syscall.
      this.corked = true;
      this.sock.cork();
      setImmediate(this.uncork);
    }
    if (!this.sock.write(buf) && !this.backendsPausedAt) {
      // The client does not read fast enough: stop reading the clusters' answers.
      this.backendsPausedAt = Date.now();
      this.source?.pause();
      this.target?.pause();
    }
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.sock.uncork();
  };

  private onClientDrain(): void {
    if (!this.backendsPausedAt) return;
    this.ctx.metrics.pausedSeconds.inc({ side: 'server' }, (Date.now() - this.backendsPausedAt) / 1000);
    this.backendsPausedAt = 0;
    this.source?.resume();
    this.target?.resume();
  }

  private onBackendCongested(): void {
    if (this.congestedBackends++ === 0) {
      this.clientPausedAt = Date.now();
      this.sock.pause();
    }
  }

  private onBackendDrain(): void {
    if (this.congestedBackends > 0 && --this.congestedBackends === 0) {
      this.ctx.metrics.pausedSeconds.inc({ side: 'client' }, (Date.now() - this.clientPausedAt) / 1000);
      this.sock.resume();
    }
  }

  private reply(stream: number, opcode: number, body: Buffer, flags = 0): void {
    if (this.compression && body.length > 64) {
      this.write(encodeFrame(this.version, true, flags | FrameFlag.COMPRESSION, stream, opcode, compress(this.compression, body)));
    } else {
      this.write(encodeFrame(this.version, true, flags, stream, opcode, body));
    }
  }

  /** Relay a cluster's answer, reusing its bytes when no compression is involved. */
  private relay(stream: number, res: Frame, body?: Buffer): void {
    if (body === undefined && !this.compression) {
      res.raw.writeInt16BE(stream, 2);
      this.write(res.raw);
      return;
    }
    this.reply(stream, res.opcode, body ?? res.body, res.flags & ~FrameFlag.COMPRESSION);
  }

  private replyError(stream: number, code: number, message: string, extra?: Buffer): void {
    this.reply(stream, Opcode.ERROR, errorBody(code, message, extra));
  }

  private replyFailure(stream: number, which: Which, err: Error, req?: Req): void {
    const message = `cql-proxy: ${which} cluster: ${err.message}`;
    if (!(err instanceof RequestTimeoutError) || !req || req.cls.kind === 'ddl' || req.cls.kind === 'use') {
      return this.replyError(stream, ErrorCode.SERVER_ERROR, message);
    }
    // A cluster that does not answer in time looks to the client like replicas that did not:
    // drivers' retry policies then treat it as they would (writes are not retried blindly).
    const consistency = req.clPos >= 0 && req.clPos + 2 <= req.body.length ? req.body.readUInt16BE(req.clPos) : 0x0001;
    const w = new BodyWriter().short(consistency).int(0).int(1);
    if (req.cls.kind === 'write') {
      const type = req.opcode === Opcode.BATCH ? BATCH_WRITE_TYPES[req.body[0]!] ?? 'BATCH' : 'SIMPLE';
      this.replyError(stream, ErrorCode.WRITE_TIMEOUT, message, w.string(type).build());
    } else this.replyError(stream, ErrorCode.READ_TIMEOUT, message, w.byte(0).build());
  }

  // ------------------------------------------------------------------ startup and auth

  private async startup(stream: number, body: Buffer): Promise<void> {
    let opts: Record<string, string>;
    try {
      opts = new BodyReader(body).stringMap();
    } catch {
      // Thrown here it would be an unhandled rejection, which ends the process.
      return this.replyError(stream, ErrorCode.PROTOCOL_ERROR, 'cql-proxy: cannot decode STARTUP');
    }
    let comp: Compression | undefined;
    const asked = Object.entries(opts).find(([k]) => k.toUpperCase() === 'COMPRESSION');
    if (asked) {
      const c = asked[1].toLowerCase();
      if (!(supportedCompressions() as string[]).includes(c)) {
        this.replyError(stream, ErrorCode.PROTOCOL_ERROR, `Unsupported compression: ${asked[1]}`);
        return;
      }
      comp = c as Compression;
      delete opts[asked[0]];
    }
    // The links to the clusters stay uncompressed: the proxy has to read most bodies anyway.
    this.startupBody = new BodyWriter().stringMap(opts).build();
    try {
      this.source = await this.openBackend('source');
    } catch (err) {
      this.replyFailure(stream, 'source', err as Error);
      return;
    }
    this.source.on('event', (ev: Frame) => this.onEvent(ev));
    this.source.on('close', () => {
      // Without its source connection the client connection is useless: let the driver reconnect.
      if (!this.closed) this.sock.destroy();
    });
    this.startTargetConnect(false);
    this.source.send(Opcode.STARTUP, 0, this.startupBody, async (res) => {
      if (res instanceof Error) return this.replyFailure(stream, 'source', res);
      if (res.opcode === Opcode.READY) {
        this.resolveToken(undefined);
        await this.targetReady();
        this.relay(stream, res);
        this.compression = comp;
      } else {
        this.relay(stream, res);
        // Compression starts after the answer to STARTUP, so AUTH_RESPONSE may come compressed.
        if (res.opcode === Opcode.AUTHENTICATE) this.compression = comp;
      }
    });
  }

  /**
   * Give the target connection a moment before READY, so the first writes reach it; a target that
   * hangs must not keep clients from connecting (drivers give up after about 5 s).
   */
  private async targetReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.targetConnecting?.catch(() => {}),
      new Promise((resolve) => (timer = setTimeout(resolve, TARGET_STARTUP_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  private authResponse(stream: number, body: Buffer): void {
    if (!this.source) return this.replyError(stream, ErrorCode.PROTOCOL_ERROR, 'STARTUP first');
    const token = new BodyReader(body).bytes();
    if (token) this.resolveToken(Buffer.from(token));
    this.source.send(Opcode.AUTH_RESPONSE, 0, body, async (res) => {
      if (res instanceof Error) return this.replyFailure(stream, 'source', res);
      if (res.opcode === Opcode.AUTH_SUCCESS) {
        this.resolveToken(undefined);
        await this.targetReady();
        this.relay(stream, res);
      } else this.relay(stream, res);
    });
  }

  private tokenSettled = false;

  private resolveToken(t: Buffer | undefined): void {
    if (t) this.clientToken = t;
    else this.tokenSettled = true;
    for (const w of this.tokenWaiters.splice(0)) w(t);
  }

  private waitToken(): Promise<Buffer | undefined> {
    const creds = this.ctx.settings.targetCredentials;
    if (creds) return Promise.resolve(plainToken(creds.username, creds.password));
    if (this.clientToken || this.tokenSettled) return Promise.resolve(this.clientToken);
    return new Promise((resolve) => this.tokenWaiters.push(resolve));
  }

  private async openBackend(which: Which): Promise<BackendConnection> {
    const s = this.ctx.settings;
    let lastErr: Error | undefined;
    for (const ep of this.ctx.pick(which)) {
      const conn = new BackendConnection(
        which,
        ep,
        this.version,
        which === 'source' ? s.requestTimeoutMs : s.targetTimeoutMs,
        which === 'source' ? s.sourceTls : s.targetTls,
      );
      this.backends.add(conn);
      conn.on('close', () => this.backends.delete(conn));
      try {
        await conn.connect();
      } catch (err) {
        this.backends.delete(conn);
        lastErr = err as Error;
        if (this.closed) break;
        continue;
      }
      conn.on('congested', () => this.onBackendCongested());
      conn.on('drain', () => this.onBackendDrain());
      conn.on('close', () => {
        if (conn.congested) this.onBackendDrain();
      });
      return conn;
    }
    throw lastErr ?? new Error(`no ${which} hosts`);
  }

  private async connectTarget(): Promise<void> {
    const conn = await this.openBackend('target');
    try {
      await handshake(conn, new BodyReader(this.startupBody!).stringMap(), () => this.waitToken());
      if (this.keyspace) {
        const use = await conn.request(Opcode.QUERY, queryBody(`USE "${this.keyspace.replace(/"/g, '""')}"`));
        if (use.opcode === Opcode.ERROR) throw new Error(describe(use));
      }
    } catch (err) {
      conn.close();
      throw err;
    }
    if (this.closed) {
      conn.close();
      return;
    }
    conn.on('close', (err: Error) => {
      if (this.target === conn) {
        this.target = undefined;
        if (!this.closed) {
          this.ctx.logger.warn({ err: err.message }, 'cql-proxy: target connection lost');
          this.scheduleTargetRetry(200);
        }
      }
    });
    if (this.backendsPausedAt) conn.pause();
    this.target = conn;
  }

  /** The target connection, or undefined while it is down (a reconnect is then under way). */
  private targetConn(): BackendConnection | undefined {
    if (this.target) return this.target;
    if (!this.retryTimer && !this.reconnecting) this.scheduleTargetRetry(0);
    return undefined;
  }

  private retryTimer: NodeJS.Timeout | undefined;
  private reconnecting = false;

  /** Keep trying the target in the background, so writes reach it again as soon as it is back. */
  private scheduleTargetRetry(delay = TARGET_RETRY_MS): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.target) return;
      this.startTargetConnect(true);
    }, delay);
    this.retryTimer.unref();
  }

  /** One target connection attempt at a time; a failed one schedules the next. */
  private startTargetConnect(retry: boolean): void {
    this.reconnecting = true;
    this.targetConnecting = this.connectTarget().then(
      () => {
        this.reconnecting = false;
        if (retry) this.ctx.logger.info({}, 'cql-proxy: target connection restored');
      },
      (err: Error) => {
        this.reconnecting = false;
        this.ctx.logger.warn({ err: err.message }, 'cql-proxy: target unavailable');
        this.scheduleTargetRetry();
      },
    );
  }

  private onEvent(ev: Frame): void {
    // Schema changes are relayed; topology and status events name the cluster's nodes,
    // which the client must not learn about (it would connect around the proxy).
    const start = responseBodyStart(ev.flags, ev.body);
    const type = new BodyReader(ev.body.subarray(start)).string();
    if (type === 'SCHEMA_CHANGE') this.relay(-1, ev);
  }

  private simpleForward(stream: number, opcode: number, flags: number, body: Buffer, kind: string): void {
    if (!this.source) return this.replyError(stream, ErrorCode.PROTOCOL_ERROR, 'STARTUP first');
    const t0 = process.hrtime.bigint();
    this.source.send(opcode, flags, body, (res) => {
      this.observe(opcode, kind, t0, 0n);
      if (res instanceof Error) this.replyFailure(stream, 'source', res);
      else this.relay(stream, res);
    });
  }

  // ------------------------------------------------------------------ requests

  private handleRequest(stream: number, opcode: number, flags: number, fullBody: Buffer, raw: Buffer | undefined): void {
    const t0 = process.hrtime.bigint();
    const start = requestBodyStart(flags, fullBody);
    // The custom payload (rare) is kept only for the source; the proxy's rewrites work on the message.
    let body = start ? fullBody.subarray(start) : fullBody;
    const fwdFlags = start ? flags & ~FrameFlag.CUSTOM_PAYLOAD : flags;
    if (start) raw = undefined;
    try {
      switch (opcode) {
        case Opcode.QUERY:
          return this.onQuery(stream, fwdFlags, body, raw, t0);
        case Opcode.PREPARE:
          return this.onPrepare(stream, fwdFlags, body, t0);
        case Opcode.EXECUTE:
          return this.onExecute(stream, fwdFlags, body, raw, t0);
        case Opcode.BATCH:
          return this.onBatch(stream, fwdFlags, body, raw, t0);
      }
    } catch (err) {
      body = Buffer.alloc(0);
      this.replyError(stream, ErrorCode.PROTOCOL_ERROR, `cql-proxy: cannot decode request: ${(err as Error).message}`);
    }
  }

  private newReq(stream: number, opcode: number, flags: number, body: Buffer, raw: Buffer | undefined, cls: Classified, t0: bigint, entries: PreparedEntry[], build: (w: Which) => Buffer, clPos: number): Req {
    return { stream, opcode, kind: cls.kind, t0, procNs: 0n, cls, body, flags, raw, entries, build, answered: false, retries: 0, clPos };
  }

  private onQuery(stream: number, flags: number, body: Buffer, raw: Buffer | undefined, t0: bigint): void {
    const q = parseQuery(body, 0);
    const cls = classify(q.query);
    if (cls.kind === 'write') {
      let b = body;
      let params = q.params;
      if (hasNonDeterministic(q.query)) {
        const now = Date.now();
        const sub = substituteNonDeterministic(q.query, (fn) => ndLiteral(fn, now));
        b = replaceLongString(body, 0, q.paramsPos, sub.text);
        params = parseQueryParams(b, 4 + Buffer.byteLength(sub.text));
      }
      if (params.timestamp === undefined) b = withTimestamp(b, params.flagsPos, params.timestampPos, nextTimestampMicros());
      if (b !== body) raw = undefined;
      const final = b;
      const req = this.newReq(stream, Opcode.QUERY, flags, final, raw, cls, t0, [], () => this.frame(Opcode.QUERY, flags, final), params.flagsPos - 2);
      return this.dual(req);
    }
    const build = (w: Which): Buffer => (w === 'source' && raw ? raw : this.frame(Opcode.QUERY, flags, body));
    const req = this.newReq(stream, Opcode.QUERY, flags, body, raw, cls, t0, [], build, q.params.flagsPos - 2);
    if (cls.kind === 'read' || cls.kind === 'system') return this.read(req, q.params.hasPagingState);
    return this.dual(req); // ddl, use
  }

  private frame(opcode: number, flags: number, body: Buffer): Buffer {
    return encodeFrame(this.version, false, flags, 0, opcode, body);
  }

  private onPrepare(stream: number, flags: number, body: Buffer, t0: bigint): void {
    const r = new BodyReader(body);
    const original = r.longString();
    const cls = classify(original);
    const rw = cls.kind === 'write' && hasNonDeterministic(original) ? rewriteNdQuery(original) : undefined;
    const sendBody = rw ? Buffer.concat([queryBodyText(rw.query), r.rest()]) : body;
    const keyspace = this.keyspace;
    const tgt = this.targetConn();
    let src: Result | undefined;
    let tres: Result | null | undefined = tgt ? undefined : null;
    const done = (): void => {
      if (src === undefined || tres === undefined) return;
      this.observe(Opcode.PREPARE, cls.kind, t0, 0n);
      if (src instanceof Error) return this.replyFailure(stream, 'source', src);
      if (src.opcode !== Opcode.RESULT) return this.relay(stream, src);
      const start = responseBodyStart(src.flags, src.body);
      const p = parsePreparedResult(src.body, start);
      const entry = this.ctx.prepared.add({
        clientId: p.id,
        clientHex: p.id.toString('hex'),
        query: rw ? rw.query : original,
        originalQuery: original,
        keyspace,
        cls,
        sourceId: p.id,
        ...(rw ? { nd: rw.nd, markerCount: rw.markerCount } : {}),
        ...(cls.increment === 'repeats' || (cls.increment === 'marker' && bindsRepeatingType(src.body, p.metaPos, this.version))
          ? { repeats: true }
          : {}),
      });
      if (tres && !(tres instanceof Error) && tres.opcode === Opcode.RESULT) {
        const ts = responseBodyStart(tres.flags, tres.body);
        this.ctx.prepared.setTarget(entry, parsePreparedResult(tres.body, ts).id);
      } else if (tres) this.countError('target', Opcode.PREPARE, cls.kind, tres);
      if (rw) this.relay(stream, src, hideNdMarkers(src.body, p.metaPos, rw.nd, this.version));
      else this.relay(stream, src);
    };
    this.source!.send(Opcode.PREPARE, flags, sendBody, (res) => {
      src = res;
      done();
    });
    if (tgt) {
      tgt.send(Opcode.PREPARE, flags, sendBody, (res) => {
        tres = res;
        done();
      });
    }
  }

  private unknownPrepared(stream: number, id: Buffer): void {
    // The proxy never saw this id prepared (e.g. it restarted): make the driver re-prepare.
    this.replyError(stream, ErrorCode.UNPREPARED, `cql-proxy: unknown prepared statement ${id.toString('hex')}`, new BodyWriter().shortBytes(id).build());
  }

  private onExecute(stream: number, flags: number, body: Buffer, raw: Buffer | undefined, t0: bigint): void {
    const head = parseExecuteHead(body, 0);
    const entry = this.ctx.prepared.get(head.id.toString('hex'));
    if (!entry) return this.unknownPrepared(stream, head.id);
    const cls = entry.cls;
    let b = body;
    let values: string[] | undefined;
    if (cls.kind === 'write') {
      let params = parseQueryParams(b, head.paramsPos);
      if (entry.nd) {
        const hadValues = (params.flags & QueryFlag.VALUES) !== 0;
        const countPos = params.valuesPos;
        const end = params.values.length ? params.values[params.values.length - 1]!.end : countPos + (hadValues ? 2 : 0);
        b = spliceNdValues(b, countPos, params.values, end, entry.nd, Date.now(), hadValues, (params.flags & QueryFlag.NAMES_FOR_VALUES) !== 0);
        if (!hadValues) b[params.flagsPos] = b[params.flagsPos]! | QueryFlag.VALUES;
        params = parseQueryParams(b, head.paramsPos);
      }
      if (params.timestamp === undefined) b = withTimestamp(b, params.flagsPos, params.timestampPos, nextTimestampMicros());
    } else if (cls.kind === 'read' && this.ctx.settings.mirrorReads > 0) {
      const params = parseQueryParams(b, head.paramsPos);
      values = params.values.map((v) => b.subarray(v.start + 4, v.end).toString('hex'));
    }
    if (b !== body || !entry.sourceId.equals(entry.clientId)) raw = undefined;
    const final = b;
    const build = (w: Which): Buffer => {
      if (w === 'source' && raw && entry.sourceId.equals(entry.clientId)) return raw;
      const id = w === 'source' ? entry.sourceId : entry.targetId!;
      return this.frame(Opcode.EXECUTE, flags, replaceShortBytes(final, head.idStart, head.idEnd, id));
    };
    const req = this.newReq(stream, Opcode.EXECUTE, flags, final, raw, cls, t0, [entry], build, head.paramsPos);
    if (values) req.values = values;
    if (cls.kind === 'read' || cls.kind === 'system') {
      return this.read(req, parseQueryParams(b, head.paramsPos).hasPagingState);
    }
    this.dual(req);
  }

  private onBatch(stream: number, flags: number, body: Buffer, raw: Buffer | undefined, t0: bigint): void {
    const batch = parseBatch(body, 0);
    const entries: PreparedEntry[] = [];
    for (const e of batch.entries) {
      if (e.kind !== 1) continue;
      const entry = this.ctx.prepared.get(e.id!.toString('hex'));
      if (!entry) return this.unknownPrepared(stream, e.id!);
      entries.push(entry);
    }
    let b = this.rewriteBatchNd(body, batch, entries);
    let bp = b === body ? batch : parseBatch(b, 0);
    if (bp.timestamp === undefined) {
      b = withTimestamp(b, bp.flagsPos, bp.timestampPos, nextTimestampMicros());
      bp = parseBatch(b, 0);
    }
    if (b !== body) raw = undefined;
    const final = b;
    const parsed = bp;
    const build = (w: Which): Buffer => {
      const nb = rewriteIds(final, parsed, this.ctx.prepared, w);
      if (w === 'source' && raw && nb === final) return raw;
      return this.frame(Opcode.BATCH, flags, nb);
    };
    const req = this.newReq(stream, Opcode.BATCH, flags, final, raw, { kind: 'write' }, t0, entries, build, parsed.flagsPos - 2);
    this.dual(req);
  }

  /** Substitute non-deterministic calls in a batch's statements (texts and prepared values). */
  private rewriteBatchNd(body: Buffer, batch: BatchRequest, entries: PreparedEntry[]): Buffer {
    const needs = batch.entries.some((e) => (e.kind === 0 ? hasNonDeterministic(e.query!) : false)) || entries.some((e) => e.nd);
    if (!needs) return body;
    const now = Date.now();
    const parts: Buffer[] = [];
    let last = 0;
    let ei = 0;
    for (const e of batch.entries) {
      if (e.kind === 0 && hasNonDeterministic(e.query!)) {
        const sub = substituteNonDeterministic(e.query!, (fn) => ndLiteral(fn, now));
        parts.push(body.subarray(last, e.start), queryBodyText(sub.text));
        last = e.end;
      } else if (e.kind === 1) {
        const entry = entries[ei++]!;
        if (entry.nd) {
          // Values of this statement: [short n] at e.end, then the values.
          const countPos = e.end;
          const vEnd = e.values.length ? e.values[e.values.length - 1]!.end : countPos + 2;
          const spliced = spliceNdValues(body.subarray(0, vEnd), countPos, e.values, vEnd, entry.nd, now, true, false);
          parts.push(body.subarray(last, e.start), spliced.subarray(e.start));
          last = vEnd;
        }
      }
    }
    parts.push(body.subarray(last));
    return Buffer.concat(parts);
  }

  // ------------------------------------------------------------------ routing

  /**
   * Reads: the source answers; optionally the target is asked too and the results compared.
   * A following page is mirrored with the client's (the source's) paging state: it encodes only
   * the position (last key) in the table, so the target returns the page after the same row.
   */
  private read(req: Req, paging: boolean): void {
    req.paged = paging;
    const mirror =
      req.cls.kind === 'read' &&
      this.ctx.settings.mirrorReads > 0 &&
      (this.ctx.settings.mirrorReads >= 1 || Math.random() < this.ctx.settings.mirrorReads);
    const tgt = mirror ? this.targetConn() : undefined;
    if (tgt) req.tgt = undefined;
    else req.tgt = null;
    const t1 = process.hrtime.bigint();
    this.sendTo('source', req, (res) => {
      req.src = res;
      const t2 = process.hrtime.bigint();
      if (res instanceof Error) this.replyFailure(req.stream, 'source', res, req);
      else if (req.cls.kind === 'system' && res.opcode === Opcode.RESULT) {
        this.relay(req.stream, res, rewriteSystemResult(res, req.cls.systemTable!, { ...this.local, datacenter: this.ctx.settings.datacenter }));
      } else this.relay(req.stream, res);
      if (isError(res)) this.countError('source', req.opcode, req.kind, res);
      this.observe(req.opcode, req.kind, req.t0, t1 - req.t0 + (process.hrtime.bigint() - t2));
      if (req.tgt !== null && req.tgt !== undefined) this.compareReads(req);
    });
    if (tgt) {
      this.sendTo('target', req, (res) => {
        req.tgt = res;
        if (req.src) this.compareReads(req);
      });
    }
  }

  private compareReads(req: Req): void {
    const s = req.src!;
    const t = req.tgt!;
    const labels = { keyspace: req.cls.keyspace ?? this.keyspace ?? '', table: req.cls.table ?? '' };
    this.ctx.metrics.mirroredReads.inc(labels);
    const query = req.entries[0]?.originalQuery ?? safeQueryText(req.body);
    const base = {
      t: new Date().toISOString(),
      keyspace: labels.keyspace || null,
      table: labels.table || null,
      query,
      ...(req.values ? { values: req.values } : {}),
    };
    if (isError(s) || isError(t)) {
      if (isError(s) && isError(t)) return;
      // A target of another Cassandra version may not read the source's paging state: not comparable.
      if (req.paged && !isError(s) && !(t instanceof Error) && [ErrorCode.PROTOCOL_ERROR, ErrorCode.INVALID].some((c) => c === errorCodeOf(t))) return;
      this.ctx.metrics.differentResults.inc(labels);
      this.ctx.readReport.record({ ...base, sourceRows: -1, targetRows: -1, kind: 'error', detail: `source ${describe(s)}; target ${describe(t)}` });
      return;
    }
    const sf = s as Frame;
    const tf = t as Frame;
    const sd = rowsDigest(sf.body, responseBodyStart(sf.flags, sf.body));
    const td = rowsDigest(tf.body, responseBodyStart(tf.flags, tf.body));
    if (!sd || !td) return;
    if (sd.count === td.count && sd.rows.equals(td.rows)) return;
    this.ctx.metrics.differentResults.inc(labels);
    this.ctx.readReport.record({ ...base, sourceRows: sd.count, targetRows: td.count, kind: 'rows' });
    this.ctx.logger.warn({ keyspace: labels.keyspace, table: labels.table, sourceRows: sd.count, targetRows: td.count }, 'cql-proxy: mirrored read differs');
  }

  /** Writes, DDL and USE: both clusters, answered according to the failure policy. */
  private dual(req: Req): void {
    const s = this.ctx.settings;
    const tgt = this.targetConn();
    const t1 = process.hrtime.bigint();
    req.procNs = t1 - req.t0;
    this.sendTo('source', req, (res) => {
      req.src = res;
      if (isError(res)) this.countError('source', req.opcode, req.kind, res);
      if (req.cls.kind === 'use' && !isError(res)) this.trackKeyspace(res as Frame, req.cls.useKeyspace);
      if (!s.wait) this.answer(req);
      if (req.tgt !== undefined) this.settle(req);
    });
    if (tgt) {
      this.sendTo('target', req, (res) => {
        req.tgt = res;
        if (req.src !== undefined) this.settle(req);
      });
    } else {
      req.tgt = new NotSentError('target cluster unavailable');
      if (req.src !== undefined) this.settle(req);
    }
  }

  /** Both sides known: record a target failure, then answer (when waiting). */
  private settle(req: Req): void {
    const targetFailed = isError(req.tgt) && !isError(req.src);
    if (isError(req.tgt)) this.countError('target', req.opcode, req.kind, req.tgt!);
    if (!targetFailed) {
      if (this.ctx.settings.wait) this.answer(req);
      return;
    }
    const reason = describe(req.tgt);
    const kind = req.cls.kind;
    this.ctx.metrics.failedWrites.inc({ reason: req.tgt instanceof Error ? 'unavailable' : 'error' });
    if (kind === 'use') {
      if (this.ctx.settings.wait) this.answer(req);
      return;
    }
    const prepared: Record<string, { query: string; keyspace: string | null }> = {};
    for (const e of req.entries) prepared[e.clientHex] = { query: e.query, keyspace: e.keyspace };
    this.ctx.failedLog.append(
      {
        t: new Date().toISOString(),
        v: this.version,
        ks: this.keyspace,
        op: req.opcode,
        body: req.body.toString('base64'),
        ...(req.entries.length ? { prepared } : {}),
        ...(this.uncertain(req.tgt!) && this.repeats(req) ? { repeats: true as const } : {}),
        reason,
      },
      (err) => {
        if (err) this.ctx.logger.error({ err: err.message }, 'cql-proxy: cannot write the failed-write log');
        if (this.ctx.settings.wait) this.answer(req, err);
      },
    );
  }

  /** Did the target perhaps apply the write although it failed? (timeouts, lost connections) */
  private uncertain(res: Result): boolean {
    if (res instanceof Error) return !(res instanceof NotSentError);
    const code = errorCodeOf(res);
    return code === ErrorCode.WRITE_TIMEOUT || code === ErrorCode.SERVER_ERROR || code === WRITE_FAILURE;
  }

  /** Would applying this write twice change the result (counters, list appends)? Unsure counts as yes. */
  private repeats(req: Req): boolean {
    if (req.opcode === Opcode.QUERY) return req.cls.increment !== undefined;
    if (req.opcode === Opcode.EXECUTE) return req.entries[0]?.repeats === true;
    const batch = parseBatch(req.body, 0);
    return (
      batch.type === BATCH_TYPE_COUNTER ||
      req.entries.some((e) => e.repeats) ||
      batch.entries.some((e) => e.kind === 0 && classify(e.query!).increment !== undefined)
    );
  }

  private answer(req: Req, logErr?: Error): void {
    if (req.answered) return;
    req.answered = true;
    const t2 = process.hrtime.bigint();
    const src = req.src!;
    if (src instanceof Error) this.replyFailure(req.stream, 'source', src, req);
    else if (src.opcode === Opcode.ERROR) this.relay(req.stream, src);
    else if (this.ctx.settings.wait && isError(req.tgt) && (this.ctx.settings.onTargetFailure === 'fail' || logErr)) {
      const t = req.tgt!;
      if (t instanceof Error) this.replyFailure(req.stream, 'target', t, req);
      else this.relay(req.stream, t);
    } else this.relay(req.stream, src);
    this.observe(req.opcode, req.kind, req.t0, req.procNs + (process.hrtime.bigint() - t2));
  }

  private trackKeyspace(res: Frame, fallback: string | undefined): void {
    const start = responseBodyStart(res.flags, res.body);
    if (resultKind(res.body, start) === ResultKind.SET_KEYSPACE) {
      const r = new BodyReader(res.body);
      r.pos = start + 4;
      this.keyspace = r.string();
    } else if (fallback) this.keyspace = fallback;
  }

  /** Send a request to one cluster, re-preparing transparently on UNPREPARED. */
  private sendTo(which: Which, req: Req, cb: (res: Result) => void): void {
    const conn = which === 'source' ? this.source : this.target;
    if (!conn) return cb(new NotSentError(`${which} cluster unavailable`));
    if (which === 'target') {
      const missing = req.entries.filter((e) => !e.targetId);
      if (missing.length) {
        Promise.all(missing.map((e) => this.reprepare(conn, which, e))).then(
          () => this.sendTo(which, req, cb),
          (err: Error) => cb(new NotSentError(err.message)),
        );
        return;
      }
    }
    conn.sendFrame(req.build(which), (res) => {
      if (!(res instanceof Error) && res.opcode === Opcode.ERROR && req.retries < 3 && errorCodeOf(res) === ErrorCode.UNPREPARED) {
        const start = responseBodyStart(res.flags, res.body);
        const e = parseError(res.body.subarray(start));
        const id = e.reader.shortBytes();
        const entry = this.ctx.prepared.byClusterId(which, id.toString('hex')) ?? (req.entries.length === 1 ? req.entries[0] : undefined);
        if (entry) {
          req.retries++;
          this.reprepare(conn, which, entry).then(
            () => this.sendTo(which, req, cb),
            () => cb(res),
          );
          return;
        }
      }
      cb(res);
    });
  }

  private async reprepare(conn: BackendConnection, which: Which, e: PreparedEntry): Promise<void> {
    const res = await conn.request(Opcode.PREPARE, queryBodyText(e.query));
    if (res.opcode !== Opcode.RESULT) throw new Error(`re-prepare on ${which} failed: ${describe(res)}`);
    const id = parsePreparedResult(res.body, responseBodyStart(res.flags, res.body)).id;
    if (which === 'source') this.ctx.prepared.setSource(e, id);
    else this.ctx.prepared.setTarget(e, id);
  }

  // ------------------------------------------------------------------ metrics

  private readonly histCache = new Map<string, { proc: { observe(v: number): void }; req: { observe(v: number): void } }>();

  private observe(opcode: number, kind: string, t0: bigint, procNs: bigint): void {
    const key = `${opcode}|${kind}`;
    let h = this.histCache.get(key);
    if (!h) {
      const labels = { opcode: OPCODE_NAMES[opcode] ?? String(opcode), kind };
      h = { proc: this.ctx.metrics.processing.labels(labels), req: this.ctx.metrics.request.labels(labels) };
      this.histCache.set(key, h);
    }
    h.req.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    if (procNs > 0n) h.proc.observe(Number(procNs) / 1e9);
  }

  private countError(cluster: Which, opcode: number, kind: string, res: Result): void {
    const error = res instanceof Error ? 'unavailable' : `0x${errorCodeOf(res).toString(16).padStart(4, '0')}`;
    this.ctx.metrics.serverErrors.inc({ cluster, opcode: OPCODE_NAMES[opcode] ?? String(opcode), kind, error });
  }

  // ------------------------------------------------------------------ teardown

  /**
   * Closes every cluster connection: at once, except the target, which first gets up to
   * `graceMs` to answer writes still on their way (--wait false). Settles when all are closed.
   */
  private cleanup(graceMs: number): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.ctx.metrics.connections.dec();
      this.resolveToken(undefined);
      if (this.retryTimer) clearTimeout(this.retryTimer);
    }
    const t = this.target;
    for (const c of this.backends) if (c !== t) c.close();
    if (!t || t.closed) return Promise.resolve();
    const deadline = Date.now() + graceMs;
    return new Promise((resolve) => {
      const check = (): void => {
        if (t.inFlight > 0 && !t.closed && Date.now() < deadline) {
          setTimeout(check, 20);
          return;
        }
        // Writes still unanswered fail here and go to the failed-write log.
        t.close();
        resolve();
      };
      check();
    });
  }

  /** Bytes this session holds in socket buffers (both directions, all its sockets). */
  bufferedBytes(): number {
    let n = this.sock.writableLength + this.sock.readableLength + this.reader.pending;
    for (const c of this.backends) n += c.bufferedBytes();
    return n;
  }

  /** Drops the client connection and closes the cluster connections (see cleanup). */
  close(graceMs: number): Promise<void> {
    this.sock.destroy();
    return this.cleanup(graceMs);
  }
}

function queryBodyText(q: string): Buffer {
  return new BodyWriter().longString(q).build();
}

/** QUERY body with consistency ONE and no flags, for the proxy's own statements. */
export function queryBody(q: string, consistency = 0x0001): Buffer {
  return new BodyWriter().longString(q).short(consistency).byte(0).build();
}

function safeQueryText(body: Buffer): string {
  try {
    return new BodyReader(body).longString();
  } catch {
    return '';
  }
}

/** Rewrite the prepared ids of a batch for one cluster. */
function rewriteIds(body: Buffer, batch: BatchRequest, reg: PreparedRegistry, which: Which): Buffer {
  const parts: Buffer[] = [];
  let last = 0;
  for (const e of batch.entries) {
    if (e.kind !== 1) continue;
    const entry = reg.get(e.id!.toString('hex'));
    if (!entry) continue;
    const id = which === 'source' ? entry.sourceId : entry.targetId;
    if (!id || id.equals(e.id!)) continue;
    parts.push(body.subarray(last, e.start), new BodyWriter().shortBytes(id).build());
    last = e.end;
  }
  if (last === 0) return body;
  parts.push(body.subarray(last));
  return Buffer.concat(parts);
}
