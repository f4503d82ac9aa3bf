// Pure pieces of the replicator: item conversion and canonical forms, key texts, table mappings,
// event kinds, progress and status formatting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Item } from '../../src/dynamo/types.js';
import { kindOf } from '../../src/replication/apply.js';
import { canonicalText, fromSdkItem, keyFromText, keyText, toSdkItem } from '../../src/replication/items.js';
import { progressLine } from '../../src/replication/progress.js';
import { parseTableMapping } from '../../src/replication/replicator.js';
import { formatStatus } from '../../src/replication/status.js';
import { createRequestOf, streamOf } from '../../src/replication/target.js';
import { awsSource } from '../../src/replication/source.js';
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
