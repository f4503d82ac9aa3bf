// Query, Scan, BatchGetItem and BatchWriteItem through the AWS SDK v3 over real Cassandra.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BatchGetItemCommand, BatchWriteItemCommand, CreateTableCommand, PutItemCommand, QueryCommand, ScanCommand,
  type AttributeValue, type QueryCommandInput, type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, createSortedTable, errorOf, startTestServer, type TestServer } from '../helpers/server.js';

type Item = Record<string, AttributeValue>;

/** Sort keys in DynamoDB's order for each type (UTF-8 bytes, numbers, unsigned bytes). */
const ORDERED: Record<'S' | 'N' | 'B', AttributeValue[]> = {
  // UTF-8 byte order differs from JS (UTF-16) order: U+1D11E sorts after U+FFFF in UTF-8.
  S: ['', 'A', 'B', 'a', 'aa', 'ab', 'b', 'é', '\uffef', '\u{1d11e}'].filter(Boolean).map((s) => ({ S: s })),
  N: ['-10000000000', '-100', '-1.5', '-0.001', '0', '0.0000000001', '0.5', '1', '2', '10', '150000000000000000000'].map((n) => ({ N: n })),
  B: [[0x00], [0x00, 0x00], [0x01], [0x7f], [0x80], [0x80, 0x01], [0xfe], [0xff], [0xff, 0xff]].map((b) => ({ B: new Uint8Array(b) })),
};

const canon = (v: AttributeValue) => ('B' in v && v.B ? Buffer.from(v.B).toString('hex') : JSON.stringify(v));

for (const translator of TEST_TRANSLATORS) {
  describe(`reads (${translator})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(`t_reads_${translator}`, { translator });
      const tables: [string, 'S' | 'N' | 'B'][] = [['sorted-S', 'S'], ['sorted-N', 'N'], ['sorted-B', 'B']];
      for (const [name, type] of tables) {
        await t.client.send(
          new CreateTableCommand({
            TableName: name,
            KeySchema: [{ AttributeName: 'h', KeyType: 'HASH' }, { AttributeName: 'r', KeyType: 'RANGE' }],
            AttributeDefinitions: [{ AttributeName: 'h', AttributeType: 'S' }, { AttributeName: 'r', AttributeType: type }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
        // Insert in a shuffled order so storage order cannot come from insertion order.
        const values = [...ORDERED[type]].reverse();
        for (const r of values) await t.client.send(new PutItemCommand({ TableName: name, Item: { h: { S: 'p' }, r, tag: { S: canon(r) } } }));
      }
      await createSortedTable(t.client, 'events', 'N', 'user', 'seq');
      await t.client.send(
        new CreateTableCommand({
          TableName: 'flat',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      const writes: Promise<unknown>[] = [];
      for (let u = 0; u < 5; u++) {
        for (let s = 0; s < 40; s++) {
          writes.push(
            t.client.send(new PutItemCommand({ TableName: 'events', Item: { user: { S: `u${u}` }, seq: { N: String(s) }, even: { BOOL: s % 2 === 0 }, v: { S: 'x' } } })),
          );
        }
      }
      for (let i = 0; i < 150; i++) writes.push(t.client.send(new PutItemCommand({ TableName: 'flat', Item: { id: { S: `id${i}` }, n: { N: String(i) } } })));
      await Promise.all(writes);
    });
    after(() => t?.close());

    const query = (input: Omit<QueryCommandInput, 'TableName'> & { TableName?: string }) =>
      t.client.send(new QueryCommand({ TableName: 'events', ...input } as QueryCommandInput));

    async function queryAll(input: QueryCommandInput): Promise<{ items: Item[]; pages: number }> {
      const items: Item[] = [];
      let pages = 0;
      let start: Item | undefined;
      do {
        const page = await t.client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
        pages++;
      } while (start);
      return { items, pages };
    }

    for (const type of ['S', 'N', 'B'] as const) {
      test(`sort keys of type ${type} order as DynamoDB orders them, both directions`, async () => {
        const expected = ORDERED[type].map(canon);
        for (const forward of [true, false]) {
          const { items } = await queryAll({
            TableName: `sorted-${type}`,
            KeyConditionExpression: 'h = :p',
            ExpressionAttributeValues: { ':p': { S: 'p' } },
            ScanIndexForward: forward,
            Limit: 3,
          });
          const got = items.map((i) => i.tag.S);
          assert.deepEqual(got, forward ? expected : [...expected].reverse());
        }
      });
    }

    test('range conditions: comparisons, BETWEEN, begins_with on S and B', async () => {
      const q = async (table: string, cond: string, values: Item) =>
        (
          await queryAll({
            TableName: table,
            KeyConditionExpression: `h = :p AND ${cond}`,
            ExpressionAttributeValues: { ':p': { S: 'p' }, ...values },
          })
        ).items.map((i) => i.tag.S);
      assert.deepEqual(await q('sorted-N', 'r < :v', { ':v': { N: '0' } }), ['{"N":"-10000000000"}', '{"N":"-100"}', '{"N":"-1.5"}', '{"N":"-0.001"}']);
      assert.deepEqual(await q('sorted-N', 'r <= :v', { ':v': { N: '-1.5' } }), ['{"N":"-10000000000"}', '{"N":"-100"}', '{"N":"-1.5"}']);
      assert.deepEqual(await q('sorted-N', 'r > :v', { ':v': { N: '2' } }), ['{"N":"10"}', '{"N":"150000000000000000000"}']);
      assert.deepEqual(await q('sorted-N', 'r >= :v', { ':v': { N: '10' } }), ['{"N":"10"}', '{"N":"150000000000000000000"}']);
      assert.deepEqual(await q('sorted-N', 'r BETWEEN :a AND :b', { ':a': { N: '0' }, ':b': { N: '1' } }), ['{"N":"0"}', '{"N":"0.0000000001"}', '{"N":"0.5"}', '{"N":"1"}']);
      assert.deepEqual(await q('sorted-N', 'r = :v', { ':v': { N: '0.50' } }), ['{"N":"0.5"}']);
      assert.deepEqual(await q('sorted-S', 'begins_with(r, :v)', { ':v': { S: 'a' } }), ['{"S":"a"}', '{"S":"aa"}', '{"S":"ab"}']);
      assert.deepEqual(await q('sorted-B', 'begins_with(r, :v)', { ':v': { B: new Uint8Array([0x80]) } }), ['80', '8001']);
      assert.deepEqual(await q('sorted-B', 'begins_with(r, :v)', { ':v': { B: new Uint8Array([0xff]) } }), ['ff', 'ffff']);
    });

    test('paging with small Limits visits every item exactly once, in order', async () => {
      for (const limit of [1, 7, 40, 100]) {
        for (const forward of [true, false]) {
          const { items, pages } = await queryAll({
            TableName: 'events',
            KeyConditionExpression: '#u = :u',
            ExpressionAttributeNames: { '#u': 'user' },
            ExpressionAttributeValues: { ':u': { S: 'u3' } },
            Limit: limit,
            ScanIndexForward: forward,
          });
          const seqs = items.map((i) => Number(i.seq.N));
          const expected = Array.from({ length: 40 }, (_, i) => i);
          assert.deepEqual(seqs, forward ? expected : expected.reverse(), `limit ${limit}`);
          // DynamoDB returns a LastEvaluatedKey whenever Limit was reached, even at the very end.
          assert.equal(pages, limit >= 40 ? (limit === 40 ? 2 : 1) : Math.ceil(40 / limit) + (40 % limit === 0 ? 1 : 0));
        }
      }
    });

    test('filters: Limit counts evaluated items; Count and ScannedCount', async () => {
      const page = await query({
        KeyConditionExpression: '#u = :u AND seq < :ten',
        FilterExpression: 'even = :t',
        ExpressionAttributeNames: { '#u': 'user' },
        ExpressionAttributeValues: { ':u': { S: 'u1' }, ':ten': { N: '10' }, ':t': { BOOL: true } },
        Limit: 5,
      });
      assert.equal(page.ScannedCount, 5);
      assert.equal(page.Count, 3);
      assert.deepEqual(page.Items!.map((i) => i.seq.N), ['0', '2', '4']);
      assert.deepEqual(page.LastEvaluatedKey, { user: { S: 'u1' }, seq: { N: '4' } });
      const counted = await query({
        KeyConditionExpression: '#u = :u',
        FilterExpression: 'even = :t',
        ExpressionAttributeNames: { '#u': 'user' },
        ExpressionAttributeValues: { ':u': { S: 'u1' }, ':t': { BOOL: false } },
        Select: 'COUNT',
      });
      assert.equal(counted.Count, 20);
      assert.equal(counted.ScannedCount, 40);
      assert.equal(counted.Items, undefined);
      const projected = await query({
        KeyConditionExpression: '#u = :u AND seq = :s',
        ProjectionExpression: 'seq, v',
        ExpressionAttributeNames: { '#u': 'user' },
        ExpressionAttributeValues: { ':u': { S: 'u0' }, ':s': { N: '7' } },
      });
      assert.deepEqual(projected.Items, [{ seq: { N: '7' }, v: { S: 'x' } }]);
      const legacy = await t.client.send(
        new QueryCommand({
          TableName: 'events',
          KeyConditions: { user: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'u2' }] }, seq: { ComparisonOperator: 'BETWEEN', AttributeValueList: [{ N: '10' }, { N: '13' }] } },
          QueryFilter: { even: { ComparisonOperator: 'EQ', AttributeValueList: [{ BOOL: true }] } },
          AttributesToGet: ['seq'],
        }),
      );
      assert.deepEqual(legacy.Items, [{ seq: { N: '10' } }, { seq: { N: '12' } }]);
    });

    test('a page stops at 1 MB of data read; following LastEvaluatedKey gets the rest', async () => {
      const big = 'x'.repeat(100 * 1024);
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          t.client.send(new PutItemCommand({ TableName: 'events', Item: { user: { S: 'big' }, seq: { N: String(i) }, blob: { S: big } } })),
        ),
      );
      const first = await query({ KeyConditionExpression: '#u = :u', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':u': { S: 'big' } } });
      assert.equal(first.Count, 11, 'eleven 100 KB items cross 1 MB');
      assert.ok(first.LastEvaluatedKey);
      const { items } = await queryAll({ TableName: 'events', KeyConditionExpression: '#u = :u', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':u': { S: 'big' } } });
      assert.equal(items.length, 25);
      const scanned = await t.client.send(new ScanCommand({ TableName: 'events', Select: 'COUNT' }));
      assert.ok(scanned.LastEvaluatedKey, 'a scan page is cut at 1 MB too');
    });

    test('the 1 MB cut counts DynamoDB sizes, not the stored JSON (binary items, with and without capacity)', async () => {
      // 90 KiB of binary is 120 KiB of base64 in JSON: nine items pass 1 MiB of JSON, twelve of data.
      const blob = new Uint8Array(90 * 1024).fill(7);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.client.send(new PutItemCommand({ TableName: 'events', Item: { user: { S: 'bin' }, seq: { N: String(i) }, blob: { B: blob } } })),
        ),
      );
      const input = { TableName: 'events', KeyConditionExpression: '#u = :u', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':u': { S: 'bin' } } };
      const plain = await query(input);
      const counted = await query({ ...input, ReturnConsumedCapacity: 'TOTAL' });
      assert.equal(plain.Count, 12, 'eleven items hold 0.97 MiB, the twelfth crosses 1 MiB');
      assert.equal(counted.Count, 12);
      assert.deepEqual(plain.LastEvaluatedKey, { user: { S: 'bin' }, seq: { N: '11' } });
      assert.deepEqual(counted.LastEvaluatedKey, plain.LastEvaluatedKey);
      // Eventually consistent: half a unit per 4 KB of the twelve items' exact size.
      const itemBytes = 'user'.length + 'bin'.length + 'seq'.length + 'blob'.length + blob.length;
      const units = counted.ConsumedCapacity?.CapacityUnits ?? 0;
      assert.ok(units >= Math.ceil((12 * itemBytes) / 4096) / 2 && units <= Math.ceil((12 * (itemBytes + 21)) / 4096) / 2, `capacity ${units}`);
    });

    async function scanAll(input: ScanCommandInput): Promise<Item[]> {
      const items: Item[] = [];
      let start: Item | undefined;
      do {
        const page = await t.client.send(new ScanCommand({ ...input, ExclusiveStartKey: start }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return items;
    }

    test('Scan visits the whole table once, in a stable order, with key-based paging', async () => {
      const all = await scanAll({ TableName: 'flat' });
      assert.equal(all.length, 150);
      assert.equal(new Set(all.map((i) => i.id.S)).size, 150);
      const paged = await scanAll({ TableName: 'flat', Limit: 13 });
      assert.deepEqual(paged.map((i) => i.id.S), all.map((i) => i.id.S));
      const ranged = await scanAll({ TableName: 'events', Limit: 17, FilterExpression: 'NOT #u IN (:big, :bin)', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':big': { S: 'big' }, ':bin': { S: 'bin' } } });
      assert.equal(ranged.length, 200);
      assert.equal(new Set(ranged.map((i) => `${i.user.S}/${i.seq.N}`)).size, 200);
      const filtered = await t.client.send(new ScanCommand({ TableName: 'flat', FilterExpression: 'n < :ten', ExpressionAttributeValues: { ':ten': { N: '10' } } }));
      assert.equal(filtered.Count, 10);
      assert.equal(filtered.ScannedCount, 150);
    });

    test('parallel scan: segments are disjoint and together cover the table', async () => {
      for (const total of [1, 2, 3, 8]) {
        const seen: string[] = [];
        for (let segment = 0; segment < total; segment++) {
          const items = await scanAll({ TableName: 'flat', Segment: segment, TotalSegments: total, Limit: 11 });
          seen.push(...items.map((i) => i.id.S!));
        }
        assert.equal(seen.length, 150, `TotalSegments ${total}`);
        assert.equal(new Set(seen).size, 150, `TotalSegments ${total}`);
      }
    });

    test('BatchGetItem and BatchWriteItem', async () => {
      const write = await t.client.send(
        new BatchWriteItemCommand({
          RequestItems: {
            flat: [
              ...Array.from({ length: 20 }, (_, i) => ({ PutRequest: { Item: { id: { S: `b${i}` }, n: { N: String(i) } } } })),
              { DeleteRequest: { Key: { id: { S: 'id0' } } } },
            ],
            events: [{ PutRequest: { Item: { user: { S: 'batch' }, seq: { N: '1' } } } }],
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      assert.deepEqual(write.UnprocessedItems, {});
      assert.equal(write.ConsumedCapacity?.find((c) => c.TableName === 'flat')?.CapacityUnits, 21);
      const keys = [...Array.from({ length: 20 }, (_, i) => ({ id: { S: `b${i}` } })), { id: { S: 'id0' } }, { id: { S: 'id1' } }];
      const got = await t.client.send(
        new BatchGetItemCommand({
          RequestItems: {
            flat: { Keys: keys, ProjectionExpression: 'n', ConsistentRead: true },
            events: { Keys: [{ user: { S: 'batch' }, seq: { N: '1' } }] },
          },
        }),
      );
      assert.deepEqual(got.UnprocessedKeys, {});
      const ns = got.Responses!.flat.map((i) => Number(i.n.N)).sort((a, b) => a - b);
      assert.deepEqual(ns, [...Array.from({ length: 20 }, (_, i) => i), 1].sort((a, b) => a - b));
      assert.deepEqual(got.Responses!.events, [{ user: { S: 'batch' }, seq: { N: '1' } }]);

      const tooManyWrites = await errorOf(() =>
        t.client.send(new BatchWriteItemCommand({ RequestItems: { flat: Array.from({ length: 26 }, (_, i) => ({ PutRequest: { Item: { id: { S: `x${i}` } } } })) } })),
      );
      assert.equal(tooManyWrites.name, 'ValidationException');
      const duplicateWrites = await errorOf(() =>
        t.client.send(
          new BatchWriteItemCommand({ RequestItems: { flat: [{ PutRequest: { Item: { id: { S: 'dup' } } } }, { DeleteRequest: { Key: { id: { S: 'dup' } } } }] } }),
        ),
      );
      assert.equal(duplicateWrites.name, 'ValidationException');
      const oneBad = await errorOf(() =>
        t.client.send(new BatchWriteItemCommand({ RequestItems: { flat: [{ PutRequest: { Item: { id: { S: 'good' } } } }, { PutRequest: { Item: { id: { N: '1' } } } }] } })),
      );
      assert.equal(oneBad.name, 'ValidationException');
      const notWritten = await t.client.send(new BatchGetItemCommand({ RequestItems: { flat: { Keys: [{ id: { S: 'good' } }, { id: { S: 'x0' } }], ConsistentRead: true } } }));
      assert.deepEqual(notWritten.Responses!.flat, [], 'a rejected batch writes nothing');
      const tooManyKeys = await errorOf(() =>
        t.client.send(new BatchGetItemCommand({ RequestItems: { flat: { Keys: Array.from({ length: 101 }, (_, i) => ({ id: { S: `k${i}` } })) } } })),
      );
      assert.equal(tooManyKeys.name, 'ValidationException');
      const duplicateKeys = await errorOf(() => t.client.send(new BatchGetItemCommand({ RequestItems: { flat: { Keys: [{ id: { S: 'a' } }, { id: { S: 'a' } }] } } })));
      assert.equal(duplicateKeys.name, 'ValidationException');
      const missingTable = await errorOf(() => t.client.send(new BatchGetItemCommand({ RequestItems: { 'no-such': { Keys: [{ id: { S: 'a' } }] } } })));
      assert.equal(missingTable.name, 'ResourceNotFoundException');
    });

    test('BatchGetItem returns at most 16 MB and hands the rest back as UnprocessedKeys', async () => {
      const big = 'y'.repeat(390 * 1024);
      const keys = Array.from({ length: 50 }, (_, i) => ({ id: { S: `huge${i}` } }));
      for (let i = 0; i < 50; i += 10) {
        await Promise.all(keys.slice(i, i + 10).map((k) => t.client.send(new PutItemCommand({ TableName: 'flat', Item: { ...k, payload: { S: big } } }))));
      }
      const first = await t.client.send(new BatchGetItemCommand({ RequestItems: { flat: { Keys: keys, ProjectionExpression: 'id, payload' } } }));
      const got = first.Responses!.flat.length;
      const left = first.UnprocessedKeys?.flat?.Keys ?? [];
      assert.ok(got > 0 && got < 50, `a partial answer (${got} items)`);
      assert.ok(got * 390 * 1024 <= 16 * 1024 * 1024 + 400 * 1024, 'about 16 MB at most');
      assert.equal(got + left.length, 50, 'every key is either answered or handed back');
      assert.equal(first.UnprocessedKeys!.flat.ProjectionExpression, 'id, payload', 'unprocessed keys keep their request options');
      const rest = await t.client.send(new BatchGetItemCommand({ RequestItems: first.UnprocessedKeys! }));
      const ids = new Set([...first.Responses!.flat, ...rest.Responses!.flat].map((x) => x.id.S));
      assert.equal(ids.size, 50);
      await t.client.send(new BatchWriteItemCommand({ RequestItems: { flat: keys.slice(0, 25).map((Key) => ({ DeleteRequest: { Key } })) } }));
      await t.client.send(new BatchWriteItemCommand({ RequestItems: { flat: keys.slice(25).map((Key) => ({ DeleteRequest: { Key } })) } }));
    });

    test('invalid Query and Scan requests get DynamoDB errors', async () => {
      const cases: [string, () => Promise<unknown>][] = [
        ['no key condition', () => query({})],
        ['condition on a non-key attribute', () => query({ KeyConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { S: 'x' } } })],
        ['range condition without hash', () => query({ KeyConditionExpression: 'seq > :v', ExpressionAttributeValues: { ':v': { N: '1' } } })],
        ['OR in key condition', () => query({ KeyConditionExpression: '#u = :a OR #u = :b', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'a' }, ':b': { S: 'b' } } })],
        ['wrong type for the sort key', () => query({ KeyConditionExpression: '#u = :a AND seq > :s', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'a' }, ':s': { S: 'x' } } })],
        ['filter on a key attribute', () => query({ KeyConditionExpression: '#u = :a', FilterExpression: 'seq > :s', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'a' }, ':s': { N: '1' } } })],
        ['start key of another partition', () => query({ KeyConditionExpression: '#u = :a', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'u1' } }, ExclusiveStartKey: { user: { S: 'u2' }, seq: { N: '1' } } })],
        ['start key missing the sort key', () => query({ KeyConditionExpression: '#u = :a', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'u1' } }, ExclusiveStartKey: { user: { S: 'u1' } } })],
        ['Limit 0', () => query({ KeyConditionExpression: '#u = :a', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'u1' } }, Limit: 0 })],
        ['SPECIFIC_ATTRIBUTES without projection', () => query({ KeyConditionExpression: '#u = :a', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'u1' } }, Select: 'SPECIFIC_ATTRIBUTES' })],
        ['unknown index', () => query({ IndexName: 'nope', KeyConditionExpression: '#u = :a', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':a': { S: 'u1' } } })],
        ['segment without total', () => t.client.send(new ScanCommand({ TableName: 'flat', Segment: 0 }))],
        ['segment past total', () => t.client.send(new ScanCommand({ TableName: 'flat', Segment: 2, TotalSegments: 2 }))],
        ['ALL_PROJECTED_ATTRIBUTES on a table', () => t.client.send(new ScanCommand({ TableName: 'flat', Select: 'ALL_PROJECTED_ATTRIBUTES' }))],
      ];
      for (const [label, run] of cases) {
        const e = await errorOf(run);
        assert.equal(e.name, 'ValidationException', label);
      }
    });
  });
}
