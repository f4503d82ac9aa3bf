// Cost of a stream: PutItem throughput on a table with a stream (NEW_AND_OLD_IMAGES) against one
// without, through one `serve` process, measured alternately in one run; and the latency from an
// acknowledged write to its record being returned by GetRecords (a reader polling every shard).
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { formatRow, load, median, serveBench, type Result } from './harness.js';

export interface StreamsBenchOptions {
  seconds: number;
  concurrency: number;
  items: number;
  rounds?: number;
  latencySamples?: number;
}

const payload = (i: number) => ({ pk: { S: `k${i}` }, name: { S: `user ${i}` }, n: { N: String(i) }, blob: { S: 'x'.repeat(400) } });

export async function runStreamsBench(o: StreamsBenchOptions): Promise<string> {
  const b = await serveBench('bench_streams');
  try {
    const table = (name: string, stream: boolean) =>
      b.sdk.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
        }),
      );
    await table('plain', false);
    const created = await table('streamed', true);
    const arn = created.TableDescription!.LatestStreamArn!;
    const results: Record<string, Result[]> = { plain: [], streamed: [] };
    for (let r = 0; r < (o.rounds ?? 2); r++) {
      for (const name of ['plain', 'streamed']) {
        results[name]!.push(await load(o.concurrency, o.seconds, (i) => b.raw('PutItem', { TableName: name, Item: payload(i % o.items) })));
      }
    }
    const rate = (name: string) => median(results[name]!.map((x) => x.opsPerSec));
    const p99 = (name: string) => median(results[name]!.map((x) => x.p99));
    const latency = await writeToRecordLatency(b.endpoint, b.sdk, arn, o.latencySamples ?? 100);
    return [
      `PutItem through one \`serve\` process (document translator, \`always\` isolation), ${o.concurrency} concurrent clients, ${o.seconds} s per round, median of ${o.rounds ?? 2} alternated rounds:`,
      '',
      '| table | PutItem/s | p99 ms |',
      '| --- | --- | --- |',
      formatRow(['no stream', rate('plain'), p99('plain')]),
      formatRow(['stream (NEW_AND_OLD_IMAGES)', rate('streamed'), p99('streamed')]),
      '',
      `Throughput with a stream / without: **${(rate('streamed') / rate('plain')).toFixed(2)}**.`,
      '',
      `Write-to-record latency (acknowledged PutItem to the record returned by GetRecords, one reader polling every shard without pause, ${latency.length} writes 50 ms apart): p50 ${median(latency).toFixed(0)} ms, p99 ${[...latency].sort((x, y) => x - y)[Math.floor(latency.length * 0.99)]!.toFixed(0)} ms.`,
    ].join('\n');
  } finally {
    await b.close();
  }
}

async function writeToRecordLatency(endpoint: string, sdk: ServeSdk, arn: string, samples: number): Promise<number[]> {
  const streams = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  try {
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards!;
    const iterators = await Promise.all(
      shards.map(async (s) => (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'LATEST' }))).ShardIterator),
    );
    const acked = new Map<string, number>();
    const latencies: number[] = [];
    let done = false;
    const readers = iterators.map(async (first) => {
      let it = first;
      while (!done && it) {
        const r = await streams.send(new GetRecordsCommand({ ShardIterator: it }));
        const now = Date.now();
        for (const rec of r.Records ?? []) {
          const at = acked.get(rec.dynamodb!.Keys!.pk!.S!);
          if (at !== undefined) latencies.push(now - at);
        }
        it = r.NextShardIterator;
        if (!r.Records?.length) await new Promise((res) => setTimeout(res, 10));
      }
    });
    for (let i = 0; i < samples; i++) {
      const pk = `latency${i}`;
      await sdk.send(new PutItemCommand({ TableName: 'streamed', Item: { pk: { S: pk } } }));
      acked.set(pk, Date.now());
      await new Promise((res) => setTimeout(res, 50));
    }
    for (const deadline = Date.now() + 10_000; latencies.length < samples && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 50));
    done = true;
    await Promise.all(readers);
    return latencies;
  } finally {
    streams.destroy();
  }
}

type ServeSdk = Awaited<ReturnType<typeof serveBench>>['sdk'];
