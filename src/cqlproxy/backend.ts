// One connection from the proxy to a cluster node. Owns the stream-id space of that
// socket: every request (the client's or the proxy's own) gets a free id here, so
// client ids never collide with ids the proxy uses for re-prepares and the like.

import net from 'node:net';
import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { BodyReader, BodyWriter, HEADER_LENGTH, Opcode, encodeFrame, type Frame } from './frame.js';
import { WireReader, WireWriter } from './segment.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface BackendTls {
  enabled: boolean;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** Verify the certificate chain and the host name (default true). */
  verify: boolean;
  servername?: string | undefined;
}

export class RequestTimeoutError extends Error {
  constructor(which: string, ms: number) {
    super(`${which}: no response within ${ms} ms`);
  }
}

export class ConnectionClosedError extends Error {}

/** The request never left the proxy, so the cluster certainly did not apply it. */
export class NotSentError extends ConnectionClosedError {}

type Callback = (res: Frame | Error) => void;

interface Pending {
  cb: Callback;
  deadline: number;
  seq: number;
}

const MAX_STREAMS = 32768;

export class BackendConnection extends EventEmitter {
  private socket: net.Socket | tls.TLSSocket | undefined;
  private readonly reader = new WireReader();
  private wire: WireWriter | undefined;
  private readonly pending: Array<Pending | undefined> = new Array(MAX_STREAMS);
  /** Ids that timed out: reserved until their late answer arrives. */
  private readonly orphans = new Set<number>();
  private readonly free: number[] = [];
  private readonly waiting: Array<(id: number) => void> = [];
  /** Timeout queue: all requests share one timeout, so deadlines arrive in order. */
  private readonly deadlines: Array<{ id: number; seq: number; deadline: number }> = [];
  private deadlineHead = 0;
  private seq = 0;
  private sweeper: NodeJS.Timeout | undefined;
  closed = false;
  congested = false;
  private corked = false;
  private readonly uncorkNow = (): void => {
    this.corked = false;
    this.socket?.uncork();
  };
  inFlight = 0;
  /** Keyspace last set with USE on this connection. */
  keyspace: string | undefined;

  constructor(
    readonly name: string,
    readonly endpoint: Endpoint,
    readonly version: number,
    private readonly requestTimeoutMs: number,
    private readonly tlsOpts?: BackendTls,
  ) {
    super();
    for (let i = MAX_STREAMS - 1; i >= 0; i--) this.free.push(i);
  }

  connect(connectTimeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const { host, port } = this.endpoint;
      let sock: net.Socket | tls.TLSSocket;
      const onError = (err: Error): void => {
        clearTimeout(timer);
        sock.destroy();
        reject(new Error(`${this.name} ${host}:${port}: ${err.message}`));
      };
      // close() while connecting (the client left, the proxy shuts down) destroys the socket.
      const onClose = (): void => onError(new ConnectionClosedError('closed while connecting'));
      const onReady = (): void => {
        sock.removeListener('error', onError);
        sock.removeListener('close', onClose);
        clearTimeout(timer);
        if (this.closed) return onClose();
        this.attach(sock);
        resolve();
      };
      if (this.tlsOpts?.enabled) {
        const t = this.tlsOpts;
        sock = tls.connect({
          host,
          port,
          ca: t.ca,
          cert: t.cert,
          key: t.key,
          rejectUnauthorized: t.verify,
          servername: t.servername ?? (net.isIP(host) ? undefined : host),
          // With verification on, Node checks the name against the certificate;
          // for IP literals that means the certificate's IP SANs.
          checkServerIdentity: t.verify ? tls.checkServerIdentity : () => undefined,
        });
        sock.once('secureConnect', onReady);
      } else {
        sock = net.connect({ host, port });
        sock.once('connect', onReady);
      }
      sock.once('error', onError);
      sock.once('close', onClose);
      this.socket = sock;
      const timer = setTimeout(() => onError(new Error(`connect timeout after ${connectTimeoutMs} ms`)), connectTimeoutMs);
    });
  }

  private attach(sock: net.Socket): void {
    sock.setNoDelay(true);
    this.wire = new WireWriter(
      (buf) => sock.write(buf),
      () => {
        if (this.congested) return;
        this.congested = true;
        this.emit('congested');
      },
    );
    sock.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (f) => this.onFrame(f));
      } catch (err) {
        this.fail(err as Error);
      }
    });
    sock.on('drain', () => {
      this.congested = false;
      this.emit('drain');
    });
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new ConnectionClosedError(`${this.name}: connection closed`)));
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, this.requestTimeoutMs / 4)));
    this.sweeper.unref();
  }

  private onFrame(f: Frame): void {
    // v5: the answer to STARTUP is the last frame outside segments, both ways (links stay uncompressed).
    if (this.version >= 5 && !this.reader.segmented && (f.opcode === Opcode.READY || f.opcode === Opcode.AUTHENTICATE)) {
      this.reader.useSegments(false);
      this.wire!.useSegments(false);
    }
    if (f.stream < 0) {
      this.emit('event', f);
      return;
    }
    const p = this.pending[f.stream];
    if (!p) {
      if (this.orphans.delete(f.stream)) this.release(f.stream);
      return;
    }
    this.pending[f.stream] = undefined;
    this.inFlight--;
    this.release(f.stream);
    p.cb(f);
  }

  private release(id: number): void {
    const w = this.waiting.shift();
    if (w) w(id);
    else this.free.push(id);
  }

  private sweep(): void {
    const now = Date.now();
    while (this.deadlineHead < this.deadlines.length) {
      const d = this.deadlines[this.deadlineHead]!;
      if (d.deadline > now) break;
      this.deadlineHead++;
      const p = this.pending[d.id];
      if (p && p.seq === d.seq) {
        this.pending[d.id] = undefined;
        this.inFlight--;
        this.orphans.add(d.id);
        p.cb(new RequestTimeoutError(this.name, this.requestTimeoutMs));
      }
    }
    if (this.deadlineHead > 4096 && this.deadlineHead * 2 > this.deadlines.length) {
      this.deadlines.splice(0, this.deadlineHead);
      this.deadlineHead = 0;
    }
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.socket?.destroy();
    for (let i = 0; i < MAX_STREAMS; i++) {
      const p = this.pending[i];
      if (p) {
        this.pending[i] = undefined;
        p.cb(err);
      }
    }
    this.inFlight = 0;
    for (const w of this.waiting.splice(0)) w(-1);
    this.emit('close', err);
  }

  close(): void {
    this.fail(new ConnectionClosedError(`${this.name}: closed by proxy`));
  }

  /**
   * Send a complete frame buffer (header + body); its stream id is overwritten in place
   * with one of ours. The buffer must not be shared with another destination.
   */
  sendFrame(frame: Buffer, cb: Callback): void {
    if (this.closed) {
      cb(new NotSentError(`${this.name}: not connected`));
      return;
    }
    const id = this.free.pop();
    if (id === undefined) {
      // All 32768 ids busy: queue until one frees (back-pressure on the client follows
      // from the client socket being paused while we are congested).
      this.waiting.push((nid) => {
        if (nid < 0) cb(new NotSentError(`${this.name}: connection closed`));
        else this.dispatch(nid, frame, cb);
      });
      return;
    }
    this.dispatch(id, frame, cb);
  }

  private dispatch(id: number, frame: Buffer, cb: Callback): void {
    frame.writeInt16BE(id, 2);
    const seq = ++this.seq;
    const deadline = Date.now() + this.requestTimeoutMs;
    this.pending[id] = { cb, deadline, seq };
    this.deadlines.push({ id, seq, deadline });
    this.inFlight++;
    if (!this.corked) {
      // Coalesce every request dispatched in this turn of the event loop into one write syscall.
      this.corked = true;
      this.socket!.cork();
      setImmediate(this.uncorkNow);
    }
    this.wire!.send(frame);
  }

  send(opcode: number, flags: number, body: Buffer, cb: Callback): void {
    this.sendFrame(encodeFrame(this.version, false, flags, 0, opcode, body), cb);
  }

  request(opcode: number, body: Buffer, flags = 0): Promise<Frame> {
    return new Promise((resolve, reject) => {
      this.send(opcode, flags, body, (res) => (res instanceof Error ? reject(res) : resolve(res)));
    });
  }

  bufferedBytes(): number {
    return (this.socket?.writableLength ?? 0) + (this.socket?.readableLength ?? 0) + this.reader.pending + (this.wire?.queued ?? 0);
  }

  cork(): void {
    this.socket?.cork();
  }
  uncork(): void {
    this.socket?.uncork();
  }
  pause(): void {
    this.socket?.pause();
  }
  resume(): void {
    this.socket?.resume();
  }
}

export function frameBodyCopy(f: Frame): Buffer {
  return Buffer.from(f.body);
}

export function plainToken(username: string, password: string): Buffer {
  return Buffer.concat([Buffer.from([0]), Buffer.from(username, 'utf8'), Buffer.from([0]), Buffer.from(password, 'utf8')]);
}

export function parsePlainToken(token: Buffer): { username: string; password: string } | undefined {
  const parts = token.toString('utf8').split('\0');
  if (parts.length !== 3) return undefined;
  return { username: parts[1]!, password: parts[2]! };
}

export class CqlError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Decode an ERROR frame into an exception (used by the proxy's own requests). */
export function frameError(f: Frame): CqlError {
  const r = new BodyReader(f.body);
  const code = r.int();
  return new CqlError(code, r.string());
}

/**
 * Complete STARTUP (and SASL PLAIN when asked) on a connection the proxy drives itself:
 * the target cluster and the replay command.
 */
export async function handshake(
  conn: BackendConnection,
  startup: Record<string, string>,
  token: () => Promise<Buffer | undefined>,
): Promise<void> {
  let res = await conn.request(Opcode.STARTUP, new BodyWriter().stringMap(startup).build());
  if (res.opcode === Opcode.READY) return;
  if (res.opcode === Opcode.ERROR) throw frameError(res);
  if (res.opcode !== Opcode.AUTHENTICATE) throw new Error(`${conn.name}: unexpected opcode ${res.opcode} after STARTUP`);
  const t = await token();
  if (!t) throw new Error(`${conn.name}: cluster requires authentication and no credentials are configured`);
  res = await conn.request(Opcode.AUTH_RESPONSE, new BodyWriter().bytes(t).build());
  while (res.opcode === Opcode.AUTH_CHALLENGE) {
    // PLAIN never challenges; answer with the same token for authenticators that echo.
    res = await conn.request(Opcode.AUTH_RESPONSE, new BodyWriter().bytes(t).build());
  }
  if (res.opcode === Opcode.ERROR) throw frameError(res);
  if (res.opcode !== Opcode.AUTH_SUCCESS) throw new Error(`${conn.name}: unexpected opcode ${res.opcode} during auth`);
}

export { HEADER_LENGTH };
