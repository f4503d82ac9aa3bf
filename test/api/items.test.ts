// PutItem, GetItem, UpdateItem, DeleteItem with the expression language, through the AWS SDK v3
// (client and DocumentClient) against the real server over real Cassandra, for each translator.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TEST_TRANSLATORS, createPkTable, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const bin = (s: string) => new Uint8Array(Buffer.from(s));

for (const translator of TEST_TRANSLATORS) {
  describe(`items (${translator})`, () => {
    let t: TestServer;
    const T = 'items';
    const R = 'ranged';
    before(async () => {
      t = await startTestServer(`t_items_${translator}`, { translator });
      await createPkTable(t.client, T);
      await t.client.send(
        new CreateTableCommand({
          TableName: R,
          KeySchema: [
            { AttributeName: 'h', KeyType: 'HASH' },
            { AttributeName: 'r', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'h', AttributeType: 'N' },
            { AttributeName: 'r', AttributeType: 'B' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    });
    after(() => t?.close());

    const get = async (pk: string, extra: Record<string, unknown> = {}) =>
      (await t.client.send(new GetItemCommand({ TableName: T, Key: { pk: { S: pk } }, ConsistentRead: true, ...extra }))).Item;
    const put = (item: Record<string, AttributeValue>, extra: Record<string, unknown> = {}) =>
      t.client.send(new PutItemCommand({ TableName: T, Item: item, ...extra }));
    const update = (pk: string, expr: string, extra: Record<string, unknown> = {}) =>
      t.client.send(new UpdateItemCommand({ TableName: T, Key: { pk: { S: pk } }, UpdateExpression: expr, ...extra }));

    test('every attribute type round-trips exactly', async () => {
      const item: Record<string, AttributeValue> = {
        pk: { S: 'types' },
        s: { S: 'héllo ✓ \u0000 "quoted"' },
        empty: { S: '' },
        n: { N: '-12345678901234567890123456789012345678' },
        small: { N: '1E-130' },
        big: { N: '9.9999999999999999999999999999999999999E+125' },
        b: { B: bin('\u0000\u00ff binary') },
        emptyB: { B: new Uint8Array() },
        t: { BOOL: true },
        f: { BOOL: false },
        nul: { NULL: true },
        m: { M: { a: { S: 'x' }, nested: { M: { deep: { L: [{ N: '1' }, { S: 'two' }] } } } } },
        l: { L: [{ S: 'a' }, { N: '2' }, { BOOL: false }, { NULL: true }, { L: [] }, { M: {} }] },
        ss: { SS: ['b', 'a'] },
        ns: { NS: ['3', '1.5'] },
        bs: { BS: [bin('x'), bin('y')] },
      };
      await put(item);
      const got = await get('types');
      assert.ok(got);
      assert.deepEqual(got.s, item.s);
      assert.deepEqual(got.empty, { S: '' });
      assert.deepEqual(got.n, item.n);
      assert.deepEqual(got.small, { N: '0.' + '0'.repeat(129) + '1' });
      assert.equal(got.big.N, '99999999999999999999999999999999999999' + '0'.repeat(88));
      assert.deepEqual(Buffer.from(got.b.B!), Buffer.from(item.b.B!));
      assert.equal(got.emptyB.B!.length, 0);
      assert.deepEqual(got.t, { BOOL: true });
      assert.deepEqual(got.f, { BOOL: false });
      assert.deepEqual(got.nul, { NULL: true });
      assert.deepEqual(got.m, item.m);
      assert.deepEqual(got.l, item.l);
      assert.deepEqual([...got.ss.SS!].sort(), ['a', 'b']);
      assert.deepEqual([...got.ns.NS!].sort(), ['1.5', '3']);
      assert.deepEqual(got.bs.BS!.map((x) => Buffer.from(x).toString()).sort(), ['x', 'y']);
    });

    test('numbers are normalised and range-checked; no floating point on the path', async () => {
      await put({ pk: { S: 'num' }, a: { N: '001.500' }, b: { N: '-0' }, c: { N: '1E+2' }, d: { N: '0.1000' } });
      const got = await get('num');
      assert.deepEqual(got, { pk: { S: 'num' }, a: { N: '1.5' }, b: { N: '0' }, c: { N: '100' }, d: { N: '0.1' } });
      await put({ pk: { S: 'prec' }, v: { N: '0.1' } });
      await update('prec', 'SET v = v + :x', { ExpressionAttributeValues: { ':x': { N: '0.2' } } });
      assert.equal((await get('prec'))!.v.N, '0.3');
      // A result needing 39 significant digits is refused, as DynamoDB does, and nothing changes.
      const tooPrecise = await errorOf(() =>
        update('prec', 'SET v = v + :x', { ExpressionAttributeValues: { ':x': { N: '12345678901234567890123456789012345678' } } }),
      );
      assert.equal(tooPrecise.name, 'ValidationException');
      assert.equal((await get('prec'))!.v.N, '0.3');
      await update('prec', 'SET v = v + :x', { ExpressionAttributeValues: { ':x': { N: '1234567890123456789012345678901234567' } } });
      assert.equal((await get('prec'))!.v.N, '1234567890123456789012345678901234567.3');
      for (const bad of ['1E+126', '1E-131', '123456789012345678901234567890123456789', 'abc', '']) {
        const e = await errorOf(() => put({ pk: { S: 'badnum' }, v: { N: bad } }));
        assert.equal(e.name, 'ValidationException', bad);
      }
      assert.equal(await get('badnum'), undefined);
    });

    test('the DocumentClient works end to end', async () => {
      await t.doc.send(new PutCommand({ TableName: T, Item: { pk: 'doc', list: [1, 'two', { three: 3 }], set: new Set(['a']), flag: true } }));
      const got = await t.doc.send(new GetCommand({ TableName: T, Key: { pk: 'doc' } }));
      assert.deepEqual(got.Item, { pk: 'doc', list: [1, 'two', { three: 3 }], set: new Set(['a']), flag: true });
      const upd = await t.doc.send(
        new UpdateCommand({
          TableName: T,
          Key: { pk: 'doc' },
          UpdateExpression: 'SET #l[1] = :v, #c = if_not_exists(#c, :zero) + :one',
          ExpressionAttributeNames: { '#l': 'list', '#c': 'counter' },
          ExpressionAttributeValues: { ':v': 'TWO', ':zero': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      assert.deepEqual(upd.Attributes, { pk: 'doc', list: [1, 'TWO', { three: 3 }], set: new Set(['a']), flag: true, counter: 1 });
    });

    test('hash + range keys of N and B types', async () => {
      await t.client.send(new PutItemCommand({ TableName: R, Item: { h: { N: '10.0' }, r: { B: bin('k1') }, v: { S: 'one' } } }));
      const got = await t.client.send(new GetItemCommand({ TableName: R, Key: { h: { N: '10' }, r: { B: bin('k1') } } }));
      assert.equal(got.Item?.v.S, 'one');
      assert.equal(got.Item?.h.N, '10');
      const none = await t.client.send(new GetItemCommand({ TableName: R, Key: { h: { N: '10' }, r: { B: bin('k2') } } }));
      assert.equal(none.Item, undefined);
      await t.client.send(new DeleteItemCommand({ TableName: R, Key: { h: { N: '1E+1' }, r: { B: bin('k1') } } }));
      const deleted = await t.client.send(new GetItemCommand({ TableName: R, Key: { h: { N: '10' }, r: { B: bin('k1') } }, ConsistentRead: true }));
      assert.equal(deleted.Item, undefined);
    });

    test('key validation errors', async () => {
      const cases: [string, () => Promise<unknown>][] = [
        ['missing key attribute in item', () => put({ other: { S: 'x' } })],
        ['wrong key type in item', () => put({ pk: { N: '1' } })],
        ['empty string key', () => put({ pk: { S: '' } })],
        ['key with extra attribute', () => t.client.send(new GetItemCommand({ TableName: T, Key: { pk: { S: 'a' }, x: { S: 'b' } } }))],
        ['key of wrong type', () => t.client.send(new GetItemCommand({ TableName: T, Key: { pk: { N: '1' } } }))],
        ['range key missing', () => t.client.send(new GetItemCommand({ TableName: R, Key: { h: { N: '1' } } }))],
        ['hash key too long', () => put({ pk: { S: 'x'.repeat(2049) } })],
        ['empty set', () => put({ pk: { S: 'k' }, s: { SS: [] } })],
        ['duplicate set members', () => put({ pk: { S: 'k' }, s: { SS: ['a', 'a'] } })],
        ['duplicate numbers in NS', () => put({ pk: { S: 'k' }, s: { NS: ['1', '1.0'] } })],
        ['update of a key attribute', () => update('k', 'SET pk = :v', { ExpressionAttributeValues: { ':v': { S: 'x' } } })],
        ['ReturnValues not allowed for PutItem', () => put({ pk: { S: 'k' } }, { ReturnValues: 'ALL_NEW' })],
        ['item over 400 KB', () => put({ pk: { S: 'big' }, v: { S: 'x'.repeat(400 * 1024) } })],
        ['unused expression value', () => put({ pk: { S: 'k' } }, { ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':unused': { S: 'x' } } })],
        ['reserved word', () => put({ pk: { S: 'k' } }, { ConditionExpression: 'attribute_exists(name)' })],
        ['syntax error', () => update('k', 'SET a = ')],
        ['overlapping paths', () => update('k', 'SET a = :v, a.b = :v', { ExpressionAttributeValues: { ':v': { S: 'x' } } })],
      ];
      for (const [label, run] of cases) {
        const e = await errorOf(run);
        assert.equal(e.name, 'ValidationException', label);
        assert.equal(e.$metadata?.httpStatusCode, 400, label);
      }
      assert.equal(await get('k'), undefined);
      assert.equal(await get('big'), undefined);
    });

    test('an item just under 400 KB is stored, counting attribute names', async () => {
      const name = 'payload';
      const room = 400 * 1024 - 'pk'.length - 'max'.length - name.length;
      await put({ pk: { S: 'max' }, [name]: { S: 'x'.repeat(room) } });
      assert.equal((await get('max'))![name].S!.length, room);
      const e = await errorOf(() => put({ pk: { S: 'max' }, [name]: { S: 'x'.repeat(room + 1) } }));
      assert.equal(e.name, 'ValidationException');
      assert.equal((await get('max'))![name].S!.length, room);
    });

    test('condition expressions on PutItem and DeleteItem', async () => {
      await put({ pk: { S: 'c1' }, n: { N: '5' }, s: { S: 'abc' }, tags: { SS: ['x', 'y'] }, m: { M: { k: { N: '1' } } } });
      const ok: [string, Record<string, AttributeValue>?][] = [
        ['attribute_exists(n)'],
        ['attribute_not_exists(zzz)'],
        ['n = :five', { ':five': { N: '5.0' } }],
        ['n <> :six AND n < :six', { ':six': { N: '6' } }],
        ['n BETWEEN :a AND :b', { ':a': { N: '1' }, ':b': { N: '5' } }],
        ['n IN (:a, :b)', { ':a': { N: '1' }, ':b': { N: '5' } }],
        ['begins_with(s, :p)', { ':p': { S: 'ab' } }],
        ['contains(s, :p)', { ':p': { S: 'bc' } }],
        ['contains(tags, :p)', { ':p': { S: 'y' } }],
        ['size(s) = :three', { ':three': { N: '3' } }],
        ['size(tags) > :one', { ':one': { N: '1' } }],
        ['attribute_type(tags, :t)', { ':t': { S: 'SS' } }],
        ['m.k = :one', { ':one': { N: '1' } }],
        ['NOT (n = :one) AND (s = :x OR n > :one)', { ':one': { N: '1' }, ':x': { S: 'nope' } }],
      ];
      for (const [expr, values] of ok) {
        await put({ pk: { S: 'c1' }, n: { N: '5' }, s: { S: 'abc' }, tags: { SS: ['x', 'y'] }, m: { M: { k: { N: '1' } } } }, {
          ConditionExpression: expr,
          ExpressionAttributeValues: values,
        });
      }
      const failing: [string, Record<string, AttributeValue>?][] = [
        ['attribute_not_exists(n)'],
        ['n > :five', { ':five': { N: '5' } }],
        ['s < :n', { ':n': { N: '1' } }], // different types never compare
        ['begins_with(s, :p)', { ':p': { S: 'b' } }],
      ];
      for (const [expr, values] of failing) {
        const e = await errorOf(() => put({ pk: { S: 'c1' }, changed: { BOOL: true } }, { ConditionExpression: expr, ExpressionAttributeValues: values }));
        assert.equal(e.name, 'ConditionalCheckFailedException', expr);
      }
      assert.equal((await get('c1'))!.changed, undefined);
      const withOld = await errorOf(() =>
        t.client.send(
          new DeleteItemCommand({
            TableName: T,
            Key: { pk: { S: 'c1' } },
            ConditionExpression: 'n = :x',
            ExpressionAttributeValues: { ':x': { N: '0' } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      assert.equal(withOld.name, 'ConditionalCheckFailedException');
      assert.equal((withOld as unknown as { Item: Record<string, AttributeValue> }).Item?.s?.S, 'abc');
      const del = await t.client.send(
        new DeleteItemCommand({ TableName: T, Key: { pk: { S: 'c1' } }, ConditionExpression: 'n = :x', ExpressionAttributeValues: { ':x': { N: '5' } }, ReturnValues: 'ALL_OLD' }),
      );
      assert.equal(del.Attributes?.s.S, 'abc');
      assert.equal(await get('c1'), undefined);
      // attribute_not_exists on an absent item: the classic "create only" put.
      await put({ pk: { S: 'c1' } }, { ConditionExpression: 'attribute_not_exists(pk)' });
      const again = await errorOf(() => put({ pk: { S: 'c1' } }, { ConditionExpression: 'attribute_not_exists(pk)' }));
      assert.equal(again.name, 'ConditionalCheckFailedException');
    });

    test('legacy Expected, AttributeUpdates and AttributesToGet', async () => {
      await put({ pk: { S: 'legacy' }, a: { N: '1' }, b: { S: 'x' } });
      await t.client.send(
        new UpdateItemCommand({
          TableName: T,
          Key: { pk: { S: 'legacy' } },
          AttributeUpdates: { a: { Action: 'ADD', Value: { N: '2' } }, b: { Action: 'DELETE' }, c: { Action: 'PUT', Value: { S: 'new' } } },
          Expected: { a: { Value: { N: '1' } } },
        }),
      );
      const got = await get('legacy', { AttributesToGet: ['a', 'b', 'c'] });
      assert.deepEqual(got, { a: { N: '3' }, c: { S: 'new' } });
      const e = await errorOf(() => put({ pk: { S: 'legacy' } }, { Expected: { a: { ComparisonOperator: 'EQ', AttributeValueList: [{ N: '1' }] } } }));
      assert.equal(e.name, 'ConditionalCheckFailedException');
      const mixed = await errorOf(() =>
        put({ pk: { S: 'legacy' } }, { Expected: { a: { Exists: false } }, ConditionExpression: 'attribute_exists(a)' }),
      );
      assert.equal(mixed.name, 'ValidationException');
    });

    test('update expressions: SET, REMOVE, ADD, DELETE, nested paths, lists', async () => {
      await put({
        pk: { S: 'u1' },
        n: { N: '10' },
        l: { L: [{ S: 'a' }, { S: 'b' }, { S: 'c' }] },
        m: { M: { inr: { M: { x: { N: '1' } } } } },
        ss: { SS: ['a', 'b', 'c'] },
        gone: { S: 'bye' },
      });
      const res = await update(
        'u1',
        'SET n = n - :one, m.inr.y = :s, l[1] = :s, l[10] = :s, newlist = list_append(:l, l), fresh = if_not_exists(fresh, :s) REMOVE gone, l[0] ADD cnt :one, ns :ns DELETE ss :del',
        {
          ExpressionAttributeValues: {
            ':one': { N: '1' },
            ':s': { S: 'z' },
            ':l': { L: [{ S: 'first' }] },
            ':ns': { NS: ['7'] },
            ':del': { SS: ['a', 'c'] },
          },
          ReturnValues: 'ALL_NEW',
        },
      );
      const a = res.Attributes!;
      assert.equal(a.n.N, '9');
      assert.deepEqual(a.m, { M: { inr: { M: { x: { N: '1' }, y: { S: 'z' } } } } });
      assert.deepEqual(a.l, { L: [{ S: 'z' }, { S: 'c' }, { S: 'z' }] });
      assert.deepEqual(a.newlist, { L: [{ S: 'first' }, { S: 'a' }, { S: 'b' }, { S: 'c' }] });
      assert.deepEqual(a.fresh, { S: 'z' });
      assert.equal(a.gone, undefined);
      assert.deepEqual(a.cnt, { N: '1' });
      assert.deepEqual(a.ns, { NS: ['7'] });
      assert.deepEqual(a.ss, { SS: ['b'] });
      assert.deepEqual(await get('u1'), a);
      // Deleting the last members of a set removes the attribute.
      await update('u1', 'DELETE ss :b', { ExpressionAttributeValues: { ':b': { SS: ['b'] } } });
      assert.equal((await get('u1'))!.ss, undefined);
      const typeErr = await errorOf(() => update('u1', 'ADD fresh :one', { ExpressionAttributeValues: { ':one': { N: '1' } } }));
      assert.equal(typeErr.name, 'ValidationException');
      const pathErr = await errorOf(() => update('u1', 'SET nothere.x = :one', { ExpressionAttributeValues: { ':one': { N: '1' } } }));
      assert.equal(pathErr.name, 'ValidationException');
    });

    test('UpdateItem creates absent items and honours all five ReturnValues', async () => {
      const created = await update('rv', 'SET a = :one', { ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: 'ALL_OLD' });
      assert.equal(created.Attributes, undefined);
      assert.deepEqual(await get('rv'), { pk: { S: 'rv' }, a: { N: '1' } });
      const values = { ':two': { N: '2' }, ':m': { M: { x: { S: 'y' } } } };
      const allOld = await update('rv', 'SET a = :two, m = :m', { ExpressionAttributeValues: values, ReturnValues: 'ALL_OLD' });
      assert.deepEqual(allOld.Attributes, { pk: { S: 'rv' }, a: { N: '1' } });
      const updatedOld = await update('rv', 'SET a = a + :two, b = :two', { ExpressionAttributeValues: { ':two': { N: '2' } }, ReturnValues: 'UPDATED_OLD' });
      assert.deepEqual(updatedOld.Attributes, { a: { N: '2' } });
      const updatedNew = await update('rv', 'SET m.x = :z', { ExpressionAttributeValues: { ':z': { S: 'z' } }, ReturnValues: 'UPDATED_NEW' });
      assert.deepEqual(updatedNew.Attributes, { m: { M: { x: { S: 'z' } } } });
      const allNew = await update('rv', 'REMOVE b', { ReturnValues: 'ALL_NEW' });
      assert.deepEqual(allNew.Attributes, { pk: { S: 'rv' }, a: { N: '4' }, m: { M: { x: { S: 'z' } } } });
      const none = await update('rv', 'REMOVE b', { ReturnValues: 'NONE' });
      assert.equal(none.Attributes, undefined);
      const conditional = await errorOf(() =>
        update('rv', 'SET a = :two', { ConditionExpression: 'a = :two', ExpressionAttributeValues: { ':two': { N: '2' } }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      assert.equal(conditional.name, 'ConditionalCheckFailedException');
      assert.deepEqual((conditional as unknown as { Item: unknown }).Item, { pk: { S: 'rv' }, a: { N: '4' }, m: { M: { x: { S: 'z' } } } });
    });

    test('ProjectionExpression with nested paths and list indexes', async () => {
      await put({
        pk: { S: 'proj' },
        a: { M: { b: { L: [{ S: 'zero' }, { M: { c: { N: '1' }, d: { N: '2' } } }] }, e: { S: 'e' } } },
        name: { S: 'reserved' },
        other: { S: 'x' },
      });
      const got = await get('proj', { ProjectionExpression: 'a.b[1].c, #n, nope', ExpressionAttributeNames: { '#n': 'name' } });
      assert.deepEqual(got, { a: { M: { b: { L: [{ M: { c: { N: '1' } } }] } } }, name: { S: 'reserved' } });
    });

    test('ReturnConsumedCapacity follows DynamoDB arithmetic', async () => {
      const w = await put({ pk: { S: 'cap' }, v: { S: 'x'.repeat(3000) } }, { ReturnConsumedCapacity: 'TOTAL' });
      assert.deepEqual(w.ConsumedCapacity, { TableName: T, CapacityUnits: 3 });
      const r = await t.client.send(new GetItemCommand({ TableName: T, Key: { pk: { S: 'cap' } }, ReturnConsumedCapacity: 'TOTAL' }));
      assert.deepEqual(r.ConsumedCapacity, { TableName: T, CapacityUnits: 0.5 });
      const rc = await t.client.send(
        new GetItemCommand({ TableName: T, Key: { pk: { S: 'cap' } }, ReturnConsumedCapacity: 'INDEXES', ConsistentRead: true }),
      );
      assert.deepEqual(rc.ConsumedCapacity, { TableName: T, CapacityUnits: 1, Table: { CapacityUnits: 1 } });
    });

    test('raw requests with broken shapes get DynamoDB errors, never 500', async () => {
      const bodies: [string, unknown][] = [
        ['PutItem', { TableName: T, Item: { pk: { S: 'x', N: '1' } } }],
        ['PutItem', { TableName: T, Item: { pk: {} } }],
        ['PutItem', { TableName: T, Item: { pk: { S: 5 } } }],
        ['PutItem', { TableName: T, Item: { pk: { S: 'x' }, b: { B: '!!notbase64' } } }],
        ['PutItem', { TableName: T, Item: 'string' }],
        ['PutItem', { TableName: T }],
        // (ConsistentRead 'yes' is no error: DynamoDB reads "yes", "true" and "1" as true.)
        ['GetItem', { TableName: T, Key: { pk: { S: 'x' } }, ConsistentRead: 'maybe' }],
        ['GetItem', { TableName: T, Key: { pk: { S: 'x' } }, ReturnConsumedCapacity: 'ALL' }],
        ['UpdateItem', { TableName: T, Key: { pk: { S: 'x' } }, UpdateExpression: 'SET #a = :v' }],
        ['UpdateItem', { TableName: T, Key: { pk: { S: 'x' } }, UpdateExpression: 'SET a = :v', ExpressionAttributeValues: { ':v': { S: 'x' } }, ReturnValues: 'SOME' }],
        ['DeleteItem', { TableName: T, Key: [] }],
      ];
      for (const [action, body] of bodies) {
        const res = await rawRequest(t.endpoint, action, body as object);
        assert.equal(res.status, 400, `${action} ${JSON.stringify(body)} → ${res.text}`);
        assert.match(res.body.__type, /#(ValidationException|SerializationException)$/, JSON.stringify(body));
      }
      assert.equal(await get('x'), undefined);
    });
  });
}
