// Reading our own streams with the real @aws-sdk/client-dynamodb-streams client.
import {
  DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record,
} from '@aws-sdk/client-dynamodb-streams';

export function streamsClient(endpoint: string): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

/** Every shard's records from TRIM_HORIZON, read until `count` records arrived or `timeoutMs` passed. */
export async function readStream(client: DynamoDBStreamsClient, arn: string, count: number, timeoutMs = 10_000): Promise<_Record[]> {
  const d = await client.send(new DescribeStreamCommand({ StreamArn: arn }));
  const shards = d.StreamDescription!.Shards!;
  const iterators = new Map<string, string | undefined>();
  for (const s of shards) {
    const it = await client.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
    iterators.set(s.ShardId!, it.ShardIterator);
  }
  const out: _Record[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    for (const [shard, iterator] of iterators) {
      if (!iterator) continue;
      const r = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      out.push(...(r.Records ?? []));
      iterators.set(shard, r.NextShardIterator);
    }
    if (out.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

/** Sorted by sequence number (records of different shards have no order between them). */
export const bySequence = (records: _Record[]) =>
  [...records].sort((a, b) => (a.dynamodb!.SequenceNumber! < b.dynamodb!.SequenceNumber! ? -1 : 1));
