// DynamoDB's words and order where dynalite's conformance suite (recorded against DynamoDB) showed
// us differing: overlapping and conflicting document paths, the order of expression checks, key
// and index-key paths in GetItem and UpdateItem, the types an update gives index keys, UpdateTable's
// capacity messages, and list elements appended by SET and ADD. Raw requests and the SDK over the
// real server, on both translators where items are written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTableCommand, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { rawRequest, startTestServer, TEST_TRANSLATORS, type TestServer } from '../helpers/server.js';

const VALIDATION = 'com.amazon.coral.validate#ValidationException';
const S = (s: string) => ({ S: s });
const N = (n: string) => ({ N: n });
const OVERLAP = 'Two document paths overlap with each other; must remove or rewrite one of these paths;';
const CONFLICT = 'Two document paths conflict with each other; must remove or rewrite one of these paths;';
const SCALARS = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed:";

async function expectValidation(t: TestServer, action: string, body: object, message: string): Promise<void> {
  const res = await rawRequest(t.endpoint, action, body);
  assert.deepEqual(res.body, { __type: VALIDATION, message }, `${action} ${JSON.stringify(body).slice(0, 300)}`);
}

describe('DynamoDB words for paths and expressions, before any table (conformance)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('conformance_paths');
  });
  after(() => t?.close());
  const v = (action: string, body: object, message: string) => expectValidation(t, action, { TableName: 'nope', ...body }, message);

  test('any overlap of paths is reported before any conflict; conflicts name the paths in textual order', async () => {
    const names = { '#a': 'a' };
    await v('GetItem', { Key: {}, ProjectionExpression: 'b[1], b.a, #a.b, a', ExpressionAttributeNames: names }, `Invalid ProjectionExpression: ${OVERLAP} path one: [a, b], path two: [a]`);
    await v('GetItem', { Key: {}, ProjectionExpression: 'a, #a[1]', ExpressionAttributeNames: names }, `Invalid ProjectionExpression: ${OVERLAP} path one: [a], path two: [a, [1]]`);
    await v('GetItem', { Key: {}, ProjectionExpression: 'a.b[1], #a[1], #b', ExpressionAttributeNames: { ...names, '#b': '[3]' } }, `Invalid ProjectionExpression: ${CONFLICT} path one: [a, b, [1]], path two: [a, [1]]`);
    const u = { '#c': 'c', '#d': '[3]' };
    await v('UpdateItem', { Key: {}, UpdateExpression: 'set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)', ExpressionAttributeNames: u }, `Invalid UpdateExpression: ${OVERLAP} path one: [c, [1], a], path two: [c]`);
    // REMOVE written before SET: its path is path one.
    await v('UpdateItem', { Key: {}, UpdateExpression: 'remove a.#c set a[1] = #d', ExpressionAttributeNames: u }, `Invalid UpdateExpression: ${CONFLICT} path one: [a, c], path two: [a, [1]]`);
  });

  test('condition checks in DynamoDB order: names and values as written, inner functions, distinct operands, then operand types', async () => {
    const f = (expr: string, message: string, extra: object = {}) => v('Scan', { FilterExpression: expr, ...extra }, `Invalid FilterExpression: ${message}`);
    await f('begins_with(:hello, #a, #b)', 'An expression attribute value used in expression is not defined; attribute value: :hello');
    await f('(a)between(((b.c)).d)and(c)', 'The expression has redundant parentheses;');
    await f('attribute_not_exists(size(:a))', 'Incorrect operand type for operator or function; operator or function: size, operand type: N', { ExpressionAttributeValues: { ':a': N('1') } });
    await f('attribute_type(ab.bc[1].#a, ab.bc[1].a)', 'The first operand must be distinct from the remaining operands for this operator or function; operator: attribute_type, first operand: [ab, bc, [1], a]', { ExpressionAttributeNames: { '#a': 'a' } });
  });

  test('UpdateItem: ADD operand types before SET functions, AttributeUpdates before Expected', async () => {
    await v('UpdateItem', { Key: {}, UpdateExpression: 'set b = list_append(:a, a), c = if_not_exists(a) add a.b :a', ExpressionAttributeValues: { ':a': S('a') } }, 'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND');
    await v('UpdateItem', { Key: {}, Expected: { a: {} }, AttributeUpdates: { a: { x: 'whatever' } } }, 'One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified');
  });

  test('Query names KeyConditions among the mixed parameters only beside KeyConditionExpression', async () => {
    const legacy = { QueryFilter: { a: { ComparisonOperator: 'EQ', AttributeValueList: [{}] } }, AttributesToGet: ['a'], KeyConditions: { a: { ComparisonOperator: 'EQ', AttributeValueList: [{}] } }, ConditionalOperator: 'OR' };
    const prefix = 'Can not use both expression and non-expression parameters in the same request: ';
    await v('Query', { ...legacy, FilterExpression: '', ProjectionExpression: '' }, `${prefix}Non-expression parameters: {AttributesToGet, QueryFilter, ConditionalOperator} Expression parameters: {ProjectionExpression, FilterExpression}`);
    await v('Query', { ...legacy, FilterExpression: '', ProjectionExpression: '', KeyConditionExpression: '' }, `${prefix}Non-expression parameters: {AttributesToGet, QueryFilter, ConditionalOperator, KeyConditions} Expression parameters: {ProjectionExpression, FilterExpression, KeyConditionExpression}`);
  });

  test('CreateTable: a table or local index key of two elements of one name', async () => {
    const defs = ['a', 'b'].map((n) => ({ AttributeName: n, AttributeType: 'S' }));
    const same = [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'a', KeyType: 'HASH' }];
    const message = 'Both the Hash Key and the Range Key element in the KeySchema have the same name';
    const throughput = { ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } };
    await v('CreateTable', { ...throughput, AttributeDefinitions: defs, KeySchema: same }, message);
    const KeySchema = [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'RANGE' }];
    await v('CreateTable', { ...throughput, AttributeDefinitions: defs, KeySchema, LocalSecondaryIndexes: [{ IndexName: 'abc', KeySchema: same, Projection: {} }] }, message);
  });
});

for (const translator of TEST_TRANSLATORS) {
  describe(`DynamoDB checks of key and index-key paths and types (${translator})`, () => {
    let t: TestServer;
    // A range table (a, b) with LSIs on c and d and GSIs on c and (c, d), as the suite's.
    const T = 'conf_paths';
    const P = 'conf_prov';
    before(async () => {
      t = await startTestServer(`conformance_paths_${translator}`, { translator });
      const ix = (name: string, keys: [string, 'HASH' | 'RANGE'][]) => ({ IndexName: name, KeySchema: keys.map(([n, k]) => ({ AttributeName: n, KeyType: k })), Projection: { ProjectionType: 'ALL' as const } });
      await t.client.send(
        new CreateTableCommand({
          TableName: T,
          AttributeDefinitions: ['a', 'b', 'c', 'd'].map((n) => ({ AttributeName: n, AttributeType: 'S' as const })),
          KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'RANGE' }],
          LocalSecondaryIndexes: [ix('index1', [['a', 'HASH'], ['c', 'RANGE']]), ix('index2', [['a', 'HASH'], ['d', 'RANGE']])],
          GlobalSecondaryIndexes: [ix('index3', [['c', 'HASH']]), ix('index4', [['c', 'HASH'], ['d', 'RANGE']])],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await t.client.send(
        new CreateTableCommand({
          TableName: P,
          AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }],
          ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 5 },
        }),
      );
    });
    after(() => t?.close());
    const key = (a: string) => ({ a: S(a), b: S('b') });

    test('GetItem: a projection may not reach inside a table or index key', async () => {
      const g = (expr: string, names: object, message: string) =>
        expectValidation(t, 'GetItem', { TableName: T, Key: key('k'), ProjectionExpression: expr, ExpressionAttributeNames: names }, message);
      await g('#a.b.c', { '#a': 'a' }, `${SCALARS} Key: a`);
      await g('#a[0]', { '#a': 'a' }, `${SCALARS} Key: a`);
      await g('#d.b.c', { '#d': 'd' }, `${SCALARS} IndexKey: d`);
      await g('#d[0]', { '#d': 'd' }, `${SCALARS} IndexKey: d`);
    });

    test('UpdateItem: index key types known from the request, then nested index key paths, then the type a SET gave from the item', async () => {
      const u = (a: string, body: object, message: string) => expectValidation(t, 'UpdateItem', { TableName: T, Key: key(a), ...body }, message);
      const mismatch = 'One or more parameter values were invalid: Type mismatch for Index Key c Expected: S Actual: N IndexName: index1';
      const one = { ':a': N('1') };
      await u('k1', { UpdateExpression: 'set d.a = a add c :a', ExpressionAttributeValues: one }, mismatch);
      await u('k1', { UpdateExpression: 'set e = c[1], c = a + :a', ExpressionAttributeValues: one }, mismatch);
      await u('k1', { UpdateExpression: 'add d.b :a', ExpressionAttributeValues: one }, `${SCALARS} IndexKey: d`);
      await u('k1', { UpdateExpression: 'set e = list_append(a, b), f = d[1]' }, `${SCALARS} IndexKey: d`);
      // Nothing was written by the refused updates.
      assert.equal((await t.client.send(new GetItemCommand({ TableName: T, Key: key('k1'), ConsistentRead: true }))).Item, undefined);
      await t.client.send(new UpdateItemCommand({ TableName: T, Key: key('k2'), UpdateExpression: 'set e = :a', ExpressionAttributeValues: one }));
      for (const expr of ['set c = e', 'set d = e']) {
        await u('k2', { UpdateExpression: expr }, 'The update expression attempted to update the secondary index key to unsupported type');
      }
      const item = (await t.client.send(new GetItemCommand({ TableName: T, Key: key('k2'), ConsistentRead: true }))).Item;
      assert.deepEqual(item, { ...key('k2'), e: N('1') });
    });

    test('UpdateItem: SET and ADD past the end of a list append in index order; UPDATED_NEW projects the paths named', async () => {
      const k = { a: S('nested'), b: S('b') };
      await t.client.send(
        new UpdateItemCommand({
          TableName: T,
          Key: k,
          UpdateExpression: 'set m = :b, l = :c',
          ExpressionAttributeValues: { ':b': { M: { a: N('1'), b: N('2'), c: N('3') } }, ':c': { L: [N('1'), N('3')] } },
        }),
      );
      const res = await t.client.send(
        new UpdateItemCommand({
          TableName: T,
          Key: k,
          UpdateExpression: 'set m.c=((l[1])+(m.a)),m.a = a,l[1] = a, l[4] = m.a - m.b, l[2] = m.c add l[8] :b, l[6] :a',
          ExpressionAttributeValues: { ':a': N('2'), ':b': { SS: ['a'] } },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      assert.deepEqual(res.Attributes, { m: { M: { a: k.a, c: N('4') } }, l: { L: [k.a, N('3'), N('2')] } });
      const item = (await t.client.send(new GetItemCommand({ TableName: T, Key: k, ConsistentRead: true }))).Item;
      assert.deepEqual(item, { ...k, m: { M: { a: k.a, b: N('2'), c: N('4') } }, l: { L: [N('1'), k.a, N('3'), N('-1'), N('2'), { SS: ['a'] }] } });
    });

    test('UpdateTable: out-of-bounds index capacity once the table is found, and an unchanged throughput', async () => {
      for (const tp of [{ ReadCapacityUnits: 1000000000001, WriteCapacityUnits: 1 }, { ReadCapacityUnits: 1, WriteCapacityUnits: 1000000000001 }]) {
        await expectValidation(t, 'UpdateTable', { TableName: P, GlobalSecondaryIndexUpdates: [{ Update: { IndexName: 'abc', ProvisionedThroughput: tp } }] },
          'This operation cannot be performed with given input values. Please contact DynamoDB service team for more info: Action Blocked: IndexUpdate');
      }
      await expectValidation(t, 'UpdateTable', { TableName: P, ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 5 } },
        'The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: 10. Requested ReadCapacityUnits: 10. Current WriteCapacityUnits provisioned for the table: 5. Requested WriteCapacityUnits: 5. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.');
    });
  });
}
