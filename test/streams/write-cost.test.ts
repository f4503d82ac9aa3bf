// What a write costs on a table with a stream, in CQL statements by kind, and that the item state a
// process remembers from its last write (src/storage/known-items.ts), which saves the read, never
// decides a write wrongly when another process changed the item meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, DeleteItemCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { startServer, type Server } from '../../src/server.js';
import type { CqlSession } from '../../src/storage/session.js';
import { TEST_TRANSLATORS, errorOf, sdkClient, startTestServer, type TestServer } from '../helpers/server.js';
import { bySequence, readStream, streamsClient } from './helpers.js';

interface Counts {
  reads: number;
  lwts: number;
  writes: number;
}

/** Counts the statements `session` sends on item tables and stream records, by kind. */
function countStatements(session: CqlSession): { counts: Counts; reset(): void; restore(): void } {
  const original = session.execute;
  const counts: Counts = { reads: 0, lwts: 0, writes: 0 };
  session.execute = (query, params, consistency, serial) => {
    // Item tables are t_<prefix>_<id> (after the keyspace); background work on other tables is not counted.
    if (/\.("?)t_\w+|dc_stream_records/.test(query)) {
      if (/^\s*SELECT/i.test(query)) counts.reads++;
      else if (/\sIF\s/i.test(query)) counts.lwts++;
      else counts.writes++;
    }
    return original(query, params, consistency, serial);
  };
  return {
    counts,
    reset: () => Object.assign(counts, { reads: 0, lwts: 0, writes: 0 }),
    restore: () => void (session.execute = original),
  };
}

const table = (name: string, translator: string, stream: boolean) =>
  new CreateTableCommand({
    TableName: name,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
    ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
    Tags: [{ Key: 'dynamo-cassandra:translator', Value: translator }],
  });

const settle = () => new Promise((r) => setTimeout(r, 500));

for (const translator of TEST_TRANSLATORS) {
  describe(`cost of a write with a stream, and the remembered item state (${translator})`, () => {
    let t: TestServer;
    let other: Server;
    let otherClient: DynamoDBClient;
    let streams: DynamoDBStreamsClient;
    before(async () => {
      t = await startTestServer(`t_streams_cost_${translator}`);
      // A second server over the same keyspace, as another `serve` process would be.
      other = await startServer({ ...t.config, port: 0 }, t.config.contactPoints);
      otherClient = sdkClient(`http://127.0.0.1:${other.port}`);
      streams = streamsClient(t.endpoint);
    });
    after(async () => {
      streams.destroy();
      otherClient.destroy();
      await other.close();
      await t.close();
    });

    test('PutItem of an item this process wrote: one lightweight transaction and the record (pending, then its mark), no read', async () => {
      await t.client.send(table('costed', translator, true));
      await t.client.send(table('plain', translator, false));
      const N = 20;
      const put = (name: string, i: number, v: number) =>
        t.client.send(new PutItemCommand({ TableName: name, Item: { pk: { S: `k${i}` }, v: { N: String(v) }, pad: { S: 'x'.repeat(200) } } }));
      const counter = countStatements(t.server.session);
      try {
        const measure = async (name: string, v: number) => {
          counter.reset();
          for (let i = 0; i < N; i++) await put(name, i, v);
          await settle(); // the commit marks are not awaited by the writes
          const c = counter.counts;
          return { reads: c.reads / N, lwts: c.lwts / N, writes: c.writes / N };
        };
        const first = await measure('costed', 1);
        const again = await measure('costed', 2);
        const plain = await measure('plain', 1);
        console.log(`statements per PutItem: stream, new item ${JSON.stringify(first)}; stream, known item ${JSON.stringify(again)}; no stream ${JSON.stringify(plain)}`);
        // An item this process has not seen is read first (for its old image).
        assert.deepEqual(first, { reads: 1, lwts: 1, writes: 2 });
        assert.deepEqual(again, { reads: 0, lwts: 1, writes: 2 });
        assert.deepEqual(plain, { reads: 0, lwts: 1, writes: 0 });
      } finally {
        counter.restore();
      }
      const records = bySequence(await readStream(streams, (await describeArn(t.client, 'costed'))!, 2 * N));
      assert.equal(records.length, 2 * N);
      assert.equal(records.filter((r) => r.eventName === 'MODIFY' && r.dynamodb!.OldImage!.v!.N === '1' && r.dynamodb!.NewImage!.v!.N === '2').length, N);
    });

    test('another process changed the item: answers, conditions and records are those of the item as it is', async () => {
      await t.client.send(table('shared', translator, true));
      const key = { pk: { S: 'k' } };
      const item = (v: number) => ({ ...key, v: { N: String(v) } });
      await t.client.send(new PutItemCommand({ TableName: 'shared', Item: item(1) }));
      // Behind this server's back: v2. This server's PutItem must answer v2 as the old item.
      await otherClient.send(new PutItemCommand({ TableName: 'shared', Item: item(2) }));
      const replaced = await t.client.send(new PutItemCommand({ TableName: 'shared', Item: item(3), ReturnValues: 'ALL_OLD' }));
      assert.deepEqual(replaced.Attributes, item(2));
      // Deleted behind its back: a condition that the remembered v3 would fail holds on the item as it is.
      await otherClient.send(new DeleteItemCommand({ TableName: 'shared', Key: key }));
      await t.client.send(new PutItemCommand({ TableName: 'shared', Item: item(4), ConditionExpression: 'attribute_not_exists(pk)' }));
      // And one that the remembered v4 would pass fails on the item as it is (v5).
      await otherClient.send(new PutItemCommand({ TableName: 'shared', Item: item(5) }));
      const failed = await errorOf(() =>
        t.client.send(new UpdateItemCommand({ TableName: 'shared', Key: key, UpdateExpression: 'SET v = :n', ConditionExpression: 'v = :four', ExpressionAttributeValues: { ':n': { N: '9' }, ':four': { N: '4' } } })),
      );
      assert.equal(failed.name, 'ConditionalCheckFailedException');
      // Writing what this server last wrote (v4) over v5 is a change: written, with its record.
      await t.client.send(new PutItemCommand({ TableName: 'shared', Item: item(4) }));
      // Counters from both servers in turn: every increment counts once.
      for (let i = 0; i < 6; i++) {
        await (i % 2 ? otherClient : t.client).send(new UpdateItemCommand({ TableName: 'shared', Key: key, UpdateExpression: 'ADD c :one', ExpressionAttributeValues: { ':one': { N: '1' } } }));
      }
      const final = await t.client.send(new GetItemCommand({ TableName: 'shared', Key: key, ConsistentRead: true }));
      assert.deepEqual(final.Item, { ...item(4), c: { N: '6' } });
      const expected = [
        'INSERT -→1', 'MODIFY 1→2', 'MODIFY 2→3', 'REMOVE 3→-', 'INSERT -→4', 'MODIFY 4→5', 'MODIFY 5→4',
        ...Array.from({ length: 6 }, (_, i) => `MODIFY 4→4 c${i === 0 ? '-' : i}→${i + 1}`),
      ];
      const records = bySequence(await readStream(streams, (await describeArn(t.client, 'shared'))!, expected.length));
      const v = (image?: Record<string, { N?: string }>) => image?.v?.N ?? '-';
      const seen = records.map((r) => {
        const { OldImage: o, NewImage: n } = r.dynamodb! as { OldImage?: Record<string, { N?: string }>; NewImage?: Record<string, { N?: string }> };
        const counter = n?.c ? ` c${o?.c?.N ?? '-'}→${n.c.N}` : '';
        return `${r.eventName} ${v(o)}→${v(n)}${counter}`;
      });
      assert.deepEqual(seen, expected);
    });
  });
}

async function describeArn(client: DynamoDBClient, name: string): Promise<string | undefined> {
  return (await client.send(new DescribeTableCommand({ TableName: name }))).Table!.LatestStreamArn;
}
