// DynamoDB's order of checks and its words, where dynalite's conformance suite (recorded against
// DynamoDB) showed us differing: Query's and Scan's phases before and after the table, numbers,
// tag requests, CreateTable's key schema and index checks. Raw requests over the real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const VALIDATION = 'com.amazon.coral.validate#ValidationException';
const ACCESS_DENIED = 'com.amazon.coral.service#AccessDeniedException';
const NOT_FOUND = 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException';
const S = (s: string) => ({ S: s });
const EQ = (v: object) => ({ ComparisonOperator: 'EQ', AttributeValueList: [v] });

describe('DynamoDB order of checks (conformance)', () => {
  let t: TestServer;
  // A range table (a, b) with an LSI on c and a KEYS_ONLY GSI on (c, d).
  const T = 'conf_range';
  before(async () => {
    t = await startTestServer('conformance_order');
    await t.client.send(
      new CreateTableCommand({
        TableName: T,
        AttributeDefinitions: ['a', 'b', 'c', 'd'].map((n) => ({ AttributeName: n, AttributeType: 'S' as const })),
        KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'RANGE' }],
        LocalSecondaryIndexes: [{ IndexName: 'lsi', KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'c', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
        GlobalSecondaryIndexes: [{ IndexName: 'gsi', KeySchema: [{ AttributeName: 'c', KeyType: 'HASH' }, { AttributeName: 'd', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  });
  after(() => t?.close());

  const expectValidation = async (action: string, body: object, message: string) => {
    const res = await rawRequest(t.endpoint, action, body);
    assert.deepEqual(res.body, { __type: VALIDATION, message }, `${action} ${JSON.stringify(body).slice(0, 300)}`);
  };

  test('Query and Scan: filter conditions, AttributesToGet and start key values, then the key conditions, all before the table', async () => {
    const cases: [string, object, string][] = [
      // QueryFilter's values come before the start key's, and AttributesToGet's duplicates too.
      ['Query', { TableName: 'nope', ExclusiveStartKey: { a: {} }, KeyConditions: { a: EQ({}) }, QueryFilter: { a: EQ({ NULL: 'no' }) } }, 'One or more parameter values were invalid: Null attribute value types must have the value of true'],
      ['Query', { TableName: 'nope', ExclusiveStartKey: { a: {} }, AttributesToGet: ['a', 'a'], KeyConditions: { a: EQ(S('x')) } }, 'One or more parameter values were invalid: Duplicate value in attribute name: a'],
      ['Scan', { TableName: 'nope', ExclusiveStartKey: { a: {} }, ScanFilter: { a: { ComparisonOperator: 'EQ' } } }, 'One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator'],
      // A KeyConditionExpression's structure needs no table.
      ['Query', { TableName: 'nope', KeyConditionExpression: 'attribute_type(a, :a)', ExpressionAttributeValues: { ':a': S('S') } }, 'Invalid operator used in KeyConditionExpression: attribute_type'],
      ['Query', { TableName: 'nope', KeyConditionExpression: 'a > b and size(b) > c or a > c' }, 'Invalid operator used in KeyConditionExpression: OR'],
      ['Query', { TableName: 'nope', KeyConditionExpression: 'begins_with(:a, b) and a > :b', ExpressionAttributeValues: { ':a': S('1'), ':b': S('1') } }, 'Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand'],
      ['Query', { TableName: 'nope', KeyConditionExpression: 'a > size(b.d)' }, 'KeyConditionExpressions cannot contain nested operations'],
      ['Query', { TableName: 'nope', KeyConditionExpression: 'b > a.b' }, 'Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition'],
      ['Query', { TableName: 'nope', KeyConditionExpression: 'b.d > a AND c.d > e.f' }, 'KeyConditionExpressions cannot have conditions on nested attributes'],
      ['Query', { TableName: 'nope', KeyConditionExpression: ':b > :a AND a < :b', ExpressionAttributeValues: { ':a': { N: '1' }, ':b': { N: '1' } } }, 'Invalid condition in KeyConditionExpression: No key attribute specified'],
      ['Query', { TableName: 'nope', KeyConditionExpression: 'b > :a AND b < :a', ExpressionAttributeValues: { ':a': { N: '1' } } }, 'KeyConditionExpressions must only contain one condition per key'],
      ['Query', { TableName: 'nope', KeyConditionExpression: ':a = a and b = :a and :a = c', ExpressionAttributeValues: { ':a': S('a') } }, 'Conditions can be of length 1 or 2 only'],
      ['Query', { TableName: 'nope', KeyConditions: {}, QueryFilter: {} }, 'Conditions can be of length 1 or 2 only'],
      // Numbers in DynamoDB's words, the value echoed.
      ['Query', { TableName: 'nope', KeyConditions: { a: EQ({ N: 'b' }) } }, 'The parameter cannot be converted to a numeric value: b'],
      ['Scan', { TableName: 'nope', ExclusiveStartKey: { a: { N: '' } } }, 'The parameter cannot be converted to a numeric value'],
      ['PutItem', { TableName: 'nope', Item: { a: { N: '123456789012345678901234567890123456789' } } }, 'Attempting to store more than 38 significant digits in a Number'],
      // AttributeUpdates actions name the value's type as the request spells it.
      ['UpdateItem', { TableName: 'nope', Key: {}, AttributeUpdates: { a: { Action: 'ADD', Value: { M: {} } } } }, 'One or more parameter values were invalid: ADD action is not supported for the type M'],
      ['UpdateItem', { TableName: 'nope', Key: {}, AttributeUpdates: { a: { Action: 'DELETE', Value: S('1') } } }, 'One or more parameter values were invalid: DELETE action with value is not supported for the type S'],
    ];
    for (const [action, body, message] of cases) await expectValidation(action, body, message);
  });

  test('Query after the table: start key, each key condition (naming the missed element), bounds, filter keys, GSI Select', async () => {
    const q = (body: object, message: string) => expectValidation('Query', { TableName: T, ...body }, message);
    const kc = { KeyConditions: { a: EQ(S('x')) } };
    await q({ ...kc, ExclusiveStartKey: { a: S('x') } }, 'The provided starting key is invalid');
    await q({ ...kc, IndexName: 'lsi', ExclusiveStartKey: { a: S('x'), b: S('y'), d: S('z') } }, 'The provided starting key is invalid');
    await q({ ...kc, ExclusiveStartKey: { a: { N: '1' }, b: S('y') } }, 'The provided key element does not match the schema');
    await q({ KeyConditions: { b: EQ(S('x')) } }, 'Query condition missed key schema element: a');
    await q({ KeyConditions: { a: EQ(S('x')), z: EQ(S('x')) } }, 'Query condition missed key schema element: b');
    await q({ IndexName: 'gsi', KeyConditionExpression: 'd = :v', ExpressionAttributeValues: { ':v': S('x') } }, 'Query condition missed key schema element: c');
    await q({ KeyConditions: { a: EQ(S('x')), b: { ComparisonOperator: 'NULL' } } }, 'Attempted conditional constraint is not an indexable operation');
    await q({ KeyConditionExpression: ':a > a', ExpressionAttributeValues: { ':a': { N: '1' } } }, 'One or more parameter values were invalid: Condition parameter type does not match schema type');
    await q({ KeyConditions: { a: { ComparisonOperator: 'GT', AttributeValueList: [S('x')] } } }, 'Query key condition not supported');
    await q({ ...kc, ExclusiveStartKey: { a: S('other'), b: S('y') } }, 'The provided starting key is outside query boundaries based on provided conditions');
    const range = { KeyConditions: { a: EQ(S('x')), b: { ComparisonOperator: 'GT', AttributeValueList: [S('m')] } } };
    await q({ ...range, ExclusiveStartKey: { a: S('x'), b: S('a') } }, 'The provided starting key does not match the range key predicate');
    await q({ ...range, ExclusiveStartKey: { a: S('other'), b: S('z') } }, 'The query can return at most one row and cannot be restarted');
    await q({ KeyConditionExpression: 'a = :a', FilterExpression: 'attribute_exists(b.c) AND c = :b', ExpressionAttributeValues: { ':a': S('1'), ':b': S('1') } }, 'Filter Expression can only contain non-primary key attributes: Primary key attribute: b');
    await q({ ...kc, QueryFilter: { b: EQ(S('y')) } }, 'QueryFilter can only contain non-primary key attributes: Primary key attribute: b');
    await q({ KeyConditionExpression: 'a = :a', FilterExpression: 'd[1] = :b', ExpressionAttributeValues: { ':a': S('1'), ':b': S('1') } }, "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: d");
    // The start key is checked before the GSI's Select.
    await q({ IndexName: 'gsi', Select: 'ALL_ATTRIBUTES', KeyConditions: { c: EQ(S('x')) }, ExclusiveStartKey: { c: S('x') } }, 'The provided starting key is invalid');
    await q({ IndexName: 'gsi', Select: 'ALL_ATTRIBUTES', KeyConditions: { c: EQ(S('x')) } }, 'One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index gsi because its projection type is not ALL');
    await expectValidation('Scan', { TableName: T, FilterExpression: 'attribute_exists(#a.b.c)', ExpressionAttributeNames: { '#a': 'a' } }, "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: a");
  });

  test('tag requests: missing ARN, AccessDeniedException for an unreadable ARN, then the tag list, the table ARN and its emptiness', async () => {
    const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${T}`;
    await expectValidation('TagResource', {}, 'Invalid TableArn');
    await expectValidation('ListTagsOfResource', {}, 'Invalid TableArn');
    for (const [action, resource] of [['TagResource', ''], ['UntagResource', 'abcd'], ['ListTagsOfResource', 'a:b:c:d:e:f']]) {
      const res = await rawRequest(t.endpoint, action, { ResourceArn: resource });
      assert.equal(res.body.__type, ACCESS_DENIED);
      assert.equal(res.body.Message, `User: arn:aws:iam::000000000000:root is not authorized to perform: dynamodb:${action} on resource: ${resource || '*'}`);
    }
    await expectValidation('TagResource', { ResourceArn: 'a:b:c:d:e:f/g' }, "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
    await expectValidation('UntagResource', { ResourceArn: 'a:b:c:d:e:f/g', TagKeys: ['x'] }, 'Invalid TableArn: Invalid ResourceArn provided as input a:b:c:d:e:f/g');
    await expectValidation('TagResource', { ResourceArn: arn, Tags: [] }, 'Atleast one Tag needs to be provided as Input.');
    await expectValidation('UntagResource', { ResourceArn: arn, TagKeys: [] }, 'Atleast one Tag Key needs to be provided as Input.');
    const missing = await rawRequest(t.endpoint, 'UntagResource', { ResourceArn: `${arn}x`, TagKeys: ['a'] });
    assert.deepEqual(missing.body, { __type: NOT_FOUND, message: 'Requested resource not found' });
    const tagMissing = await rawRequest(t.endpoint, 'TagResource', { ResourceArn: `${arn}x`, Tags: [{ Key: 'a', Value: 'b' }] });
    assert.deepEqual(tagMissing.body, { __type: NOT_FOUND, message: `Requested resource not found: ResourcArn: ${arn}x not found` });
  });

  test('an UpdateItem that makes the item too big is worded as an update', async () => {
    const updates = { b: { Action: 'PUT', Value: S('a'.repeat(400 * 1024)) } };
    await expectValidation('UpdateItem', { TableName: T, Key: { a: S('k'), b: S('k') }, AttributeUpdates: { c: updates.b } }, 'Item size to update has exceeded the maximum allowed size');
  });

  test('UpdateTable: something to change, throughput bounds and each index update, before the table', async () => {
    const u = (body: object, message: string) => expectValidation('UpdateTable', { TableName: 'nope', ...body }, message);
    await u({ GlobalSecondaryIndexUpdates: [] }, 'At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required');
    await u({ ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1000000000001 } }, 'Given value 1000000000001 for WriteCapacityUnits is out of bounds');
    await u({ GlobalSecondaryIndexUpdates: [{}] }, 'One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null');
    await u({ GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'abc' } }, { Delete: { IndexName: 'abc' } }] }, 'One or more parameter values were invalid: Only one global secondary index update per index is allowed simultaneously. Index: abc');
  });

  test('DescribeTimeToLive words a missing or badly sized TableName as the table actions do', async () => {
    await expectValidation('DescribeTimeToLive', {}, "The parameter 'TableName' is required but was not present in the request");
    await expectValidation('DescribeTimeToLive', { TableName: 'a;' }, 'TableName must be at least 3 characters long and at most 255 characters long');
  });

  test('CreateTable: billing and throughput, then the key schema, then each index, in DynamoDB order', async () => {
    const key = { AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }] };
    const throughput = { ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } };
    const c = (body: object, message: string) => expectValidation('CreateTable', { TableName: 'conf_new', ...body }, message);
    await c({ AttributeDefinitions: [], KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }] }, 'One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED');
    await c({ ...key, BillingMode: 'PAY_PER_REQUEST', ...throughput, KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'a', KeyType: 'HASH' }] }, 'One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
    await c({ ...key, ProvisionedThroughput: { ReadCapacityUnits: 1000000000001, WriteCapacityUnits: 1 } }, 'Given value 1000000000001 for ReadCapacityUnits is out of bounds');
    await c({ ...throughput, AttributeDefinitions: [], KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }] }, 'Invalid KeySchema: Some index key attribute have no definition');
    await c({ ...throughput, AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }, { AttributeName: 'b', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'a', KeyType: 'RANGE' }, { AttributeName: 'b', KeyType: 'RANGE' }] }, 'Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
    await c({ ...throughput, AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }, { AttributeName: 'b', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'HASH' }] }, 'Invalid KeySchema: The second KeySchemaElement is not a RANGE key type');
    const lsi = (ks: object[], name = 'abc') => ({ IndexName: name, KeySchema: ks, Projection: { ProjectionType: 'ALL' } });
    const range = {
      ...throughput,
      AttributeDefinitions: ['a', 'b', 'c'].map((n) => ({ AttributeName: n, AttributeType: 'S' })),
      KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'RANGE' }],
    };
    await c({ ...range, LocalSecondaryIndexes: [lsi([{ AttributeName: 'a', KeyType: 'RANGE' }, { AttributeName: 'c', KeyType: 'RANGE' }])] }, 'Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
    await c({ ...range, LocalSecondaryIndexes: [lsi([{ AttributeName: 'a', KeyType: 'HASH' }])] }, 'One or more parameter values were invalid: Index KeySchema does not have a range key for index: abc');
    const good = lsi([{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'c', KeyType: 'RANGE' }]);
    await c({ ...range, LocalSecondaryIndexes: [good, good] }, 'One or more parameter values were invalid: Duplicate index name: abc');
    await c({ ...range, GlobalSecondaryIndexes: [{ ...good, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }, { ...good, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }] }, 'One or more parameter values were invalid: Duplicate index name: abc');
  });
});
