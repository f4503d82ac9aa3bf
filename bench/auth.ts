// Cost of request authentication: GetItem and PutItem throughput through the AWS SDK against two
// `serve` processes on the same node and keyspace, one with --auth off and one with --auth
// enforce, measured alternately in one run; plus the CPU time of one verification in-process.
import { randomBytes } from 'node:crypto';
import aws4 from 'aws4';
import cassandra from 'cassandra-driver';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createHook } from '../src/auth/index.js';
import type { KeyStore } from '../src/auth/key-store.js';
import { parseRule } from '../src/auth/policy.js';
import { defaultConfig } from '../src/config.js';
import { benchCluster, cpuMicros, formatRow, load, startServeProcess, type Result } from './harness.js';

export interface AuthBenchOptions {
  seconds: number;
  concurrency: number;
  workers: number;
  items: number;
  /** Measurements per mode and operation, alternated (default 2). */
  rounds?: number;
}

const payload = (i: number) => ({ pk: { S: `k${i}` }, name: { S: `user ${i}` }, n: { N: String(i) }, blob: { S: 'x'.repeat(900) } });

/** Microseconds of CPU per verified request: header parsing, cached key lookup, HMAC, authorization. */
async function verificationMicros(): Promise<number> {
  const secret = 'bench-secret-key-0123456789';
  const store = {
    lookup: () => ({ accessKeyId: 'BENCHKEY', secretAccessKey: secret, principal: { arn: 'arn:aws:iam::000000000000:user/b', accountId: '000000000000', region: 'us-east-1', rules: [parseRule('*')] } }),
  } as unknown as KeyStore;
  const hook = createHook(defaultConfig(), store, 'enforce');
  const body = JSON.stringify({ TableName: 'bench', Item: payload(1) });
  const req = { host: 'localhost:8000', path: '/', method: 'POST', service: 'dynamodb', region: 'us-east-1', body, headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.PutItem' } as Record<string, string> };
  aws4.sign(req, { accessKeyId: 'BENCHKEY', secretAccessKey: secret });
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const request = { method: 'POST', url: '/', headers, rawBody: Buffer.from(body), log: console } as never;
  const parsed = JSON.parse(body);
  for (let i = 0; i < 2000; i++) await hook(request, 'PutItem', parsed);
  const n = 20000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await hook(request, 'PutItem', parsed);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}


async function dropKeyspace(points: string[], localDc: string, keyspace: string): Promise<void> {
  const [host, port] = points[0].split(':');
  const cql = new cassandra.Client({ contactPoints: [host], protocolOptions: { port: Number(port ?? 9042) }, localDataCenter: localDc });
  try {
    await cql.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  } catch {
    /* best effort */
  } finally {
    await cql.shutdown();
  }
}

export async function runAuthBench(o: AuthBenchOptions): Promise<string> {
  const rounds = o.rounds ?? 2;
  const micros = await verificationMicros();
  const cluster = await benchCluster();
  const keyspace = 'bench_auth';
  await dropKeyspace(cluster.points, cluster.localDc, keyspace); // a previous interrupted run may have left it
  const creds = { accessKeyId: 'BENCHAUTHKEY', secretAccessKey: randomBytes(20).toString('base64') };
  const common = ['--contact-points', cluster.points.join(','), '--local-dc', cluster.localDc, '--keyspace', keyspace, '--workers', String(o.workers)];
  const base = 18000 + Math.floor(Math.random() * 1000);
  const secrets = ['--auth-server-key', randomBytes(32).toString('hex'), '--access-key', creds.accessKeyId, '--secret-key', creds.secretAccessKey];
  const off = await startServeProcess([...common, ...secrets, '--auth', 'off'], base);
  const enforce = await startServeProcess([...common, ...secrets, '--auth', 'enforce'], base + 1);
  const client = (endpoint: string) => new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
  const clients = { off: client(off.endpoint), enforce: client(enforce.endpoint) };
  const table = 'bench-auth';
  const results: Record<string, Record<'off' | 'enforce', (Result & { cpuPerOp?: number })[]>> = {};
  const pids = { off: off.pid, enforce: enforce.pid };
  try {
    await clients.enforce.send(
      new CreateTableCommand({ TableName: table, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    for (let i = 0; i < o.items; i += 64) {
      await Promise.all(Array.from({ length: Math.min(64, o.items - i) }, (_, j) => clients.enforce.send(new PutItemCommand({ TableName: table, Item: payload(i + j) }))));
    }
    const ops = {
      GetItem: (c: DynamoDBClient) => (i: number) => c.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `k${i % o.items}` } } })),
      PutItem: (c: DynamoDBClient) => (i: number) => c.send(new PutItemCommand({ TableName: table, Item: payload(i % o.items) })),
    };
    for (const [name, op] of Object.entries(ops)) {
      results[name] = { off: [], enforce: [] };
      // Warm both servers up outside the measurements (load() then runs without its own warm-up, so CPU counts match ops).
      for (const mode of ['off', 'enforce'] as const) await load(o.concurrency, 1, op(clients[mode]), 0);
      for (let r = 0; r < rounds; r++) {
        // Alternate the order so drift (compaction, JIT, caches) does not favour one mode.
        for (const mode of (r % 2 ? ['enforce', 'off'] : ['off', 'enforce']) as ('off' | 'enforce')[]) {
          const cpu0 = cpuMicros(pids[mode]);
          const res = await load(o.concurrency, o.seconds, op(clients[mode]), 0);
          const cpu1 = cpuMicros(pids[mode]);
          const cpuPerOp = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / res.ops : undefined;
          results[name][mode].push({ ...res, cpuPerOp });
          process.stderr.write(`[bench] auth ${mode} ${name}: ${res.opsPerSec.toFixed(0)} ops/s, server CPU ${cpuPerOp?.toFixed(0) ?? '?'} µs/op (errors ${res.errors})\n`);
        }
      }
    }
  } finally {
    clients.off.destroy();
    clients.enforce.destroy();
    await Promise.all([off.stop(), enforce.stop()]);
    await dropKeyspace(cluster.points, cluster.localDc, keyspace);
    await cluster.close();
  }
  const mean = <T,>(rs: T[], f: (r: T) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  const lines = [
    `Concurrency ${o.concurrency}, ${rounds} alternating measurements of ${o.seconds} s per mode, serve with ${o.workers} worker(s), ` +
      `same node and table; the SDK signs in both modes, only the server's verification differs. Latencies in ms.`,
    '',
    formatRow(['operation', 'auth off ops/s', 'off p50', 'off p99', 'auth enforce ops/s', 'enforce p50', 'enforce p99', 'enforce/off', 'throughput cost', 'server CPU µs/op off', 'enforce', 'CPU cost']),
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of Object.entries(results)) {
    const offOps = mean(r.off, (x) => x.opsPerSec);
    const onOps = mean(r.enforce, (x) => x.opsPerSec);
    const offCpu = mean(r.off, (x) => x.cpuPerOp ?? NaN);
    const onCpu = mean(r.enforce, (x) => x.cpuPerOp ?? NaN);
    lines.push(
      formatRow([
        name, Math.round(offOps), mean(r.off, (x) => x.p50), mean(r.off, (x) => x.p99), Math.round(onOps), mean(r.enforce, (x) => x.p50), mean(r.enforce, (x) => x.p99),
        onOps / offOps, `${((1 - onOps / offOps) * 100).toFixed(1)} %`,
        Number.isNaN(offCpu) ? 'n/a' : Math.round(offCpu), Number.isNaN(onCpu) ? 'n/a' : Math.round(onCpu),
        Number.isNaN(offCpu) || Number.isNaN(onCpu) ? 'n/a' : `${((onCpu / offCpu - 1) * 100).toFixed(1)} %`,
      ]),
    );
  }
  const errors = Object.entries(results).flatMap(([n, r]) => [...r.off, ...r.enforce].filter((x) => x.errors).map((x) => `${n}: ${x.errors}`));
  if (errors.length) lines.push('', `Errors: ${errors.join('; ')}`);
  lines.push(
    '',
    `Verification alone (parse, cached key, SigV4 HMAC, authorization of a 1 KB PutItem), in-process: ${micros.toFixed(1)} µs of CPU per request. ` +
      `Server CPU per operation comes from /proc and does not depend on other load on the machine; the throughput ratio does.`,
  );
  return lines.join('\n');
}
