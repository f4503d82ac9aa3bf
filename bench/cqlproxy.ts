// CQL proxy benchmark: the same cassandra-driver client at the same concurrency, prepared
// writes and reads, direct to the source vs through the proxy (dual-writing to the target).
// The proxy runs in its own process, as it would in production.
//
//   node dist/bench/cqlproxy.js [--seconds 3] [--concurrency 32] [--rounds 3]
// or from bench/run.ts: `await runCqlProxyBench({ seconds, concurrency, rounds })` → markdown.
//
// Both nodes are warmed up first (a cold target JIT-compiling through the first proxy run made
// the proxy look several times slower), then direct and proxy runs alternate for several rounds
// and each figure is the median over the rounds: the machine's cores are shared and noisy.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';
import { startLocalNode } from '../src/local-node/index.js';
import { startCqlProxy } from '../src/cqlproxy/index.js';

interface Result {
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(concurrency: number, seconds: number, op: (i: number) => Promise<unknown>, warmupMs = 1000): Promise<Result> {
  let counter = 0;
  const phase = async (ms: number, lat?: number[], err?: { n: number }): Promise<void> => {
    const until = Date.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) {
          const t0 = process.hrtime.bigint();
          try {
            await op(counter++);
          } catch {
            if (err) err.n++;
          }
          lat?.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }),
    );
  };
  await phase(warmupMs); // warm-up: connections, prepared statements, JIT
  const lat: number[] = [];
  const err = { n: 0 };
  const t0 = Date.now();
  await phase(seconds * 1000, lat, err);
  const secs = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { ops: lat.length, opsPerSec: lat.length / secs, p50: q(0.5), p99: q(0.99), errors: err.n };
}

function startProxyProcess(source: string, target: string, failedLog: string): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child-proxy', source, target, failedLog], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve({ port: (m as { port: number }).port, child }));
    child.once('exit', (code) => reject(new Error(`proxy process exited with ${code}`)));
  });
}

function median(rs: Result[]): Result {
  const m = (f: (r: Result) => number): number => {
    const v = rs.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  return { ops: m((r) => r.ops), opsPerSec: m((r) => r.opsPerSec), p50: m((r) => r.p50), p99: m((r) => r.p99), errors: rs.reduce((n, r) => n + r.errors, 0) };
}

export async function runCqlProxyBench(opts: { seconds?: number; concurrency?: number; rounds?: number } = {}): Promise<string> {
  const seconds = opts.seconds ?? 3;
  const concurrency = opts.concurrency ?? 32;
  const rounds = opts.rounds ?? 3;
  const tmp = mkdtempSync(join(tmpdir(), 'cqlproxy-bench-'));
  const [src, tgt] = await Promise.all([
    startLocalNode({ address: '127.0.0.2', port: 9042, clusterName: 'bench_source', datacenter: 'dc_source', dataDir: join(tmp, 'source'), heapMb: 512 }),
    startLocalNode({ address: '127.0.0.3', port: 9042, clusterName: 'bench_target', datacenter: 'dc_target', dataDir: join(tmp, 'target'), heapMb: 512 }),
  ]);
  const proxy = await startProxyProcess(`${src.address}:${src.port}`, `${tgt.address}:${tgt.port}`, join(tmp, 'failed.jsonl'));
  const clientFor = (point: string, dc: string): cassandra.Client =>
    new cassandra.Client({ contactPoints: [point], localDataCenter: dc, pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } } });
  const direct = clientFor(`${src.address}:${src.port}`, 'dc_source');
  const directTarget = clientFor(`${tgt.address}:${tgt.port}`, 'dc_target');
  const viaProxy = clientFor(`127.0.0.1:${proxy.port}`, 'dc_source');
  try {
    await Promise.all([direct.connect(), directTarget.connect(), viaProxy.connect()]);
    await viaProxy.execute("CREATE KEYSPACE IF NOT EXISTS bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    await viaProxy.execute('CREATE TABLE IF NOT EXISTS bench.kv (k int PRIMARY KEY, v text)');
    const value = 'x'.repeat(100);
    const write = (c: cassandra.Client) => (i: number) => c.execute('INSERT INTO bench.kv (k, v) VALUES (?, ?)', [i % 100000, value], { prepare: true });
    const read = (c: cassandra.Client) => (i: number) => c.execute('SELECT v FROM bench.kv WHERE k = ?', [i % 10000], { prepare: true });
    // Reference for the same Cassandra work: the client itself writes to both clusters and waits for both.
    const both = (i: number) => Promise.all([write(direct)(i), write(directTarget)(i)]);
    const runs = { dw: [] as Result[], bw: [] as Result[], pw: [] as Result[], dr: [] as Result[], pr: [] as Result[] };
    // Warm-up of both nodes (writes and reads) and of the proxy.
    for (const op of [both, write(viaProxy), read(direct), read(viaProxy)]) await load(concurrency, 1, op, 0);
    for (let r = 0; r < rounds; r++) {
      runs.dw.push(await load(concurrency, seconds, write(direct)));
      runs.pw.push(await load(concurrency, seconds, write(viaProxy)));
      runs.bw.push(await load(concurrency, seconds, both));
      runs.dr.push(await load(concurrency, seconds, read(direct)));
      runs.pr.push(await load(concurrency, seconds, read(viaProxy)));
    }
    const [dw, pw, bw, dr, pr] = [runs.dw, runs.pw, runs.bw, runs.dr, runs.pr].map(median) as [Result, Result, Result, Result, Result];
    const rows: Array<[string, Result, Result]> = [
      ['prepared INSERT (proxy dual-writes)', dw, pw],
      ['prepared INSERT: client writes both clusters itself vs proxy', bw, pw],
      ['prepared SELECT (source only)', dr, pr],
    ];
    const f = (n: number): string => n.toFixed(2);
    const lines = [
      `Same cassandra-driver client, ${concurrency} concurrent requests, both nodes warmed up, then ${rounds} rounds of ${seconds} s runs`,
      'alternating direct and proxy; medians over the rounds. Proxy in its own process; source and target are single local nodes',
      'on the same machine (so dual writes also double the Cassandra work on its cores).',
      '',
      '| workload | direct ops/s | proxy ops/s | ratio | direct p50 ms | proxy p50 ms | added p50 ms | direct p99 ms | proxy p99 ms | errors |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(([name, d, p]) =>
        `| ${name} | ${d.opsPerSec.toFixed(0)} | ${p.opsPerSec.toFixed(0)} | ${f(p.opsPerSec / d.opsPerSec)} | ${f(d.p50)} | ${f(p.p50)} | ${f(p.p50 - d.p50)} | ${f(d.p99)} | ${f(p.p99)} | ${d.errors + p.errors} |`,
      ),
    ];
    return lines.join('\n');
  } finally {
    await Promise.allSettled([direct.shutdown(), directTarget.shutdown(), viaProxy.shutdown()]);
    proxy.child.kill('SIGTERM');
    await Promise.allSettled([src.stop(), tgt.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function childProxy(source: string, target: string, failedLog: string): Promise<void> {
  const quiet = { info() {}, warn() {}, error() {} };
  const p = await startCqlProxy({ listen: '127.0.0.1:0', source, target, failedLog, readReport: failedLog + '.reads' }, { logger: quiet });
  process.send?.({ port: p.port });
  process.once('SIGTERM', () => void p.close().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child-proxy') {
    void childProxy(process.argv[3]!, process.argv[4]!, process.argv[5]!);
  } else {
    const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '32' }, rounds: { type: 'string', default: '3' } } });
    runCqlProxyBench({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), rounds: Number(values.rounds) }).then(
      (md) => {
        console.log(md);
        process.exit(0);
      },
      (err: Error) => {
        console.error(err.stack ?? err.message);
        process.exit(1);
      },
    );
  }
}
