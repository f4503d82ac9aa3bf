// DynamoDB's HTTP framing and its exact errors for malformed requests, checked over the real server
// (raw HTTP, since the SDK would not build these requests) and, where the SDK can send it, the SDK.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { BatchGetItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createPkTable, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const SERIALIZATION = 'com.amazon.coral.service#SerializationException';
const VALIDATION = 'com.amazon.coral.validate#ValidationException';
const UNKNOWN_OP = 'com.amazon.coral.service#UnknownOperationException';

describe('wire protocol and request validation', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('wire_errors');
    await createPkTable(t.client, 'wire');
  });
  after(() => t?.close());

  const post = (body: string, headers: Record<string, string>) => fetch(t.endpoint, { method: 'POST', body, headers });

  test('a body that is not JSON is a SerializationException without message, answered in the request content type', async () => {
    for (const [type, answer] of [
      ['application/json', 'application/json'],
      ['application/x-amz-json-1.0', 'application/x-amz-json-1.0'],
      ['  application/json  ;   charset=x', 'application/json'],
    ]) {
      const res = await post('hi', { 'content-type': type, 'x-amz-target': 'DynamoDB_20120810.ListTables' });
      const text = await res.text();
      assert.equal(res.status, 400);
      assert.equal(text, `{"__type":"${SERIALIZATION}"}`);
      assert.equal(res.headers.get('content-type'), answer);
      assert.equal(res.headers.get('x-amz-crc32'), String(crc32(text)));
    }
  });

  test('other content types and methods get the 404 DynamoDB sends', async () => {
    for (const res of [
      await post('{}', { 'content-type': 'application/x-amz-json-1.1' }),
      await post('{}', { 'content-type': 'text/plain' }),
      // Not a media type at all.
      await post('hi', { 'content-type': 'whatever' }),
      await fetch(t.endpoint, { method: 'PUT', body: '{}' }),
      await fetch(t.endpoint, { method: 'DELETE' }),
    ]) {
      assert.equal(res.status, 404);
      assert.equal(await res.text(), '<UnknownOperationException/>\n');
      assert.equal(res.headers.get('x-amz-crc32'), '3552371480');
      assert.match(res.headers.get('x-amzn-requestid')!, /^[0-9A-Z]{52}$/);
    }
  });

  test('CORS: any origin, and preflights answered for two days', async () => {
    const pre = await fetch(t.endpoint, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-headers': 'a, b', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'a, b');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(pre.headers.get('access-control-max-age'), '172800');
    assert.equal(await pre.text(), '');
    const res = await rawRequest(t.endpoint, 'ListTables', {}, { origin: 'https://app.example' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const plain = await rawRequest(t.endpoint, 'ListTables', {});
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  test('unknown operations: no message for names DynamoDB does not know, the name for DynamoDB operations not served', async () => {
    const unknown = await rawRequest(t.endpoint, 'ListTable', {});
    assert.equal(unknown.text, `{"__type":"${UNKNOWN_OP}"}`);
    const none = await post('{}', { 'content-type': 'application/x-amz-json-1.0' });
    assert.equal(await none.text(), `{"__type":"${UNKNOWN_OP}"}`);
    // A DynamoDB operation this server does not serve is named in the message.
    const backup = await rawRequest(t.endpoint, 'CreateBackup', { TableName: 'wire', BackupName: 'b' });
    assert.equal(backup.status, 400);
    assert.equal(backup.body.__type, UNKNOWN_OP);
    assert.match(backup.text, /CreateBackup/);
  });

  test('an empty body with a known operation is a SerializationException', async () => {
    const res = await post('', { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' });
    assert.equal(res.status, 400);
    assert.equal(await res.text(), `{"__type":"${SERIALIZATION}"}`);
  });

  test('the health check names the DynamoDB endpoint of the region', async () => {
    const res = await fetch(t.endpoint);
    assert.equal(await res.text(), 'healthy: dynamodb.us-east-1.amazonaws.com ');
    assert.match(res.headers.get('x-amz-crc32')!, /^\d+$/);
  });

  test('wrong JSON types: DynamoDB\'s deserializer messages, in a "Message" member', async () => {
    const cases: [string, object, string][] = [
      ['GetItem', { TableName: 23 }, 'NUMBER_VALUE cannot be converted to String'],
      ['GetItem', { TableName: 2.5 }, 'DECIMAL_VALUE cannot be converted to String'],
      ['GetItem', { TableName: [] }, 'Unrecognized collection type class java.lang.String'],
      ['GetItem', { TableName: {} }, 'Start of structure or map found where not expected'],
      ['GetItem', { ConsistentRead: 'maybe' }, 'Unexpected token received from parser'],
      ['GetItem', { Key: 'x' }, 'Unexpected field type'],
      ['GetItem', { Key: [] }, 'Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>'],
      ['GetItem', { Key: { a: 'x' } }, 'Unexpected value type in payload'],
      ['GetItem', { Key: { a: { B: 'abc' } } }, 'Base64 encoded length is expected a multiple of 4 bytes but found: 3'],
      ['GetItem', { Key: { a: { B: '+/+=' } } }, 'Invalid last non-pad Base64 character dectected'],
      ['GetItem', { Key: { a: { L: [{ BS: [true] }] } } }, 'only base-64-encoded strings are convertible to bytes'],
      ['PutItem', { Expected: { a: { Value: 'x' } } }, 'Unexpected field type'],
      ['PutItem', { Expected: { a: [] } }, 'Unrecognized collection type class com.amazonaws.dynamodb.v20120810.ExpectedAttributeValue'],
      ['ListTables', { Limit: '5' }, 'STRING_VALUE cannot be converted to Integer'],
      ['CreateTable', { ProvisionedThroughput: { ReadCapacityUnits: true } }, 'TRUE_VALUE cannot be converted to Long'],
      ['CreateTable', { KeySchema: [7] }, 'Unexpected value type in payload'],
      ['BatchGetItem', { RequestItems: { abc: { Keys: ['x'] } } }, "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to class java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and java.lang.Class are in module java.base of loader 'bootstrap')"],
      ['BatchWriteItem', { RequestItems: { abc: 5 } }, "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to class java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and java.lang.Class are in module java.base of loader 'bootstrap')"],
    ];
    for (const [action, body, message] of cases) {
      const res = await rawRequest(t.endpoint, action, body);
      assert.equal(res.status, 400, `${action} ${JSON.stringify(body)}`);
      assert.deepEqual(res.body, { __type: SERIALIZATION, Message: message }, `${action} ${JSON.stringify(body)}`);
    }
  });

  test('constraints: every broken one listed with its member path, required parameters alone', async () => {
    const res = await rawRequest(t.endpoint, 'PutItem', { TableName: 'a;', ReturnValues: 'hi' });
    assert.equal(res.body.__type, VALIDATION);
    const errors: string[] = res.body.message.replace(/^\d+ validation errors detected: /, '').split('; ');
    assert.match(res.body.message, /^4 validation errors detected: /);
    assert.deepEqual(new Set(errors), new Set([
      "Value 'a;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      "Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3",
      "Value null at 'item' failed to satisfy constraint: Member must not be null",
      "Value 'hi' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
    ]));
    const nested = await rawRequest(t.endpoint, 'CreateTable', { TableName: 'abc', AttributeDefinitions: [{}], KeySchema: [] });
    assert.match(nested.body.message, /Value null at 'attributeDefinitions\.1\.member\.attributeName' failed to satisfy constraint: Member must not be null/);
    assert.match(nested.body.message, /Value '\[\]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    const missing = await rawRequest(t.endpoint, 'DescribeTable', {});
    assert.equal(missing.body.message, "The parameter 'TableName' is required but was not present in the request");
    const short = await rawRequest(t.endpoint, 'DeleteTable', { TableName: 'ab' });
    assert.equal(short.body.message, 'TableName must be at least 3 characters long and at most 255 characters long');
    const keys = await rawRequest(t.endpoint, 'BatchWriteItem', { RequestItems: { ab: [] } });
    assert.match(keys.body.message, /Map keys must satisfy constraint: \[Member must have length less than or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: \[a-zA-Z0-9_.-\]\+\]/);
    assert.match(keys.body.message, /Map value must satisfy constraint: \[Member must have length less than or equal to 25, Member must have length greater than or equal to 1\]/);
    const many = await rawRequest(t.endpoint, 'Query', Object.fromEntries(['Select', 'ReturnConsumedCapacity', 'ConditionalOperator', 'IndexName'].map((k) => [k, 'a;'])));
    assert.match(many.body.message, /^6 validation errors detected: /);
  });

  test('DynamoDB validates the whole request before it looks up the table', async () => {
    const cases: [string, object, string][] = [
      ['GetItem', { TableName: 'no_such_table', Key: { a: {} } }, 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes'],
      ['GetItem', { TableName: 'no_such_table', Key: { a: { S: 'a', NS: [] } } }, 'One or more parameter values were invalid: An number set  may not be empty'],
      ['GetItem', { TableName: 'no_such_table', Key: { a: { S: 'a', N: '1' } } }, 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes'],
      ['DeleteItem', { TableName: 'no_such_table', Key: { a: { SS: ['a', 'a'] } } }, 'One or more parameter values were invalid: Input collection [a, a] contains duplicates.'],
      ['PutItem', { TableName: 'no_such_table', Item: { a: {} }, Expected: { a: {} }, ConditionExpression: 'x' }, 'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}'],
      ['PutItem', { TableName: 'no_such_table', Item: { a: { S: 'x'.repeat(400 * 1024) } } }, 'Item size has exceeded the maximum allowed size'],
      ['BatchWriteItem', { RequestItems: { no_such_table: [{ PutRequest: { Item: { a: { BS: [] } } } }] } }, 'One or more parameter values were invalid: Binary sets should not be empty'],
      ['BatchGetItem', { RequestItems: { no_such_table: { Keys: [{ a: { S: 'x' } }, { a: { S: 'x' } }] } } }, 'Provided list of item keys contains duplicates'],
      ['BatchGetItem', { RequestItems: { no_such_table: { Keys: [{ a: { S: 'x' } }], AttributesToGet: ['a', 'a'] } } }, 'One or more parameter values were invalid: Duplicate value in attribute name: a'],
      ['Scan', { TableName: 'no_such_table', Segment: 1 }, 'The TotalSegments parameter is required but was not present in the request when Segment parameter is present'],
      ['Scan', { TableName: 'no_such_table', TotalSegments: 2 }, 'The Segment parameter is required but was not present in the request when parameter TotalSegments is present'],
      ['Scan', { TableName: 'no_such_table', Segment: 1, TotalSegments: 1 }, 'The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 1 is not less than TotalSegments: 1'],
      ['Scan', { TableName: 'no_such_table', ExclusiveStartKey: { a: {} } }, 'The provided starting key is invalid: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes'],
      ['Query', { TableName: 'no_such_table', KeyConditionExpression: '', FilterExpression: '' }, 'Invalid KeyConditionExpression: The expression can not be empty;'],
      ['UpdateItem', { TableName: 'no_such_table', Key: {}, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': {}, b: { S: 'x' } } }, 'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"'],
    ];
    for (const [action, body, message] of cases) {
      const res = await rawRequest(t.endpoint, action, body);
      assert.deepEqual(res.body, { __type: VALIDATION, message }, `${action} ${JSON.stringify(body).slice(0, 200)}`);
    }
  });

  test('key lookups and written items word an empty key differently; BatchGetItem charges every key', async () => {
    const get = await errorOf(() => t.client.send(new GetItemCommand({ TableName: 'wire', Key: { pk: { S: '' } } })));
    assert.equal(get.message, 'One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
    const put = await errorOf(() => t.client.send(new PutItemCommand({ TableName: 'wire', Item: { pk: { S: '' } } })));
    assert.equal(put.message, 'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
    await t.client.send(new PutItemCommand({ TableName: 'wire', Item: { pk: { S: 'here' } } }));
    const out = await t.client.send(
      new BatchGetItemCommand({ RequestItems: { wire: { Keys: [{ pk: { S: 'here' } }, { pk: { S: 'missing' } }] } }, ReturnConsumedCapacity: 'INDEXES' }),
    );
    assert.deepEqual(out.ConsumedCapacity, [{ TableName: 'wire', CapacityUnits: 1, Table: { CapacityUnits: 1 } }]);
  });

  test('bodies over 16 MiB get 413', async () => {
    const res = await post('a'.repeat(16 * 1024 * 1024 + 1), { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' });
    assert.equal(res.status, 413);
    assert.equal(await res.text(), '');
    const fits = await post('a'.repeat(16 * 1024 * 1024), { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' });
    assert.equal(fits.status, 400);
    assert.equal(await fits.text(), `{"__type":"${SERIALIZATION}"}`);
  });
});
