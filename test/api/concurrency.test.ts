// Atomicity under concurrency: two server instances (as two processes would be) share one
// keyspace, so only Cassandra's lightweight transactions can keep updates from being lost.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, createPkTable, errorOf, startTestServer, type TestServer } from '../helpers/server.js';

for (const translator of TEST_TRANSLATORS) {
  describe(`concurrency (${translator})`, () => {
    let a: TestServer;
    let b: TestServer;
    const T = 'counters';
    before(async () => {
      const keyspace = `t_conc_${translator}`;
      a = await startTestServer(keyspace, { translator });
      b = await startTestServer(keyspace, { translator });
      await createPkTable(a.client, T);
    });
    after(async () => {
      await b?.server.close();
      await a?.close();
    });
    const clientFor = (i: number): DynamoDBClient => (i % 2 === 0 ? a.client : b.client);
    const read = async (pk: string) =>
      (await a.client.send(new GetItemCommand({ TableName: T, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;

    test('50 concurrent ADD increments of one counter end at exactly 50', async () => {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          clientFor(i).send(
            new UpdateItemCommand({
              TableName: T,
              Key: { pk: { S: 'counter' } },
              UpdateExpression: 'ADD n :one',
              ExpressionAttributeValues: { ':one': { N: '1' } },
            }),
          ),
        ),
      );
      assert.equal((await read('counter'))?.n.N, '50');
    });

    test('concurrent SET n = n + :one and list_append lose nothing', async () => {
      await a.client.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'mixed' }, n: { N: '0' }, l: { L: [] } } }));
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          clientFor(i).send(
            new UpdateItemCommand({
              TableName: T,
              Key: { pk: { S: 'mixed' } },
              UpdateExpression: 'SET n = n + :one, l = list_append(l, :me)',
              ExpressionAttributeValues: { ':one': { N: '1' }, ':me': { L: [{ N: String(i) }] } },
            }),
          ),
        ),
      );
      const item = await read('mixed');
      assert.equal(item?.n.N, '30');
      const seen = item!.l.L!.map((v) => Number(v.N)).sort((x, y) => x - y);
      assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i));
    });

    test('compare-and-set: exactly one winner per round', async () => {
      await a.client.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'cas' }, v: { N: '0' } } }));
      for (let round = 0; round < 5; round++) {
        const contenders = 8;
        const results = await Promise.allSettled(
          Array.from({ length: contenders }, (_, i) =>
            clientFor(i).send(
              new UpdateItemCommand({
                TableName: T,
                Key: { pk: { S: 'cas' } },
                UpdateExpression: 'SET v = :next, winner = :me',
                ConditionExpression: 'v = :cur',
                ExpressionAttributeValues: { ':cur': { N: String(round) }, ':next': { N: String(round + 1) }, ':me': { N: String(i) } },
              }),
            ),
          ),
        );
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
        for (const r of results) {
          if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'ConditionalCheckFailedException');
        }
        const item = await read('cas');
        assert.equal(item?.v.N, String(round + 1));
        assert.equal(item?.winner.N, String(winners[0]));
      }
    });

    test('create-only puts: one of many concurrent attribute_not_exists puts wins', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          clientFor(i).send(
            new PutItemCommand({
              TableName: T,
              Item: { pk: { S: 'once' }, by: { N: String(i) } },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        ),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(winners.length, 1);
      assert.equal((await read('once'))?.by.N, String(winners[0]));
    });

    test('write isolation per table: forbid_rmw refuses read-modify-write, only_rmw stays atomic', async () => {
      for (const mode of ['forbid_rmw', 'only_rmw']) {
        await a.client.send(
          new CreateTableCommand({
            TableName: `iso-${mode}`,
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
            Tags: [{ Key: 'dynamo-cassandra:write_isolation', Value: mode }],
          }),
        );
      }
      await a.client.send(new PutItemCommand({ TableName: 'iso-forbid_rmw', Item: { pk: { S: 'k' } } }));
      const refused = await errorOf(() =>
        a.client.send(new PutItemCommand({ TableName: 'iso-forbid_rmw', Item: { pk: { S: 'k' } }, ConditionExpression: 'attribute_exists(pk)' })),
      );
      assert.equal(refused.name, 'ValidationException');
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          clientFor(i).send(
            new UpdateItemCommand({
              TableName: 'iso-only_rmw',
              Key: { pk: { S: 'c' } },
              UpdateExpression: 'ADD n :one',
              ExpressionAttributeValues: { ':one': { N: '1' } },
            }),
          ),
        ),
      );
      const got = await a.client.send(new GetItemCommand({ TableName: 'iso-only_rmw', Key: { pk: { S: 'c' } }, ConsistentRead: true }));
      assert.equal(got.Item?.n.N, '20');
    });
  });
}
