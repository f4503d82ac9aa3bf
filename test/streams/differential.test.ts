// Differential test of the Streams API: the same requests go to Amazon DynamoDB Local and to this
// server; the shapes of the answers (members present, values that do not depend on time or
// identity) and the errors must match. Identities (ARNs, labels, shard ids, sequence numbers,
// event ids, times, region) are replaced by placeholders before comparing. DynamoDB Local has one
// shard per stream, we have four: records are compared over all shards, in sequence order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import aws4 from 'aws4';
import { startDynamoDBLocal, type DynamoDBLocal } from '../helpers/dynamodb-local.js';
import { TEST_TRANSLATORS, startTestServer, type TestServer } from '../helpers/server.js';

type Call = (target: 'DynamoDB' | 'Streams', action: string, body: object) => Promise<{ status: number; body: any }>;

function caller(endpoint: string): Call {
  const url = new URL(endpoint);
  return async (target, action, body) => {
    const prefix = target === 'DynamoDB' ? 'DynamoDB_20120810' : 'DynamoDBStreams_20120810';
    const req = {
      host: url.host, path: '/', method: 'POST', service: 'dynamodb', region: 'us-east-1', body: JSON.stringify(body),
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${prefix}.${action}` } as Record<string, string>,
    };
    aws4.sign(req, { accessKeyId: 'test', secretAccessKey: 'test' });
    const res = await fetch(endpoint, { method: 'POST', headers: req.headers, body: req.body });
    const parsed = JSON.parse((await res.text()) || '{}');
    return { status: res.status, body: parsed };
  };
}

/** The answer with identities and times replaced, error bodies reduced to type and message. */
function shape(body: any): any {
  if (body && typeof body.__type === 'string') {
    const message = String(body.message ?? body.Message ?? '').replace(/arn:aws:dynamodb:\S+/g, '<arn>');
    return { type: body.__type.slice(body.__type.indexOf('#') + 1), message };
  }
  const walk = (v: any, k?: string): any => {
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((key) => [key, walk(v[key], key)]));
    if (typeof v === 'string' && /^arn:aws:dynamodb:/.test(v)) return '<arn>';
    if (['StreamLabel', 'LatestStreamLabel', 'ShardId', 'SequenceNumber', 'StartingSequenceNumber', 'EndingSequenceNumber', 'eventID', 'awsRegion', 'ShardIterator', 'NextShardIterator', 'TableId'].includes(k ?? '')) return `<${k}>`;
    if (typeof v === 'number' && /DateTime$/.test(k ?? '')) return '<time>';
    return v;
  };
  return walk(body);
}

/** Every record of a stream, all shards from TRIM_HORIZON, in sequence order. */
async function allRecords(call: Call, arn: string, count: number): Promise<any[]> {
  const out: any[] = [];
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    out.length = 0;
    const d = await call('Streams', 'DescribeStream', { StreamArn: arn });
    for (const s of d.body.StreamDescription.Shards) {
      const it = await call('Streams', 'GetShardIterator', { StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' });
      const r = await call('Streams', 'GetRecords', { ShardIterator: it.body.ShardIterator });
      out.push(...r.body.Records);
    }
    if (out.length >= count) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return out.sort((a, b) => (a.dynamodb.SequenceNumber < b.dynamodb.SequenceNumber ? -1 : 1));
}

/** Polls DescribeStream until the stream has `status` (DynamoDB Local shows the settled one at once). */
async function waitStatus(call: Call, arn: string, status: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if ((await call('Streams', 'DescribeStream', { StreamArn: arn })).body.StreamDescription?.StreamStatus === status) return;
  }
  throw new Error(`stream not ${status} in 30 s`);
}

/** One GetRecords per shard from an iterator of `type`: the records, and whether any shard goes on. */
async function readOnce(call: Call, arn: string, type: string): Promise<{ records: number; next: boolean }> {
  const d = await call('Streams', 'DescribeStream', { StreamArn: arn });
  let records = 0;
  let next = false;
  for (const s of d.body.StreamDescription.Shards) {
    const it = await call('Streams', 'GetShardIterator', { StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: type });
    const r = await call('Streams', 'GetRecords', { ShardIterator: it.body.ShardIterator });
    records += r.body.Records.length;
    next ||= r.body.NextShardIterator !== undefined;
  }
  return { records, next };
}

const table = (name: string, spec?: object) => ({
  TableName: name, BillingMode: 'PAY_PER_REQUEST',
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  ...(spec ? { StreamSpecification: spec } : {}),
});

/** Runs the scenario on one server; returns the shaped answers, labelled. */
async function scenario(call: Call): Promise<[string, unknown][]> {
  const out: [string, unknown][] = [];
  const step = async (label: string, target: 'DynamoDB' | 'Streams', action: string, body: object, pick?: (b: any) => any) => {
    const r = await call(target, action, body);
    out.push([label, { status: r.status, body: shape(pick && r.status === 200 ? pick(r.body) : r.body) }]);
    return r.body;
  };
  const pickStreamFields = (b: any) => {
    const d = b.TableDescription ?? b.Table;
    return { StreamSpecification: d.StreamSpecification, LatestStreamArn: d.LatestStreamArn, LatestStreamLabel: d.LatestStreamLabel };
  };
  await step('enable without view type', 'DynamoDB', 'CreateTable', table('nov', { StreamEnabled: true }));
  await step('view type while disabled', 'DynamoDB', 'CreateTable', table('vwd', { StreamEnabled: false, StreamViewType: 'KEYS_ONLY' }));
  await step('create disabled', 'DynamoDB', 'CreateTable', table('off', { StreamEnabled: false }), pickStreamFields);
  const created = await step('create with stream', 'DynamoDB', 'CreateTable', table('diffs', { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' }), pickStreamFields);
  const arn = created.TableDescription.LatestStreamArn;
  await step('describe table', 'DynamoDB', 'DescribeTable', { TableName: 'diffs' }, pickStreamFields);
  await step('enable twice', 'DynamoDB', 'UpdateTable', { TableName: 'diffs', StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } });
  await step('disable absent', 'DynamoDB', 'UpdateTable', { TableName: 'off', StreamSpecification: { StreamEnabled: false } });
  await call('DynamoDB', 'PutItem', { TableName: 'diffs', Item: { pk: { S: 'a' }, n: { N: '1' }, l: { L: [{ S: 'x' }] } } });
  await call('DynamoDB', 'PutItem', { TableName: 'diffs', Item: { pk: { S: 'a' }, n: { N: '1' }, l: { L: [{ S: 'x' }] } } });
  await call('DynamoDB', 'UpdateItem', { TableName: 'diffs', Key: { pk: { S: 'a' } }, UpdateExpression: 'SET n = n + :one, m = :m', ExpressionAttributeValues: { ':one': { N: '1' }, ':m': { M: { k: { B: 'AAE=' } } } } });
  await call('DynamoDB', 'UpdateItem', { TableName: 'diffs', Key: { pk: { S: 'b' } } });
  await call('DynamoDB', 'DeleteItem', { TableName: 'diffs', Key: { pk: { S: 'a' } } });
  await call('DynamoDB', 'DeleteItem', { TableName: 'diffs', Key: { pk: { S: 'zz' } } });
  await call('DynamoDB', 'BatchWriteItem', { RequestItems: { diffs: [{ PutRequest: { Item: { pk: { S: 'c' }, ns: { NS: ['1', '2'] } } } }] } });
  const records = await allRecords(call, arn, 5);
  out.push(['records', shape({ Records: records })]);
  await step('list streams of table', 'Streams', 'ListStreams', { TableName: 'diffs' });
  await step('list streams of missing table', 'Streams', 'ListStreams', { TableName: 'missing' });
  await waitStatus(call, arn, 'ENABLED');
  const described = await step('describe stream', 'Streams', 'DescribeStream', { StreamArn: arn }, (b) => ({
    ...b, StreamDescription: { ...b.StreamDescription, Shards: b.StreamDescription.Shards.slice(0, 1) },
  }));
  await step('describe missing stream', 'Streams', 'DescribeStream', { StreamArn: arn.replace('diffs', 'nopes') }, undefined);
  const shard = described.StreamDescription.Shards[0].ShardId;
  const iterator = await step('iterator', 'Streams', 'GetShardIterator', { StreamArn: arn, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' });
  await step('iterator without sequence number', 'Streams', 'GetShardIterator', { StreamArn: arn, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER' });
  await step('iterator with short sequence number', 'Streams', 'GetShardIterator', { StreamArn: arn, ShardId: shard, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: '1' });
  await step('records with limit 0', 'Streams', 'GetRecords', { ShardIterator: iterator.ShardIterator, Limit: 0 });
  await step('records with limit 1001', 'Streams', 'GetRecords', { ShardIterator: iterator.ShardIterator, Limit: 1001 });
  await step('records with a bad iterator', 'Streams', 'GetRecords', { ShardIterator: 'x'.repeat(30) });
  await step('unknown streams action', 'Streams', 'Nope', {});
  await step('disable', 'DynamoDB', 'UpdateTable', { TableName: 'diffs', StreamSpecification: { StreamEnabled: false } }, pickStreamFields);
  await step('describe disabled table', 'DynamoDB', 'DescribeTable', { TableName: 'diffs' }, pickStreamFields);
  // Disabled: its shards closed, its records readable, a shard read to its end has no next iterator.
  await waitStatus(call, arn, 'DISABLED');
  await step('describe disabled stream', 'Streams', 'DescribeStream', { StreamArn: arn }, (b) => ({
    ...b, StreamDescription: { ...b.StreamDescription, Shards: b.StreamDescription.Shards.slice(0, 1) },
  }));
  out.push(['disabled stream from TRIM_HORIZON', await readOnce(call, arn, 'TRIM_HORIZON')]);
  out.push(['disabled stream from LATEST', await readOnce(call, arn, 'LATEST')]);
  await step('re-enable', 'DynamoDB', 'UpdateTable', { TableName: 'diffs', StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } }, pickStreamFields);
  await step('list streams after re-enable', 'Streams', 'ListStreams', { TableName: 'diffs' }, (b) => ({ count: b.Streams.length, first: b.Streams[0] }));
  return out;
}

/** Known differences of DynamoDB Local from DynamoDB, where we follow DynamoDB. */
const LOCAL_DEVIATIONS: Record<string, { dynamodb: unknown; why: string }> = {
  'unknown streams action': {
    dynamodb: { status: 400, body: { type: 'UnknownOperationException', message: '' } },
    why: 'the same UnknownOperationException as the DynamoDB API (no message for a name DynamoDB does not know; DynamoDB Local adds one)',
  },
};

describe('Streams API: differential against DynamoDB Local', () => {
  let local: DynamoDBLocal;
  const servers: TestServer[] = [];
  let expected: [string, unknown][];
  before(async () => {
    local = await startDynamoDBLocal();
    expected = await scenario(caller(local.endpoint));
  });
  after(async () => {
    await local.stop();
    for (const s of servers) await s.close();
  });

  for (const translator of TEST_TRANSLATORS) {
    test(`same answers as DynamoDB Local (${translator})`, async () => {
      const t = await startTestServer(`t_streams_diff_${translator}`, { translator });
      servers.push(t);
      const actual = await scenario(caller(t.endpoint));
      assert.deepEqual(actual.map(([l]) => l), expected.map(([l]) => l));
      for (let i = 0; i < expected.length; i++) {
        const [label, want] = expected[i]!;
        const deviation = LOCAL_DEVIATIONS[label];
        assert.deepEqual(actual[i]![1], deviation ? deviation.dynamodb : want, `step "${label}"${deviation ? ` (${deviation.why})` : ''}`);
      }
    });
  }
});
