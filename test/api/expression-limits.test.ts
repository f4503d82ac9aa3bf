// Deep nesting and DynamoDB's expression limits over the real server: every input gets DynamoDB's
// ValidationException (messages as DynamoDB Local 3.3 gives them), never a 500 or a crash.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createPkTable, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const T = 'limits';
const V = { ':v': { S: 'x' } };
const path = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`).join('.');
const nestedMap = (d: number): AttributeValue => {
  let x: AttributeValue = { S: 'x' };
  for (let i = 0; i < d; i++) x = { M: { k: x } };
  return x;
};
const nestedList = (d: number): AttributeValue => {
  let x: AttributeValue = { S: 'x' };
  for (let i = 0; i < d; i++) x = { L: [x] };
  return x;
};

describe('expression and nesting limits', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('expression_limits');
    await createPkTable(t.client, T);
  });
  after(() => t?.close());

  const condition = (expr: string) => errorOf(() => t.client.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'a' } }, ConditionExpression: expr, ExpressionAttributeValues: V })));

  test("conditions: DynamoDB's messages for size, redundant parentheses, operator count and path depth", async () => {
    const cases: [string, string][] = [
      ['('.repeat(10000) + 'a = :v' + ')'.repeat(10000), 'Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 20006'],
      ['('.repeat(2000) + 'a = :v' + ')'.repeat(2000), 'Invalid ConditionExpression: The expression has redundant parentheses;'],
      ['a = :v' + ' '.repeat(4097), 'Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4103'],
      ['NOT '.repeat(1000) + 'a = :v', 'Invalid ConditionExpression: The expression contains too many operators; operator count: 301'],
      [Array.from({ length: 300 }, () => 'a = :v').join(' AND '), 'Invalid ConditionExpression: The expression contains too many operators; operator count: 301'],
      [`${path(33)} = :v`, 'Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33'],
      [`a${'[0]'.repeat(32)} = :v`, 'Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33'],
      [`${path(10000)} = :v`, 'Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 58894'],
    ];
    for (const [expr, message] of cases) {
      const e = await condition(expr);
      assert.equal(e.name, 'ValidationException', message);
      assert.equal(e.message, message);
    }
    // At the limits: 32 path levels, 100 NOTs, a 4 KiB expression are evaluated (and fail as conditions).
    for (const expr of [`${path(32)} = :v`, `a${'[0]'.repeat(31)} = :v`, 'NOT '.repeat(100) + 'a = :v', 'a = :v' + ' '.repeat(4090)]) {
      assert.equal((await condition(expr)).name, 'ConditionalCheckFailedException', expr.slice(0, 40));
    }
  });

  test('projection, update, filter and key condition paths are held to 32 levels', async () => {
    const get = await errorOf(() => t.client.send(new GetItemCommand({ TableName: T, Key: { pk: { S: 'a' } }, ProjectionExpression: path(40) })));
    assert.equal(get.message, 'Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 40');
    const update = await errorOf(() => t.client.send(new UpdateItemCommand({ TableName: T, Key: { pk: { S: 'a' } }, UpdateExpression: `SET ${path(40)} = :v`, ExpressionAttributeValues: V })));
    assert.equal(update.message, 'Invalid UpdateExpression: The document path has too many nesting levels; nesting levels: 40');
    const filter = await errorOf(() => t.client.send(new ScanCommand({ TableName: T, FilterExpression: `${path(33)} = :v`, ExpressionAttributeValues: V })));
    assert.equal(filter.message, 'Invalid FilterExpression: The document path has too many nesting levels; nesting levels: 33');
    const key = await errorOf(() => t.client.send(new QueryCommand({ TableName: T, KeyConditionExpression: `${path(33)} = :v`, ExpressionAttributeValues: V })));
    assert.equal(key.message, 'Invalid KeyConditionExpression: The document path has too many nesting levels; nesting levels: 33');
  });

  test('attribute values nested beyond 32 levels are refused', async () => {
    await t.client.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'm31' }, m: nestedMap(31) } }));
    for (const value of [nestedMap(32), nestedList(32), nestedMap(100)]) {
      const e = await errorOf(() => t.client.send(new PutItemCommand({ TableName: T, Item: { pk: { S: 'deep' }, m: value } })));
      assert.equal(e.message, 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit');
    }
  });

  test('no deeply nested input gets a 500', async () => {
    const deepJson = (d: number) => '{"M":{"k":'.repeat(d) + '{"S":"x"}' + '}}'.repeat(d);
    const bodies: [string, string][] = [
      ['PutItem', `{"TableName":"${T}","Item":{"pk":{"S":"z"},"m":${deepJson(10000)}}}`],
      ['PutItem', `{"TableName":"${T}","Item":{"pk":{"S":"z"}},"ConditionExpression":"${'('.repeat(2040)}a = :v${')'.repeat(2040)}","ExpressionAttributeValues":{":v":{"S":"x"}}}`],
      ['PutItem', `{"TableName":"${T}","Item":{"pk":{"S":"z"}},"ConditionExpression":"${'NOT ('.repeat(800)}a = :v${')'.repeat(800)}","ExpressionAttributeValues":{":v":{"S":"x"}}}`],
      ['PutItem', `{"TableName":"${T}","Item":{"pk":{"S":"z"}},"ConditionExpression":"${'size('.repeat(800)}a${')'.repeat(800)} = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`],
      ['UpdateItem', `{"TableName":"${T}","Key":{"pk":{"S":"z"}},"UpdateExpression":"SET a = ${'('.repeat(2040)}:v${')'.repeat(2040)}","ExpressionAttributeValues":{":v":{"S":"x"}}}`],
      ['Scan', `{"TableName":"${T}","FilterExpression":"${'('.repeat(2040)}a = :v${')'.repeat(2040)}","ExpressionAttributeValues":{":v":{"S":"x"}}}`],
      ['Query', `{"TableName":"${T}","KeyConditionExpression":"${'('.repeat(2040)}pk = :v${')'.repeat(2040)}","ExpressionAttributeValues":{":v":{"S":"x"}}}`],
      ['GetItem', `{"TableName":"${T}","Key":{"pk":{"S":"z"}},"ProjectionExpression":"${path(1000).slice(0, 4000)}"}`],
      ['PutItem', `{"TableName":"${T}","Item":{"pk":{"S":"z"}},"Expected":{"a":{"Value":${deepJson(5000)}}}}`],
      ['PutItem', '['.repeat(100000) + ']'.repeat(100000)],
    ];
    for (const [action, body] of bodies) {
      const res = await rawRequest(t.endpoint, action, body);
      assert.equal(res.status, 400, `${action} ${body.slice(0, 80)}: ${res.text.slice(0, 200)}`);
    }
  });
});
