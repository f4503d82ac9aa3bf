// Crash safety: a `serve` process is SIGKILLed in the middle of a transaction (at a delay point
// that only tests enable: DC_TEST_TRANSACTION_PAUSE), once with its intents placed but nothing
// decided, once just after the commit decision. Another server then sees all or none of the
// transaction, and its sweeper clears every intent within a bounded time, indexes included.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand, TransactGetItemsCommand, TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { TransactionRecords } from '../../src/storage/transactions/records.js';
import { withStatementHooks } from '../helpers/intercept.js';
import { freePort, serveArgs, spawnServe, waitForOutput, waitServing, type ServeProcess } from '../helpers/serve-process.js';
import { createPkTable, rawIntent, sdkClient, startTestServer, type TestServer } from '../helpers/server.js';

const KEYSPACE = 't_tx_crash';
const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

/** A serve process that stops for a minute at `phase` of every transaction. */
async function pausingServer(phase: 'locked' | 'committed', keyspace = KEYSPACE): Promise<ServeProcess & { endpoint: string }> {
  const port = await freePort();
  const serve = spawnServe(serveArgs(port, keyspace, '--log-level', 'warn'), { env: { ...process.env, DC_TEST_TRANSACTION_PAUSE: `${phase}:60000` } });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitServing(endpoint, serve, 30_000);
  return { ...serve, endpoint };
}

/** A transfer of 30 between `pk` in both tables, under the token when one is given. */
const transfer = (phase: string, tables: string[], pk: string, token?: string) =>
  new TransactWriteItemsCommand({
    TransactItems: tables.map((t, i) => ({
      Update: {
        TableName: t,
        Key: { pk: S(pk) },
        UpdateExpression: 'SET balance = balance + :x, g = :g',
        ExpressionAttributeValues: { ':x': N(i === 0 ? -30 : 30), ':g': S(`new-${phase}`) },
      },
    })),
    ...(token && { ClientRequestToken: token }),
  });

/** Runs a transfer of 30 between `pk` in both tables on a server that is killed at `phase` of it. */
async function killedTransfer(phase: 'locked' | 'committed', keyspace: string, tables: string[], pk: string, token?: string): Promise<void> {
  const server = await pausingServer(phase, keyspace);
  const client = sdkClient(server.endpoint);
  try {
    const sent = client.send(transfer(phase, tables, pk, token)).catch((e: Error) => e);
    await waitForOutput(server, 'test pause: transaction', 30_000);
    server.child.kill('SIGKILL');
    await sent;
  } finally {
    client.destroy();
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
  }
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
  const intentOf = (table: string, pk: string) => rawIntent(survivor, table, pk);

  for (const phase of ['locked', 'committed'] as const) {
    test(`killed with ${phase === 'locked' ? 'its intents placed, undecided' : 'the commit decided, not applied'}: ${phase === 'locked' ? 'none' : 'all'} of it is visible`, async () => {
      const pk = `acct-${phase}`;
      for (const t of tables) await survivor.client.send(new PutItemCommand({ TableName: t, Item: { pk: S(pk), balance: N(100), g: S(`old-${phase}`) } }));
      await killedTransfer(phase, KEYSPACE, tables, pk);
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

describe('the transaction sweeper (--transaction-sweep-ms)', () => {
  const keyspace = 't_tx_sweeper';
  const LOCK_TIMEOUT_MS = 1500;
  const SWEEP_MS = 400;
  const tables = ['sweep-a', 'sweep-b'];
  let t: TestServer;
  before(async () => {
    t = await startTestServer(keyspace, { transactionLockTimeoutMs: LOCK_TIMEOUT_MS, transactionSweepMs: SWEEP_MS });
    for (const table of tables) await createPkTable(t.client, table);
  });
  after(async () => {
    await t?.close();
  });

  for (const phase of ['locked', 'committed'] as const) {
    test(`settles a transaction killed ${phase === 'locked' ? 'undecided (rolled back)' : 'after its commit (rolled forward)'} with nobody touching its items`, async () => {
      const pk = `sweep-${phase}`;
      for (const table of tables) await t.client.send(new PutItemCommand({ TableName: table, Item: { pk: S(pk), balance: N(100), g: S('old') } }));
      const killedAt = Date.now();
      await killedTransfer(phase, keyspace, tables, pk);
      const started = TransactionRecords.startOf(JSON.parse((await rawIntent(t, tables[0]!, pk))!).id as string);
      // From here on only raw CQL looks at the rows: no GetItem, write or TransactGetItems settles them.
      const held = async () => (await Promise.all(tables.map((table) => rawIntent(t, table, pk)))).filter((x) => x).length;
      assert.equal(await held(), 2, 'both intents placed');
      // The sweeper leaves a transaction alone until it is twice the lock timeout old...
      const young = started + 2 * LOCK_TIMEOUT_MS - 300;
      if (Date.now() < young) {
        await new Promise((r) => setTimeout(r, young - Date.now()));
        assert.equal(await held(), 2, 'intents of a transaction younger than twice the lock timeout stay');
      }
      // ...and settles it within one sweep period after that (plus the time a loaded machine takes).
      const deadline = started + 2 * LOCK_TIMEOUT_MS + SWEEP_MS + 8_000;
      while ((await held()) > 0) {
        assert.ok(Date.now() < deadline, `intents still held ${Date.now() - started} ms after the transaction began`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const settledAfter = Date.now() - started;
      assert.ok(settledAfter >= 2 * LOCK_TIMEOUT_MS, `settled after ${settledAfter} ms, before twice the lock timeout`);
      process.stderr.write(`# ${phase}: settled by the sweeper ${settledAfter} ms after the transaction began (${Date.now() - killedAt} ms after the kill started)\n`);
      // The decision stands: rolled back without a commit, forward with one; the log row is gone.
      const expected = phase === 'committed' ? ['70', '130'] : ['100', '100'];
      const items = await Promise.all(tables.map(async (table) => (await t.client.send(new GetItemCommand({ TableName: table, Key: { pk: S(pk) }, ConsistentRead: true }))).Item));
      assert.deepEqual(items.map((i) => i?.balance.N), expected);
      // The sweeper removes the log row after it has settled the items: give it a moment.
      const buckets = [TransactionRecords.slotOf(started), TransactionRecords.slotOf(started) + 1];
      const logged = async () => (await Promise.all(buckets.map((b) => t.server.store.transactions.records.logged(b)))).flat().filter((l) => l.items.some((i) => (i.key.pk as { S?: string }).S === pk));
      const unlogBy = Date.now() + 5_000;
      while ((await logged()).length > 0 && Date.now() < unlogBy) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await logged(), []);
    });
  }
  for (const phase of ['locked', 'committed'] as const) {
    test(`the request sent again with its ClientRequestToken after its server was killed ${phase === 'locked' ? 'undecided: it runs anew' : 'after the commit: success, not applied again'}`, async () => {
      const pk = `token-${phase}`;
      const token = `crash-token-${phase}`;
      for (const table of tables) await t.client.send(new PutItemCommand({ TableName: table, Item: { pk: S(pk), balance: N(100), g: S('old') } }));
      await killedTransfer(phase, keyspace, tables, pk, token);
      // While the dead transaction's intents are young, its copy is told it is in progress; a copy
      // that ran past this server's short lock timeout on a loaded machine is cancelled with a
      // conflict, which clients retry too.
      const send = async () => {
        const outcomes: string[] = [];
        for (const started = Date.now(); ; ) {
          const outcome = await t.client.send(transfer(phase, tables, pk, token)).then(() => 'ok', (e: Error & { CancellationReasons?: { Code: string }[] }) =>
            e.name === 'TransactionCanceledException' ? `${e.name} ${e.CancellationReasons?.map((r) => r.Code).join('/')}` : e.name,
          );
          outcomes.push(outcome);
          if (outcome === 'ok') return outcomes;
          assert.ok(/^(TransactionInProgressException|TransactionCanceledException (TransactionConflict|None)(\/(TransactionConflict|None))*)$/.test(outcome), outcome);
          assert.ok(Date.now() - started < 20_000, `no success after 20 s: ${outcomes.join(', ')}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      process.stderr.write(`# resent after the kill (${phase}): ${(await send()).join(', ')}\n`);
      // Applied exactly once: by the killed server's commit, or by the copy after an abort.
      const items = await Promise.all(tables.map(async (table) => (await t.client.send(new GetItemCommand({ TableName: table, Key: { pk: S(pk) }, ConsistentRead: true }))).Item));
      assert.deepEqual(items.map((i) => i?.balance.N), ['70', '130']);
      // And once more, now that every intent is gone: still a replay.
      await send();
      const again = await Promise.all(tables.map(async (table) => (await t.client.send(new GetItemCommand({ TableName: table, Key: { pk: S(pk) }, ConsistentRead: true }))).Item));
      assert.deepEqual(again.map((i) => i?.balance.N), ['70', '130']);
    });
  }
  test('reads each slot of the log once, not the whole lookback on every sweep', async () => {
    const reads = new Map<string, number>();
    const hooks = {
      execute(query: string, params: unknown[]) {
        if (/^SELECT id, items FROM \S+"dc_transaction_log"/.test(query)) reads.set(String(params[0]), (reads.get(String(params[0])) ?? 0) + 1);
        return undefined;
      },
    };
    await withStatementHooks(t.server.session.client, hooks, async () => {
      // Transactions keep the log busy meanwhile, so that its slots hold rows (and then tombstones).
      const until = Date.now() + 12 * SWEEP_MS;
      for (let i = 0; Date.now() < until; i++) {
        await t.client.send(new TransactWriteItemsCommand({ TransactItems: tables.map((table) => ({ Put: { TableName: table, Item: { pk: S(`slots-${i}`) } } })) }));
      }
    });
    assert.ok(reads.size > 0, 'the sweeper read the log');
    const twice = [...reads].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'slots read more than once');
  });
});
