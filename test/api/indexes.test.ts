// Local and global secondary indexes through the AWS SDK v3 over real Cassandra.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DescribeTableCommand, PutItemCommand, QueryCommand, ScanCommand,
  UpdateItemCommand, UpdateTableCommand, type AttributeValue, type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import type cassandra from 'cassandra-driver';
import { INTENT_GRACE_MS } from '../../src/storage/indexes.js';
import { withStatementHooks } from '../helpers/intercept.js';
import { TEST_TRANSLATORS, errorOf, startTestServer, type TestServer } from '../helpers/server.js';

type Item = Record<string, AttributeValue>;
const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

for (const translator of TEST_TRANSLATORS) {
  describe(`indexes (${translator})`, () => {
    let t: TestServer;
    const T = 'orders';
    before(async () => {
      t = await startTestServer(`t_ix_${translator}`, { translator });
      await t.client.send(
        new CreateTableCommand({
          TableName: T,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'customer', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }],
          AttributeDefinitions: [
            { AttributeName: 'customer', AttributeType: 'S' },
            { AttributeName: 'id', AttributeType: 'S' },
            { AttributeName: 'amount', AttributeType: 'N' },
            { AttributeName: 'state', AttributeType: 'S' },
            { AttributeName: 'placed', AttributeType: 'N' },
          ],
          LocalSecondaryIndexes: [
            { IndexName: 'by-total', KeySchema: [{ AttributeName: 'customer', KeyType: 'HASH' }, { AttributeName: 'amount', KeyType: 'RANGE' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['note'] } },
          ],
          GlobalSecondaryIndexes: [
            { IndexName: 'by-state', KeySchema: [{ AttributeName: 'state', KeyType: 'HASH' }, { AttributeName: 'placed', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
            { IndexName: 'state-all', KeySchema: [{ AttributeName: 'state', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
          ],
        }),
      );
    });
    after(() => t?.close());

    const put = (item: Item) => t.client.send(new PutItemCommand({ TableName: T, Item: item }));
    async function queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<{ items: Item[]; keys: Item[] }> {
      const items: Item[] = [];
      const keys: Item[] = [];
      let start: Item | undefined;
      do {
        const page = await t.client.send(new QueryCommand({ TableName: T, ...input, ExclusiveStartKey: start } as QueryCommandInput));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
        if (start) keys.push(start);
      } while (start);
      return { items, keys };
    }

    test('DescribeTable lists the indexes', async () => {
      const d = (await t.client.send(new DescribeTableCommand({ TableName: T }))).Table!;
      assert.deepEqual(d.LocalSecondaryIndexes?.map((i) => [i.IndexName, i.Projection?.ProjectionType, i.Projection?.NonKeyAttributes]), [['by-total', 'INCLUDE', ['note']]]);
      assert.deepEqual(d.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus, i.Projection?.ProjectionType]), [['by-state', 'ACTIVE', 'KEYS_ONLY'], ['state-all', 'ACTIVE', 'ALL']]);
      assert.equal(d.GlobalSecondaryIndexes?.[0].IndexArn, `arn:aws:dynamodb:us-east-1:000000000000:table/${T}/index/by-state`);
    });

    test('GSI: sparse, ordered by the index sort key, projections, paging with index keys', async () => {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 30; i++) {
        const item: Item = { customer: S(`c${i % 3}`), id: S(`o${String(i).padStart(2, '0')}`), amount: N(100 - i), note: S(`n${i}`), secret: S('x') };
        if (i % 5 !== 0) Object.assign(item, { state: S(i % 2 ? 'open' : 'shipped'), placed: N(1000 + (i * 7) % 30) });
        writes.push(put(item));
      }
      await Promise.all(writes);
      const open = await queryAll({ IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('open') }, Limit: 4 });
      const expectedOpen = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 5 !== 0 && i % 2 === 1);
      assert.equal(open.items.length, expectedOpen.length);
      const placed = open.items.map((x) => Number(x.placed.N));
      assert.deepEqual(placed, [...placed].sort((a, b) => a - b), 'ordered by the index sort key');
      // KEYS_ONLY: table keys and index keys, nothing else.
      for (const x of open.items) assert.deepEqual(Object.keys(x).sort(), ['customer', 'id', 'placed', 'state']);
      for (const k of open.keys) assert.deepEqual(Object.keys(k).sort(), ['customer', 'id', 'placed', 'state']);
      const all = await queryAll({ IndexName: 'state-all', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('shipped') }, Limit: 2 });
      assert.equal(all.items.length, Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 5 !== 0 && i % 2 === 0).length);
      assert.ok(all.items.every((x) => x.secret?.S === 'x' && x.note), 'ALL projects every attribute');
      assert.equal(new Set(all.items.map((x) => x.id.S)).size, all.items.length, 'each item exactly once');
      const scanned = await t.client.send(new ScanCommand({ TableName: T, IndexName: 'by-state' }));
      assert.equal(scanned.Count, 24, 'items without the index key are not in the index');
      const backwards = await queryAll({ IndexName: 'by-state', KeyConditionExpression: '#s = :s AND placed BETWEEN :a AND :b', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('open'), ':a': N(1005), ':b': N(1020) }, ScanIndexForward: false, Limit: 3 });
      const p2 = backwards.items.map((x) => Number(x.placed.N));
      assert.deepEqual(p2, [...p2].sort((a, b) => b - a));
      assert.ok(p2.every((p) => p >= 1005 && p <= 1020));
    });

    test('LSI: ordered per customer, consistent reads, INCLUDE projection and fetches of other attributes', async () => {
      const { items } = await queryAll({ IndexName: 'by-total', KeyConditionExpression: 'customer = :c AND amount > :t', ExpressionAttributeValues: { ':c': S('c1'), ':t': N(80) }, ConsistentRead: true });
      const totals = items.map((x) => Number(x.amount.N));
      assert.deepEqual(totals, [...totals].sort((a, b) => a - b));
      assert.ok(items.every((x) => x.note && !x.secret), 'INCLUDE projects the listed attributes only');
      const withAll = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-total', KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S('c2') }, Select: 'ALL_ATTRIBUTES', Limit: 2 }));
      assert.ok(withAll.Items!.every((x) => x.secret?.S === 'x'), 'ALL_ATTRIBUTES on an LSI reads the table');
      // A write is visible to the next consistent LSI query.
      await put({ customer: S('c1'), id: S('fresh'), amount: N(999), note: S('new') });
      const fresh = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-total', KeyConditionExpression: 'customer = :c AND amount = :t', ExpressionAttributeValues: { ':c': S('c1'), ':t': N(999) }, ConsistentRead: true }));
      assert.deepEqual(fresh.Items?.map((x) => x.id.S), ['fresh']);
    });

    test('updates and deletes move and remove index entries; concurrent moves leave exactly one entry', async () => {
      await put({ customer: S('m'), id: S('1'), state: S('a'), placed: N(1) });
      await t.client.send(new UpdateItemCommand({ TableName: T, Key: { customer: S('m'), id: S('1') }, UpdateExpression: 'SET #s = :b', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':b': S('b') } }));
      const inA = await queryAll({ IndexName: 'state-all', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('a') } });
      assert.equal(inA.items.length, 0);
      const inB = await queryAll({ IndexName: 'state-all', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('b') } });
      assert.deepEqual(inB.items.map((x) => x.id.S), ['1']);
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          t.client.send(new UpdateItemCommand({ TableName: T, Key: { customer: S('m'), id: S('1') }, UpdateExpression: 'SET #s = :v', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':v': S(`z${i}`) } })),
        ),
      );
      const final = (await t.client.send(new QueryCommand({ TableName: T, KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S('m') }, ConsistentRead: true }))).Items![0];
      const entries = (await t.client.send(new ScanCommand({ TableName: T, IndexName: 'state-all', FilterExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S('m') } }))).Items!;
      assert.deepEqual(entries.map((x) => x.state.S), [final.state.S], 'one entry, at the final value');
      await t.client.send(new DeleteItemCommand({ TableName: T, Key: { customer: S('m'), id: S('1') } }));
      const afterDelete = (await t.client.send(new ScanCommand({ TableName: T, IndexName: 'state-all', FilterExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S('m') } }))).Items!;
      assert.deepEqual(afterDelete, []);
    });

    test('ReturnConsumedCapacity counts index writes and reads (TOTAL and INDEXES)', async () => {
      const first = await t.client.send(
        new PutItemCommand({ TableName: T, Item: { customer: S('cap'), id: S('1'), state: S('s1'), placed: N(1), amount: N(5) }, ReturnConsumedCapacity: 'INDEXES' }),
      );
      assert.deepEqual(first.ConsumedCapacity, {
        TableName: T,
        CapacityUnits: 4,
        Table: { CapacityUnits: 1 },
        GlobalSecondaryIndexes: { 'by-state': { CapacityUnits: 1 }, 'state-all': { CapacityUnits: 1 } },
        LocalSecondaryIndexes: { 'by-total': { CapacityUnits: 1 } },
      });
      // Moving the GSI key costs a delete and a put in the index; the LSI entry is rewritten.
      const moved = await t.client.send(
        new UpdateItemCommand({ TableName: T, Key: { customer: S('cap'), id: S('1') }, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('s2') }, ReturnConsumedCapacity: 'TOTAL' }),
      );
      assert.deepEqual(moved.ConsumedCapacity, { TableName: T, CapacityUnits: 1 + 2 + 2 + 1 });
      const read = await t.client.send(
        new QueryCommand({ TableName: T, IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('s2') }, ReturnConsumedCapacity: 'INDEXES' }),
      );
      assert.deepEqual(read.ConsumedCapacity, { TableName: T, CapacityUnits: 0.5, Table: { CapacityUnits: 0 }, GlobalSecondaryIndexes: { 'by-state': { CapacityUnits: 0.5 } } });
      await t.client.send(new DeleteItemCommand({ TableName: T, Key: { customer: S('cap'), id: S('1') } }));
    });

    test('BatchWriteItem ConsumedCapacity sums each write, per index with INDEXES', async () => {
      const big = 'x'.repeat(1500); // 2 write units in the table and in the ALL index
      const write = await t.client.send(
        new BatchWriteItemCommand({
          RequestItems: {
            [T]: [
              { PutRequest: { Item: { customer: S('bw'), id: S('1'), state: S('s1'), placed: N(1), amount: N(5), note: S(big) } } },
              { PutRequest: { Item: { customer: S('bw'), id: S('2') } } }, // in no index: sparse
            ],
          },
          ReturnConsumedCapacity: 'INDEXES',
        }),
      );
      assert.deepEqual(write.ConsumedCapacity, [
        {
          TableName: T,
          CapacityUnits: 2 + 1 + 1 + 2 + 2,
          Table: { CapacityUnits: 3 },
          GlobalSecondaryIndexes: { 'by-state': { CapacityUnits: 1 }, 'state-all': { CapacityUnits: 2 } },
          LocalSecondaryIndexes: { 'by-total': { CapacityUnits: 2 } },
        },
      ]);
      // A delete is sized by the item it removes, and removes its index entries too.
      const removed = await t.client.send(
        new BatchWriteItemCommand({
          RequestItems: { [T]: [{ DeleteRequest: { Key: { customer: S('bw'), id: S('1') } } }, { DeleteRequest: { Key: { customer: S('bw'), id: S('2') } } }] },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      assert.deepEqual(removed.ConsumedCapacity, [{ TableName: T, CapacityUnits: 2 + 1 + 1 + 2 + 2 }]);
    });

    test('empty key values in a Query are refused with DynamoDB messages (Cassandra refuses empty partition keys)', async () => {
      const q = (input: Omit<QueryCommandInput, 'TableName'>) => errorOf(() => t.client.send(new QueryCommand({ TableName: T, ...input } as QueryCommandInput)));
      const table = await q({ KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S('') } });
      assert.equal(table.name, 'ValidationException');
      assert.equal(table.message, 'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: customer');
      const gsi = await q({ IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('') } });
      assert.equal(
        gsi.message,
        'One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: by-state, IndexKey: state',
      );
      const start = await q({ IndexName: 'state-all', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('x') }, ExclusiveStartKey: { state: S(''), customer: S('c'), id: S('1') } });
      assert.match(start.message, /^The provided starting key is invalid: .*IndexName: state-all, IndexKey: state$/);
    });

    test('index key types are checked at write time; bad index reads are refused', async () => {
      const bad = await errorOf(() => put({ customer: S('x'), id: S('1'), state: N(5) }));
      assert.equal(bad.name, 'ValidationException');
      const empty = await errorOf(() => put({ customer: S('x'), id: S('1'), state: S('') }));
      assert.equal(empty.name, 'ValidationException');
      // Amazon DynamoDB's message, as its users have reported it.
      const oversized = await errorOf(() => put({ customer: S('x'), id: S('1'), state: S('s'.repeat(2049)) }));
      assert.equal(oversized.name, 'ValidationException');
      assert.equal(
        oversized.message,
        'One or more parameter values were invalid: Size limit exceeded for Index Key state Actual Size: 2049 bytes Max Size: 2048 bytes IndexName: by-state',
      );
      await put({ customer: S('x'), id: S('2'), state: S('s'.repeat(2048)) });
      await t.client.send(new DeleteItemCommand({ TableName: T, Key: { customer: S('x'), id: S('2') } }));
      const gone = await t.client.send(new QueryCommand({ TableName: T, KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S('x') }, ConsistentRead: true }));
      assert.equal(gone.Count, 0, 'nothing was written');
      const consistentGsi = await errorOf(() =>
        t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('open') }, ConsistentRead: true })),
      );
      assert.equal(consistentGsi.name, 'ValidationException');
      const allOnKeysOnly = await errorOf(() =>
        t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('open') }, Select: 'ALL_ATTRIBUTES' })),
      );
      assert.equal(allOnKeysOnly.name, 'ValidationException');
      const lsiWithoutRange = await errorOf(() =>
        t.client.send(
          new CreateTableCommand({
            TableName: 'bad-lsi',
            BillingMode: 'PAY_PER_REQUEST',
            KeySchema: [{ AttributeName: 'h', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'h', AttributeType: 'S' }, { AttributeName: 'x', AttributeType: 'S' }],
            LocalSecondaryIndexes: [{ IndexName: 'l', KeySchema: [{ AttributeName: 'h', KeyType: 'HASH' }, { AttributeName: 'x', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
          }),
        ),
      );
      assert.equal(lsiWithoutRange.name, 'ValidationException');
    });

    test('UpdateTable adds a GSI with backfill (CREATING → ACTIVE) and deletes it', async () => {
      const created = await t.client.send(
        new UpdateTableCommand({
          TableName: T,
          AttributeDefinitions: [{ AttributeName: 'note', AttributeType: 'S' }],
          GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'by-note', KeySchema: [{ AttributeName: 'note', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } } }],
        }),
      );
      const during = created.TableDescription!.GlobalSecondaryIndexes!.find((i) => i.IndexName === 'by-note')!;
      assert.equal(during.IndexStatus, 'CREATING');
      assert.equal(during.Backfilling, true);
      const refused = await errorOf(() => t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-note', KeyConditionExpression: 'note = :n', ExpressionAttributeValues: { ':n': S('n7') } })));
      assert.equal(refused.name, 'ValidationException');
      let status = 'CREATING';
      for (let i = 0; i < 60 && status !== 'ACTIVE'; i++) {
        await new Promise((r) => setTimeout(r, 500));
        status = (await t.client.send(new DescribeTableCommand({ TableName: T }))).Table!.GlobalSecondaryIndexes!.find((x) => x.IndexName === 'by-note')!.IndexStatus!;
      }
      assert.equal(status, 'ACTIVE');
      const found = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-note', KeyConditionExpression: 'note = :n', ExpressionAttributeValues: { ':n': S('n7') } }));
      assert.deepEqual(found.Items?.map((x) => x.id.S), ['o07'], 'items written before the index exist in it');
      await put({ customer: S('late'), id: S('1'), note: S('after') });
      const later = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-note', KeyConditionExpression: 'note = :n', ExpressionAttributeValues: { ':n': S('after') } }));
      assert.equal(later.Count, 1);
      await t.client.send(new UpdateTableCommand({ TableName: T, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'by-note' } }] }));
      let names: string[] = [];
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 500));
        names = (await t.client.send(new DescribeTableCommand({ TableName: T }))).Table!.GlobalSecondaryIndexes!.map((x) => x.IndexName!);
        if (!names.includes('by-note')) break;
      }
      assert.ok(!names.includes('by-note'), 'the deleted index goes away');
      const unknown = await errorOf(() => t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-note', KeyConditionExpression: 'note = :n', ExpressionAttributeValues: { ':n': S('n7') } })));
      assert.equal(unknown.name, 'ValidationException');
    });

    test('a write interrupted between the table and its indexes is repaired from the intent log', async () => {
      // Reproduce what a crash leaves: the new item in the table, the old index entry, and the
      // intent that says which index keys the write touched.
      await put({ customer: S('crash'), id: S('1'), state: S('before'), placed: N(1) });
      const session = t.server.session;
      const def = JSON.parse((await session.client.execute(`SELECT definition FROM "${t.config.keyspace}".dc_catalog WHERE name = ?`, [T], { prepare: true })).first().get('definition'));
      const item = { customer: S('crash'), id: S('1'), state: S('after'), placed: N(2) };
      const { nextVersion } = await import('../../src/storage/indexes.js');
      const version = nextVersion();
      const column = translator === 'document' ? 'item' : 'attrs';
      const value = translator === 'document' ? JSON.stringify(item) : Object.fromEntries(Object.entries(item).map(([k, v]) => [k, JSON.stringify(v)]));
      await session.client.execute(`UPDATE "${t.config.keyspace}"."${def.cqlTable}" SET ${column} = ?, ver = ? WHERE pk = ? AND sk = ?`, [value, version, 'crash', '1'], { prepare: true });
      const cassandra = (await import('cassandra-driver')).default;
      // Written by the crashed writer a minute ago, in the bucket of its id's minute.
      const old = new Date(Date.now() - 60_000);
      await session.client.execute(
        `INSERT INTO "${t.config.keyspace}".dc_index_intents (bucket, id, table_name, base_key, touched, version) VALUES (?, ?, ?, ?, ?, ?)`,
        [
          cassandra.types.Long.fromNumber(Math.floor(old.getTime() / 60_000)),
          cassandra.types.TimeUuid.fromDate(old),
          T,
          JSON.stringify({ customer: S('crash'), id: S('1') }),
          JSON.stringify({ 'by-state': [[S('before'), N(1)], [S('after'), N(2)]], 'state-all': [[S('before')], [S('after')]] }),
          version,
        ],
        { prepare: true },
      );
      const stale = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'state-all', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('before') } }));
      assert.equal(stale.Count, 1, 'the crash left a stale entry');
      // This server's sweeps have read that minute already (each reads a slice of ids once): a
      // server started after the crash looks an hour back on its first round and repairs it.
      const { IndexMaintenance } = await import('../../src/storage/index-maintenance.js');
      const { storageServices } = await import('../../src/storage/services.js');
      const { Catalog } = await import('../../src/storage/catalog.js');
      const { translators } = await import('../../translators/index.js');
      const restarted = new IndexMaintenance(storageServices({ config: t.config, session, catalog: new Catalog(session), store: t.server.store, translators }));
      await restarted.runOnce();
      const before = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'state-all', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('before') } }));
      const afterRepair = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('after') } }));
      assert.equal(before.Count, 0, 'the stale entry is gone');
      assert.deepEqual(afterRepair.Items?.map((x) => x.placed.N), ['2'], 'the missing entry exists');
    });

    test('an index-write intent that took over half the grace period to land is written again under a new id', async () => {
      // A sweep reads each slice of intent ids once, the grace period after their time: a late
      // first insert may land in a slice already read, where no sweep would find it.
      const inserts: { id: string; at: number }[] = [];
      const hooks = {
        execute(query: string, params: unknown[], _options: unknown, send: () => Promise<cassandra.types.ResultSet>) {
          if (!/^INSERT INTO \S+dc_index_intents"?/.test(query) || !String(params[3]).includes('slow-intent')) return undefined;
          inserts.push({ id: String(params[1]), at: (params[1] as cassandra.types.TimeUuid).getDate().getTime() });
          return inserts.length === 1 ? sleep(INTENT_GRACE_MS / 2 + 300).then(send) : undefined;
        },
      };
      await withStatementHooks(t.server.session.client, hooks, () => put({ customer: S('slow-intent'), id: S('1'), state: S('slow'), placed: N(1) }));
      assert.equal(inserts.length, 2, JSON.stringify(inserts));
      assert.notEqual(inserts[1]!.id, inserts[0]!.id);
      assert.ok(inserts[1]!.at - inserts[0]!.at > INTENT_GRACE_MS / 2, JSON.stringify(inserts));
      const found = await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': S('slow') } }));
      assert.deepEqual(found.Items?.map((x) => x.customer.S), ['slow-intent']);
    });

    test('the sweeps of unfinished index writes read each slice of the intent log once', async () => {
      // Finished writes leave a tombstone each in the log's minute partitions: each round reads
      // only the ids that grew old enough since the last one.
      const slices: [number, number][] = [];
      const hooks = {
        execute(query: string, params: unknown[]) {
          if (/^SELECT .* FROM \S+dc_index_intents"? WHERE bucket/.test(query)) slices.push([(params[1] as Date).getTime(), (params[2] as Date).getTime()]);
          return undefined;
        },
      };
      await withStatementHooks(t.server.session.client, hooks, async () => {
        for (let round = 0; round < 3; round++) {
          await put({ customer: S('slices'), id: S(String(round)), state: S('s'), placed: N(round) });
          await t.server.maintenance.runOnce();
        }
      });
      assert.ok(slices.length >= 3, `slices read: ${JSON.stringify(slices)}`);
      for (let i = 1; i < slices.length; i++) assert.ok(slices[i][0] >= slices[i - 1][1], `slice ${i} overlaps the one before: ${JSON.stringify(slices)}`);
    });
  });
}
