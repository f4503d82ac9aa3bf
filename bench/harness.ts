// Benchmark building blocks: a closed-loop load generator at fixed concurrency, latency
// percentiles, and the Cassandra node / server processes the benchmarks run against.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalNode, type LocalNode } from '../src/local-node/index.js';

export interface Result {
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);

/** Runs `op(i)` from `concurrency` loops for `seconds` (after a short warm-up); latencies in ms. */
export async function load(concurrency: number, seconds: number, op: (i: number) => Promise<unknown>, warmupSeconds = 1): Promise<Result> {
  let counter = 0;
  const run = async (until: number, latencies?: number[], errors?: { n: number }) => {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) {
          const i = counter++;
          const t0 = process.hrtime.bigint();
          try {
            await op(i);
          } catch {
            if (errors) errors.n++;
          }
          latencies?.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }),
    );
  };
  await run(Date.now() + warmupSeconds * 1000);
  const latencies: number[] = [];
  const errors = { n: 0 };
  const started = Date.now();
  await run(started + seconds * 1000, latencies, errors);
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    seconds: elapsed,
    opsPerSec: latencies.length / elapsed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    errors: errors.n,
  };
}

/**
 * CPU time (µs) used so far by a process and its direct children (serve's workers), from /proc;
 * unlike throughput it does not depend on what else the machine is running. undefined off Linux.
 */
export function cpuMicros(pid: number): number | undefined {
  const ticks = (stat: string) => {
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) }; // utime + stime
  };
  try {
    let total = ticks(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpu;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === pid) continue;
      try {
        const t = ticks(readFileSync(`/proc/${entry}/stat`, 'utf8'));
        if (t.ppid === pid) total += t.cpu;
      } catch {
        /* exited meanwhile */
      }
    }
    return (total * 1e6) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Runs `run` and adds the CPU used per operation meanwhile, in µs: by each of `pids` (with their
 * children) and by this process (`client`, the load generator).
 */
export async function withCpu<K extends string>(pids: Partial<Record<K, number>>, run: () => Promise<Result>): Promise<Result & { cpu: Partial<Record<K | 'client', number>> }> {
  const entries = Object.entries(pids).filter((e): e is [string, number] => typeof e[1] === 'number');
  const before = entries.map(([, pid]) => cpuMicros(pid));
  const self = process.cpuUsage();
  const res = await run();
  const used = process.cpuUsage(self);
  const cpu: Partial<Record<K | 'client', number>> = {};
  if (res.ops === 0) return { ...res, cpu };
  cpu.client = (used.user + used.system) / res.ops;
  entries.forEach(([k, pid], i) => {
    const a = before[i], b = cpuMicros(pid);
    if (a !== undefined && b !== undefined) cpu[k as K] = (b - a) / res.ops;
  });
  return { ...res, cpu };
}

/** Whether wrk (a load generator in C: Debian package `wrk`) is installed. */
export const hasWrk = (): boolean => spawnSync('wrk', ['--version']).error === undefined;

/**
 * Load from wrk instead of Node: a load generator whose CPU per request is a fraction of any Node
 * client's, so on a machine whose cores the server shares, the result shows the server's capacity
 * rather than the client's. `bodyTemplate` must contain the placeholder {i} once; wrk fills it
 * with a counter modulo `keys`.
 */
export async function wrkLoad(endpoint: string, action: string, bodyTemplate: string, keys: number, concurrency: number, seconds: number, extraHeaders: Record<string, string> = {}): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'dc-wrk-'));
  const script = join(dir, 'request.lua');
  const [head, tail] = bodyTemplate.split('{i}');
  const lua = (x: string) => JSON.stringify(x); // a JSON string literal is a valid Lua string here
  writeFileSync(
    script,
    [
      'local n = 0',
      `local head, tail = ${lua(head)}, ${lua(tail ?? '')}`,
      'request = function()',
      `  n = (n + 1) % ${keys}`,
      `  return wrk.format("POST", "/", { ["Content-Type"] = "application/x-amz-json-1.0", ["X-Amz-Target"] = "DynamoDB_20120810.${action}"${Object.entries(extraHeaders).map(([k, v]) => `, [${lua(k)}] = ${lua(v)}`).join('')} }, head .. n .. tail)`,
      'end',
    ].join('\n'),
  );
  const run = (secs: number) =>
    new Promise<string>((resolve, reject) =>
      execFile('wrk', ['-t1', `-c${concurrency}`, `-d${secs}s`, '--latency', '-s', script, endpoint], (e, out) => (e ? reject(e) : resolve(out))),
    );
  try {
    await run(1); // warm-up, as load() does
    const out = await run(seconds);
    const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
    const ms = (re: RegExp) => {
      const m = re.exec(out);
      if (!m) return NaN;
      return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]];
    };
    const ops = num(/(\d+) requests in/);
    const elapsed = ms(/requests in ([\d.]+)(us|ms|s)/) / 1000;
    return {
      ops,
      seconds: elapsed,
      opsPerSec: ops / elapsed,
      p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
      p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
      errors: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What withCpu gives: a load's result and the CPU per operation (µs) of each process. */
export type Measured<K extends string = string> = Result & { cpu: Partial<Record<K | 'client', number>> };

/** The median of a figure over rounds, leaving out rounds without it (NaN when none has it). */
export function medianOf<T>(rounds: T[], figure: (r: T) => number | undefined): number {
  const xs = rounds.map(figure).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length ? median(xs) : NaN;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * DynamoDB Local and dynalite refuse a request without an Authorization header but check no
 * signature; our server (auth off) ignores it. Every server gets the same header.
 */
export const PEER_AUTH = {
  authorization: 'AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
  'x-amz-date': '20260101T000000Z',
};

/** A Cassandra node for the benchmark: DC_BENCH_CONTACT_POINTS, or a fresh local node. */
export async function benchCluster(): Promise<{ points: string[]; localDc: string; pid?: number; close(): Promise<void> }> {
  if (process.env.DC_BENCH_CONTACT_POINTS) {
    // DC_BENCH_STORAGE_PID: the node's process (or its parent), so Cassandra's CPU is measured too.
    const pid = process.env.DC_BENCH_STORAGE_PID ? Number(process.env.DC_BENCH_STORAGE_PID) : undefined;
    return { points: process.env.DC_BENCH_CONTACT_POINTS.split(','), localDc: process.env.DC_BENCH_LOCAL_DC ?? 'datacenter1', pid, close: async () => {} };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'dc-bench-node-'));
  const node: LocalNode = await startLocalNode({
    address: '127.0.0.1',
    port: 19142,
    clusterName: 'dynamo-cassandra-bench',
    dataDir,
    heapMb: 1024,
    log: (l) => process.stderr.write(`[bench-node] ${l}\n`),
  });
  return {
    points: [`${node.address}:${node.port}`],
    localDc: node.datacenter,
    pid: node.pid,
    async close() {
      if (!node.reused) await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');

// Servers started here must not outlive an interrupted benchmark.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** Runs `dynamo-cassandra serve` as its own process (as users run it) and waits until it answers. */
export async function startServeProcess(args: string[], port: number): Promise<{ endpoint: string; pid: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(endpoint)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('serve did not start');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export function formatRow(cells: (string | number)[]): string {
  return '| ' + cells.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(2)) : c)).join(' | ') + ' |';
}

/**
 * A minimal keep-alive HTTP client for the DynamoDB JSON protocol. Measuring with it as well as
 * with the AWS SDK separates the server's cost from the SDK's own CPU cost per request, which on
 * a 2-core machine shared with Cassandra is a large part of the total.
 */
export function lightClient(endpoint: string, extraHeaders: Record<string, string> = {}): (action: string, body: object) => Promise<void> {
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return (action, body) =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/',
          agent,
          headers: {
            'x-amz-target': `DynamoDB_20120810.${action}`,
            'content-type': 'application/x-amz-json-1.0',
            'content-length': Buffer.byteLength(payload),
            ...extraHeaders,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.end(payload);
    });
}

export interface ServeBench {
  cluster: { points: string[]; localDc: string; pid?: number };
  endpoint: string;
  /** The serve process (its workers are its children): for CPU per operation. */
  serverPid: number;
  /** The AWS SDK v3 client, and the minimal HTTP client, both pointed at `serve`. */
  sdk: DynamoDBClient;
  raw: (action: string, body: object) => Promise<void>;
  /** A cassandra-driver client on the same node, for the direct-CQL side of a comparison. */
  cql: cassandra.Client;
  /** The CQL table (keyspace-qualified) that stores a DynamoDB table. */
  cqlTableOf(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * What the API benchmarks share: a Cassandra node, `serve` in its own process on its own keyspace,
 * an SDK client, a light client and a direct CQL client; close() drops the keyspace and stops all.
 */
export async function serveBench(keyspace: string, serveArgs: string[] = []): Promise<ServeBench> {
  const cluster = await benchCluster();
  const port = 18000 + Math.floor(Math.random() * 2000);
  const server = await startServeProcess(['--contact-points', cluster.points.join(','), '--local-dc', cluster.localDc, '--keyspace', keyspace, ...serveArgs], port);
  const sdk = new DynamoDBClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  const [host, cqlPort] = cluster.points[0].split(':');
  const cql = new cassandra.Client({
    contactPoints: [host],
    protocolOptions: { port: Number(cqlPort ?? 9042) },
    localDataCenter: cluster.localDc,
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
  });
  await cql.connect();
  return {
    cluster,
    endpoint: server.endpoint,
    serverPid: server.pid,
    sdk,
    raw: lightClient(server.endpoint),
    cql,
    async cqlTableOf(name) {
      const rs = await cql.execute(`SELECT definition FROM ${keyspace}.dc_catalog WHERE name = ?`, [name], { prepare: true });
      return `${keyspace}."${JSON.parse(rs.first().get('definition')).cqlTable}"`;
    },
    async close() {
      sdk.destroy();
      await cql.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await cql.shutdown();
      await server.stop();
      await cluster.close();
    },
  };
}

/** One Scan page through the API, for the benchmarks that read a whole table. */
export async function scanPage(endpoint: string, body: object): Promise<{ Count: number; LastEvaluatedKey?: unknown }> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.Scan' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`Scan failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { Count: number; LastEvaluatedKey?: unknown };
}
