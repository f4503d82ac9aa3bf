// Global secondary indexes whose key has several attributes (up to 4 HASH and 4 RANGE, DynamoDB
// since November 2025): CreateTable/UpdateTable validation, DescribeTable, sparse maintenance,
// Query with equality on every HASH attribute and RANGE attributes from the left, paging with
// every key attribute in LastEvaluatedKey, Scan, and backfill, for both translators.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, DeleteItemCommand, DescribeTableCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand,
  UpdateTableCommand, type AttributeValue, type KeySchemaElement, type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, errorOf, startTestServer, type TestServer } from '../helpers/server.js';

type Item = Record<string, AttributeValue>;
const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });
const B = (s: string) => ({ B: Buffer.from(s) });
const H = (n: string): KeySchemaElement => ({ AttributeName: n, KeyType: 'HASH' });
const R = (n: string): KeySchemaElement => ({ AttributeName: n, KeyType: 'RANGE' });

const T = 'events';
const GSI_KEY = [H('h1'), H('h2'), H('h3'), H('h4'), R('r1'), R('r2'), R('r3'), R('r4')];
const DEFS = [
  ['pk', 'S'], ['sk', 'N'], ['h1', 'S'], ['h2', 'N'], ['h3', 'B'], ['h4', 'S'], ['r1', 'S'], ['r2', 'N'], ['r3', 'S'], ['r4', 'N'],
].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType: AttributeType as 'S' | 'N' | 'B' }));
const HASH = { h1: S('tenant'), h2: N(7), h3: B('\u0001x'), h4: S('eu') };

/** 24 items in the queried index partition: r1 in a/b, r2 in -1..2 (numeric order), r3 in p/q. */
function item(i: number): Item {
  return { pk: S(`p${i % 5}`), sk: N(i), ...HASH, r1: S(i % 2 ? 'b' : 'a'), r2: N((i % 4) - 1), r3: S(i % 3 ? 'q' : 'p'), r4: N(100 - i), note: S(`n${i}`) };
}
const ITEMS = Array.from({ length: 24 }, (_, i) => item(i));

/** DynamoDB's order of index entries: r1..r4 (strings bytewise, numbers numerically). */
function byIndexKey(a: Item, b: Item): number {
  for (const k of ['r1', 'r2', 'r3', 'r4']) {
    const x = a[k]!, y = b[k]!;
    const c = 'N' in x ? Number(x.N) - Number(y.N!) : x.S! < y.S! ? -1 : x.S! > y.S! ? 1 : 0;
    if (c) return c;
  }
  return 0;
}

const VALUES = { ':h1': HASH.h1, ':h2': HASH.h2, ':h3': HASH.h3, ':h4': HASH.h4 };
const ALL_HASH = 'h1 = :h1 AND h2 = :h2 AND h3 = :h3 AND h4 = :h4';

for (const translator of TEST_TRANSLATORS) {
  describe(`multi-attribute GSI keys (${translator})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(`t_mkix_${translator}`, { translator });
      await t.client.send(
        new CreateTableCommand({
          TableName: T,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [H('pk'), R('sk')],
          AttributeDefinitions: DEFS,
          GlobalSecondaryIndexes: [
            { IndexName: 'by-all', KeySchema: GSI_KEY, Projection: { ProjectionType: 'ALL' } },
            { IndexName: 'by-two', KeySchema: [H('h1'), H('h4'), R('r1')], Projection: { ProjectionType: 'KEYS_ONLY' } },
          ],
        }),
      );
      for (const it of ITEMS) await t.client.send(new PutItemCommand({ TableName: T, Item: it }));
      // Outside the queried partition, and sparse: each lacks a key attribute of by-all.
      await t.client.send(new PutItemCommand({ TableName: T, Item: { ...item(50), h4: S('us') } }));
      const { r4: _r4, ...noR4 } = item(51);
      await t.client.send(new PutItemCommand({ TableName: T, Item: noR4 }));
      const { h3: _h3, ...noH3 } = item(52);
      await t.client.send(new PutItemCommand({ TableName: T, Item: noH3 }));
    });
    after(() => t?.close());

    async function queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<{ items: Item[]; keys: Item[] }> {
      const items: Item[] = [];
      const keys: Item[] = [];
      let start: Item | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await t.client.send(new QueryCommand({ TableName: T, ...input, ExclusiveStartKey: start } as QueryCommandInput));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
        if (!start) break;
        keys.push(start);
      }
      return { items, keys };
    }
    const sks = (items: Item[]) => items.map((i) => Number(i.sk!.N));

    test('DescribeTable shows the HASH attributes, then the RANGE attributes, in order', async () => {
      const d = (await t.client.send(new DescribeTableCommand({ TableName: T }))).Table!;
      const ix = d.GlobalSecondaryIndexes!.find((i) => i.IndexName === 'by-all')!;
      assert.deepEqual(ix.KeySchema, GSI_KEY);
      assert.equal(ix.IndexStatus, 'ACTIVE');
      assert.deepEqual(d.GlobalSecondaryIndexes!.find((i) => i.IndexName === 'by-two')!.KeySchema, [H('h1'), H('h4'), R('r1')]);
    });

    test('a Query with every HASH attribute pages through the partition in index order, both ways', async () => {
      const expected = sks([...ITEMS].sort(byIndexKey));
      for (const forward of [true, false]) {
        const { items, keys } = await queryAll({ IndexName: 'by-all', KeyConditionExpression: ALL_HASH, ExpressionAttributeValues: VALUES, Limit: 5, ScanIndexForward: forward });
        assert.deepEqual(sks(items), forward ? expected : [...expected].reverse());
        assert.ok(keys.length >= 4);
        // LastEvaluatedKey: the table's key and every attribute of the index key.
        for (const k of keys) assert.deepEqual(Object.keys(k).sort(), ['h1', 'h2', 'h3', 'h4', 'pk', 'r1', 'r2', 'r3', 'r4', 'sk']);
      }
      // The ALL projection returns whole items.
      const first = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-all', KeyConditionExpression: ALL_HASH, ExpressionAttributeValues: VALUES, Limit: 1 }));
      const { h3, ...rest } = first.Items![0]!;
      const { h3: _, ...firstExpected } = [...ITEMS].sort(byIndexKey)[0]!;
      assert.deepEqual(rest, firstExpected);
      assert.deepEqual(Buffer.from(h3!.B!), HASH.h3.B);
    });

    test('RANGE attributes from the left: equality on a prefix and one key condition on the next', async () => {
      const cases: [string, Record<string, AttributeValue>, (i: Item) => boolean][] = [
        ['r1 = :a', { ':a': S('a') }, (i) => i.r1!.S === 'a'],
        ['begins_with(r1, :a)', { ':a': S('b') }, (i) => i.r1!.S === 'b'],
        ['r1 > :a', { ':a': S('a') }, (i) => i.r1!.S! > 'a'],
        ['r1 = :a AND r2 = :n', { ':a': S('a'), ':n': N(-1) }, (i) => i.r1!.S === 'a' && i.r2!.N === '-1'],
        ['r1 = :a AND r2 BETWEEN :lo AND :hi', { ':a': S('b'), ':lo': N(0), ':hi': N(2) }, (i) => i.r1!.S === 'b' && Number(i.r2!.N) >= 0],
        ['r1 = :a AND r2 < :n', { ':a': S('a'), ':n': N(1) }, (i) => i.r1!.S === 'a' && Number(i.r2!.N) < 1],
        ['r1 = :a AND r2 = :n AND r3 >= :q', { ':a': S('a'), ':n': N(1), ':q': S('q') }, (i) => i.r1!.S === 'a' && i.r2!.N === '1' && i.r3!.S === 'q'],
        ['r1 = :a AND r2 = :n AND r3 = :q AND r4 <= :m', { ':a': S('b'), ':n': N(0), ':q': S('q'), ':m': N(95) }, (i) => i.r1!.S === 'b' && i.r2!.N === '0' && i.r3!.S === 'q' && Number(i.r4!.N) <= 95],
      ];
      for (const [cond, values, match] of cases) {
        const expected = sks(ITEMS.filter(match).sort(byIndexKey));
        assert.ok(expected.length > 0, cond);
        for (const forward of [true, false]) {
          const { items } = await queryAll({ IndexName: 'by-all', KeyConditionExpression: `${ALL_HASH} AND ${cond}`, ExpressionAttributeValues: { ...VALUES, ...values }, Limit: 2, ScanIndexForward: forward });
          assert.deepEqual(sks(items), forward ? expected : [...expected].reverse(), `${cond} forward=${forward}`);
        }
      }
      // The same through the legacy KeyConditions.
      const legacy = await queryAll({
        IndexName: 'by-all',
        KeyConditions: {
          ...Object.fromEntries(Object.entries(HASH).map(([k, v]) => [k, { ComparisonOperator: 'EQ', AttributeValueList: [v] }])),
          r1: { ComparisonOperator: 'EQ', AttributeValueList: [S('a')] },
          r2: { ComparisonOperator: 'GE', AttributeValueList: [N(1)] },
        },
      });
      assert.deepEqual(sks(legacy.items), sks(ITEMS.filter((i) => i.r1!.S === 'a' && Number(i.r2!.N) >= 1).sort(byIndexKey)));
    });

    test('an item is in the index only with every key attribute; updates move it in and out', async () => {
      const count = async () => (await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-all', KeyConditionExpression: ALL_HASH, ExpressionAttributeValues: VALUES, Select: 'COUNT' }))).Count;
      assert.equal(await count(), 24);
      const key = { pk: S('p1'), sk: N(51) };
      await t.client.send(new UpdateItemCommand({ TableName: T, Key: key, UpdateExpression: 'SET r4 = :v', ExpressionAttributeValues: { ':v': N(1) } }));
      assert.equal(await count(), 25);
      await t.client.send(new UpdateItemCommand({ TableName: T, Key: key, UpdateExpression: 'SET r2 = :v', ExpressionAttributeValues: { ':v': N(9) } }));
      const moved = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-all', KeyConditionExpression: `${ALL_HASH} AND r1 = :a AND r2 = :n`, ExpressionAttributeValues: { ...VALUES, ':a': S('b'), ':n': N(9) } }));
      assert.deepEqual(sks(moved.Items!), [51]);
      await t.client.send(new UpdateItemCommand({ TableName: T, Key: key, UpdateExpression: 'REMOVE h2' }));
      assert.equal(await count(), 24);
      await t.client.send(new DeleteItemCommand({ TableName: T, Key: { pk: S('p0'), sk: N(0) } }));
      assert.equal(await count(), 23);
      await t.client.send(new PutItemCommand({ TableName: T, Item: ITEMS[0] }));
      assert.equal(await count(), 24);
      // The two-attribute index holds every item with h1 and h4, KEYS_ONLY.
      const two = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-two', KeyConditionExpression: 'h1 = :h1 AND h4 = :h4 AND r1 = :a', ExpressionAttributeValues: { ':h1': HASH.h1, ':h4': HASH.h4, ':a': S('b') } }));
      assert.equal(two.Count, ITEMS.filter((i) => i.r1!.S === 'b').length + 1 /* item 51, which lost only h2 */);
      assert.deepEqual(Object.keys(two.Items![0]!).sort(), ['h1', 'h4', 'pk', 'r1', 'sk']);
    });

    test("Query errors: DynamoDB's words for a missing or unequal HASH attribute, a gap in the RANGE attributes, a wrong type", async () => {
      const q = (cond: string, values: Record<string, AttributeValue>) =>
        errorOf(() => t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-all', KeyConditionExpression: cond, ExpressionAttributeValues: values })));
      const cases: [string, Record<string, AttributeValue>, string][] = [
        ['h1 = :h1', { ':h1': HASH.h1 }, 'HASH key attributes h2, h3, h4 must have equality conditions specified in the query'],
        ['h1 = :h1 AND h2 = :h2 AND h3 = :h3 AND h4 > :h4', VALUES, 'HASH key attributes h4 must have equality conditions specified in the query'],
        [`${ALL_HASH} AND r3 = :x`, { ...VALUES, ':x': S('p') }, 'RANGE key attributes r1, r2 must have equality conditions specified in the query because a condition is present on key attribute r3'],
        [`${ALL_HASH} AND r1 = :x AND r2 > :n AND r3 = :x`, { ...VALUES, ':x': S('p'), ':n': N(1) }, 'RANGE key attributes r2 must have equality conditions specified in the query because a condition is present on key attribute r3'],
        [`${ALL_HASH} AND r1 = :n`, { ...VALUES, ':n': N(1) }, 'One or more parameter values were invalid: Condition parameter type does not match schema type'],
        [ALL_HASH, { ...VALUES, ':h2': S('7') }, 'One or more parameter values were invalid: Condition parameter type does not match schema type'],
        [`${ALL_HASH} OR r1 = :h1`, VALUES, 'Invalid operator used in KeyConditionExpression: OR'],
        [`${ALL_HASH} AND note = :h1`, VALUES, 'Query condition missed key schema element'],
      ];
      for (const [cond, values, message] of cases) {
        const e = await q(cond, values);
        assert.equal(e.name, 'ValidationException', cond);
        assert.equal(e.message, message, cond);
      }
      const filter = await errorOf(() =>
        t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-all', KeyConditionExpression: ALL_HASH, FilterExpression: 'r3 = :x', ExpressionAttributeValues: { ...VALUES, ':x': S('p') } })),
      );
      assert.equal(filter.message, 'Filter Expression can only contain non-primary key attributes: Primary key attribute: r3');
      const start = { pk: S('p0'), sk: N(0), ...HASH, r1: S('a'), r2: N(-1), r3: S('p'), r4: N(100) };
      for (const [cond, values, esk] of [
        [ALL_HASH, VALUES, { ...start, h4: S('us') }],
        [`${ALL_HASH} AND r1 = :a`, { ...VALUES, ':a': S('b') }, start],
        [`${ALL_HASH} AND r1 = :a AND r2 > :n`, { ...VALUES, ':a': S('a'), ':n': N(0) }, start],
      ] as const) {
        const e = await errorOf(() => t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-all', KeyConditionExpression: cond, ExpressionAttributeValues: values, ExclusiveStartKey: esk })));
        assert.equal(e.message, 'The provided starting key does not match the range key predicate', cond);
      }
    });

    test('a write with an index key attribute of the wrong type is refused', async () => {
      const e = await errorOf(() => t.client.send(new PutItemCommand({ TableName: T, Item: { ...ITEMS[3], r3: N(1) } })));
      assert.equal(e.message, 'One or more parameter values were invalid: Type mismatch for Index Key r3 Expected: S Actual: N IndexName: by-all');
    });

    test('Scan of the index pages through every entry once, with every key attribute in LastEvaluatedKey', async () => {
      const seen: number[] = [];
      let start: Item | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await t.client.send(new ScanCommand({ TableName: T, IndexName: 'by-all', Limit: 4, ExclusiveStartKey: start }));
        seen.push(...sks(page.Items ?? []));
        start = page.LastEvaluatedKey;
        if (!start) break;
        assert.equal(Object.keys(start).length, 10);
      }
      assert.deepEqual(seen.sort((a, b) => a - b), [...sks(ITEMS), 50].sort((a, b) => a - b));
    });

    test('UpdateTable adds a multi-attribute GSI and backfills it', async () => {
      await t.client.send(
        new UpdateTableCommand({
          TableName: T,
          AttributeDefinitions: DEFS.filter((d) => ['h1', 'r3', 'r2'].includes(d.AttributeName!)),
          GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'late', KeySchema: [H('h1'), H('r3'), R('r2')], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['note'] } } }],
        }),
      );
      let status = '';
      for (let i = 0; i < 120 && status !== 'ACTIVE'; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const d = (await t.client.send(new DescribeTableCommand({ TableName: T }))).Table!;
        const ix = d.GlobalSecondaryIndexes!.find((x) => x.IndexName === 'late')!;
        assert.deepEqual(ix.KeySchema, [H('h1'), H('r3'), R('r2')]);
        status = ix.IndexStatus!;
      }
      assert.equal(status, 'ACTIVE');
      const { items } = await queryAll({ IndexName: 'late', KeyConditionExpression: 'h1 = :h AND r3 = :p AND r2 >= :n', ExpressionAttributeValues: { ':h': HASH.h1, ':p': S('p'), ':n': N(0) }, Limit: 3 });
      // Every item of the table with the new key attributes, whatever the tests before did to them.
      const table = (await t.client.send(new ScanCommand({ TableName: T, ConsistentRead: true }))).Items!;
      const expected = table.filter((i) => i.h1 && i.r3?.S === 'p' && i.r2 && Number(i.r2.N) >= 0);
      assert.ok(expected.length >= 5);
      assert.deepEqual(sks(items).sort((a, b) => a - b), sks(expected).sort((a, b) => a - b));
      for (let i = 1; i < items.length; i++) assert.ok(Number(items[i - 1]!.r2!.N) <= Number(items[i]!.r2!.N));
      assert.deepEqual(Object.keys(items[0]!).sort(), ['h1', 'note', 'pk', 'r2', 'r3', 'sk']);
    });
  });
}

describe('multi-attribute GSI key schemas: validation', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('t_mkix_validation');
  });
  after(() => t?.close());

  test("CreateTable refuses what DynamoDB refuses, in DynamoDB's words", async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const create = (ks: KeySchemaElement[]) =>
      errorOf(() =>
        t.client.send(
          new CreateTableCommand({
            TableName: 'bad',
            BillingMode: 'PAY_PER_REQUEST',
            KeySchema: [H('pk')],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...[...new Set(ks.map((k) => k.AttributeName!))].map((n) => ({ AttributeName: n, AttributeType: 'S' as const }))],
            GlobalSecondaryIndexes: [{ IndexName: 'gsi', KeySchema: ks, Projection: { ProjectionType: 'ALL' } }],
          }),
        ),
      );
    const cases: [KeySchemaElement[], string][] = [
      [names.slice(0, 5).map(H), 'Too many partition keys. GSI can have at most 4 partition keys'],
      [[H('a'), ...names.slice(1, 6).map(R)], 'Too many sort keys. GSI can have at most 4 sort keys'],
      [[H('a'), R('b'), H('c')], 'Invalid key order. Hash Key must be specified first in key schema, Range Key must be specifed second'],
      [[H('a'), H('a')], 'Two keys can not have the same name'],
      [[H('a'), R('b'), R('b')], 'Two keys can not have the same name'],
      [[...names.slice(0, 4).map(H), ...names.slice(4, 9).map(R)], 'Key Schema too big.  Key Schema must at most consist of the hash and range key of a table'],
    ];
    for (const [ks, message] of cases) {
      const e = await create(ks);
      assert.equal(e.name, 'ValidationException', message);
      assert.equal(e.message, message);
    }
    // Local secondary indexes keep one HASH and one RANGE attribute.
    const lsi = await errorOf(() =>
      t.client.send(
        new CreateTableCommand({
          TableName: 'bad',
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [H('pk'), R('sk')],
          AttributeDefinitions: ['pk', 'sk', 'a'].map((n) => ({ AttributeName: n, AttributeType: 'S' as const })),
          LocalSecondaryIndexes: [{ IndexName: 'lsi', KeySchema: [H('pk'), R('sk'), R('a')], Projection: { ProjectionType: 'ALL' } }],
        }),
      ),
    );
    assert.equal(lsi.name, 'ValidationException');
  });
});
