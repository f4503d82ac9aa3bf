// Crash safety: a `serve` process is SIGKILLed in the middle of a transaction (at a delay point
// that only tests enable: DC_TEST_TRANSACTION_PAUSE), once with its intents placed but nothing
// decided, once just after the commit decision. Another server then sees all or none of the
// transaction, and its sweeper clears every intent within a bounded time, indexes included.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand, TransactGetItemsCommand, TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { Catalog } from '../../src/storage/catalog.js';
import { freePort, serveArgs, spawnServe, waitForOutput, waitServing, type ServeProcess } from '../helpers/serve-process.js';
import { sdkClient, startTestServer, type TestServer } from '../helpers/server.js';

const KEYSPACE = 't_tx_crash';
const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

/** A serve process that stops for a minute at `phase` of every transaction. */
async function pausingServer(phase: 'locked' | 'committed'): Promise<ServeProcess & { endpoint: string }> {
  const port = await freePort();
  const serve = spawnServe(serveArgs(port, KEYSPACE, '--log-level', 'warn'), { env: { ...process.env, DC_TEST_TRANSACTION_PAUSE: `${phase}:60000` } });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitServing(endpoint, serve, 30_000);
  return { ...serve, endpoint };
}

describe('a server killed in the middle of a transaction', () => {
  let survivor: TestServer;
  before(async () => {
    survivor = await startTestServer(KEYSPACE);
    // One table per translator, so that one transaction spans both layouts; each with a GSI.
    for (const translator of ['document', 'cells']) {
      await survivor.client.send(
        new CreateTableCommand({
          TableName: `crash-${translator}`,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          GlobalSecondaryIndexes: [{ IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
          Tags: [{ Key: 'dynamo-cassandra:translator', Value: translator }],
        }),
      );
    }
  });
  after(async () => {
    await survivor?.close();
  });

  const tables = ['crash-document', 'crash-cells'];
  const read = async (table: string, pk: string) =>
    (await survivor.client.send(new GetItemCommand({ TableName: table, Key: { pk: S(pk) }, ConsistentRead: true }))).Item;
  /** The raw intent column of an item's row (null when no transaction holds it). */
  const intentOf = async (table: string, pk: string) => {
    const entry = (await new Catalog(survivor.server.session).get(table))!;
    const row = (await survivor.server.session.client.execute(`SELECT tx FROM "${KEYSPACE}"."${entry.layout.cqlTable}" WHERE pk = ?`, [pk])).first();
    return row?.get('tx') as string | null | undefined;
  };

  for (const phase of ['locked', 'committed'] as const) {
    test(`killed with ${phase === 'locked' ? 'its intents placed, undecided' : 'the commit decided, not applied'}: ${phase === 'locked' ? 'none' : 'all'} of it is visible`, async () => {
      const pk = `acct-${phase}`;
      for (const t of tables) await survivor.client.send(new PutItemCommand({ TableName: t, Item: { pk: S(pk), balance: N(100), g: S(`old-${phase}`) } }));
      const server = await pausingServer(phase);
      const client = sdkClient(server.endpoint);
      try {
        const sent = client
          .send(
            new TransactWriteItemsCommand({
              TransactItems: tables.map((t, i) => ({
                Update: {
                  TableName: t,
                  Key: { pk: S(pk) },
                  UpdateExpression: 'SET balance = balance + :x, g = :g',
                  ExpressionAttributeValues: { ':x': N(i === 0 ? -30 : 30), ':g': S(`new-${phase}`) },
                },
              })),
            }),
          )
          .catch((e: Error) => e);
        await waitForOutput(server, 'test pause: transaction', 30_000);
        server.child.kill('SIGKILL');
        await sent;
      } finally {
        client.destroy();
        if (server.child.exitCode === null) server.child.kill('SIGKILL');
      }
      // The kill left the intents on both rows.
      for (const t of tables) assert.ok(await intentOf(t, pk), `${t} holds an intent after the kill`);
      const expected = phase === 'committed' ? [70, 130] : [100, 100];
      const g = phase === 'committed' ? `new-${phase}` : `old-${phase}`;
      // At once, before anything is repaired: all or none, for GetItem and TransactGetItems alike.
      for (const [i, t] of tables.entries()) assert.equal((await read(t, pk))?.balance.N, String(expected[i]), `${t} right after the kill`);
      const snap = await survivor.client.send(new TransactGetItemsCommand({ TransactItems: tables.map((t) => ({ Get: { TableName: t, Key: { pk: S(pk) } } })) }));
      assert.deepEqual(snap.Responses?.map((r) => r.Item?.balance.N), expected.map(String));
      // The sweeper clears the intents within a bounded time (lock timeout, grace, one round).
      const started = Date.now();
      for (;;) {
        const held = await Promise.all(tables.map((t) => intentOf(t, pk)));
        if (held.every((tx) => tx === null)) break;
        assert.ok(Date.now() - started < 40_000, 'intents still on the rows after 40 s');
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const [i, t] of tables.entries()) {
        assert.equal((await read(t, pk))?.balance.N, String(expected[i]), `${t} after the sweep`);
        // The index agrees with the table.
        const q = await survivor.client.send(new QueryCommand({ TableName: t, IndexName: 'by-g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': S(g) } }));
        assert.deepEqual(q.Items?.map((item) => item.balance.N), [String(expected[i])], `${t} index`);
      }
      // And the items take ordinary writes again.
      for (const t of tables) await survivor.client.send(new PutItemCommand({ TableName: t, Item: { pk: S(pk), balance: N(1) } }));
    });
  }
});
