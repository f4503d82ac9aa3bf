// Replication whose ends are both DynamoDB-API endpoints: DynamoDB Local → dynamo-cassandra →
// a second DynamoDB Local, dynamo-cassandra → DynamoDB Local for every kind of change, and a
// two-way setup whose loop guard keeps changes from being sent back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, TransactWriteItemsCommand, UpdateItemCommand, UpdateTimeToLiveCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { apiTarget, replicatorClient } from '../../src/replication/api-target.js';
import { canonicalText, fromSdkItem } from '../../src/replication/items.js';
import type { TargetOpener } from '../../src/replication/replica-target.js';
import { awsSource, type SourceApi, type StreamRecord } from '../../src/replication/source.js';
import { ReplicationState } from '../../src/storage/state/replication-state.js';
import { verify } from '../../src/replication/verify.js';
import { startApiEnds, type ApiEnds, apiReplicator, endpointOptions, streamRecords, tableOf, waitApiIdentical } from './api-helpers.js';
import { replicator, richItem, startWriters, waitFor, type Env } from './helpers.js';

/** The loop guard's counter as /metrics shows it, summed over tables. */
async function skippedReplicated(r: { o: { metrics: { registry: { metrics(): Promise<string> } } } }): Promise<number> {
  const text = await r.o.metrics.registry.metrics();
  assert.match(text, /# TYPE dynamodb_replication_records_skipped_replicated_total counter/);
  return [...text.matchAll(/^dynamodb_replication_records_skipped_replicated_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('replication between DynamoDB-API endpoints', () => {
  let ends: ApiEnds;
  let env: Env, secondDb: DynamoDBClient, secondApi: SourceApi, ours: SourceApi, toSecond: ReturnType<typeof apiTarget>;
  let second: { endpoint: string };
  before(async () => {
    ends = await startApiEnds('test_repl_api');
    ({ env, second, secondDb, secondApi, ours, toSecond } = ends);
  });
  after(() => ends?.close());

  test('dynamo-cassandra → DynamoDB Local: inserts, modifications, removals of every kind of write arrive; verify tells a difference', async () => {
    const c = env.server.client;
    await c.send(tableOf('kinds', 'NEW_IMAGE'));
    // Before the replicator starts: the snapshot carries these.
    for (let i = 0; i < 20; i++) await c.send(new PutItemCommand({ TableName: 'kinds', Item: richItem(i) }));
    await c.send(new UpdateTimeToLiveCommand({ TableName: 'kinds', TimeToLiveSpecification: { Enabled: true, AttributeName: 'exp' } }));
    const r = apiReplicator(env, ours, toSecond, 'kinds');
    await r.start();
    try {
      const state = new ReplicationState(env.ctx.session);
      await waitFor('the snapshot to finish', async () => (await state.getTable(toSecond.scope + 'kinds'))?.phase === 'streaming', 300_000);
      const key = (i: number) => ({ pk: richItem(i).pk! });
      // INSERT (PutItem and a transaction), MODIFY (UpdateItem, PutItem over an item), REMOVE (DeleteItem, a transaction, TTL expiry).
      for (let i = 20; i < 30; i++) await c.send(new PutItemCommand({ TableName: 'kinds', Item: richItem(i) }));
      await c.send(
        new UpdateItemCommand({
          TableName: 'kinds', Key: key(3), UpdateExpression: 'SET v = :v, m.a = :s REMOVE ss ADD ns :n',
          ExpressionAttributeValues: { ':v': { N: '7' }, ':s': { S: 'changed' }, ':n': { NS: ['99'] } },
        }),
      );
      await c.send(new PutItemCommand({ TableName: 'kinds', Item: { ...richItem(4), s: { S: 'replaced' } } }));
      await c.send(new DeleteItemCommand({ TableName: 'kinds', Key: key(5) }));
      await c.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: 'kinds', Item: { pk: { S: 'tx-new' }, n: { N: '1' } } } },
            { Delete: { TableName: 'kinds', Key: key(6) } },
            { Update: { TableName: 'kinds', Key: key(7), UpdateExpression: 'SET tx = :t', ExpressionAttributeValues: { ':t': { BOOL: true } } } },
          ],
        }),
      );
      const expired: Record<string, AttributeValue> = { pk: { S: 'expired' }, exp: { N: String(Math.floor(Date.now() / 1000) - 60) } };
      await c.send(new PutItemCommand({ TableName: 'kinds', Item: expired }));
      // The background sweeper may delete it before the target ever holds it: either way it must end absent there.
      await waitFor('the expired item to be deleted by TTL', async () => {
        await env.server.server.ttl.runOnce();
        return !(await c.send(new GetItemCommand({ TableName: 'kinds', Key: { pk: expired.pk! }, ConsistentRead: true }))).Item;
      });
      await waitApiIdentical(env, ours, secondApi, 'kinds', 180_000);
      const get = async (k: Record<string, AttributeValue>) => {
        const [a, b] = await Promise.all([
          c.send(new GetItemCommand({ TableName: 'kinds', Key: k, ConsistentRead: true })),
          secondDb.send(new GetItemCommand({ TableName: 'kinds', Key: k, ConsistentRead: true })),
        ]);
        return [a.Item && canonicalText(fromSdkItem(a.Item)), b.Item && canonicalText(fromSdkItem(b.Item))];
      };
      for (const k of [key(3), key(4), key(7), key(25), { pk: { S: 'tx-new' } }]) {
        const [a, b] = await get(k);
        assert.ok(a, `${JSON.stringify(k)} exists`);
        assert.equal(b, a);
      }
      for (const k of [key(5), key(6), { pk: expired.pk! }]) assert.deepEqual(await get(k), [undefined, undefined]);
      // verify is not blind: a change made behind the replicator's back is reported.
      await secondDb.send(new PutItemCommand({ TableName: 'kinds', Item: { ...richItem(8), s: { S: 'tampered' } } }));
      const report = await verify({ ctx: env.ctx, source: ours, sourceTable: 'kinds', target: 'kinds', targetApi: secondApi, segments: 2 });
      assert.equal(report.different, 1);
      assert.equal(report.identical, false);
      assert.equal(r.failures.size, 0);
    } finally {
      await r.stop();
    }
  });

  test("a replicator's request (its header) makes stream records that name the replicator; others do not", async () => {
    await env.server.client.send(tableOf('marks'));
    const marked = replicatorClient(endpointOptions(env.server.endpoint));
    try {
      await marked.send(new PutItemCommand({ TableName: 'marks', Item: { pk: { S: 'by-replicator' } } }));
      await env.server.client.send(new PutItemCommand({ TableName: 'marks', Item: { pk: { S: 'by-user' } } }));
      await marked.send(new DeleteItemCommand({ TableName: 'marks', Key: { pk: { S: 'by-user' } } }));
      const streams = new DynamoDBStreamsClient(endpointOptions(env.server.endpoint));
      const records = await waitFor('three records', async () => {
        const r = await streamRecords(streams, 'marks');
        return r.length >= 3 && r;
      });
      streams.destroy();
      const seen = records.map((r) => `${r.eventName} ${r.dynamodb?.Keys?.pk?.S} ${r.userIdentity?.PrincipalId ?? '-'}`).sort();
      assert.deepEqual(seen, ['INSERT by-replicator replicator.dynamo-cassandra', 'INSERT by-user -', 'REMOVE by-user replicator.dynamo-cassandra']);
    } finally {
      marked.destroy();
    }
  });

  test('two-way DynamoDB Local ⇄ dynamo-cassandra converges; no change is sent back where it came from', async () => {
    // Both ends start empty, each with a stream; each direction skips the other's writes.
    await Promise.all([secondDb.send(tableOf('both')), env.server.client.send(tableOf('both'))]);
    const backApi = awsSource(endpointOptions(second.endpoint));
    const streams = new DynamoDBStreamsClient(endpointOptions(env.server.endpoint));
    // What the reverse direction's writer is handed, after the loop guard.
    const handed = new Map<string, StreamRecord>();
    const counting: TargetOpener = async (desc, name, l) => {
      const t = await toSecond.open(desc, name, l);
      return {
        ...t,
        id: t.id,
        created: t.created,
        isEmpty: () => t.isEmpty(),
        truncate: () => t.truncate(),
        check: (fresh) => t.check(fresh),
        writer: (n) => {
          const w = t.writer(n);
          return {
            putItems: (items, at, check) => w.putItems(items, at, check),
            applyRecords: (records, skip, check) => {
              for (const r of records) handed.set(r.sequenceNumber, r);
              return w.applyRecords(records, skip, check);
            },
          };
        },
      };
    };
    const forward = replicator(env, { tables: [{ source: 'both', target: 'both' }], source: backApi, ignoreReplicated: true, leaseMs: 10_000 });
    const backward = apiReplicator(env, ours, toSecond, 'both', { ignoreReplicated: true, open: counting });
    await forward.start();
    await backward.start();
    try {
      const state = new ReplicationState(env.ctx.session);
      await waitFor('both directions to tail', async () =>
        (await state.getTable('both'))?.phase === 'streaming' && (await state.getTable(toSecond.scope + 'both'))?.phase === 'streaming',
        300_000);
      const writersA = startWriters(secondDb, 'both', 40, 1);
      const writersB = startWriters(env.server.client, 'both', 40, 1);
      try {
        await waitFor('writes on both sides', async () => writersA.ops() >= 60 && writersB.ops() >= 60, 240_000);
      } finally {
        await Promise.all([writersA.stop(), writersB.stop()]);
      }
      // Keys written on both sides meanwhile end equal on both (whichever change came last).
      await waitApiIdentical(env, backApi, ours, 'both', 180_000);
      const countRecords = async () => [(await streamRecords(streams, 'both')).length, handed.size];
      // Lag settles (a record whose commit mark comes late, a last change still in flight); a loop
      // never does: the counts must stop moving for 4 s within a minute.
      let settled = await countRecords();
      const until = Date.now() + 60_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 4000));
        const now = await countRecords();
        if (now[0] === settled[0] && now[1] === settled[1]) break;
        assert.ok(Date.now() < until, `records keep coming: changes travel back and forth (${settled.join('/')} → ${now.join('/')})`);
        settled = now;
      }
      // Our stream holds the forward direction's writes, marked; the backward direction never got one.
      const ourRecords = await streamRecords(streams, 'both');
      const marked = ourRecords.filter((r) => r.userIdentity?.PrincipalId === 'replicator.dynamo-cassandra');
      assert.ok(marked.length > 20, `${marked.length} of ${ourRecords.length} records marked as the replicator's`);
      assert.ok(handed.size > 0);
      assert.equal([...handed.values()].filter((r) => r.replicated).length, 0);
      assert.equal(handed.size, ourRecords.length - marked.length);
      // The loop guard's count on /metrics: the backward direction skipped exactly the marked
      // records; DynamoDB Local cannot mark records, so the forward direction skipped none.
      assert.equal(await skippedReplicated(backward), marked.length);
      assert.equal(await skippedReplicated(forward), 0);
      assert.equal(forward.failures.size + backward.failures.size, 0);
    } finally {
      await Promise.all([forward.stop(), backward.stop()]);
      backApi.close();
      streams.destroy();
    }
  });
});
