// Test fixtures: a real server (HTTP on a free port) over the shared test Cassandra node, with its
// own keyspace, and AWS SDK v3 clients pointed at it.
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { defaultConfig, type Config, type TranslatorName } from '../../src/config.js';
import { startServer, type Server } from '../../src/server.js';
import { Catalog } from '../../src/storage/catalog.js';

export const TEST_TRANSLATORS: TranslatorName[] = (process.env.DC_TEST_TRANSLATORS?.split(',') as TranslatorName[]) ?? [
  'document',
  'cells',
];

export function contactPoints(): string[] {
  const points = process.env.DC_TEST_CONTACT_POINTS;
  if (!points) throw new Error('DC_TEST_CONTACT_POINTS is not set: run the tests with `npm test`');
  return points.split(',');
}

export interface TestServer {
  server: Server;
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  config: Config;
  close(): Promise<void>;
}

export function sdkClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

/** A server with its own keyspace; `keyspace` must be unique per test file and translator. */
export async function startTestServer(keyspace: string, overrides: Partial<Config> = {}): Promise<TestServer> {
  const config: Config = {
    ...defaultConfig(),
    contactPoints: contactPoints(),
    localDc: process.env.DC_TEST_LOCAL_DC ?? 'datacenter1',
    keyspace,
    port: 0,
    logLevel: 'warn',
    ...overrides,
  };
  const server = await startServer(config, config.contactPoints);
  const endpoint = `http://127.0.0.1:${server.port}`;
  const client = sdkClient(endpoint);
  const doc = DynamoDBDocumentClient.from(client);
  return {
    server,
    endpoint,
    client,
    doc,
    config,
    async close() {
      client.destroy();
      // A sweep running while the keyspace goes would log its failure.
      await server.stopBackground();
      await server.session.client.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`);
      await server.close();
    },
  };
}

/** Sends a raw JSON request, for shapes the SDK would refuse to build. */
export async function rawRequest(
  endpoint: string,
  action: string,
  body: string | object,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${action}`,
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

/** Runs fn and returns the error it throws (failing if it does not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<Error & { name: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { name: string };
  }
  throw new Error('expected an error, but the call succeeded');
}

/** Creates an on-demand table keyed by a string hash key and a sort key of the given type. */
export async function createSortedTable(client: DynamoDBClient, name: string, sortType: 'S' | 'N' | 'B', hash = 'pk', sort = 'sk'): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: hash, KeyType: 'HASH' }, { AttributeName: sort, KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: hash, AttributeType: 'S' }, { AttributeName: sort, AttributeType: sortType }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** Creates an on-demand table keyed by a string hash key `pk`, the shape most tests use. */
export async function createPkTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

/** The raw intent column of an item's row (null when no transaction holds it), read past every reader's logic. */
export async function rawIntent(t: TestServer, table: string, pk: string): Promise<string | null | undefined> {
  const entry = (await new Catalog(t.server.session).get(table))!;
  const row = (await t.server.session.client.execute(`SELECT tx FROM "${t.config.keyspace}"."${entry.layout.cqlTable}" WHERE pk = ?`, [pk])).first();
  return row?.get('tx') as string | null | undefined;
}
