// Replication from DynamoDB Streams, with DynamoDB Local as the source:
// - snapshot throughput (items/s written into Cassandra) for 1 KB items, into targets of write
//   isolation only_rmw (the replicator's default) and always (where the stream tail then writes
//   with lightweight transactions; the snapshot itself is plain writes in both), beside two
//   ceilings measured in the same run: the source's parallel Scan alone and direct prepared CQL
//   inserts of the same rows, one at a time;
// - steady-state lag (source write acknowledged → item readable in Cassandra) at a fixed source
//   write rate, with the replicator in its own process as users run it.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { translators } from '../translators/index.js';
import { defaultConfig, type Config, type WriteIsolation } from '../src/config.js';
import { handleOf, type ActionContext } from '../src/actions/context.js';
import { storageServices } from '../src/storage/services.js';
import { createReplicationMetrics } from '../src/replication/metrics.js';
import { Replicator } from '../src/replication/replicator.js';
import { awsSource } from '../src/replication/source.js';
import { ReplicationState } from '../src/storage/state/replication-state.js';
import { Catalog } from '../src/storage/catalog.js';
import { ItemStore } from '../src/storage/item-store.js';
import { connect } from '../src/storage/session.js';
import { startDynamoDBLocal } from '../test/helpers/dynamodb-local.js';
import { benchCluster, formatRow, lightClient } from './harness.js';

export interface ReplicationBenchOptions {
  /** Items in the snapshot table. */
  items: number;
  /** Source writes per second during the lag measurement. */
  writeRate: number;
  /** Length of the lag measurement. */
  seconds: number;
  /** Run only one of the two parts. */
  only?: 'snapshot' | 'lag';
}

const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 1 KB item (DynamoDB's size: names plus values). */
function item(i: number) {
  return {
    pk: { S: `item-${i}` },
    name: { S: `user ${i}` },
    n: { N: String(i) },
    tags: { SS: ['a', 'b', `t${i % 10}`] },
    blob: { S: 'x'.repeat(940) },
  };
}

/**
 * PutItem as raw JSON over a keep-alive connection: the load generator must not be the bottleneck
 * on 2 cores (the SDK costs several times more CPU per request). DynamoDB Local does not check
 * signatures, but wants an Authorization header.
 */
function rawPutter(endpoint: string, table: string): (item: object) => Promise<void> {
  const send = lightClient(endpoint, {
    authorization: 'AWS4-HMAC-SHA256 Credential=bench/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
  });
  return (item) => send('PutItem', { TableName: table, Item: item });
}

const pct = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);

async function withConcurrency(n: number, total: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < total) await fn(next++);
  }));
}

export async function runReplicationBench(o: ReplicationBenchOptions): Promise<string> {
  const cluster = await benchCluster();
  let local = await startDynamoDBLocal();
  const keyspace = 'bench_replication';
  const config: Config = { ...defaultConfig(), contactPoints: cluster.points, localDc: cluster.localDc, keyspace };
  const session = await connect(config, cluster.points);
  await session.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await session.client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${config.replication}`);
  const catalog = new Catalog(session);
  await catalog.init();
  const store = new ItemStore(session);
  await store.indexes.init();
  const ctx = storageServices({ config, session, catalog, store, translators });
  let db = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  const source = awsSource({ endpoint: local.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  const state = new ReplicationState(session);
  await state.init();
  const out: string[] = [];
  try {
    const createSource = (name: string) =>
      db.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
        }),
      );

    // ---- snapshot ----
    if (o.only !== 'lag') {
    await createSource('snap');
    let t0 = Date.now();
    await withConcurrency(8, Math.ceil(o.items / 25), async (b) => {
      const batch = Array.from({ length: Math.min(25, o.items - b * 25) }, (_, j) => ({ PutRequest: { Item: item(b * 25 + j) } }));
      await db.send(new BatchWriteItemCommand({ RequestItems: { snap: batch } }));
    });
    const fillRate = o.items / ((Date.now() - t0) / 1000);

    const segments = 4;
    t0 = Date.now();
    let scanned = 0;
    await Promise.all(
      Array.from({ length: segments }, async (_, s) => {
        let key: Record<string, unknown> | undefined;
        do {
          const page = await source.scan('snap', s, segments, key, 500);
          scanned += page.items.length;
          key = page.lastKey;
        } while (key);
      }),
    );
    const scanRate = scanned / ((Date.now() - t0) / 1000);

    // The same rows straight into a document-layout table with prepared CQL, one row per request.
    await session.client.execute(`CREATE TABLE ${keyspace}.direct (pk text PRIMARY KEY, item text, ver bigint)`);
    const insert = `INSERT INTO ${keyspace}.direct (pk, item, ver) VALUES (?, ?, ?)`;
    t0 = Date.now();
    await withConcurrency(256, o.items, async (i) => {
      await session.execute(insert, [`item-${i}`, JSON.stringify(item(i)), 1], session.consistency.write);
    });
    const directRate = o.items / ((Date.now() - t0) / 1000);

    const snapshot = async (target: string, isolation: WriteIsolation) => {
      const r = new Replicator({
        ctx,
        source,
        tables: [{ source: 'snap', target }],
        metrics: createReplicationMetrics(),
        log: () => undefined,
        segments,
        concurrency: 64,
        writeIsolation: isolation,
      });
      await r.start();
      try {
        for (;;) {
          const t = await state.getTable(target);
          if (t?.phase === 'streaming' && t.snapshot.doneAt) return t.snapshot;
          if (r.failures.size) throw [...r.failures.values()][0];
          await sleep(100);
        }
      } finally {
        await r.stop();
      }
    };
    // An unmeasured first snapshot: the first one in a process ran at a fraction of the rate of
    // later ones (JIT warm-up of this process and of DynamoDB Local, which a real table amortises).
    await snapshot('snap_warmup', 'only_rmw');
    const rows: string[][] = [];
    for (const isolation of ['only_rmw', 'always'] as const) {
      const s = await snapshot(`snap_${isolation}`, isolation);
      const rate = (s.items ?? 0) / (((s.doneAt ?? 0) - (s.startedAt ?? 0)) / 1000);
      rows.push([`replicate (target write isolation ${isolation})`, String(s.items), rate.toFixed(0), (rate / directRate).toFixed(2)]);
    }
    out.push(
      `Snapshot of ${o.items.toLocaleString('en-US')} items of 1 KB, ${segments} parallel Scan segments, 64 writes (small unlogged batches) in flight per segment, after one unmeasured snapshot (warm-up).`,
      '',
      '| path | items | items/s | vs direct CQL |',
      '| --- | --- | --- | --- |',
      formatRow(['source Scan alone (DynamoDB Local, no writes)', scanned, scanRate.toFixed(0), (scanRate / directRate).toFixed(2)]),
      formatRow(['direct prepared CQL INSERT, one row per request, 256 in flight', o.items, directRate.toFixed(0), '1.00']),
      ...rows.map((r) => formatRow(r)),
      '',
      `(Filling the source ran at ${fillRate.toFixed(0)} items/s through BatchWriteItem.)`,
      '',
    );

    }

    // ---- steady-state lag ----
    if (o.only !== 'snapshot') {
    // A fresh DynamoDB Local: the snapshot's table and stream would slow it down (512 MB heap).
    await local.stop();
    local = await startDynamoDBLocal();
    db.destroy();
    db = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
    await createSource('live');
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');
    const child = spawn(
      process.execPath,
      [
        cli, 'replicate', '--source-endpoint', local.endpoint, '--table', 'live', '--contact-points', cluster.points.join(','),
        '--local-dc', cluster.localDc, '--keyspace', keyspace, '--metrics-port', '0',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', NODE_NO_WARNINGS: '1' } },
    );
    try {
      for (;;) {
        if ((await state.getTable('live'))?.phase === 'streaming') break;
        if (child.exitCode !== null) throw new Error('replicate exited');
        await sleep(100);
      }
      const handle = handleOf(ctx as ActionContext, (await catalog.get('live'))!);
      const put = rawPutter(local.endpoint, 'live');
      const lags: number[] = [];
      const probes: Promise<void>[] = [];
      let written = 0;
      let failed = 0;
      const warmup = 3;
      const total = o.writeRate * (o.seconds + warmup);
      const started = Date.now();
      // Open loop: write i is due at started + i / rate, whatever the latency of the others.
      await withConcurrency(64, total, async (i) => {
        const due = started + (i * 1000) / o.writeRate;
        if (due > Date.now()) await sleep(due - Date.now());
        try {
          await put(item(1_000_000 + i));
        } catch {
          failed++;
          return;
        }
        written++;
        const acked = Date.now();
        // Every 20th write after the warm-up: how long until the item is readable in Cassandra.
        if (i % 20 === 0 && acked - started > warmup * 1000) {
          probes.push(
            (async () => {
              for (let k = 0; k < 3000; k++) {
                if (await store.read(handle, { pk: { S: `item-${1_000_000 + i}` } }, false)) {
                  lags.push(Date.now() - acked);
                  return;
                }
                await sleep(10);
              }
            })(),
          );
        }
      });
      const elapsed = (Date.now() - started) / 1000;
      await Promise.all(probes);
      lags.sort((a, b) => a - b);
      out.push(
        `Steady-state lag: the replicator as its own process tailing the stream while the source takes ${o.writeRate} PutItem/s (open loop, raw JSON) of 1 KB items for ${o.seconds} s (after ${warmup} s of warm-up); lag is from the source's acknowledgement to the item being readable in Cassandra, sampled every 20th write.`,
        '',
        '| source writes/s (achieved) | samples | lag p50 (ms) | lag p99 (ms) | lag max (ms) | failed writes |',
        '| --- | --- | --- | --- | --- | --- |',
        formatRow([(written / elapsed).toFixed(0), lags.length, pct(lags, 0.5), pct(lags, 0.99), lags[lags.length - 1] ?? NaN, failed]),
        '',
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    }
  } finally {
    db.destroy();
    source.close();
    await session.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await session.shutdown();
    await local.stop();
    await cluster.close();
  }
  return out.join('\n');
}
