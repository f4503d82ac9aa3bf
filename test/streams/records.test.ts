// Our own DynamoDB Streams, read with the real streams client: every record type and view type,
// no record for a write that changes nothing, order per item, and the iterator types.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DeleteTableCommand, DescribeTableCommand, PutItemCommand, UpdateItemCommand, UpdateTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, ListStreamsCommand, type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import { TEST_TRANSLATORS, errorOf, startTestServer, type TestServer } from '../helpers/server.js';
import { bySequence, readStream, streamsClient } from './helpers.js';
import { encodeIterator, decodeIterator } from '../../src/streams/model.js';
import { Catalog } from '../../src/storage/catalog.js';
import { ItemStore } from '../../src/storage/item-store.js';
import { handleOf, type ActionContext } from '../../src/actions/context.js';
import { translators } from '../../translators/index.js';

async function streamTable(client: DynamoDBClient, name: string, view: string, translator: string): Promise<string> {
  const out = await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: view as never },
      Tags: [{ Key: 'dynamo-cassandra:translator', Value: translator }],
    }),
  );
  return out.TableDescription!.LatestStreamArn!;
}

for (const translator of TEST_TRANSLATORS) {
  describe(`streams records (${translator})`, () => {
    let t: TestServer;
    let streams: DynamoDBStreamsClient;
    before(async () => {
      t = await startTestServer(`t_streams_records_${translator}`);
      streams = streamsClient(t.endpoint);
    });
    after(async () => {
      streams.destroy();
      await t.close();
    });

    test('INSERT, MODIFY, REMOVE from every write path; unchanged writes give no record', async () => {
      const arn = await streamTable(t.client, 'changes', 'NEW_AND_OLD_IMAGES', translator);
      const started = Date.now();
      const key = { pk: { S: 'a' }, sk: { N: '1' } };
      await t.client.send(new PutItemCommand({ TableName: 'changes', Item: { ...key, v: { N: '1' }, s: { SS: ['x', 'y'] } } }));
      // The same item again, with its set in another order: nothing changes, no record.
      await t.client.send(new PutItemCommand({ TableName: 'changes', Item: { ...key, s: { SS: ['y', 'x'] }, v: { N: '1.0' } } }));
      await t.client.send(new UpdateItemCommand({ TableName: 'changes', Key: key, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: '2' } } }));
      await t.client.send(new UpdateItemCommand({ TableName: 'changes', Key: key, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: '2' } } }));
      await t.client.send(new UpdateItemCommand({ TableName: 'changes', Key: key, UpdateExpression: 'REMOVE s' }));
      await t.client.send(new DeleteItemCommand({ TableName: 'changes', Key: key }));
      await t.client.send(new DeleteItemCommand({ TableName: 'changes', Key: key })); // absent: no record
      await t.client.send(
        new BatchWriteItemCommand({
          RequestItems: {
            changes: [
              { PutRequest: { Item: { pk: { S: 'b' }, sk: { N: '2' }, w: { BOOL: true } } } },
              { DeleteRequest: { Key: { pk: { S: 'c' }, sk: { N: '3' } } } },
            ],
          },
        }),
      );
      await t.client.send(new BatchWriteItemCommand({ RequestItems: { changes: [{ DeleteRequest: { Key: { pk: { S: 'b' }, sk: { N: '2' } } } }] } }));
      await readStream(streams, arn, 6);
      // Past the readers' horizon, so that any extra record would be readable too.
      await new Promise((r) => setTimeout(r, 1500));
      const all = bySequence(await readStream(streams, arn, 100, 300));
      const ofA = all.filter((r) => r.dynamodb!.Keys!.pk!.S === 'a');
      assert.deepEqual(ofA.map((r) => r.eventName), ['INSERT', 'MODIFY', 'MODIFY', 'REMOVE']);
      const ofB = all.filter((r) => r.dynamodb!.Keys!.pk!.S === 'b');
      assert.deepEqual(ofB.map((r) => r.eventName), ['INSERT', 'REMOVE']);
      assert.equal(all.length, 6, 'no record for unchanged writes or deletes of absent items');

      const [insert, modify, modify2, remove] = ofA as [any, any, any, any];
      assert.deepEqual(insert.dynamodb.Keys, key);
      assert.deepEqual(insert.dynamodb.NewImage, { ...key, v: { N: '1' }, s: { SS: ['x', 'y'] } });
      assert.equal(insert.dynamodb.OldImage, undefined);
      assert.deepEqual(modify.dynamodb.OldImage, insert.dynamodb.NewImage);
      assert.deepEqual(modify.dynamodb.NewImage.v, { N: '2' });
      assert.equal(modify2.dynamodb.NewImage.s, undefined);
      assert.deepEqual(remove.dynamodb.OldImage, { ...key, v: { N: '2' } });
      assert.equal(remove.dynamodb.NewImage, undefined);
      for (const r of all as any[]) {
        assert.equal(r.eventSource, 'aws:dynamodb');
        assert.equal(r.eventVersion, '1.1');
        assert.equal(r.awsRegion, 'us-east-1');
        assert.match(r.eventID, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        assert.equal(r.dynamodb.StreamViewType, 'NEW_AND_OLD_IMAGES');
        assert.match(r.dynamodb.SequenceNumber, /^\d{21,40}$/);
        assert.equal(r.userIdentity, undefined);
        const created = r.dynamodb.ApproximateCreationDateTime.getTime();
        assert.ok(created >= Math.floor(started / 1000) * 1000 && created <= Date.now(), 'ApproximateCreationDateTime is the write time');
      }
      // SizeBytes: keys plus images, by DynamoDB's item size rules (checked against DynamoDB Local).
      // Keys: pk 'a' (2+1) + sk 1 (2+2) = 7; NewImage: 7 + v 1 (1+2) + s {x,y} (1+2) = 13.
      assert.equal(insert.dynamodb.SizeBytes, 7 + 13);
      assert.equal(new Set(all.map((r) => r.eventID)).size, all.length, 'event ids are unique');
    });

    test('a TTL expiry (the delete path the sweeper uses) gives a REMOVE by the service; the stream of a deleted table stays readable', async () => {
      const arn = await streamTable(t.client, 'expiring', 'OLD_IMAGE', translator);
      const key = { pk: { S: 'session' }, sk: { N: '1' } };
      await t.client.send(new PutItemCommand({ TableName: 'expiring', Item: { ...key, expires: { N: '1' } } }));
      await t.client.send(new PutItemCommand({ TableName: 'expiring', Item: { pk: { S: 'user' }, sk: { N: '1' } } }));
      const session = t.server.session;
      const catalog = new Catalog(session);
      const store = new ItemStore(session);
      const entry = (await catalog.get('expiring'))!;
      const h = handleOf({ translators } as unknown as ActionContext, entry);
      await store.mutate(h, key, (old) => ({ mutation: old ? { kind: 'delete', cause: 'ttl' } : { kind: 'none' }, result: undefined }), true);
      await t.client.send(new DeleteItemCommand({ TableName: 'expiring', Key: { pk: { S: 'user' }, sk: { N: '1' } } }));
      const records = await readStream(streams, arn, 4);
      const removes = records.filter((r) => r.eventName === 'REMOVE');
      assert.equal(removes.length, 2);
      const byTtl = removes.find((r) => r.dynamodb!.Keys!.pk!.S === 'session')!;
      assert.deepEqual(byTtl.userIdentity, { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' });
      assert.deepEqual(byTtl.dynamodb!.OldImage, { ...key, expires: { N: '1' } });
      assert.equal(removes.find((r) => r.dynamodb!.Keys!.pk!.S === 'user')!.userIdentity, undefined);

      await t.client.send(new DeleteTableCommand({ TableName: 'expiring' }));
      const listed = await streams.send(new ListStreamsCommand({ TableName: 'expiring' }));
      assert.deepEqual(listed.Streams!.map((s) => s.StreamArn), [arn]);
      const described = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
      assert.ok(['DISABLING', 'DISABLED'].includes(described.StreamDescription!.StreamStatus!));
      assert.equal((await readStream(streams, arn, 4)).length, 4, 'its records are still there');
    });

    test('each view type keeps the images it asks for', async () => {
      const expected: Record<string, [boolean, boolean]> = {
        KEYS_ONLY: [false, false],
        NEW_IMAGE: [true, false],
        OLD_IMAGE: [false, true],
        NEW_AND_OLD_IMAGES: [true, true],
      };
      for (const [view, [hasNew, hasOld]] of Object.entries(expected)) {
        const table = `view_${view.toLowerCase()}`;
        const arn = await streamTable(t.client, table, view, translator);
        const key = { pk: { S: 'k' }, sk: { N: '7' } };
        await t.client.send(new PutItemCommand({ TableName: table, Item: { ...key, n: { N: '1' } } }));
        await t.client.send(new PutItemCommand({ TableName: table, Item: { ...key, n: { N: '2' } } }));
        const records = bySequence(await readStream(streams, arn, 2));
        assert.deepEqual(records.map((r) => r.eventName), ['INSERT', 'MODIFY'], view);
        const modify = records[1]!.dynamodb!;
        assert.equal(modify.StreamViewType, view);
        assert.deepEqual(modify.Keys, key);
        assert.deepEqual(modify.NewImage, hasNew ? { ...key, n: { N: '2' } } : undefined, view);
        assert.deepEqual(modify.OldImage, hasOld ? { ...key, n: { N: '1' } } : undefined, view);
      }
    });

    test('iterators: LATEST, AT_ and AFTER_SEQUENCE_NUMBER, Limit and NextShardIterator, expiry', async () => {
      const arn = await streamTable(t.client, 'iterators', 'KEYS_ONLY', translator);
      for (let i = 0; i < 5; i++) await t.client.send(new PutItemCommand({ TableName: 'iterators', Item: { pk: { S: 'same' }, sk: { N: String(i) } } }));
      const all = bySequence(await readStream(streams, arn, 5));
      assert.equal(all.length, 5);
      assert.deepEqual(all.map((r) => r.dynamodb!.Keys!.sk!.N), ['0', '1', '2', '3', '4'], 'one partition key: one shard, in write order');
      const d = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
      assert.ok(['ENABLING', 'ENABLED'].includes(d.StreamDescription!.StreamStatus!), 'ENABLING for its first seconds (status.test.ts)');
      const shards = d.StreamDescription!.Shards!;
      const shardOfRecords = await (async () => {
        for (const s of shards) {
          const it = await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: all[2]!.dynamodb!.SequenceNumber }));
          const r = await streams.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1 }));
          if (r.Records?.length) return { shard: s.ShardId!, first: r };
        }
        throw new Error('no shard has the records');
      })();
      assert.equal(shardOfRecords.first.Records![0]!.dynamodb!.SequenceNumber, all[2]!.dynamodb!.SequenceNumber, 'AT_SEQUENCE_NUMBER starts at the record');
      const next = await streams.send(new GetRecordsCommand({ ShardIterator: shardOfRecords.first.NextShardIterator, Limit: 10 }));
      assert.deepEqual(next.Records!.map((r) => r.dynamodb!.Keys!.sk!.N), ['3', '4'], 'NextShardIterator continues after the Limit');
      const afterIt = await streams.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: shardOfRecords.shard, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: all[3]!.dynamodb!.SequenceNumber }),
      );
      const afterRecords = await streams.send(new GetRecordsCommand({ ShardIterator: afterIt.ShardIterator }));
      assert.deepEqual(afterRecords.Records!.map((r) => r.dynamodb!.Keys!.sk!.N), ['4']);

      const latest = await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shardOfRecords.shard, ShardIteratorType: 'LATEST' }));
      await t.client.send(new PutItemCommand({ TableName: 'iterators', Item: { pk: { S: 'same' }, sk: { N: '99' } } }));
      let iterator = latest.ShardIterator;
      const seen: string[] = [];
      for (let i = 0; i < 50 && seen.length === 0; i++) {
        const r = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        seen.push(...r.Records!.map((x) => x.dynamodb!.Keys!.sk!.N!));
        iterator = r.NextShardIterator;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.deepEqual(seen, ['99'], 'LATEST gives only later records');

      // An iterator older than 15 minutes has expired.
      const state = decodeIterator(latest.ShardIterator!)!;
      const old = encodeIterator(arn, { ...state, issued: Date.now() - 16 * 60_000 });
      const expired = await errorOf(() => streams.send(new GetRecordsCommand({ ShardIterator: old })));
      assert.equal(expired.name, 'ExpiredIteratorException');
      const bad = await errorOf(() => streams.send(new GetRecordsCommand({ ShardIterator: `${arn}|1|garbage` })));
      assert.equal(bad.name, 'ValidationException');
      assert.equal(bad.message, 'Invalid ShardIterator');
      const tooMany = await errorOf(() => streams.send(new GetRecordsCommand({ ShardIterator: latest.ShardIterator, Limit: 1001 })));
      assert.equal(tooMany.message, 'One or more parameter values were invalid: Limit should be less than or equal to 1000');
      const noShard = await errorOf(() =>
        streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: 'shardId-00000000000000000001-00000000', ShardIteratorType: 'LATEST' })),
      );
      assert.equal(noShard.name, 'ResourceNotFoundException');
      const noSeq = await errorOf(() => streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shardOfRecords.shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER' })));
      assert.equal(noSeq.message, 'One or more parameter values were invalid: Invalid SequenceNumber');
    });

    test('disable and re-enable: a new stream, the old one closed; DynamoDB validation errors', async () => {
      const arn = await streamTable(t.client, 'toggled', 'NEW_IMAGE', translator);
      await t.client.send(new PutItemCommand({ TableName: 'toggled', Item: { pk: { S: 'x' }, sk: { N: '1' } } }));
      const enabledTwice = await errorOf(() =>
        t.client.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } })),
      );
      assert.equal(enabledTwice.message, 'Table already has an enabled stream');
      const off = await t.client.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: false } }));
      assert.equal(off.TableDescription!.StreamSpecification, undefined);
      assert.equal(off.TableDescription!.LatestStreamArn, arn);
      const d1 = await t.client.send(new DescribeTableCommand({ TableName: 'toggled' }));
      assert.equal(d1.Table!.LatestStreamArn, arn);
      assert.equal(d1.Table!.StreamSpecification, undefined);
      // Writes while disabled are in no stream.
      await t.client.send(new PutItemCommand({ TableName: 'toggled', Item: { pk: { S: 'y' }, sk: { N: '1' } } }));
      const offTwice = await errorOf(() => t.client.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: false } })));
      assert.equal(offTwice.message, 'Table has no stream to disable');
      const noView = await errorOf(() => t.client.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: true } })));
      assert.equal(noView.message, 'Invalid StreamViewType: Stream ViewType must not be null or empty when enabling streams.');
      const viewWhenOff = await errorOf(() =>
        t.client.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: false, StreamViewType: 'KEYS_ONLY' } })),
      );
      assert.equal(viewWhenOff.message, 'Invalid StreamViewType: Stream StreamEnabled was false but a StreamViewType was present.');
      const on = await t.client.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } }));
      const arn2 = on.TableDescription!.LatestStreamArn!;
      assert.notEqual(arn2, arn);
      assert.deepEqual(on.TableDescription!.StreamSpecification, { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
      assert.equal(on.TableDescription!.LatestStreamLabel, arn2.split('/stream/')[1]);
      await t.client.send(new PutItemCommand({ TableName: 'toggled', Item: { pk: { S: 'z' }, sk: { N: '1' } } }));
      const first = await readStream(streams, arn, 1);
      assert.deepEqual(first.map((r) => r.dynamodb!.Keys!.pk!.S), ['x']);
      const second = await readStream(streams, arn2, 1);
      assert.deepEqual(second.map((r) => r.dynamodb!.Keys!.pk!.S), ['z']);
      assert.equal(second[0]!.dynamodb!.StreamViewType, 'KEYS_ONLY');
      const listed = await streams.send(new ListStreamsCommand({ TableName: 'toggled' }));
      assert.deepEqual(new Set(listed.Streams!.map((s) => s.StreamArn)), new Set([arn, arn2]));
      const old = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
      assert.ok(['DISABLING', 'DISABLED'].includes(old.StreamDescription!.StreamStatus!));
      const noStream = await errorOf(() => streams.send(new DescribeStreamCommand({ StreamArn: arn.replace('toggled', 'missing') })));
      assert.equal(noStream.name, 'ResourceNotFoundException');
      const noViewAtCreate = await errorOf(() =>
        t.client.send(
          new CreateTableCommand({
            TableName: 'bad_spec',
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
            StreamSpecification: { StreamEnabled: true },
          }),
        ),
      );
      assert.equal(noViewAtCreate.message, 'Invalid StreamViewType: Stream ViewType must not be null or empty when enabling streams.');
    });
  });
}
