// Fixtures of the tests whose replication ends are DynamoDB-API endpoints.
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, ListStreamsCommand } from '@aws-sdk/client-dynamodb-streams';
import { apiTarget } from '../../src/replication/api-target.js';
import { createReplicationMetrics } from '../../src/replication/metrics.js';
import type { TargetOpener } from '../../src/replication/replica-target.js';
import { Replicator } from '../../src/replication/replicator.js';
import { awsSource, type SourceApi } from '../../src/replication/source.js';
import { verify, type VerifyReport } from '../../src/replication/verify.js';
import { startDynamoDBLocal, type DynamoDBLocal } from '../helpers/dynamodb-local.js';
import { CREDENTIALS, startEnv, waitFor, type Env } from './helpers.js';

export const endpointOptions = (endpoint: string) => ({ endpoint, region: 'us-east-1', credentials: CREDENTIALS });
const log = (line: string) => process.env.DC_TEST_VERBOSE && process.stderr.write(`[replicator] ${line}\n`);

/** A replicator from `source` (an endpoint's API) into tables at another endpoint, state in env's keyspace. */
export function apiReplicator(env: Env, source: SourceApi, target: ReturnType<typeof apiTarget>, table: string, o: { ignoreReplicated?: boolean; open?: TargetOpener } = {}) {
  return new Replicator({
    ctx: env.ctx,
    source,
    target: o.open ?? target.open,
    targetScope: target.scope,
    ignoreReplicated: o.ignoreReplicated,
    tables: [{ source: table, target: table }],
    metrics: createReplicationMetrics(),
    log,
    segments: 2,
    leaseMs: 10_000,
    pollMs: 100,
  });
}

/** Polls verify (the target read through its API) until both sides hold the same items. */
export async function waitApiIdentical(env: Env, source: SourceApi, targetApi: SourceApi, table: string, timeoutMs = 90_000): Promise<VerifyReport> {
  let last: VerifyReport | undefined;
  await waitFor(
    `${table} to be identical at the target endpoint`,
    async () => {
      last = await verify({ ctx: env.ctx, source, sourceTable: table, target: table, targetApi, segments: 2, buckets: 256 }).catch((e: Error) => {
        if (/does not exist/.test(e.message)) return undefined;
        throw e;
      });
      return last?.identical;
    },
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)?.slice(0, 2000)}`);
  });
  return last!;
}

/** Every record of a table's latest stream, read from the start of each shard. */
export async function streamRecords(client: DynamoDBStreamsClient, table: string) {
  const arn = (await client.send(new ListStreamsCommand({ TableName: table }))).Streams![0]!.StreamArn!;
  const shards = (await client.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards ?? [];
  const out = [];
  for (const s of shards) {
    let it = (await client.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let pages = 0; it && pages < 200; pages++) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: it }));
      out.push(...(page.Records ?? []));
      if (!page.Records?.length) break;
      it = page.NextShardIterator;
    }
  }
  return out;
}

export const tableOf = (name: string, stream: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES' = 'NEW_AND_OLD_IMAGES', range = false) =>
  new CreateTableCommand({
    TableName: name,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(range ? [{ AttributeName: 'sk', AttributeType: 'N' as const }] : [])],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(range ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : [])],
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: stream },
  });


/** The usual environment (DynamoDB Local as a source, our server) plus a second DynamoDB Local as a target. */
export interface ApiEnds {
  env: Env;
  second: DynamoDBLocal;
  secondDb: DynamoDBClient;
  secondApi: SourceApi;
  /** Our server's API as a replication source. */
  ours: SourceApi;
  toSecond: ReturnType<typeof apiTarget>;
  close(): Promise<void>;
}

export async function startApiEnds(keyspace: string): Promise<ApiEnds> {
  // One after the other: starting two JVMs at once on a busy machine can take longer than a minute.
  const env = await startEnv(keyspace);
  const second = await startDynamoDBLocal().catch(async (e: unknown) => {
    await env.close();
    throw e;
  });
  const secondDb = new DynamoDBClient(endpointOptions(second.endpoint));
  const secondApi = awsSource(endpointOptions(second.endpoint));
  const ours = awsSource(endpointOptions(env.server.endpoint));
  const toSecond = apiTarget(endpointOptions(second.endpoint));
  return {
    env, second, secondDb, secondApi, ours, toSecond,
    async close() {
      secondDb.destroy();
      secondApi.close();
      ours.close();
      toSecond.close();
      await Promise.all([env.close(), second.stop()]);
    },
  };
}
