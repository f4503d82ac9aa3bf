// Pure pieces of the replicator: item conversion and canonical forms, key texts, table mappings,
// event kinds, progress and status formatting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Item } from '../../src/dynamo/types.js';
import { kindOf, latestChanges } from '../../src/replication/apply.js';
import { keySchemaOf } from '../../src/replication/api-target.js';
import { skippingReplicated, type ReplicaWriter } from '../../src/replication/replica-target.js';
import { wireRecord } from '../../src/streams/model.js';
import { canonicalText, fromSdkItem, keyFromText, keyText, toSdkItem } from '../../src/replication/items.js';
import { progressLine } from '../../src/replication/progress.js';
import { parseTableMapping } from '../../src/replication/replicator.js';
import { formatStatus } from '../../src/replication/status.js';
import { createRequestOf, streamOf } from '../../src/replication/target.js';
import { awsSource, type StreamRecord } from '../../src/replication/source.js';
import { createServer, type AddressInfo, type Socket } from 'node:net';

describe('replication units', () => {
  test('a source request that gets no answer is abandoned after the request timeout, not waited for forever', async () => {
    // A server that accepts connections and never answers (a connection that died silently).
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const source = awsSource({
      endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      requestTimeoutMs: 200,
    });
    try {
      const started = Date.now();
      await assert.rejects(source.streams.getRecords('iterator'), (e: Error) => /timeout/i.test(`${e.name} ${e.message}`));
      assert.ok(Date.now() - started < 20_000);
    } finally {
      source.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  test('SDK items become wire items: base64 binaries, canonical numbers, DynamoDB Local empty maps', () => {
    const item = fromSdkItem({
      b: { B: new Uint8Array([1, 2, 255]) },
      bs: { BS: [new Uint8Array([0]), new Uint8Array([])] },
      n: { N: '001.500' },
      ns: { NS: ['1e2', '-0.0'] },
      l: { L: [{}, { M: { x: { NULL: true } } }, { BOOL: false }] },
      s: { S: '' },
    });
    assert.deepEqual(item, {
      b: { B: 'AQL/' },
      bs: { BS: ['AA==', ''] },
      n: { N: '1.5' },
      ns: { NS: ['100', '0'] },
      l: { L: [{ M: {} }, { M: { x: { NULL: true } } }, { BOOL: false }] },
      s: { S: '' },
    });
    assert.deepEqual(fromSdkItem(toSdkItem(item)), item);
  });

  test('canonical text ignores member and set order, and nothing else', () => {
    const a: Item = { x: { SS: ['b', 'a'] }, m: { M: { q: { N: '1' }, p: { L: [{ S: 'z' }, { S: 'y' }] } } } };
    const b: Item = { m: { M: { p: { L: [{ S: 'z' }, { S: 'y' }] }, q: { N: '1' } } }, x: { SS: ['a', 'b'] } };
    const c: Item = { m: { M: { p: { L: [{ S: 'y' }, { S: 'z' }] }, q: { N: '1' } } }, x: { SS: ['a', 'b'] } };
    assert.equal(canonicalText(a), canonicalText(b));
    assert.notEqual(canonicalText(a), canonicalText(c));
  });

  test('key texts round-trip, even with separators inside strings', () => {
    const schema = { hash: { name: 'h', type: 'S' as const }, range: { name: 'r', type: 'S' as const } };
    const key: Item = { h: { S: 'a|"b|' }, r: { S: '|x|' } };
    assert.deepEqual(keyFromText(keyText(key, schema), schema), key);
    const hashOnly = { hash: { name: 'h', type: 'N' as const } };
    assert.deepEqual(keyFromText(keyText({ h: { N: '5' }, other: { S: 'x' } }, hashOnly), hashOnly), { h: { N: '5' } });
  });

  test('table mappings, event kinds and the checks of the source description', () => {
    assert.deepEqual(parseTableMapping('orders'), { source: 'orders', target: 'orders' });
    assert.deepEqual(parseTableMapping('orders=orders_copy'), { source: 'orders', target: 'orders_copy' });
    const rec = (eventName: string, newImage?: Item) => ({ eventName, sequenceNumber: '1', approximateCreation: 0, keys: { pk: { S: 'a' } }, newImage });
    assert.equal(kindOf(rec('REMOVE')), 'delete');
    assert.equal(kindOf(rec('MODIFY', { pk: { S: 'a' } })), 'put');
    assert.equal(kindOf(rec('UNKNOWN_TO_SDK_VERSION')), 'delete'); // TTL deletions from DynamoDB Local
    assert.throws(() => kindOf(rec('INSERT')), /no new image/);
    assert.throws(() => streamOf({ TableName: 't' }), /has no stream/);
    assert.throws(
      () => streamOf({ TableName: 't', LatestStreamArn: 'arn', StreamSpecification: { StreamEnabled: true, StreamViewType: 'OLD_IMAGE' } }),
      /OLD_IMAGE/,
    );
    const req = createRequestOf(
      {
        TableName: 'src',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'g', AttributeType: 'N' },
        ],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
        BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
      },
      'dst',
      'only_rmw',
      false,
    );
    // Without the index, its key attribute is not defined either (CreateTable would refuse it).
    assert.deepEqual(req.AttributeDefinitions, [{ AttributeName: 'pk', AttributeType: 'S' }]);
    assert.equal(req.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(req.GlobalSecondaryIndexes, undefined);
  });

  test('the loop guard: records a replicator wrote reach no writer, and are counted as skipped; records name their replicator', async () => {
    const handed: StreamRecord[] = [];
    const inner: ReplicaWriter = {
      putItems: async () => undefined,
      applyRecords: async (records, skipBefore) => {
        handed.push(...records);
        return latestChanges(records, skipBefore, { hash: { name: 'pk', type: 'S' } }).result;
      },
    };
    const rec = (n: number, replicated: boolean): StreamRecord => ({
      eventName: 'MODIFY', sequenceNumber: String(n), approximateCreation: 1000 + n, keys: { pk: { S: `k${n % 2}` } }, newImage: { pk: { S: `k${n % 2}` }, n: { N: String(n) } },
      ...(replicated ? { replicated: true } : {}),
    });
    const records = [rec(1, false), rec(2, true), rec(3, true), rec(4, false)];
    const result = await skippingReplicated(inner).applyRecords(records, 0);
    assert.deepEqual(handed.map((r) => r.sequenceNumber), ['1', '4']);
    assert.equal(result.skipped, 2);
    assert.equal(result.echoes, 2);
    assert.equal(result.writes, 2);
    assert.equal(result.lastRecordAt, 1004); // the batch's end, whatever was skipped
    const change = { position: { seq: 5n, kh: 1 }, eventName: 'INSERT' as const, keys: { pk: { S: 'a' } }, createdMs: 0, expiry: false };
    assert.deepEqual(wireRecord({ ...change, replicated: true }, 'KEYS_ONLY', 'r', 's').userIdentity, { Type: 'Service', PrincipalId: 'replicator.dynamo-cassandra' });
    assert.equal(wireRecord(change, 'KEYS_ONLY', 'r', 's').userIdentity, undefined);
    // A TTL deletion is the service's, whoever's write set the TTL.
    assert.deepEqual(wireRecord({ ...change, expiry: true }, 'KEYS_ONLY', 'r', 's').userIdentity, { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' });
  });

  test('key schemas of DynamoDB descriptions', () => {
    const desc = {
      TableName: 't',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }, { AttributeName: 'sk', AttributeType: 'N' as const }],
      KeySchema: [{ AttributeName: 'sk', KeyType: 'RANGE' as const }, { AttributeName: 'pk', KeyType: 'HASH' as const }],
    };
    assert.deepEqual(keySchemaOf(desc), { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } });
    assert.deepEqual(keySchemaOf({ ...desc, KeySchema: [desc.KeySchema[1]!] }), { hash: { name: 'pk', type: 'S' } });
    assert.throws(() => keySchemaOf({ TableName: 't' }), /no partition key/);
  });

  test('progress lines show rate and ETA; the status view shows shards', () => {
    const line = progressLine('snapshot t', 2500, 10000, 5000, 500, 10);
    assert.match(line, /\[###\.{7}\]\s+25\.0%/);
    assert.match(line, /2,500\/~10,000 items/);
    assert.match(line, /500 items\/s/);
    assert.match(line, /ETA 0:15/);
    assert.doesNotMatch(progressLine('snapshot t', 10, undefined, 1000, 10), /ETA/);
    const text = formatStatus(
      {
        tables: [
          {
            target: 't',
            source: 's',
            stream: 'arn',
            phase: 'streaming',
            snapshot: { startedAt: 0, doneAt: 2000, items: 7 },
            shards: [{ shard: 'shard-1', owner: 'host:1:ab', position: '000123', finished: false, applied: 12, lagSeconds: 0.25, checkpointAt: 1000 }],
          },
        ],
        workers: [],
      },
      2000,
    );
    assert.match(text, /t {2}← {2}s {3}phase: streaming/);
    assert.match(text, /snapshot: 7 items/);
    assert.match(text, /shard-1 +- +reading +host:1:ab +000123 +12 +0\.3 s +1 s ago/);
  });
});
