// Fixtures of the replication tests: DynamoDB Local as the source (with SDK clients), our server
// over the shared test Cassandra as the target, in-process replicators and `replicate` processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { translators } from '../../translators/index.js';
import { Catalog } from '../../src/storage/catalog.js';
import { ItemStore } from '../../src/storage/item-store.js';
import type { ReplicationContext } from '../../src/replication/process.js';
import { storageServices } from '../../src/storage/services.js';
import { createReplicationMetrics } from '../../src/replication/metrics.js';
import { Replicator, type ReplicatorOptions } from '../../src/replication/replicator.js';
import { awsSource, type SourceApi } from '../../src/replication/source.js';
import { verify, type VerifyReport } from '../../src/replication/verify.js';
import { startDynamoDBLocal, type DynamoDBLocal } from '../helpers/dynamodb-local.js';
import { contactPoints, startTestServer, type TestServer } from '../helpers/server.js';

export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface Env {
  local: DynamoDBLocal;
  /** Writes to the source. */
  db: DynamoDBClient;
  source: SourceApi;
  server: TestServer;
  ctx: ReplicationContext;
  close(): Promise<void>;
}

export async function startEnv(keyspace: string, translator: 'document' | 'cells' = 'document'): Promise<Env> {
  await dropKeyspace(keyspace);
  const [local, server] = await Promise.all([startSource(keyspace), startTestServer(keyspace, { translator })]);
  const db = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  const source = awsSource({ endpoint: local.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  const session = server.server.session;
  const catalog = new Catalog(session);
  await catalog.init();
  const ctx = storageServices({ config: server.config, session, catalog, store: new ItemStore(session), translators });
  return {
    local,
    db,
    source,
    server,
    ctx,
    async close() {
      db.destroy();
      source.close();
      await server.close();
      await local.stop();
    },
  };
}

/**
 * The source of the replication tests: DynamoDB Local, or with DC_TEST_REPLICATION_SOURCE=self
 * another server of ours (its own keyspace), whose Streams API the replicator then reads.
 */
async function startSource(keyspace: string): Promise<DynamoDBLocal> {
  if (process.env.DC_TEST_REPLICATION_SOURCE !== 'self') return startDynamoDBLocal();
  const source = await startTestServer(`${keyspace}_source`);
  return { endpoint: source.endpoint, stop: () => source.close() };
}

export async function createSourceTable(
  db: DynamoDBClient,
  name: string,
  o: { range?: boolean; view?: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' | 'OLD_IMAGE' | null } = {},
): Promise<void> {
  const view = o.view === undefined ? 'NEW_AND_OLD_IMAGES' : o.view;
  await db.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        ...(o.range ? [{ AttributeName: 'sk', AttributeType: 'N' as const }] : []),
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(o.range ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : [])],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: view ? { StreamEnabled: true, StreamViewType: view } : undefined,
    }),
  );
}

/** An item of every attribute type, varied by i. */
export function richItem(i: number, range = false): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    pk: { S: `user-${i % 97}-${i}` },
    s: { S: `name ${i} ✓ ünïcødé 🚀` },
    n: { N: String(i * 7 - 300) },
    big: { N: '12345678901234567890123456789012345678' },
    frac: { N: `-0.000${i + 1}e-5` },
    b: { B: Buffer.from([i % 256, 0, 255, (i * 13) % 256]) },
    t: { BOOL: i % 2 === 0 },
    z: { NULL: true },
    m: { M: { a: { S: 'x' }, n: { M: { deep: { L: [{ N: String(i) }, { S: '' }] } } } } },
    l: { L: [{ S: 'a' }, { N: '1.50' }, { BOOL: false }, { NULL: true }, { M: {} }, { L: [] }] },
    ss: { SS: ['b', 'a', `c${i}`] },
    ns: { NS: ['3', '1.5', String(i + 10)] },
    bs: { BS: [Buffer.from([1]), Buffer.from([2, i % 256])] },
    empty: { S: '' },
    emptyB: { B: new Uint8Array(0) },
    pad: { S: 'x'.repeat(i % 300) },
  };
  if (range) item.sk = { N: String(i % 5) };
  return item;
}

/** Puts richItem(0..n-1) into the source, 25 at a time, four batches at once. */
export async function fill(db: DynamoDBClient, table: string, n: number, range = false): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let i = next; i < n; i = next) {
      next += 25;
      const items = Array.from({ length: Math.min(25, n - i) }, (_, j) => ({ PutRequest: { Item: richItem(i + j, range) } }));
      await db.send(new BatchWriteItemCommand({ RequestItems: { [table]: items } }));
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

/** Random puts, updates and deletes over keys 0..keys-1 until stop() is called. */
export function startWriters(db: DynamoDBClient, table: string, keys: number, loops = 2, range = false): { stop(): Promise<number>; ops(): number } {
  let stopped = false;
  let ops = 0;
  const key = (i: number): Record<string, AttributeValue> => {
    const item = richItem(i, range);
    return range ? { pk: item.pk!, sk: item.sk! } : { pk: item.pk! };
  };
  const run = async () => {
    while (!stopped) {
      const i = Math.floor(Math.random() * keys);
      const choice = Math.random();
      try {
        if (choice < 0.5) {
          await db.send(new PutItemCommand({ TableName: table, Item: { ...richItem(i, range), v: { N: String(ops) } } }));
        } else if (choice < 0.8) {
          await db.send(
            new UpdateItemCommand({
              TableName: table,
              Key: key(i),
              UpdateExpression: 'SET v = :v, touched = :t ADD cnt :one',
              ExpressionAttributeValues: { ':v': { N: String(ops) }, ':t': { S: new Date().toISOString() }, ':one': { N: '1' } },
            }),
          );
        } else {
          await db.send(new DeleteItemCommand({ TableName: table, Key: key(i) }));
        }
        ops++;
      } catch {
        /* DynamoDB Local under load: ignore and go on */
      }
    }
  };
  const runs = Array.from({ length: loops }, run);
  return {
    async stop() {
      stopped = true;
      await Promise.all(runs);
      return ops;
    },
    ops: () => ops,
  };
}

export function replicator(env: Env, o: Partial<ReplicatorOptions> & { tables: ReplicatorOptions['tables'] }): Replicator {
  return new Replicator({
    ctx: env.ctx,
    source: env.source,
    metrics: createReplicationMetrics(),
    log: (line) => process.env.DC_TEST_VERBOSE && process.stderr.write(`[replicator] ${line}\n`),
    segments: 4,
    leaseMs: 3000,
    pollMs: 100,
    ...o,
  });
}

/** Polls verify until source and target are identical, or fails with the last report. */
export async function waitIdentical(env: Env, source: string, target = source, timeoutMs = 60_000): Promise<VerifyReport> {
  const deadline = Date.now() + timeoutMs;
  let last: VerifyReport | undefined;
  for (;;) {
    last = await verify({ ctx: env.ctx, source: env.source, sourceTable: source, target, segments: 2, buckets: 256 }).catch(
      (e) => {
        // The replicator has not created the target yet.
        if (/does not exist/.test((e as Error).message)) return undefined;
        throw e;
      },
    );
    if (last?.identical) return last;
    if (Date.now() > deadline) throw new Error(`not identical after ${timeoutMs} ms: ${JSON.stringify(last, null, 1)?.slice(0, 3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli.js');

export interface CliProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number>;
}

/** Runs `dynamo-cassandra <args>` as its own process against the test Cassandra and keyspace. */
export function runCli(args: string[], env: Env): CliProcess {
  const child = spawn(
    process.execPath,
    [cli, ...args, '--contact-points', contactPoints().join(','), '--keyspace', env.server.config.keyspace, '--local-dc', env.server.config.localDc],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
        NODE_NO_WARNINGS: '1',
      },
    },
  );
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
    if (process.env.DC_TEST_VERBOSE) process.stderr.write(d);
  });
  child.stderr!.on('data', (d) => {
    out += d;
    if (process.env.DC_TEST_VERBOSE) process.stderr.write(d);
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return { child, output: () => out, exited };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Drops a keyspace left over by an interrupted run, so every run starts clean. */
export async function dropKeyspace(keyspace: string): Promise<void> {
  const cassandra = (await import('cassandra-driver')).default;
  const points = contactPoints();
  const m = /^(.*):(\d+)$/.exec(points[0]!);
  const client = new cassandra.Client({
    contactPoints: points.map((p) => p.replace(/:\d+$/, '')),
    protocolOptions: { port: m ? Number(m[2]) : 9042 },
    localDataCenter: process.env.DC_TEST_LOCAL_DC ?? 'datacenter1',
  });
  try {
    await client.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`);
  } finally {
    await client.shutdown();
  }
}
