// A stream's StreamStatus through its life, read with the real streams client: ENABLING until every
// process writes its records, ENABLED, DISABLING until no process can still add one, DISABLED; and
// the records of a disabled stream, readable to the end of its closed shards.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateTableCommand, PutItemCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type DescribeStreamCommandOutput, type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import { ENABLING_MS } from '../../src/streams/actions.js';
import { CLOSE_MS, HORIZON_MS } from '../../src/streams/record-log.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { streamsClient } from './helpers.js';

/** DescribeStream, with the moments (this machine's clock, as the server's) it was sent and answered. */
interface Described {
  sent: number;
  answered: number;
  d: NonNullable<DescribeStreamCommandOutput['StreamDescription']>;
}

describe('StreamStatus through a stream\'s life', () => {
  let t: TestServer;
  let streams: DynamoDBStreamsClient;
  before(async () => {
    t = await startTestServer('t_streams_status');
    streams = streamsClient(t.endpoint);
  });
  after(async () => {
    streams.destroy();
    await t.close();
  });

  const describeNow = async (arn: string): Promise<Described> => {
    const sent = Date.now();
    const out = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
    return { sent, answered: Date.now(), d: out.StreamDescription! };
  };

  /** Polls DescribeStream until `status`; every answer on the way must fit the switch at `at` from `early`. */
  async function until(arn: string, early: string, status: string, at: { from: number; to: number }): Promise<Described[]> {
    const seen: Described[] = [];
    for (const deadline = Date.now() + 30_000; ; ) {
      const x = await describeNow(arn);
      seen.push(x);
      const s = x.d.StreamStatus;
      assert.ok(s === early || s === status, `${s} while waiting for ${status}`);
      // The server's clock is this one: an early answer was sent before the switch, a late one answered after it.
      if (s === early) assert.ok(x.sent < at.to, `${early} ${x.sent - at.to} ms after it should have ended`);
      else assert.ok(x.answered >= at.from, `${status} ${at.from - x.answered} ms before it may begin`);
      if (s === status) return seen;
      assert.ok(Date.now() < deadline, `still ${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('ENABLING, then ENABLED; DISABLING, then DISABLED with closed shards whose records stay readable', async () => {
    const created = await t.client.send(
      new CreateTableCommand({
        TableName: 'lifecycle',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
      }),
    );
    const arn = created.TableDescription!.LatestStreamArn!;
    const enabledAt = Date.parse(created.TableDescription!.LatestStreamLabel! + 'Z');
    const first = await describeNow(arn);
    if (first.answered < enabledAt + ENABLING_MS) assert.equal(first.d.StreamStatus, 'ENABLING');
    // Shards are there from the start, open: a reader may begin while the stream is ENABLING.
    assert.equal(first.d.Shards!.length, 4);
    for (const s of first.d.Shards!) assert.equal(s.SequenceNumberRange!.EndingSequenceNumber, undefined);
    await t.client.send(new PutItemCommand({ TableName: 'lifecycle', Item: { pk: { S: 'early' } } }));
    const enabling = await until(arn, 'ENABLING', 'ENABLED', { from: enabledAt + ENABLING_MS, to: enabledAt + ENABLING_MS });
    await t.client.send(new PutItemCommand({ TableName: 'lifecycle', Item: { pk: { S: 'late' } } }));

    const sent = Date.now();
    await t.client.send(new UpdateTableCommand({ TableName: 'lifecycle', StreamSpecification: { StreamEnabled: false } }));
    const answered = Date.now();
    // Closed once readers, who read HORIZON_MS in the past, have passed the last moment a record may have.
    const closing = CLOSE_MS + HORIZON_MS;
    const disabling = await until(arn, 'DISABLING', 'DISABLED', { from: sent + closing, to: answered + closing });
    assert.ok([...enabling, ...disabling].some((x) => x.d.StreamStatus === 'ENABLING' || x.d.StreamStatus === 'DISABLING'), 'a status between');
    for (const x of disabling) {
      const closed = x.d.Shards!.map((s) => s.SequenceNumberRange!.EndingSequenceNumber !== undefined);
      assert.deepEqual(closed, Array(4).fill(x.d.StreamStatus === 'DISABLED'), 'shards close when the stream is DISABLED');
    }

    // Both records, from TRIM_HORIZON; every shard read to its end says so (no NextShardIterator).
    const keys: string[] = [];
    for (const s of disabling.at(-1)!.d.Shards!) {
      let it = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      for (let pages = 0; it; pages++) {
        assert.ok(pages < 10, 'a closed shard ends');
        const r = await streams.send(new GetRecordsCommand({ ShardIterator: it }));
        keys.push(...r.Records!.map((x) => x.dynamodb!.Keys!.pk!.S!));
        it = r.NextShardIterator;
      }
      const latest = await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'LATEST' }));
      const atEnd = await streams.send(new GetRecordsCommand({ ShardIterator: latest.ShardIterator }));
      assert.deepEqual(atEnd.Records, []);
      assert.equal(atEnd.NextShardIterator, undefined);
    }
    assert.deepEqual(keys.sort(), ['early', 'late']);
  });
});
