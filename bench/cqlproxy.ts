// CQL proxy benchmark: the same cassandra-driver client at the same concurrency, prepared
// writes and reads, direct to the source vs through the proxy (dual-writing to the target).
// The proxy runs in its own process, as it would in production.
//
//   node dist/bench/cqlproxy.js [--seconds 3] [--concurrency 32] [--rounds 3] [--warmup 5] [--isolate false]
// or from bench/run.ts: `await runCqlProxyBench({ seconds, concurrency, rounds })` → markdown.
//
// With `isolate` (the default where the machine allows it: root, `ip`, `taskset`) the target node
// runs in its own network namespace pinned to CPU 1, and the client, the proxy and the source to
// CPU 0: the dual-write figure then shows what the proxy costs, not the target's Cassandra
// competing for the same two cores (bench/isolation.ts).
//
// Both nodes are warmed up first (a cold target JIT-compiling through the first proxy run made
// the proxy look several times slower), then direct and proxy runs alternate for several rounds
// and each figure is the median over the rounds: the machine's cores are shared and noisy.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';
import { startLocalNode } from '../src/local-node/index.js';
import { startCqlProxy } from '../src/cqlproxy/index.js';
import { load, medianOf, withCpu, type Measured as MeasuredBy, type Result } from './harness.js';
import { isolationUnavailable, pin, startIsolatedNode } from './isolation.js';

type Proc = 'proxy' | 'source' | 'target' | 'client';
type Measured = MeasuredBy<Proc>;

function startProxyProcess(source: string, target: string, failedLog: string): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child-proxy', source, target, failedLog], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve({ port: (m as { port: number }).port, child }));
    child.once('exit', (code) => reject(new Error(`proxy process exited with ${code}`)));
  });
}

/** Median of each figure over the rounds (the machine is noisy), CPU per operation included. */
function medianResult(rs: Measured[]): Measured {
  const m = (f: (r: Measured) => number | undefined): number => medianOf(rs, f);
  const cpu: Partial<Record<Proc, number>> = {};
  for (const k of ['proxy', 'source', 'target', 'client'] as const) if (rs.some((r) => r.cpu[k] !== undefined)) cpu[k] = m((r) => r.cpu[k]);
  return {
    ops: m((r) => r.ops), seconds: m((r) => r.seconds), opsPerSec: m((r) => r.opsPerSec), p50: m((r) => r.p50), p99: m((r) => r.p99),
    errors: rs.reduce((n, r) => n + r.errors, 0), cpu,
  };
}

export async function runCqlProxyBench(opts: { seconds?: number; concurrency?: number; rounds?: number; warmup?: number; isolate?: boolean } = {}): Promise<string> {
  const seconds = opts.seconds ?? 3;
  // Seconds of each workload before the rounds: the target node JIT-compiles its write path only under the proxy's load.
  const warmup = opts.warmup ?? 5;
  const concurrency = opts.concurrency ?? 32;
  const rounds = opts.rounds ?? 3;
  const unavailable = isolationUnavailable();
  const isolate = (opts.isolate ?? true) && unavailable === undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'cqlproxy-bench-'));
  // Pinned before anything starts, so the source node and the proxy process inherit CPU 0.
  if (isolate) pin(process.pid, '0');
  const target = { clusterName: 'bench_target', datacenter: 'dc_target', dataDir: join(tmp, 'target'), heapMb: 512 };
  const [src, tgt] = await Promise.all([
    startLocalNode({ address: '127.0.0.12', port: 9042, clusterName: 'bench_source', datacenter: 'dc_source', dataDir: join(tmp, 'source'), heapMb: 512 }),
    isolate ? startIsolatedNode({ ...target, cpu: 1 }) : startLocalNode({ address: '127.0.0.13', port: 9042, ...target }),
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
    const pids = { proxy: proxy.child.pid, source: src.pid, target: tgt.pid };
    // Warm-up outside the CPU bracket, so CPU per operation counts only measured operations.
    const measured = async (op: (i: number) => Promise<unknown>): Promise<Measured> => {
      await load(concurrency, 1, op, 0);
      return withCpu(pids, () => load(concurrency, seconds, op, 0));
    };
    const runs = { dw: [] as Measured[], bw: [] as Measured[], pw: [] as Measured[], dr: [] as Measured[], pr: [] as Measured[] };
    // Warm-up of both nodes (writes and reads) and of the proxy.
    for (const op of [both, write(viaProxy), read(direct), read(viaProxy)]) await load(concurrency, warmup, op, 0);
    for (let r = 0; r < rounds; r++) {
      runs.dw.push(await measured(write(direct)));
      runs.pw.push(await measured(write(viaProxy)));
      runs.bw.push(await measured(both));
      runs.dr.push(await measured(read(direct)));
      runs.pr.push(await measured(read(viaProxy)));
      process.stderr.write(`[bench] cql-proxy round ${r + 1}/${rounds}: INSERT direct ${runs.dw[r]!.opsPerSec.toFixed(0)}, proxy ${runs.pw[r]!.opsPerSec.toFixed(0)} ops/s\n`);
    }
    const [dw, pw, bw, dr, pr] = [runs.dw, runs.pw, runs.bw, runs.dr, runs.pr].map(medianResult) as [Measured, Measured, Measured, Measured, Measured];
    const rows: Array<[string, Measured, Measured]> = [
      ['prepared INSERT (proxy dual-writes)', dw, pw],
      ['prepared INSERT: client writes both clusters itself vs proxy', bw, pw],
      ['prepared SELECT (source only)', dr, pr],
    ];
    const f = (n: number): string => n.toFixed(2);
    const us = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(0));
    const sum = (m: Measured, keys: Proc[]): number => keys.reduce((n, k) => n + (m.cpu[k] ?? NaN), 0);
    const lines = [
      `Same cassandra-driver client, ${concurrency} concurrent requests, both nodes warmed up, then ${rounds} rounds of ${seconds} s runs`,
      'alternating direct and proxy; medians over the rounds. Proxy in its own process; source and target are single local nodes.',
      isolate
        ? 'Target isolated: its own network namespace (reached over a veth pair) pinned to CPU 1; the client, the proxy and the source share CPU 0 in every run, so the ratio is the proxy\'s cost on that core plus waiting for the target.'
        : `Target not isolated (${opts.isolate === false ? 'asked not to' : unavailable}): both nodes share the machine's cores with the proxy and the client, so dual writes also double the Cassandra work on them.`,
      '',
      '| workload | direct ops/s | proxy ops/s | ratio | direct p50 ms | proxy p50 ms | added p50 ms | direct p99 ms | proxy p99 ms | errors |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(([name, d, p]) =>
        `| ${name} | ${d.opsPerSec.toFixed(0)} | ${p.opsPerSec.toFixed(0)} | ${f(p.opsPerSec / d.opsPerSec)} | ${f(d.p50)} | ${f(p.p50)} | ${f(p.p50 - d.p50)} | ${f(d.p99)} | ${f(p.p99)} | ${d.errors + p.errors} |`,
      ),
      '',
      'CPU per operation in µs of each process, from /proc (medians over the rounds). On two shared cores throughput follows the',
      'sum. "CPU-bound ratio": direct total / proxy total, the ratio to expect when all of it shares these cores. "Target elsewhere":',
      'the same without the target node\'s CPU, as in a real migration, where the target is another cluster on other machines.',
      'Both are conservative: Cassandra\'s CPU per operation grows as its request rate falls (idle worker threads spin), and',
      'the proxy runs are the slower ones.',
      '',
      '| workload | path | client | proxy | source | target | total | CPU-bound ratio | target elsewhere |',
      '|---|---|---|---|---|---|---|---|---|',
      ...([['prepared INSERT', dw, pw], ['prepared SELECT', dr, pr]] as Array<[string, Measured, Measured]>).flatMap(([name, d, p]) => {
        const direct = sum(d, ['client', 'source']);
        const all = sum(p, ['client', 'proxy', 'source', 'target']);
        const noTarget = sum(p, ['client', 'proxy', 'source']);
        return [
          `| ${name} | direct | ${us(d.cpu.client)} | | ${us(d.cpu.source)} | | ${us(direct)} | | |`,
          `| ${name} | proxy | ${us(p.cpu.client)} | ${us(p.cpu.proxy)} | ${us(p.cpu.source)} | ${us(p.cpu.target)} | ${us(all)} | ${f(direct / all)} | ${f(direct / noTarget)} |`,
        ];
      }),
    ];
    return lines.join('\n');
  } finally {
    await Promise.allSettled([direct.shutdown(), directTarget.shutdown(), viaProxy.shutdown()]);
    proxy.child.kill('SIGTERM');
    await Promise.allSettled([src.stop(), tgt.stop()]);
    if (isolate) pin(process.pid, `0-${cpus().length - 1}`);
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
    const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '32' }, rounds: { type: 'string', default: '3' }, warmup: { type: 'string', default: '5' }, isolate: { type: 'string', default: 'true' } } });
    runCqlProxyBench({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), rounds: Number(values.rounds), warmup: Number(values.warmup), isolate: values.isolate !== 'false' }).then(
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
