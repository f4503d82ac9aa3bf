// Multi-item requests are validated whole before anything is written or read: a BatchWriteItem
// with one item whose index key is empty or of the wrong type gets a ValidationException and
// none of its items is written (as DynamoDB and DynamoDB Local answer), across tables too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BatchGetItemCommand, BatchWriteItemCommand, CreateTableCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, errorOf, startTestServer, type TestServer } from '../helpers/server.js';

for (const translator of TEST_TRANSLATORS) {
  describe(`batches are all or nothing (${translator})`, () => {
    let t: TestServer;
    const G = 'batch-gsi';
    const L = 'batch-lsi';
    const P = 'batch-plain';
    before(async () => {
      t = await startTestServer(`test_batch_whole_${translator}`, { translator });
      await t.client.send(
        new CreateTableCommand({
          TableName: G,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'gn', AttributeType: 'N' }],
          GlobalSecondaryIndexes: [
            { IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
            { IndexName: 'by-gn', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'gn', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await t.client.send(
        new CreateTableCommand({
          TableName: L,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'B' }],
          LocalSecondaryIndexes: [{ IndexName: 'by-l', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await t.client.send(new CreateTableCommand({ TableName: P, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    });
    after(() => t?.close());

    const count = async (table: string) => (await t.client.send(new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true }))).Count;
    const puts = (items: Record<string, AttributeValue>[]) => items.map((Item) => ({ PutRequest: { Item } }));
    const good = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ pk: { S: `${prefix}${i}` }, g: { S: 'ok' }, gn: { N: String(i) } }));

    const bad: [string, Record<string, AttributeValue>, RegExp][] = [
      ['a GSI hash key of the wrong type', { pk: { S: 'bad' }, g: { N: '1' } }, /Type mismatch for Index Key g/],
      ['an empty GSI hash key', { pk: { S: 'bad' }, g: { S: '' } }, /empty string value.*IndexName: by-g, IndexKey: g/],
      ['a GSI range key of the wrong type', { pk: { S: 'bad' }, gn: { S: 'x' } }, /Type mismatch for Index Key gn/],
    ];
    for (const [name, item, message] of bad) {
      test(`${name} as the last item: ValidationException, nothing written`, async () => {
        const e = await errorOf(() => t.client.send(new BatchWriteItemCommand({ RequestItems: { [G]: puts([...good(24, 'w'), item]) } })));
        assert.equal(e.name, 'ValidationException');
        assert.match(e.message, message);
        assert.equal(await count(G), 0);
      });
    }

    test('an empty LSI key in a second table: nothing written in either table', async () => {
      const e = await errorOf(() =>
        t.client.send(
          new BatchWriteItemCommand({
            RequestItems: {
              [P]: puts([{ pk: { S: 'p1' } }, { pk: { S: 'p2' } }]),
              [L]: puts([{ pk: { S: 'x' }, sk: { S: '1' }, l: { B: new Uint8Array([1]) } }, { pk: { S: 'x' }, sk: { S: '2' }, l: { B: new Uint8Array(0) } }]),
            },
          }),
        ),
      );
      assert.equal(e.name, 'ValidationException');
      assert.match(e.message, /IndexName: by-l, IndexKey: l/);
      assert.equal(await count(P), 0);
      assert.equal(await count(L), 0);
    });

    test('a bad item beside deletes: the deletes do not happen either', async () => {
      await t.client.send(new BatchWriteItemCommand({ RequestItems: { [G]: puts(good(3, 'keep')) } }));
      const e = await errorOf(() =>
        t.client.send(
          new BatchWriteItemCommand({
            RequestItems: { [G]: [...good(3, 'keep').map((i) => ({ DeleteRequest: { Key: { pk: i.pk } } })), { PutRequest: { Item: { pk: { S: 'bad' }, g: { BOOL: true } } } }] },
          }),
        ),
      );
      assert.equal(e.name, 'ValidationException');
      assert.equal(await count(G), 3);
    });

    test('the same batch without the bad item writes everything', async () => {
      await t.client.send(new BatchWriteItemCommand({ RequestItems: { [G]: puts(good(25, 'all')) } }));
      assert.equal(await count(G), 28);
    });

    test('BatchGetItem with one bad key in a second table: ValidationException, no partial answer', async () => {
      const e = await errorOf(() =>
        t.client.send(new BatchGetItemCommand({ RequestItems: { [G]: { Keys: [{ pk: { S: 'all0' } }] }, [P]: { Keys: [{ pk: { S: 'p1' } }, { pk: { N: '1' } }] } } })),
      );
      assert.equal(e.name, 'ValidationException');
      assert.match(e.message, /does not match the schema|Type mismatch for key/);
    });
  });
}
