// CQL dual-write proxy: entry points for the CLI and for `serve`.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import type { BackendTls, Endpoint } from './backend.js';
import { FailedWriteLog } from './failedlog.js';
import { ProxyMetrics } from './metrics.js';
import { PreparedRegistry } from './prepared.js';
import { ReadReportLog, summarizeReadReport } from './readreport.js';
import { replayFailedWrites } from './replay.js';
import { ClientSession, type Logger, type ProxyContext, type ProxySettings } from './session.js';

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

function endpoints(v: string | string[], what: string): Endpoint[] {
  const list = (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new Error(`cql-proxy: --${what} is required`);
  return list.map((x) => parseEndpoint(x));
}

function backendTls(v: CqlProxyTlsFiles | boolean | undefined, verify: boolean): BackendTls | undefined {
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

// ---------------------------------------------------------------------------- commands

const ENV_PREFIX = 'DC_CQL_PROXY_';

type OptSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }>;

/** parseArgs plus `DC_CQL_PROXY_<NAME>` environment defaults. */
function parse(argv: string[], spec: OptSpec): Record<string, string | boolean | undefined> {
  // Let `--wait` stand alone as `--wait true`.
  const args = argv.flatMap((a, i) =>
    a === '--wait' && !/^(true|false|yes|no|1|0)$/i.test(argv[i + 1] ?? '') ? ['--wait', 'true'] : [a],
  );
  const { values } = parseArgs({ args, options: spec, allowPositionals: false, strict: true });
  const out: Record<string, string | boolean | undefined> = { ...values };
  for (const name of Object.keys(spec)) {
    if (out[name] !== undefined) continue;
    const env = process.env[ENV_PREFIX + name.toUpperCase().replace(/-/g, '_')];
    if (env !== undefined) out[name] = spec[name]!.type === 'boolean' ? /^(1|true|yes)$/i.test(env) : env;
  }
  return out;
}

function bool(v: string | boolean | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  return /^(1|true|yes|on)$/i.test(v);
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: string | boolean | undefined): number | undefined {
  return typeof v === 'string' && v !== '' ? Number(v) : undefined;
}

const PROXY_FLAGS: OptSpec = {
  listen: { type: 'string' },
  source: { type: 'string' },
  target: { type: 'string' },
  wait: { type: 'string' },
  'on-target-failure': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'target-timeout-ms': { type: 'string' },
  'mirror-reads': { type: 'string' },
  'failed-log': { type: 'string' },
  'read-report': { type: 'string' },
  'target-username': { type: 'string' },
  'target-password': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  'source-tls': { type: 'boolean' },
  'source-ca': { type: 'string' },
  'target-tls': { type: 'boolean' },
  'target-ca': { type: 'string' },
  'backend-cert': { type: 'string' },
  'backend-key': { type: 'string' },
  'tls-verify': { type: 'string' },
  advertise: { type: 'string' },
  datacenter: { type: 'string' },
  'metrics-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const CQL_PROXY_USAGE = `Usage: dynamo-cassandra cql-proxy --source HOST:PORT[,...] --target HOST:PORT[,...] [options]

  --listen HOST:PORT          listen address (default 0.0.0.0:29042)
  --wait true|false           answer after both clusters (default true); false: answer on the
                              source and write the target asynchronously
  --on-target-failure log|fail  with --wait: answer with the source's result and log the failed
                              target write (default), or fail the request
  --timeout-ms N              request timeout (default 10000); --target-timeout-ms N for the target
  --mirror-reads F            fraction of reads also run on the target and compared (0..1)
  --failed-log FILE           durable log of writes the target missed (replay with \`replay\`)
  --read-report FILE          JSON lines of mirrored reads that differed
  --target-username U --target-password P   target credentials (default: the client's)
  --tls-cert F --tls-key F [--tls-client-ca F]   TLS for clients
  --source-tls --source-ca F  --target-tls --target-ca F  [--backend-cert F --backend-key F]
  --tls-verify false          skip certificate and host name checks towards the clusters
  --advertise HOST:PORT       address clients see in system.local
  --datacenter NAME           datacenter name clients see
  --metrics-port N            serve Prometheus /metrics on this port
Every flag can also be set as DC_CQL_PROXY_<FLAG> (e.g. DC_CQL_PROXY_SOURCE).`;

/** The proxy's settings from the DC_CQL_PROXY_* environment variables alone (serve's listener). */
export function cqlProxyOptionsFromEnvironment(): CqlProxyOptions {
  return cqlProxyOptionsFromArgs(parse([], PROXY_FLAGS));
}

export function cqlProxyOptionsFromArgs(v: Record<string, string | boolean | undefined>): CqlProxyOptions {
  const backendFiles = (ca: string | undefined): CqlProxyTlsFiles => ({ ca, cert: str(v['backend-cert']), key: str(v['backend-key']) });
  const failure = str(v['on-target-failure']);
  if (failure !== undefined && failure !== 'fail' && failure !== 'log') throw new Error('--on-target-failure must be log or fail');
  return {
    listen: str(v.listen),
    source: str(v.source) ?? '',
    target: str(v.target) ?? '',
    wait: bool(v.wait, true),
    onTargetFailure: failure as 'fail' | 'log' | undefined,
    requestTimeoutMs: num(v['timeout-ms']),
    targetTimeoutMs: num(v['target-timeout-ms']),
    mirrorReads: num(v['mirror-reads']),
    failedLog: str(v['failed-log']),
    readReport: str(v['read-report']),
    targetUsername: str(v['target-username']),
    targetPassword: str(v['target-password']),
    tls: v['tls-cert'] ? { cert: str(v['tls-cert']), key: str(v['tls-key']), ca: str(v['tls-client-ca']) } : undefined,
    sourceTls: v['source-tls'] || v['source-ca'] ? backendFiles(str(v['source-ca'])) : undefined,
    targetTls: v['target-tls'] || v['target-ca'] ? backendFiles(str(v['target-ca'])) : undefined,
    tlsVerify: bool(v['tls-verify'], true),
    advertise: str(v.advertise),
    datacenter: str(v.datacenter),
  };
}

function serveMetrics(registry: Registry, port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    if (req.url?.startsWith('/metrics')) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(port, () => resolve(srv)));
}

/** `dynamo-cassandra cql-proxy ...`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function cqlProxyCommand(argv: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parse(argv, PROXY_FLAGS);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${CQL_PROXY_USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(CQL_PROXY_USAGE);
    return 0;
  }
  let opts: CqlProxyOptions;
  try {
    opts = cqlProxyOptionsFromArgs(v);
    if (!opts.source || !opts.target) throw new Error('--source and --target are required');
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${CQL_PROXY_USAGE}`);
    return 2;
  }
  const registry = new Registry();
  const proxy = await startCqlProxy(opts, { registry });
  const metricsPort = num(v['metrics-port']);
  const metrics = metricsPort !== undefined ? await serveMetrics(registry, metricsPort) : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  metrics?.close();
  await proxy.close();
  return 0;
}

const REPLAY_FLAGS: OptSpec = {
  target: { type: 'string' },
  'failed-log': { type: 'string' },
  'target-username': { type: 'string' },
  'target-password': { type: 'string' },
  'target-tls': { type: 'boolean' },
  'target-ca': { type: 'string' },
  'backend-cert': { type: 'string' },
  'backend-key': { type: 'string' },
  'tls-verify': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'apply-uncertain': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const REPLAY_USAGE = `Usage: dynamo-cassandra replay --target HOST:PORT[,...] [--failed-log FILE] [--target-username U --target-password P]
       [--target-tls --target-ca F] [--tls-verify false] [--apply-uncertain]
Applies the writes the cql-proxy could not apply to the target (safe while the proxy runs).
Entries the target refuses are kept in FILE.rejected. Counter updates and list appends the
target may already have applied (it timed out) would count twice: they are set aside in
FILE.uncertain unless --apply-uncertain is given. Flags also as DC_CQL_PROXY_<FLAG>.`;

/** `dynamo-cassandra replay ...`: applies the failed-write log to the target. */
export async function replayCommand(argv: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parse(argv, REPLAY_FLAGS);
    if (v.help) {
      console.log(REPLAY_USAGE);
      return 0;
    }
    if (!str(v.target)) throw new Error('--target is required');
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${REPLAY_USAGE}`);
    return 2;
  }
  const file = str(v['failed-log']) ?? 'cql-proxy-failed-writes.jsonl';
  try {
    const r = await replayFailedWrites({
      target: endpoints(str(v.target)!, 'target'),
      file,
      tls: backendTls(
        v['target-tls'] || v['target-ca'] ? { ca: str(v['target-ca']), cert: str(v['backend-cert']), key: str(v['backend-key']) } : undefined,
        bool(v['tls-verify'], true),
      ),
      credentials: str(v['target-username']) !== undefined ? { username: str(v['target-username'])!, password: str(v['target-password']) ?? '' } : undefined,
      timeoutMs: num(v['timeout-ms']),
      applyUncertain: bool(v['apply-uncertain'], false),
    });
    console.log(
      `replayed ${r.replayed} of ${r.entries} entries` +
        (r.rejected ? `; ${r.rejected} refused by the target, kept in ${r.rejectedFile}` : '') +
        (r.uncertain ? `; ${r.uncertain} not idempotent and perhaps applied already (check the target), kept in ${r.uncertainFile}` : ''),
    );
    return r.rejected ? 1 : 0;
  } catch (err) {
    console.error(`replay failed: ${(err as Error).message} (entries not applied were kept in ${file})`);
    return 1;
  }
}

const REPORT_FLAGS: OptSpec = {
  'read-report': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const READ_REPORT_USAGE = `Usage: dynamo-cassandra read-report [--read-report FILE] [--json]
Summarises the mirrored reads that differed between source and target, per table, with sample keys.`;

/** `dynamo-cassandra read-report ...`: per-table summary of differing mirrored reads. */
export async function readReportCommand(argv: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parse(argv, REPORT_FLAGS);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${READ_REPORT_USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(READ_REPORT_USAGE);
    return 0;
  }
  const file = str(v['read-report']) ?? 'cql-proxy-read-report.jsonl';
  if (!fs.existsSync(file)) {
    console.log(v.json ? JSON.stringify({ total: 0, tables: [] }) : `no read report at ${file}: no differences recorded`);
    return 0;
  }
  const s = summarizeReadReport(file);
  if (v.json) console.log(JSON.stringify(s, null, 2));
  else {
    console.log(`${s.total} mirrored read(s) differed`);
    for (const t of s.tables) {
      console.log(`  ${t.keyspace ?? '?'}.${t.table ?? '?'}: ${t.differences}`);
      for (const k of t.sampleKeys) console.log(`      ${k}`);
    }
  }
  return 0;
}

export { replayFailedWrites, summarizeReadReport };
export type { Logger, ProxySettings };
