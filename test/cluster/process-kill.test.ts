// Process kill on the three-node cluster: a `serve` process is SIGKILLed while it writes items with
// GSIs (once under plain load, once held between the base write and its index writes), and once
// while it backfills a GSI added by UpdateTable. The other process (its sweeper, its backfill
// takeover) must leave table and index in agreement, item by item, within a bounded wait.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  BatchWriteItemCommand, CreateTableCommand, DescribeTableCommand, type DynamoDBClient, PutItemCommand, QueryCommand, ScanCommand,
  UpdateItemCommand, UpdateTableCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { sdkClient, startClusterServe, startTestCluster, type ClusterServe, type TestCluster } from '../helpers/cluster.js';
import { waitForOutput } from '../helpers/serve-process.js';

const KEYSPACE = 'dc_cluster_process_kill';
const S = (s: string) => ({ S: s });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Sweeper: intents older than 15 s, rounds every 10 s; backfill takeover: heartbeats stale for 30 s. */
const REPAIR_WAIT_MS = 150_000;

const client = (endpoint: string) => sdkClient(endpoint, { maxAttempts: 1 });

let cluster: TestCluster;
let survivor: ClusterServe;
let db: DynamoDBClient;
const others: ClusterServe[] = [];

before(async () => {
  cluster = await startTestCluster();
  survivor = await startClusterServe(cluster, KEYSPACE);
  db = client(survivor.endpoint);
});

after(async () => {
  db?.destroy();
  await Promise.all([survivor, ...others].filter(Boolean).map((s) => s.stop()));
  await cluster?.stop();
});

async function createTable(name: string, opts: { gsi: boolean; stream?: boolean }): Promise<void> {
  await db.send(new CreateTableCommand({
    TableName: name,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(opts.gsi ? [{ AttributeName: 'g', AttributeType: 'S' as const }] : [])],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: opts.gsi ? [{ IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'pk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }] : undefined,
    StreamSpecification: opts.stream ? { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } : undefined,
  }));
}

async function scanAll(input: { TableName: string; IndexName?: string; ConsistentRead?: boolean }): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.send(new ScanCommand({ ...input, ExclusiveStartKey: start }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

const canonical = (it: Record<string, AttributeValue>) => JSON.stringify(Object.entries(it).sort(([a], [b]) => a.localeCompare(b)));

/** Items of the table that have g, against the by-g index: every difference, item by item. */
async function indexDiff(table: string): Promise<string[]> {
  const base = new Map((await scanAll({ TableName: table, ConsistentRead: true })).filter((it) => it.g).map((it) => [it.pk!.S!, canonical(it)]));
  const index = new Map<string, string>();
  const diff: string[] = [];
  for (const it of await scanAll({ TableName: table, IndexName: 'by-g' })) {
    if (index.has(it.pk!.S!)) diff.push(`${it.pk!.S} twice in the index`);
    index.set(it.pk!.S!, canonical(it));
  }
  for (const [pk, v] of base) if (index.get(pk) !== v) diff.push(`${pk}: table ${v}, index ${index.get(pk) ?? 'missing'}`);
  for (const pk of index.keys()) if (!base.has(pk)) diff.push(`${pk} only in the index`);
  return diff;
}

async function waitAgreement(table: string, started = Date.now()): Promise<number> {
  for (;;) {
    const diff = await indexDiff(table);
    if (diff.length === 0) return Date.now() - started;
    assert.ok(Date.now() - started < REPAIR_WAIT_MS, `after ${REPAIR_WAIT_MS / 1000} s the index still differs: ${diff.slice(0, 5).join('; ')} (${diff.length} in all)`);
    await sleep(2000);
  }
}

async function populate(table: string, count: number, g: (i: number) => string | undefined): Promise<void> {
  for (let i = 0; i < count; i += 25) {
    let pending = Array.from({ length: Math.min(25, count - i) }, (_, k) => {
      const v = g(i + k);
      return { PutRequest: { Item: { pk: S(`item${i + k}`), n: { N: String(i + k) }, ...(v ? { g: S(v) } : {}) } } };
    });
    while (pending.length) {
      const out = await db.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
    }
  }
}

test('SIGKILL of a serve process under index-maintaining write load: the sweeper repairs the index', async () => {
  await createTable('load', { gsi: true });
  await populate('load', 100, (i) => `g${i % 4}`);
  const victim = await startClusterServe(cluster, KEYSPACE);
  others.push(victim);
  const vdb = client(victim.endpoint);
  let stop = false;
  let acked = 0;
  // Writers move items between index keys (and drop some out of the sparse index).
  const writers = Array.from({ length: 12 }, async (_, w) => {
    for (let n = 0; !stop; n++) {
      const pk = `item${(w * 37 + n * 11) % 100}`;
      const update = n % 5 === 4
        ? new UpdateItemCommand({ TableName: 'load', Key: { pk: S(pk) }, UpdateExpression: 'REMOVE g SET w = :w', ExpressionAttributeValues: { ':w': S(`${w}-${n}`) } })
        : new UpdateItemCommand({ TableName: 'load', Key: { pk: S(pk) }, UpdateExpression: 'SET g = :g, w = :w', ExpressionAttributeValues: { ':g': S(`g${(w + n) % 6}`), ':w': S(`${w}-${n}`) } });
      try {
        await vdb.send(update);
        acked++;
      } catch {
        return; // the process is gone
      }
    }
  });
  // Killed mid-load, once it is well under way (on a loaded machine the first writes are slow).
  for (const until = Date.now() + 120_000; acked < 30 && Date.now() < until; ) await sleep(200);
  await victim.kill();
  const killedAt = Date.now();
  stop = true;
  await Promise.all(writers);
  vdb.destroy();
  assert.ok(acked >= 30, `only ${acked} writes before the kill`);
  const took = await waitAgreement('load', killedAt);
  console.log(`[process-kill] ${acked} writes acknowledged before the kill; table and index agree ${(took / 1000).toFixed(1)} s after it`);
});

test('SIGKILL between the base write and its index writes: the sweeper finishes them', async () => {
  // Streams on: the test-only pause point after the item write (DC_TEST_STREAM_PAUSE) holds each
  // write there, before its index writes, so that the kill lands in that window every time.
  await createTable('held', { gsi: true, stream: true });
  await populate('held', 10, () => 'old');
  const victim = await startClusterServe(cluster, KEYSPACE, { env: { DC_TEST_STREAM_PAUSE: 'after-item', DC_TEST_STREAM_PAUSE_MS: '120000' } });
  others.push(victim);
  const vdb = client(victim.endpoint);
  const writes = Array.from({ length: 10 }, (_, i) =>
    vdb.send(new PutItemCommand({ TableName: 'held', Item: { pk: S(`item${i}`), n: { N: String(i) }, g: S('new') } })).catch(() => undefined));
  await waitForOutput(victim.serve, 'stream-pause: after-item', 60_000);
  await sleep(1500); // let the other writes reach the pause too
  await victim.kill();
  const killedAt = Date.now();
  await Promise.all(writes);
  vdb.destroy();
  const held = (victim.serve.output().match(/stream-pause: after-item/g) ?? []).length;
  const before = await indexDiff('held');
  assert.ok(before.length > 0, 'the kill left the index behind the table');
  const took = await waitAgreement('held', killedAt);
  console.log(`[process-kill] ${held} writes held after their base write; ${before.length} index entries behind at the kill, repaired ${(took / 1000).toFixed(1)} s after it`);
  const index = await db.send(new QueryCommand({ TableName: 'held', IndexName: 'by-g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': S('new') } }));
  assert.ok(index.Count! >= held, `${index.Count} items under the new key, ${held} writes landed`);
});

test('SIGKILL of the process backfilling a new GSI: the other one takes the backfill over', async () => {
  const ITEMS = 1500;
  await createTable('backfill', { gsi: false });
  await populate('backfill', ITEMS, (i) => (i % 3 === 0 ? undefined : `g${i % 7}`));
  const victim = await startClusterServe(cluster, KEYSPACE);
  others.push(victim);
  const vdb = client(victim.endpoint);
  await vdb.send(new UpdateTableCommand({
    TableName: 'backfill',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }],
    GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'pk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } } }],
  }));
  vdb.destroy();
  const status = async () => (await db.send(new DescribeTableCommand({ TableName: 'backfill' }))).Table!.GlobalSecondaryIndexes?.[0]?.IndexStatus;
  // The backfill starts after a 3 s settling pause; kill it while it runs.
  await sleep(5000);
  assert.equal(await status(), 'CREATING', 'the backfill was still running at the kill');
  await victim.kill();
  const killedAt = Date.now();
  // Writes during the takeover, through the survivor: newer than what the backfill copies.
  for (let i = 0; i < 30; i++) {
    await db.send(new UpdateItemCommand({ TableName: 'backfill', Key: { pk: S(`item${i * 50}`) }, UpdateExpression: 'SET g = :g', ExpressionAttributeValues: { ':g': S('moved') } }));
  }
  while ((await status()) !== 'ACTIVE') {
    assert.ok(Date.now() - killedAt < REPAIR_WAIT_MS, `the index is still ${await status()} ${REPAIR_WAIT_MS / 1000} s after the kill`);
    await sleep(2000);
  }
  const active = Date.now() - killedAt;
  const took = await waitAgreement('backfill', killedAt);
  console.log(`[process-kill] backfill of ${ITEMS} items taken over: ACTIVE ${(active / 1000).toFixed(1)} s after the kill, index agrees at ${(took / 1000).toFixed(1)} s`);
});
