// Malformed input never gets a 500, a hang or a crash: valid requests of every item and read action,
// mutated at random (wrong types, odd values, junk expressions, missing and unknown members), are
// sent raw to the real server. Each answer must be 200 or a DynamoDB-shaped 4xx, and afterwards
// the server still serves and an item nobody was meant to change is intact.
// The run is reproducible: DC_FUZZ_SEED=<n> repeats one; DC_FUZZ_ROUNDS=<n> runs longer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SEED = Number(process.env.DC_FUZZ_SEED ?? 20261122);
const ROUNDS = Number(process.env.DC_FUZZ_ROUNDS ?? 1500);
const T = 'fuzz-orders';

/** mulberry32: small, fast and good enough to pick mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key = (id: string) => ({ pk: { S: 'p' }, sk: { N: id } });
const values = { ':v': { N: '5' }, ':s': { S: 'open' }, ':l': { L: [{ S: 'x' }] }, ':ss': { SS: ['a', 'b'] } };

/** One valid request per action: the starting points of the mutations. */
const SEEDS: [string, Json][] = [
  ['PutItem', { TableName: T, Item: { ...key('1'), state: { S: 'open' }, n: { N: '1' }, tags: { SS: ['a'] }, m: { M: { a: { L: [{ N: '1' }, { BOOL: true }, { NULL: true }] } } } }, ConditionExpression: 'attribute_not_exists(pk) OR n < :v', ExpressionAttributeValues: { ':v': { N: '5' } }, ReturnValues: 'ALL_OLD' }],
  ['GetItem', { TableName: T, Key: key('1'), ProjectionExpression: '#m.a[0], n', ExpressionAttributeNames: { '#m': 'm' }, ConsistentRead: true }],
  ['UpdateItem', { TableName: T, Key: key('2'), UpdateExpression: 'SET n = if_not_exists(n, :v) + :v, #l = list_append(if_not_exists(#l, :l), :l) ADD tags :ss REMOVE gone', ConditionExpression: 'size(#l) < :v OR attribute_not_exists(#l)', ExpressionAttributeNames: { '#l': 'l' }, ExpressionAttributeValues: values, ReturnValues: 'UPDATED_NEW' }],
  ['DeleteItem', { TableName: T, Key: key('3'), ConditionExpression: 'begins_with(#s, :s) OR attribute_not_exists(pk)', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': { S: 'open' } }, ReturnValues: 'ALL_OLD' }],
  ['Query', { TableName: T, KeyConditionExpression: 'pk = :p AND sk BETWEEN :a AND :b', FilterExpression: 'contains(tags, :t)', ExpressionAttributeValues: { ':p': { S: 'p' }, ':a': { N: '0' }, ':b': { N: '9' }, ':t': { S: 'a' } }, Limit: 5, ScanIndexForward: false, ExclusiveStartKey: key('8') }],
  ['Query', { TableName: T, IndexName: 'by-state', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': { S: 'open' } }, Select: 'COUNT' }],
  ['Scan', { TableName: T, FilterExpression: 'attribute_type(n, :t) AND n IN (:a, :b)', ExpressionAttributeValues: { ':t': { S: 'N' }, ':a': { N: '1' }, ':b': { N: '2' } }, Segment: 0, TotalSegments: 2, Limit: 10 }],
  ['BatchGetItem', { RequestItems: { [T]: { Keys: [key('1'), key('2')], ProjectionExpression: 'pk, sk, n' } } }],
  ['BatchWriteItem', { RequestItems: { [T]: [{ PutRequest: { Item: { ...key('4'), n: { N: '4' } } } }, { DeleteRequest: { Key: key('5') } }] }, ReturnConsumedCapacity: 'INDEXES' }],
  ['PutItem', { TableName: T, Item: { ...key('6'), b: { B: 'AAEC' }, bs: { BS: ['AA==', 'AQ=='] }, ns: { NS: ['1', '2.5'] } }, Expected: { n: { ComparisonOperator: 'NULL' } } }],
  ['UpdateItem', { TableName: T, Key: key('7'), AttributeUpdates: { n: { Action: 'ADD', Value: { N: '1' } }, s: { Action: 'PUT', Value: { S: 'x' } } }, Expected: { n: { Exists: false } }, ReturnValues: 'ALL_NEW' }],
  ['DescribeTable', { TableName: T }],
];

/** Control-plane requests: fewer rounds, as each table made or changed is CQL schema work. */
const CONTROL_SEEDS: [string, Json][] = [
  ['CreateTable', { TableName: 'fuzz-made', BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 }, KeySchema: [{ AttributeName: 'h', KeyType: 'HASH' }, { AttributeName: 'r', KeyType: 'RANGE' }], AttributeDefinitions: [{ AttributeName: 'h', AttributeType: 'S' }, { AttributeName: 'r', AttributeType: 'B' }, { AttributeName: 'g', AttributeType: 'N' }], GlobalSecondaryIndexes: [{ IndexName: 'g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['x'] }, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }], Tags: [{ Key: 'k', Value: 'v' }] }],
  ['UpdateTable', { TableName: T, BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 3 }, AttributeDefinitions: [{ AttributeName: 'n', AttributeType: 'N' }], GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'by-n', KeySchema: [{ AttributeName: 'n', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' }, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } } }] }],
  ['TagResource', { ResourceArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${T}`, Tags: [{ Key: 'team', Value: 'x' }] }],
  ['UntagResource', { ResourceArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${T}`, TagKeys: ['team'] }],
  ['ListTagsOfResource', { ResourceArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${T}` }],
  ['ListTables', { Limit: 5, ExclusiveStartTableName: 'a' }],
  ['DeleteTable', { TableName: 'fuzz-made' }],
];

const WORDS = ['#m', ':v', ':s', ':l', 'n', 'pk', 'sk', 'AND', 'OR', 'NOT', 'SET', 'REMOVE', 'ADD', 'DELETE', 'BETWEEN', 'IN', 'size', 'contains', 'begins_with', 'attribute_exists', 'if_not_exists', 'list_append', '(', ')', '[', ']', '[0]', '[99999999999]', '.', ',', '=', '<>', '<', '>=', '+', '-', '"', '#', ':', 'a.b', '\u0000', '\ud800', 'é'];

function junk(r: () => number, names: string[]): Json {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const choices: (() => Json)[] = [
    () => null, () => true, () => 0, () => -1, () => 1e300, () => 0.5, () => '', () => 'x'.repeat(1 + Math.floor(r() * 70_000)),
    () => [], () => ({}), () => [null], () => ({ S: 1 }), () => ({ N: pick(['abc', '1e999', '-1e-131', '1'.repeat(40), ' 1', '0x10', 'NaN', 'Infinity', '']) }),
    () => ({ SS: pick([[], ['a', 'a'], [1], null]) as Json }), () => ({ NS: ['1', '1.0'] }), () => ({ B: pick(['!!', 'A', 'AAE=x', '']) }),
    () => ({ BS: ['AA==', 'AA=='] }), () => ({ M: pick([null, [], { a: {} }, { a: { S: 'x', N: '1' } }]) as Json }), () => ({ L: pick([{}, null, [{}], [{ Z: 1 }]]) as Json }),
    () => ({ NULL: false }), () => ({ BOOL: 'yes' }), () => ({ S: 'x', N: '1' }),
    () => { let v: Json = { S: 'deep' }; for (let i = 0; i < 40; i++) v = { M: { a: v } }; return v; },
    () => Array.from({ length: 1 + Math.floor(r() * 6) }, () => pick(WORDS)).join(pick([' ', '', '  '])),
    () => pick(['ALL_OLD', 'ALL_NEW', 'NONE', 'UPDATED_OLD', 'SPECIFIC_ATTRIBUTES', 'COUNT', 'INDEXES', 'TOTAL', 'bogus']),
    () => pick([...names, 'no-such-table', 'ab', 'x'.repeat(300), 'bad name!']),
  ];
  return pick(choices)();
}

/** Paths to every node of a JSON tree (objects by key, arrays by index). */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...at, k], out);
  return out;
}

function mutate(seed: Json, r: () => number, names: string[]): Json {
  const copy = structuredClone(seed);
  const rounds = 1 + Math.floor(r() * 3);
  let root: Json = copy;
  for (let i = 0; i < rounds; i++) {
    const all = paths(root);
    const path = all[Math.floor(r() * all.length)];
    if (path.length === 0) {
      root = r() < 0.5 ? junk(r, names) : root;
      continue;
    }
    let parent: any = root;
    for (const p of path.slice(0, -1)) parent = parent[p];
    const last = path[path.length - 1];
    const what = r();
    if (what < 0.6) parent[last] = junk(r, names);
    else if (what < 0.8 && !Array.isArray(parent)) delete parent[last];
    else if (!Array.isArray(parent)) parent[`Unknown${Math.floor(r() * 3)}`] = junk(r, names);
    else parent.push(junk(r, names));
  }
  return root;
}

for (const translator of TEST_TRANSLATORS) {
  describe(`malformed input (${translator})`, () => {
    let t: TestServer;
    const canary = { ...key('999'), secret: { S: 'unchanged' }, n: { N: '12345678901234567890.123456789' } };
    before(async () => {
      t = await startTestServer(`t_fuzz_${translator}`, { translator });
      await t.client.send(
        new CreateTableCommand({
          TableName: T,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'N' },
            { AttributeName: 'state', AttributeType: 'S' },
          ],
          GlobalSecondaryIndexes: [{ IndexName: 'by-state', KeySchema: [{ AttributeName: 'state', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
        }),
      );
      await t.client.send(new PutItemCommand({ TableName: T, Item: canary }));
    });
    after(() => t?.close());

    /** Sends `rounds` mutations of `seeds` (`parallel` at a time); returns the count per status. */
    async function fuzz(seeds: [string, Json][], rounds: number, seed: number, parallel: number, names: string[]): Promise<Map<number, number>> {
      const r = prng(seed);
      const statuses = new Map<number, number>();
      const failures: string[] = [];
      const requests = Array.from({ length: rounds }, () => {
        const [action, start] = seeds[Math.floor(r() * seeds.length)];
        return { action, body: mutate(start, r, names) };
      });
      let next = 0;
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < requests.length) {
            const { action, body } = requests[next++];
            // The seeds' keys (1..8) keep mutations away from the canary's key.
            const res = await rawRequest(t.endpoint, action, JSON.stringify(body));
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const shaped = res.status === 200 || (res.status >= 400 && res.status < 500 && typeof res.body?.__type === 'string' && typeof (res.body.message ?? res.body.Message) === 'string');
            if (!shaped && failures.length < 5) failures.push(`${action} ${JSON.stringify(body).slice(0, 300)} -> ${res.status} ${res.text.slice(0, 200)}`);
          }
        }),
      );
      assert.deepEqual(failures, [], `answers that are neither 200 nor a DynamoDB 4xx (seed ${seed})`);
      assert.equal((await fetch(t.endpoint + '/')).status, 200, 'still serving');
      const kept = await t.client.send(new GetItemCommand({ TableName: T, Key: key('999'), ConsistentRead: true }));
      assert.deepEqual(kept.Item, canary);
      return statuses;
    }

    test(`${ROUNDS} mutated item and read requests get 200 or a DynamoDB 4xx (seed ${SEED})`, async () => {
      // Eight at a time: enough to mix writes to the same keys, few enough to stay quick.
      const statuses = await fuzz(SEEDS, ROUNDS, SEED + (translator === 'cells' ? 1 : 0), 8, [T]);
      // The mutations must reach past validation: some requests succeed, many are refused.
      assert.ok((statuses.get(200) ?? 0) > ROUNDS / 20, `few successes: ${JSON.stringify([...statuses])}`);
      assert.ok((statuses.get(400) ?? 0) > ROUNDS / 4, `few refusals: ${JSON.stringify([...statuses])}`);
    });

    test(`${Math.ceil(ROUNDS / 10)} mutated control-plane requests get 200 or a DynamoDB 4xx (seed ${SEED})`, async () => {
      const rounds = Math.ceil(ROUNDS / 10);
      // Junk names only the table the seeds make: the canary's table must outlive a mutated DeleteTable.
      const statuses = await fuzz(CONTROL_SEEDS, rounds, SEED + 7, 4, ['fuzz-made']);
      assert.ok((statuses.get(400) ?? 0) > rounds / 4, `few refusals: ${JSON.stringify([...statuses])}`);
      assert.ok((statuses.get(200) ?? 0) > 0, `no successes: ${JSON.stringify([...statuses])}`);
    });
  });
}
