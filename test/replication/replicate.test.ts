// Full migrations from DynamoDB Local into our tables: a snapshot of a table that writers keep
// changing, every attribute type, deletes, and tables the replicator must refuse.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, DeleteItemCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { startTestServer } from '../helpers/server.js';
import { canonicalText, fromSdkItem } from '../../src/replication/items.js';
import { ReplicationState } from '../../src/storage/state/replication-state.js';
import { createSourceTable, fill, replicator, richItem, startEnv, startWriters, waitFor, waitIdentical, type Env } from './helpers.js';

// DynamoDB Local returns numbers inside lists as written ('1.50'); compare canonical forms.
const same = (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined) =>
  assert.equal(a && canonicalText(fromSdkItem(a)), b && canonicalText(fromSdkItem(b)));

describe('replicate from DynamoDB Streams', () => {
  let env: Env;
  before(async () => {
    env = await startEnv('test_repl_main');
  });
  after(async () => {
    await env?.close();
  });

  test('snapshot of a populated table while writers keep changing it converges to the source', async () => {
    await createSourceTable(env.db, 'orders', { range: true });
    await fill(env.db, 'orders', 1500, true);
    const writers = startWriters(env.db, 'orders', 1800, 2, true);
    const r = replicator(env, { tables: [{ source: 'orders', target: 'orders' }] });
    await r.start();
    try {
      const state = new ReplicationState(env.ctx.session);
      await waitFor('the snapshot to finish', async () => (await state.getTable('orders'))?.phase === 'streaming');
      // Writers keep going during the tail: wait for real changes, not a fixed time (slow under load).
      const atSnapshotEnd = writers.ops();
      await waitFor('writers to change items during the tail', async () => writers.ops() >= atSnapshotEnd + 100);
      const ops = await writers.stop();
      assert.ok(ops > 100, `writers made ${ops} changes`);
      const report = await waitIdentical(env, 'orders');
      assert.ok(report.sourceItems > 1000);
      // Readable through the API at once, equal to the source.
      const key = { pk: richItem(5, true).pk!, sk: richItem(5, true).sk! };
      const [ours, theirs] = await Promise.all([
        env.server.client.send(new GetItemCommand({ TableName: 'orders', Key: key })),
        env.db.send(new GetItemCommand({ TableName: 'orders', Key: key, ConsistentRead: true })),
      ]);
      same(ours.Item, theirs.Item);
      assert.equal(r.failures.size, 0);
    } finally {
      await writers.stop();
      await r.stop();
    }
  });

  test('every attribute type, updates and deletes arrive through the stream (cells translator too)', async () => {
    await createSourceTable(env.db, 'types', { view: 'NEW_IMAGE' });
    await fill(env.db, 'types', 60);
    // A second replica in a table made beforehand through the API with the cells layout.
    await env.server.client.send(
      new CreateTableCommand({
        TableName: 'types_cells',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        Tags: [{ Key: 'dynamo-cassandra:translator', Value: 'cells' }],
      }),
    );
    const r = replicator(env, { tables: [{ source: 'types', target: 'types' }, { source: 'types', target: 'types_cells' }] });
    await r.start();
    try {
      await waitIdentical(env, 'types');
      await waitIdentical(env, 'types', 'types_cells');
      for (let i = 60; i < 90; i++) await env.db.send(new PutItemCommand({ TableName: 'types', Item: richItem(i) }));
      for (let i = 0; i < 20; i++) await env.db.send(new DeleteItemCommand({ TableName: 'types', Key: { pk: richItem(i).pk! } }));
      await env.db.send(
        new UpdateItemCommand({
          TableName: 'types',
          Key: { pk: richItem(30).pk! },
          UpdateExpression: 'SET m.n.deep[1] = :s, ns = :ns REMOVE b, z',
          ExpressionAttributeValues: { ':s': { S: 'changed' }, ':ns': { NS: ['0.1', '-5E+3'] } },
        }),
      );
      await waitIdentical(env, 'types');
      await waitIdentical(env, 'types', 'types_cells');
      const gone = await env.server.client.send(new GetItemCommand({ TableName: 'types', Key: { pk: richItem(3).pk! } }));
      assert.equal(gone.Item, undefined);
      const key = { pk: richItem(30).pk! };
      const [ours, theirs] = await Promise.all([
        env.server.client.send(new GetItemCommand({ TableName: 'types', Key: key })),
        env.db.send(new GetItemCommand({ TableName: 'types', Key: key, ConsistentRead: true })),
      ]);
      same(ours.Item, theirs.Item);
      assert.equal(ours.Item?.b, undefined);
    } finally {
      await r.stop();
    }
  });

  test("the source's indexes are created on the target and answer queries", async () => {
    await env.db.send(
      new CreateTableCommand({
        TableName: 'indexed',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
          { AttributeName: 'g', AttributeType: 'S' },
          { AttributeName: 'l', AttributeType: 'N' },
        ],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
        LocalSecondaryIndexes: [
          {
            IndexName: 'byL',
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const put = (i: number) =>
      env.db.send(
        new PutItemCommand({ TableName: 'indexed', Item: { pk: { S: `p${i % 3}` }, sk: { N: String(i) }, g: { S: `g${i % 4}` }, l: { N: String(-i) } } }),
      );
    for (let i = 0; i < 20; i++) await put(i);
    const r = replicator(env, { tables: [{ source: 'indexed', target: 'indexed' }] });
    await r.start();
    try {
      for (let i = 20; i < 30; i++) await put(i);
      await waitIdentical(env, 'indexed');
      const desc = await env.server.client.send(new DescribeTableCommand({ TableName: 'indexed' }));
      assert.deepEqual(desc.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName), ['byG']);
      assert.deepEqual(desc.Table?.LocalSecondaryIndexes?.map((g) => g.IndexName), ['byL']);
      const query = { TableName: 'indexed', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g1' } } };
      const [ours, theirs] = await Promise.all([env.server.client.send(new QueryCommand(query)), env.db.send(new QueryCommand(query))]);
      assert.equal(ours.Count, theirs.Count);
      assert.ok((ours.Count ?? 0) > 0);
    } finally {
      await r.stop();
    }
  });

  test('runs inside serve by configuration, its metrics on the API /metrics', async () => {
    await createSourceTable(env.db, 'served');
    await env.db.send(new PutItemCommand({ TableName: 'served', Item: richItem(1) }));
    // The SDK takes the source credentials from the environment, as on a real deployment.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    const served = await startTestServer('test_repl_serve', {
      replicateSourceEndpoint: env.local.endpoint,
      replicateTables: ['served'],
      replicateLeaseSeconds: 3,
    });
    try {
      await env.db.send(new PutItemCommand({ TableName: 'served', Item: richItem(2) }));
      const key = { pk: richItem(2).pk! };
      const got = await waitFor('the item through the API', async () => {
        // The replicator creates the table first: until then, ResourceNotFoundException.
        const out = await served.client.send(new GetItemCommand({ TableName: 'served', Key: key })).catch(() => undefined);
        return out?.Item;
      });
      same(got, (await env.db.send(new GetItemCommand({ TableName: 'served', Key: key }))).Item);
      // The item may have come with the snapshot; its stream record follows.
      const metrics = await waitFor('the stream records in /metrics', async () => {
        const text = await (await fetch(`${served.endpoint}/metrics`)).text();
        return /dynamodb_replication_records_applied_total\{table="served",event="INSERT"\} [1-9]/.test(text) && text;
      });
      assert.match(metrics, /dynamodb_replication_shard_lag_seconds\{table="served",shard="[^"]+"\} \d/);
      assert.match(metrics, /dynamodb_requests_total/);
    } finally {
      await served.close();
    }
  });

  test('a table without a stream, or without new images, is refused with what to do', async () => {
    await createSourceTable(env.db, 'nostream', { view: null });
    await createSourceTable(env.db, 'keysonly', { view: 'KEYS_ONLY' });
    const r = replicator(env, { tables: [{ source: 'nostream', target: 'nostream' }, { source: 'keysonly', target: 'keysonly' }] });
    await r.start();
    await r.done();
    await r.stop();
    assert.match(r.failures.get('nostream')?.message ?? '', /has no stream.*StreamEnabled=true/);
    assert.match(r.failures.get('keysonly')?.message ?? '', /view type KEYS_ONLY.*NEW_IMAGE or NEW_AND_OLD_IMAGES/);
  });
});
