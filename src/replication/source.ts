// The source side: a DynamoDB table and its stream, reached through the AWS SDK. Credentials and
// region come from the standard AWS chain (environment, profile, instance role); an endpoint URL
// points the clients at any DynamoDB-compatible service instead (DynamoDB Local in the tests).
// The replicator talks to the stream through the small StreamsApi interface, so tests can also
// drive it with a scripted stream (shard splits, expiring iterators, throttling, trimming).
import {
  DescribeTableCommand, DynamoDBClient, GetItemCommand, ScanCommand, type DynamoDBClientConfig, type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { Item } from '../dynamo/types.js';
import { REPLICATOR_PRINCIPAL } from '../streams/model.js';
import { fromSdkItem, toSdkItem } from './items.js';

export interface SourceOptions {
  endpoint?: string;
  region?: string;
  /** Explicit credentials (tests); otherwise the AWS default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** How long one request may take before it is abandoned and retried (default 30 s). */
  requestTimeoutMs?: number;
}

export interface ShardInfo {
  id: string;
  parent?: string;
  /** Set when the shard is closed (no more records will be added). */
  endingSequenceNumber?: string;
}

export interface StreamRecord {
  eventName: string;
  sequenceNumber: string;
  /** Milliseconds since the epoch (DynamoDB rounds it: seconds; DynamoDB Local: minutes). */
  approximateCreation: number;
  keys: Item;
  newImage?: Item;
  /** Written by a replicator (its userIdentity names one): the loop guard skips it in two-way setups. */
  replicated?: boolean;
}

export interface StreamDescription {
  status: string;
  viewType?: string;
  shards: ShardInfo[];
}

export interface StreamsApi {
  describeStream(streamArn: string): Promise<StreamDescription>;
  getShardIterator(streamArn: string, shardId: string, after?: string): Promise<string>;
  /** next is undefined once a closed shard has been read to its end. */
  getRecords(iterator: string, limit?: number): Promise<{ records: StreamRecord[]; next?: string }>;
}

export interface ScanPage {
  items: Item[];
  lastKey?: Record<string, unknown>;
}

export interface SourceApi {
  describeTable(table: string): Promise<TableDescription>;
  /** One page of a (parallel) Scan; `limit` caps its items (pages also end at 1 MB). */
  scan(table: string, segment: number, totalSegments: number, startKey?: Record<string, unknown>, limit?: number): Promise<ScanPage>;
  /** A consistent read of one item (verify's re-check of a difference). */
  getItem(table: string, key: Item): Promise<Item | undefined>;
  streams: StreamsApi;
  close(): void;
}

/** The error's name as the SDK reports it (the part of __type after '#'). */
export const errorName = (e: unknown): string => (e as { name?: string })?.name ?? '';

export const THROTTLING = new Set([
  'LimitExceededException', 'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded',
]);

function region(options: SourceOptions): string | undefined {
  if (options.region) return options.region;
  // A custom endpoint (DynamoDB Local) needs some region to sign with, but any will do.
  const env = process.env;
  if (options.endpoint && !env.AWS_REGION && !env.AWS_DEFAULT_REGION && !env.AWS_PROFILE) return 'us-east-1';
  return undefined;
}

/**
 * A logger without `info`: the SDK's logger middleware builds a filtered copy of every response for
 * `logger.info` even when the logger discards it (a tenth of the SDK's CPU time in a snapshot).
 */
const QUIET_LOGGER = { trace() {}, debug() {}, warn() {}, error() {} } as unknown as NonNullable<DynamoDBClientConfig['logger']>;

/** The configuration of the SDK clients of an endpoint (DynamoDB and Streams alike). */
export function clientConfig(options: SourceOptions) {
  return {
    endpoint: options.endpoint,
    region: region(options),
    credentials: options.credentials,
    logger: QUIET_LOGGER,
    // Without timeouts a request on a connection that died silently never ends, and its stream
    // shard (or snapshot segment) would wait for it forever.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: options.requestTimeoutMs ?? 30_000, throwOnRequestTimeout: true },
    // The SDK retries throttling and 5xx with backoff; the replicator's own loops retry beyond that.
    maxAttempts: 5,
  };
}

export function awsSource(options: SourceOptions): SourceApi {
  const config = clientConfig(options);
  const db = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  return {
    async describeTable(table) {
      const out = await db.send(new DescribeTableCommand({ TableName: table }));
      return out.Table!;
    },
    async scan(table, segment, totalSegments, startKey, limit) {
      const out = await db.send(
        new ScanCommand({
          TableName: table,
          Segment: totalSegments > 1 ? segment : undefined,
          TotalSegments: totalSegments > 1 ? totalSegments : undefined,
          ExclusiveStartKey: startKey as never,
          Limit: limit,
        }),
      );
      return { items: (out.Items ?? []).map((i) => fromSdkItem(i)), lastKey: out.LastEvaluatedKey as Record<string, unknown> | undefined };
    },
    async getItem(table, key) {
      const out = await db.send(new GetItemCommand({ TableName: table, Key: toSdkItem(key), ConsistentRead: true }));
      return out.Item ? fromSdkItem(out.Item) : undefined;
    },
    streams: {
      async describeStream(streamArn) {
        const shards: ShardInfo[] = [];
        let start: string | undefined;
        let status = '';
        let viewType: string | undefined;
        do {
          const out = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
          const d = out.StreamDescription!;
          status = d.StreamStatus ?? '';
          viewType = d.StreamViewType;
          for (const s of d.Shards ?? []) {
            shards.push({ id: s.ShardId!, parent: s.ParentShardId, endingSequenceNumber: s.SequenceNumberRange?.EndingSequenceNumber });
          }
          start = d.LastEvaluatedShardId;
        } while (start);
        return { status, viewType, shards };
      },
      async getShardIterator(streamArn, shardId, after) {
        const out = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
            SequenceNumber: after,
          }),
        );
        return out.ShardIterator!;
      },
      async getRecords(iterator, limit) {
        const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
        const records: StreamRecord[] = (out.Records ?? []).map((r) => {
          const d = r.dynamodb!;
          return {
            eventName: String(r.eventName ?? ''),
            sequenceNumber: d.SequenceNumber!,
            approximateCreation: d.ApproximateCreationDateTime ? d.ApproximateCreationDateTime.getTime() : 0,
            keys: fromSdkItem(d.Keys ?? {}),
            newImage: d.NewImage ? fromSdkItem(d.NewImage) : undefined,
            ...(r.userIdentity?.PrincipalId === REPLICATOR_PRINCIPAL ? { replicated: true } : {}),
          };
        });
        return { records, next: out.NextShardIterator ?? undefined };
      },
    },
    close() {
      db.destroy();
      streams.destroy();
    },
  };
}

