// ReturnItemCollectionMetrics=SIZE through the AWS SDK over real Cassandra: single-item writes,
// BatchWriteItem and TransactWriteItems report the written items' collections on a table with a
// local secondary index, and nothing on a table without one (DynamoDB's documented behaviour;
// DynamoDB Local returns no metrics at all).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, PutItemCommand, TransactWriteItemsCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { sizeEstimateRangeGB } from '../../src/actions/item-collection-metrics.js';
import { TEST_TRANSLATORS, createPkTable, startTestServer, type TestServer } from '../helpers/server.js';

const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });
const SMALL = [0, 1];

test('SizeEstimateRangeGB: the whole gigabytes below the size, and the next one', () => {
  assert.deepEqual(sizeEstimateRangeGB(0), [0, 1]);
  assert.deepEqual(sizeEstimateRangeGB(1024 ** 3 - 1), [0, 1]);
  assert.deepEqual(sizeEstimateRangeGB(1.5 * 1024 ** 3), [1, 2]);
  assert.deepEqual(sizeEstimateRangeGB(10 * 1024 ** 3), [10, 11]);
});

for (const translator of TEST_TRANSLATORS) {
  describe(`ItemCollectionMetrics (${translator})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(`t_icm_${translator}`, { translator });
      await t.client.send(
        new CreateTableCommand({
          TableName: 'threads',
          KeySchema: [{ AttributeName: 'forum', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }],
          AttributeDefinitions: [
            { AttributeName: 'forum', AttributeType: 'S' },
            { AttributeName: 'id', AttributeType: 'N' },
            { AttributeName: 'last', AttributeType: 'S' },
          ],
          LocalSecondaryIndexes: [{ IndexName: 'byLast', KeySchema: [{ AttributeName: 'forum', KeyType: 'HASH' }, { AttributeName: 'last', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await createPkTable(t.client, 'plain');
    });
    after(() => t?.close());

    const metrics = (forum: string) => ({ ItemCollectionKey: { forum: S(forum) }, SizeEstimateRangeGB: SMALL });

    test('PutItem, UpdateItem and DeleteItem report the collection only when asked, and only with an LSI', async () => {
      const put = await t.client.send(
        new PutItemCommand({ TableName: 'threads', Item: { forum: S('db'), id: N(1), last: S('x'), body: S('y'.repeat(5000)) }, ReturnItemCollectionMetrics: 'SIZE' }),
      );
      assert.deepEqual(put.ItemCollectionMetrics, metrics('db'));
      const update = await t.client.send(
        new UpdateItemCommand({ TableName: 'threads', Key: { forum: S('db'), id: N(2) }, UpdateExpression: 'SET #l = :l', ExpressionAttributeNames: { '#l': 'last' }, ExpressionAttributeValues: { ':l': S('z') }, ReturnItemCollectionMetrics: 'SIZE' }),
      );
      assert.deepEqual(update.ItemCollectionMetrics, metrics('db'));
      const del = await t.client.send(new DeleteItemCommand({ TableName: 'threads', Key: { forum: S('db'), id: N(2) }, ReturnItemCollectionMetrics: 'SIZE' }));
      assert.deepEqual(del.ItemCollectionMetrics, metrics('db'));
      const notAsked = await t.client.send(new PutItemCommand({ TableName: 'threads', Item: { forum: S('db'), id: N(3) }, ReturnItemCollectionMetrics: 'NONE' }));
      assert.equal(notAsked.ItemCollectionMetrics, undefined);
      const noLsi = await t.client.send(new PutItemCommand({ TableName: 'plain', Item: { pk: S('a') }, ReturnItemCollectionMetrics: 'SIZE' }));
      assert.equal(noLsi.ItemCollectionMetrics, undefined);
    });

    test('BatchWriteItem and TransactWriteItems list each written collection once, per table with an LSI', async () => {
      const batch = await t.client.send(
        new BatchWriteItemCommand({
          RequestItems: {
            threads: [{ PutRequest: { Item: { forum: S('a'), id: N(1) } } }, { PutRequest: { Item: { forum: S('a'), id: N(2) } } }, { DeleteRequest: { Key: { forum: S('b'), id: N(1) } } }],
            plain: [{ PutRequest: { Item: { pk: S('b') } } }],
          },
          ReturnItemCollectionMetrics: 'SIZE',
        }),
      );
      assert.deepEqual(batch.ItemCollectionMetrics, { threads: [metrics('a'), metrics('b')] });
      const tx = await t.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: 'threads', Item: { forum: S('c'), id: N(1) } } },
            { Update: { TableName: 'threads', Key: { forum: S('a'), id: N(1) }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': N(1) } } },
            { ConditionCheck: { TableName: 'threads', Key: { forum: S('db'), id: N(1) }, ConditionExpression: 'attribute_exists(forum)' } },
            { Put: { TableName: 'plain', Item: { pk: S('c') } } },
          ],
          ReturnItemCollectionMetrics: 'SIZE',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      assert.deepEqual(tx.ItemCollectionMetrics, { threads: [metrics('c'), metrics('a')] });
      assert.equal(tx.ConsumedCapacity?.length, 2);
      const plainOnly = await t.client.send(
        new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'plain', Item: { pk: S('d') } } }], ReturnItemCollectionMetrics: 'SIZE' }),
      );
      assert.equal(plainOnly.ItemCollectionMetrics, undefined);
    });
  });
}
