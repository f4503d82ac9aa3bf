// UpdateItem that only takes attributes away (REMOVE, DELETE from a set, legacy AttributeUpdates
// DELETE) on a missing item creates no item, as DynamoDB behaves; every other update of a missing
// item (SET, ADD, even none at all) creates it from its key. DynamoDB Local creates a key-only
// item here, so this follows DynamoDB (ScyllaDB's Alternator, tested against DynamoDB, agrees).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, startTestServer, type TestServer } from '../helpers/server.js';

for (const translator of TEST_TRANSLATORS) {
  describe(`UpdateItem that only removes, on a missing item (${translator})`, () => {
    let t: TestServer;
    const T = 'removes';
    const I = 'removes-indexed';
    before(async () => {
      t = await startTestServer(`test_update_removes_${translator}`, { translator });
      await t.client.send(new CreateTableCommand({ TableName: T, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
      await t.client.send(
        new CreateTableCommand({
          TableName: I,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }],
          GlobalSecondaryIndexes: [{ IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    });
    after(() => t?.close());

    const stored = async (table: string, pk: string) =>
      (await t.client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;
    const update = (pk: string, rest: Partial<UpdateItemCommandInput>, table = T) =>
      t.client.send(new UpdateItemCommand({ TableName: table, Key: { pk: { S: pk } }, ...rest } as UpdateItemCommandInput));

    const removing: [string, Partial<UpdateItemCommandInput>][] = [
      ['REMOVE', { UpdateExpression: 'REMOVE a, b' }],
      ['DELETE from a set', { UpdateExpression: 'DELETE s :s', ExpressionAttributeValues: { ':s': { SS: ['x'] } } }],
      ['REMOVE and DELETE', { UpdateExpression: 'REMOVE a DELETE s :s', ExpressionAttributeValues: { ':s': { SS: ['x'] } } }],
      ['legacy DELETE', { AttributeUpdates: { a: { Action: 'DELETE' } } }],
      ['legacy DELETE of set members', { AttributeUpdates: { s: { Action: 'DELETE', Value: { SS: ['x'] } } } }],
      ['REMOVE with a condition that holds', { UpdateExpression: 'REMOVE a', ConditionExpression: 'attribute_not_exists(pk)' }],
    ];
    for (const [name, rest] of removing) {
      test(`${name}: no item is created`, async () => {
        const pk = `missing-${name}`;
        const out = await update(pk, rest);
        assert.equal(out.Attributes, undefined);
        assert.equal(await stored(T, pk), undefined);
      });
    }

    for (const rv of ['ALL_NEW', 'UPDATED_NEW', 'ALL_OLD', 'UPDATED_OLD'] as const) {
      test(`ReturnValues ${rv}: no Attributes, no item`, async () => {
        const out = await update(`rv-${rv}`, { UpdateExpression: 'REMOVE a', ReturnValues: rv, ReturnConsumedCapacity: 'TOTAL' });
        assert.equal(out.Attributes, undefined);
        assert.deepEqual(out.ConsumedCapacity, { TableName: T, CapacityUnits: 1 });
        assert.equal(await stored(T, `rv-${rv}`), undefined);
      });
    }

    test('on a table with an index: no item and no index entry', async () => {
      await update('ix', { UpdateExpression: 'REMOVE g' }, I);
      assert.equal(await stored(I, 'ix'), undefined);
      const q = await t.client.send(new QueryCommand({ TableName: I, IndexName: 'by-g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'x' } } }));
      assert.equal(q.Count, 0);
    });

    test('other updates of a missing item still create it', async () => {
      await update('made-by-set', { UpdateExpression: 'REMOVE a SET b = :b', ExpressionAttributeValues: { ':b': { S: 'y' } } });
      assert.deepEqual(await stored(T, 'made-by-set'), { pk: { S: 'made-by-set' }, b: { S: 'y' } });
      await update('made-by-add', { UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } });
      assert.deepEqual(await stored(T, 'made-by-add'), { pk: { S: 'made-by-add' }, n: { N: '1' } });
      await update('made-by-nothing', {});
      assert.deepEqual(await stored(T, 'made-by-nothing'), { pk: { S: 'made-by-nothing' } });
    });

    test('on an existing item it removes, and the key-only item stays', async () => {
      await t.client.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'there' }, a: { S: '1' }, s: { SS: ['x', 'y'] } } }));
      const out = await update('there', { UpdateExpression: 'REMOVE a DELETE s :s', ExpressionAttributeValues: { ':s': { SS: ['x', 'y'] } }, ReturnValues: 'ALL_NEW' });
      assert.deepEqual(out.Attributes, { pk: { S: 'there' } });
      assert.deepEqual(await stored(T, 'there'), { pk: { S: 'there' } });
    });

    test('under forbid_rmw write isolation, REMOVE stays allowed and creates nothing', async () => {
      const F = 'removes-forbid';
      await t.client.send(
        new CreateTableCommand({
          TableName: F,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          Tags: [{ Key: 'dynamo-cassandra:write_isolation', Value: 'forbid_rmw' }],
        }),
      );
      await update('gone', { UpdateExpression: 'REMOVE a' }, F);
      assert.equal(await stored(F, 'gone'), undefined);
      await t.client.send(new PutItemCommand({ TableName: F, Item: { pk: { S: 'here' }, a: { S: '1' }, b: { S: '2' } } }));
      await update('here', { UpdateExpression: 'REMOVE a' }, F);
      assert.deepEqual(await stored(F, 'here'), { pk: { S: 'here' }, b: { S: '2' } });
    });
  });
}
