// A target behind any DynamoDB-API endpoint: Amazon DynamoDB, DynamoDB Local, or another
// dynamo-cassandra. The table is created from the source's description (with its stream, so the
// other direction can be replicated too), snapshot items are conditional PutItems, stream records
// become PutItem of the new image or DeleteItem. Every request carries REPLICATOR_HEADER, so a
// dynamo-cassandra target marks the stream records of these writes (the loop guard).
//
// What keeps an older image from landing after a newer one, without Cassandra's write timestamps:
// - snapshot writes never overwrite (attribute_not_exists of the partition key): a snapshot page
//   written late (by a replicator that lost its lease) cannot undo a put of the stream tail. Any
//   item it does not write is brought to its latest state by the tail, which replays every change
//   made since before the snapshot began;
// - the tail applies each shard in order, parents before children, and of a batch only each
//   item's last record; a replay from an older checkpoint passes through older images but ends
//   at the latest (every record carries the whole item), so replays converge;
// - writes go out only under a valid lease, and the SDK does not retry them (the replicator does,
//   under the lease). What remains: a request the target server still holds when the lease has
//   passed to another replicator (it lands later than the client's 10 s timeout) may overwrite that
//   item's newer state until the item's next change.
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand, ScanCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import type { Config } from '../config.js';
import type { Item, KeySchema } from '../dynamo/types.js';
import { keyOf } from '../storage/translator.js';
import { REPLICATOR_HEADER } from '../streams/model.js';
import { forEachLimit, kindOf, latestChanges } from './apply.js';
import { ReplicationError, TargetDeleted } from './errors.js';
import { toSdkItem } from './items.js';
import { sleep } from './leases.js';
import type { ReplicaTarget, ReplicaWriter, TargetOpener } from './replica-target.js';
import { clientConfig, errorName, type SourceOptions } from './source.js';
import { createRequestOf } from './target.js';

/** The key schema of a table description. */
export function keySchemaOf(desc: TableDescription): KeySchema {
  const attr = (type: string) => {
    const k = desc.KeySchema?.find((e) => e.KeyType === type);
    if (!k) return undefined;
    const t = desc.AttributeDefinitions?.find((d) => d.AttributeName === k.AttributeName)?.AttributeType;
    return { name: k.AttributeName!, type: t as 'S' | 'N' | 'B' };
  };
  const hash = attr('HASH');
  if (!hash) throw new ReplicationError(`table ${desc.TableName} has no partition key in its description`);
  const range = attr('RANGE');
  return range ? { hash, range } : { hash };
}

const schemaText = (s: KeySchema) => `${s.hash.name}:${s.hash.type}` + (s.range ? `,${s.range.name}:${s.range.type}` : '');

/** What identifies one incarnation of a table (TableId where the endpoint gives one). */
const incarnation = (d: TableDescription) => d.TableId ?? `${d.TableArn}@${d.CreationDateTime?.getTime()}`;

/** A DynamoDB client whose every request carries the replicator header. */
export function replicatorClient(o: SourceOptions): DynamoDBClient {
  // No SDK retries: the replicator retries a write itself, under its lease.
  const client = new DynamoDBClient({ ...clientConfig(o), maxAttempts: 1 });
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[REPLICATOR_HEADER] = '1';
      return next(args);
    },
    { step: 'build', name: 'replicatorHeader' },
  );
  return client;
}

export interface ApiTargetOptions extends SourceOptions {
  /** Copy the source's stream specification onto a target table this replicator creates (default true). */
  withStream?: boolean;
}

/** Targets behind a DynamoDB-API endpoint; `close` ends the client. */
export function apiTarget(o: ApiTargetOptions): { open: TargetOpener; client: DynamoDBClient; scope: string; close(): void } {
  // A write abandoned (and retried by the replicator, under its lease) after this long.
  const client = replicatorClient({ ...o, requestTimeoutMs: o.requestTimeoutMs ?? 10_000 });
  const describe = async (name: string): Promise<TableDescription | undefined> => {
    try {
      return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') return undefined;
      throw e;
    }
  };
  const open: TargetOpener = async (source, name) => {
    let created = false;
    let desc: TableDescription | undefined;
    for (const deadline = Date.now() + 120_000; ; ) {
      desc = await describe(name);
      const status = desc?.TableStatus;
      if (desc && (status === 'ACTIVE' || status === 'UPDATING')) break;
      if (Date.now() > deadline) throw new ReplicationError(`target table ${name} stays in status ${status ?? 'absent'}`);
      if (!desc) created = await create(source, name);
      else await sleep(200);
    }
    const ours = keySchemaOf(desc);
    const theirs = keySchemaOf(source);
    if (schemaText(ours) !== schemaText(theirs)) {
      throw new ReplicationError(`target table ${name} exists with key schema ${schemaText(ours)}, but the source ${source.TableName} has ${schemaText(theirs)}`);
    }
    return new ApiTable(client, name, ours, incarnation(desc), created);
  };
  /** Creates the table; false when someone else created it a moment ago. */
  const create = async (source: TableDescription, name: string): Promise<boolean> => {
    const hasIndexes = (source.GlobalSecondaryIndexes?.length ?? 0) + (source.LocalSecondaryIndexes?.length ?? 0) > 0;
    const request = createRequestOf(source, name, 'only_rmw', hasIndexes);
    delete request.Tags; // our storage choice means nothing to another endpoint
    const stream = source.StreamSpecification;
    if (o.withStream !== false && stream?.StreamEnabled) request.StreamSpecification = { StreamEnabled: true, StreamViewType: stream.StreamViewType };
    try {
      await client.send(new CreateTableCommand(request as never));
      return true;
    } catch (e) {
      if (errorName(e) === 'ResourceInUseException') return false;
      throw e;
    }
  };
  return { open, client, scope: scopeOf(o), close: () => client.destroy() };
}

class ApiTable implements ReplicaTarget {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly name: string,
    private readonly schema: KeySchema,
    readonly id: string,
    readonly created: boolean,
  ) {}

  async isEmpty(): Promise<boolean> {
    // A Limit 1 page may be empty while items follow (DynamoDB stops at the limit of items read).
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(new ScanCommand({ TableName: this.name, Limit: 1, ExclusiveStartKey: start as never }));
      if ((out.Items?.length ?? 0) > 0) return false;
      start = out.LastEvaluatedKey;
    } while (start);
    return true;
  }

  async truncate(): Promise<void> {
    const names = [this.schema.hash.name, ...(this.schema.range ? [this.schema.range.name] : [])];
    const projection = names.map((_, i) => `#k${i}`).join(', ');
    const attributeNames = Object.fromEntries(names.map((n, i) => [`#k${i}`, n]));
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({ TableName: this.name, ProjectionExpression: projection, ExpressionAttributeNames: attributeNames, ExclusiveStartKey: start as never }),
      );
      const keys = out.Items ?? [];
      for (let i = 0; i < keys.length; i += 25) {
        let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
        for (let attempt = 0; requests.length; attempt++) {
          const res = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.name]: requests } }));
          requests = (res.UnprocessedItems?.[this.name] ?? []) as typeof requests;
          if (requests.length) await sleep(Math.min(5000, 50 * 2 ** attempt));
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async check(): Promise<void> {
    let desc: TableDescription | undefined;
    try {
      desc = (await this.client.send(new DescribeTableCommand({ TableName: this.name }))).Table;
    } catch (e) {
      if (errorName(e) !== 'ResourceNotFoundException') throw e;
    }
    if (!desc || incarnation(desc) !== this.id || desc.TableStatus === 'DELETING') throw new TargetDeleted(this.name);
  }

  writer(concurrency: number): ReplicaWriter {
    const { client, name, schema } = this;
    const hashName = { '#h': schema.hash.name };
    /** A failed write: the table gone ends this copy; a request the target refuses needs the user. */
    const failed = async (e: unknown): Promise<never> => {
      const code = errorName(e);
      if (code === 'ResourceNotFoundException') await this.check();
      if (code === 'ValidationException') throw new ReplicationError(`the target endpoint refuses a write into ${name}: ${(e as Error).message}`);
      throw e;
    };
    const put = (item: Item) => client.send(new PutItemCommand({ TableName: name, Item: toSdkItem(item) })).catch(failed);
    return {
      async putItems(items, _writtenAt, check) {
        await forEachLimit(items, concurrency, async (item) => {
          check?.();
          await client
            .send(new PutItemCommand({ TableName: name, Item: toSdkItem(item), ConditionExpression: 'attribute_not_exists(#h)', ExpressionAttributeNames: hashName }))
            .catch((e: unknown) => (errorName(e) === 'ConditionalCheckFailedException' ? undefined : failed(e)));
        });
      },
      async applyRecords(records, skipBefore, check) {
        const { result, writes } = latestChanges(records, skipBefore, schema);
        await forEachLimit(writes, concurrency, async (r) => {
          check?.();
          if (kindOf(r) === 'put') await put(r.newImage!);
          else await client.send(new DeleteItemCommand({ TableName: name, Key: toSdkItem(keyOf(r.keys, schema)) })).catch(failed);
        });
        return result;
      },
    };
  }
}

/**
 * The prefix of the targets' names in the replication state: replicators sharing a keyspace may
 * write tables of the same name to several places (both directions of a two-way setup do).
 */
export function scopeOf(o: SourceOptions): string {
  return `${o.endpoint ?? `aws:${o.region ?? 'default'}`} `;
}

/** Whether the configuration sends the replicas to a DynamoDB-API endpoint rather than Cassandra. */
export function usesApiTarget(config: Config): boolean {
  return config.replicateTarget === 'dynamodb' || config.replicateTargetEndpoint !== undefined;
}

/** Where the configuration says the target endpoint is. */
export function targetEndpointOf(config: Config): SourceOptions {
  return { endpoint: config.replicateTargetEndpoint, region: config.replicateTargetRegion ?? config.replicateRegion };
}
