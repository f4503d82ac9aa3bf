// CQL dual-write proxy: the listener, for `serve` and the `cql-proxy` command (src/cqlproxy/commands.ts).

import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import type { BackendTls, Endpoint } from './backend.js';
import { FailedWriteLog } from './failedlog.js';
import { ProxyMetrics } from './metrics.js';
import { PreparedRegistry } from './prepared.js';
import { ReadReportLog, summarizeReadReport } from './readreport.js';
import { replayFailedWrites } from './replay.js';
import type { Logger, ProxyContext, ProxySettings } from './context.js';
import { ClientSession } from './session.js';

export interface CqlProxyTlsFiles {
  /** PEM file paths. */
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface CqlProxyOptions {
  /** HOST:PORT to listen on; default 0.0.0.0:29042. */
  listen?: string | undefined;
  /** Source cluster contact points, HOST:PORT (comma-separated string or list). */
  source: string | string[];
  /** Target cluster contact points. */
  target: string | string[];
  /** Answer after both clusters (default true); false answers on the source and writes the target asynchronously. */
  wait?: boolean | undefined;
  /** With wait: what a failed or slow target write does to the request (default 'log'). */
  onTargetFailure?: 'fail' | 'log' | undefined;
  /** Per-request timeout towards the source (default 10000 ms: below drivers' usual 12 s, so clients get a CQL error). */
  requestTimeoutMs?: number | undefined;
  /** Timeout for the target (default: requestTimeoutMs). */
  targetTimeoutMs?: number | undefined;
  /** Fraction of reads also sent to the target and compared (0..1, default 0). */
  mirrorReads?: number | undefined;
  /** Durable log of writes the target did not apply (default ./cql-proxy-failed-writes.jsonl). */
  failedLog?: string | undefined;
  /** JSON-lines file of mirrored reads that differed (default ./cql-proxy-read-report.jsonl). */
  readReport?: string | undefined;
  targetUsername?: string | undefined;
  targetPassword?: string | undefined;
  /** TLS for client connections (cert + key, optional CA to require client certificates). */
  tls?: CqlProxyTlsFiles | undefined;
  /** TLS to the source / target; `true` uses the system CAs. */
  sourceTls?: CqlProxyTlsFiles | boolean | undefined;
  targetTls?: CqlProxyTlsFiles | boolean | undefined;
  /** Verify backend certificates and host names (default true). */
  tlsVerify?: boolean | undefined;
  /** Address and port written into system.local for clients (default: the address they connected to). */
  advertise?: string | undefined;
  /** Datacenter name presented to clients (default: the source's). */
  datacenter?: string | undefined;
  /** CQL version reported in SUPPORTED (default 3.4.7). */
  cqlVersion?: string | undefined;
}

export interface CqlProxyDeps {
  registry?: Registry;
  logger?: Logger;
}

export interface CqlProxyHandle {
  address: string;
  port: number;
  close(): Promise<void>;
  /** Statistics for tests and the summary command. */
  stats(): { failedWrites: number; readDifferences: number; prepared: number; clients: number; bufferedBytes: number };
}

/** How long close() waits for target writes still in flight (--wait false) before logging them. */
const CLOSE_GRACE_MS = 1000;

export function parseEndpoint(s: string, defaultPort = 9042): Endpoint {
  const t = s.trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+)(?::(\d+))?$/.exec(t);
  if (!m) throw new Error(`invalid HOST:PORT: ${s}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}

export function endpoints(v: string | string[], what: string): Endpoint[] {
  const list = (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new Error(`cql-proxy: --${what} is required`);
  return list.map((x) => parseEndpoint(x));
}

export function backendTls(v: CqlProxyTlsFiles | boolean | undefined, verify: boolean): BackendTls | undefined {
  if (!v) return undefined;
  const files = v === true ? {} : v;
  return {
    enabled: true,
    verify,
    ca: files.ca ? fs.readFileSync(files.ca) : undefined,
    cert: files.cert ? fs.readFileSync(files.cert) : undefined,
    key: files.key ? fs.readFileSync(files.key) : undefined,
  };
}

const consoleLogger: Logger = {
  info: (o, msg) => console.log(msg ?? '', typeof o === 'string' ? o : JSON.stringify(o)),
  warn: (o, msg) => console.warn(msg ?? '', typeof o === 'string' ? o : JSON.stringify(o)),
  error: (o, msg) => console.error(msg ?? '', typeof o === 'string' ? o : JSON.stringify(o)),
};

export async function startCqlProxy(opts: CqlProxyOptions, deps: CqlProxyDeps = {}): Promise<CqlProxyHandle> {
  const listen = parseEndpoint(opts.listen ?? '0.0.0.0:29042', 29042);
  const verify = opts.tlsVerify ?? true;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10000;
  const settings: ProxySettings = {
    source: endpoints(opts.source, 'source'),
    target: endpoints(opts.target, 'target'),
    sourceTls: backendTls(opts.sourceTls, verify),
    targetTls: backendTls(opts.targetTls, verify),
    targetCredentials:
      opts.targetUsername !== undefined ? { username: opts.targetUsername, password: opts.targetPassword ?? '' } : undefined,
    wait: opts.wait ?? true,
    onTargetFailure: opts.onTargetFailure ?? 'log',
    requestTimeoutMs,
    targetTimeoutMs: opts.targetTimeoutMs ?? requestTimeoutMs,
    mirrorReads: Math.max(0, Math.min(1, opts.mirrorReads ?? 0)),
    advertise: opts.advertise ? toAdvertise(opts.advertise, listen.port) : undefined,
    datacenter: opts.datacenter,
    cqlVersion: opts.cqlVersion ?? '3.4.7',
  };
  const registry = deps.registry ?? new Registry();
  const logger = deps.logger ?? consoleLogger;
  const failedLog = new FailedWriteLog(opts.failedLog ?? 'cql-proxy-failed-writes.jsonl');
  const readReport = new ReadReportLog(opts.readReport ?? 'cql-proxy-read-report.jsonl');
  let rr = { source: 0, target: 0 };
  const ctx: ProxyContext = {
    settings,
    prepared: new PreparedRegistry(),
    metrics: new ProxyMetrics(registry),
    failedLog,
    readReport,
    logger,
    pick(which) {
      // Rotate the contact points so connections spread over the hosts given.
      const list = settings[which];
      const i = rr[which]++ % list.length;
      return [...list.slice(i), ...list.slice(0, i)];
    },
  };
  const sessions = new Set<ClientSession>();
  const onConnection = (sock: net.Socket): void => {
    const s = new ClientSession(sock, ctx);
    sessions.add(s);
    sock.on('close', () => sessions.delete(s));
  };
  let server: net.Server;
  if (opts.tls?.cert && opts.tls.key) {
    server = tls.createServer(
      {
        cert: fs.readFileSync(opts.tls.cert),
        key: fs.readFileSync(opts.tls.key),
        ...(opts.tls.ca ? { ca: fs.readFileSync(opts.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
      },
      onConnection,
    );
  } else server = net.createServer(onConnection);
  // Every accepted socket (also TLS ones still in their handshake), so close() can end them all.
  const sockets = new Set<net.Socket>();
  server.on('connection', (sock: net.Socket) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  });
  server.on('error', (err) => logger.error({ err: err.message }, 'cql-proxy: listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  logger.info(
    { listen: `${addr.address}:${addr.port}`, source: opts.source, target: opts.target, wait: settings.wait, onTargetFailure: settings.onTargetFailure },
    'cql-proxy: listening',
  );
  rr = { source: 0, target: 0 };
  return {
    address: addr.address,
    port: addr.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Clients are dropped at once; async target writes get a short grace, then are logged.
      await Promise.all([...sessions].map((s) => s.close(Math.min(CLOSE_GRACE_MS, settings.targetTimeoutMs))));
      for (const sock of sockets) sock.destroy();
      await closed;
      failedLog.close();
      await readReport.close();
    },
    stats: () => ({
      failedWrites: failedLog.count,
      readDifferences: readReport.count,
      prepared: ctx.prepared.size,
      clients: sessions.size,
      bufferedBytes: [...sessions].reduce((n, s) => n + s.bufferedBytes(), 0),
    }),
  };
}

function toAdvertise(s: string, port: number): { address: string; port: number } {
  const e = parseEndpoint(s, port);
  return { address: e.host, port: e.port };
}

export { replayFailedWrites, summarizeReadReport };
export type { Logger, ProxySettings };
