// One client session's connections to the two clusters: opening them (first reachable host),
// keeping the target retried in the background, back-pressure both ways, re-preparing on
// UNPREPARED, and closing with a grace period for target writes still under way.

import { ErrorCode, Opcode, responseBodyStart, responseError, responseErrorCode, type Frame } from './frame.js';
import { BackendConnection, NotSentError, handshake, plainToken } from './backend.js';
import { parsePreparedResult, prepareBody, queryBody, unpreparedId } from './messages.js';
import type { PreparedEntry } from './prepared.js';
import type { ConnectionState, ProxyContext } from './context.js';
import { describe, type ProxyRequest, type Result, type Which } from './request.js';

const TARGET_RETRY_MS = 2000;
const TARGET_STARTUP_WAIT_MS = 1000;
/** UNPREPARED answers re-prepared per request before the answer is relayed as it is. */
const MAX_REPREPARES = 3;

/** What the links need from the client side of the session. */
export interface ClientSide {
  /** A cluster socket is full: stop reading the client. */
  pause(): void;
  resume(): void;
  /** The source connection is gone: the client connection is useless without it. */
  sourceLost(): void;
}

/**
 * The token the target is authenticated with: configured credentials, or else the client's own
 * SASL token, which arrives (or is known not to come) during the client's handshake.
 */
export class TargetToken {
  private token: Buffer | undefined;
  private settled = false;
  private waiters: Array<(t: Buffer | undefined) => void> = [];

  constructor(private readonly configured: Buffer | undefined) {}

  /** The client's token, or undefined: the handshake is over without (more of) one. */
  resolve(t: Buffer | undefined): void {
    if (t) this.token = t;
    else this.settled = true;
    for (const w of this.waiters.splice(0)) w(t);
  }

  wait(): Promise<Buffer | undefined> {
    if (this.configured) return Promise.resolve(this.configured);
    if (this.token || this.settled) return Promise.resolve(this.token);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export class ClusterLinks {
  source: BackendConnection | undefined;
  target: BackendConnection | undefined;
  readonly token: TargetToken;
  private targetConnecting: Promise<void> | undefined;
  /** STARTUP options for the clusters (without the client's compression). */
  private startupOptions: Record<string, string> = {};
  private congested = 0;
  private clientPausedAt = 0;
  private clustersPausedAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private reconnecting = false;
  /** Every cluster connection of this session, connecting or open, so closing reaches them all. */
  private readonly all = new Set<BackendConnection>();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly state: ConnectionState,
    private readonly client: ClientSide,
  ) {
    const creds = ctx.settings.targetCredentials;
    this.token = new TargetToken(creds ? plainToken(creds.username, creds.password) : undefined);
  }

  /** Connect to the source and start the target connection; STARTUP itself is the caller's. */
  async open(startupOptions: Record<string, string>, onEvent: (ev: Frame) => void): Promise<BackendConnection> {
    this.startupOptions = startupOptions;
    const source = await this.openBackend('source');
    this.source = source;
    source.on('event', onEvent);
    source.on('close', () => {
      if (!this.state.closed) this.client.sourceLost();
    });
    this.startTargetConnect(false);
    return source;
  }

  /**
   * Give the target connection a moment before READY, so the first writes reach it; a target that
   * hangs must not keep clients from connecting (drivers give up after about 5 s).
   */
  async targetReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.targetConnecting?.catch(() => {}),
      new Promise((resolve) => (timer = setTimeout(resolve, TARGET_STARTUP_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** The target connection, or undefined while it is down (a reconnect is then under way). */
  targetConn(): BackendConnection | undefined {
    if (this.target) return this.target;
    if (!this.retryTimer && !this.reconnecting) this.scheduleTargetRetry(0);
    return undefined;
  }

  private async openBackend(which: Which): Promise<BackendConnection> {
    const s = this.ctx.settings;
    let lastErr: Error | undefined;
    for (const ep of this.ctx.pick(which)) {
      const conn = new BackendConnection(
        which,
        ep,
        this.state.version,
        which === 'source' ? s.requestTimeoutMs : s.targetTimeoutMs,
        which === 'source' ? s.sourceTls : s.targetTls,
      );
      this.all.add(conn);
      conn.on('close', () => this.all.delete(conn));
      try {
        await conn.connect();
      } catch (err) {
        this.all.delete(conn);
        lastErr = err as Error;
        if (this.state.closed) break;
        continue;
      }
      conn.on('congested', () => this.onCongested());
      conn.on('drain', () => this.onDrain());
      conn.on('close', () => {
        if (conn.congested) this.onDrain();
      });
      return conn;
    }
    throw lastErr ?? new Error(`no ${which} hosts`);
  }

  private async connectTarget(): Promise<void> {
    const conn = await this.openBackend('target');
    try {
      await handshake(conn, this.startupOptions, () => this.token.wait());
      const ks = this.state.keyspace;
      if (ks) {
        const use = await conn.request(Opcode.QUERY, queryBody(`USE "${ks.replace(/"/g, '""')}"`, conn.version));
        if (use.opcode === Opcode.ERROR) throw new Error(describe(use));
      }
    } catch (err) {
      conn.close();
      throw err;
    }
    if (this.state.closed) {
      conn.close();
      return;
    }
    conn.on('close', (err: Error) => {
      if (this.target === conn) {
        this.target = undefined;
        if (!this.state.closed) {
          this.ctx.logger.warn({ err: err.message }, 'cql-proxy: target connection lost');
          this.scheduleTargetRetry(200);
        }
      }
    });
    if (this.clustersPausedAt) conn.pause();
    this.target = conn;
  }

  /** Keep trying the target in the background, so writes reach it again as soon as it is back. */
  private scheduleTargetRetry(delay = TARGET_RETRY_MS): void {
    if (this.state.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state.closed || this.target) return;
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

  // ------------------------------------------------------------------ back-pressure

  /** The client does not read fast enough: stop reading the clusters' answers. */
  pauseClusters(): void {
    if (this.clustersPausedAt) return;
    this.clustersPausedAt = Date.now();
    this.source?.pause();
    this.target?.pause();
  }

  resumeClusters(): void {
    if (!this.clustersPausedAt) return;
    this.ctx.metrics.pausedSeconds.inc({ side: 'server' }, (Date.now() - this.clustersPausedAt) / 1000);
    this.clustersPausedAt = 0;
    this.source?.resume();
    this.target?.resume();
  }

  private onCongested(): void {
    if (this.congested++ === 0) {
      this.clientPausedAt = Date.now();
      this.client.pause();
    }
  }

  private onDrain(): void {
    if (this.congested > 0 && --this.congested === 0) {
      this.ctx.metrics.pausedSeconds.inc({ side: 'client' }, (Date.now() - this.clientPausedAt) / 1000);
      this.client.resume();
    }
  }

  // ------------------------------------------------------------------ requests

  /** Send a request to one cluster, re-preparing transparently on UNPREPARED. */
  send(which: Which, req: ProxyRequest, cb: (res: Result) => void): void {
    const conn = which === 'source' ? this.source : this.target;
    if (!conn) return cb(new NotSentError(`${which} cluster unavailable`));
    if (which === 'target') {
      const missing = req.entries.filter((e) => !e.targetId);
      if (missing.length) {
        Promise.all(missing.map((e) => this.reprepare(conn, which, e))).then(
          () => this.send(which, req, cb),
          (err: Error) => cb(new NotSentError(err.message)),
        );
        return;
      }
    }
    conn.sendFrame(req.build(which), (res) => {
      if (!(res instanceof Error) && res.opcode === Opcode.ERROR && req.retries < MAX_REPREPARES && responseErrorCode(res) === ErrorCode.UNPREPARED) {
        const id = unpreparedId(responseError(res).reader);
        const entry = this.ctx.prepared.byClusterId(which, id.toString('hex')) ?? (req.entries.length === 1 ? req.entries[0] : undefined);
        if (entry) {
          req.retries++;
          this.reprepare(conn, which, entry).then(
            () => this.send(which, req, cb),
            () => cb(res),
          );
          return;
        }
      }
      cb(res);
    });
  }

  private async reprepare(conn: BackendConnection, which: Which, e: PreparedEntry): Promise<void> {
    const res = await conn.request(Opcode.PREPARE, prepareBody(e.query, conn.version));
    if (res.opcode !== Opcode.RESULT) throw new Error(`re-prepare on ${which} failed: ${describe(res)}`);
    const p = parsePreparedResult(res.body, responseBodyStart(res.flags, res.body), conn.version);
    if (which === 'source') this.ctx.prepared.setSource(e, p.id, p.metadataId);
    else this.ctx.prepared.setTarget(e, p.id, p.metadataId);
  }

  // ------------------------------------------------------------------ teardown

  /**
   * Closes every cluster connection: at once, except the target, which first gets up to
   * `graceMs` to answer writes still on their way (--wait false). Settles when all are closed.
   */
  close(graceMs: number): Promise<void> {
    this.token.resolve(undefined);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const t = this.target;
    for (const c of this.all) if (c !== t) c.close();
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

  /** Bytes held in the cluster sockets' buffers. */
  bufferedBytes(): number {
    let n = 0;
    for (const c of this.all) n += c.bufferedBytes();
    return n;
  }
}
