// What one request sends to Cassandra: every statement the server's driver client runs while a
// conditional PutItem or a TransactWriteItems is served, counted by kind (lightweight transaction,
// serial read, quorum/one read, plain write). Guards the transaction protocol's cost (README
// "Transactions", Cost) against regressions: a step added or a read repeated shows here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PutItemCommand, QueryCommand, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import { TransactionRecords } from '../../src/storage/transactions/records.js';
import { withStatementHooks } from '../helpers/intercept.js';
import { TEST_TRANSLATORS, createPkTable, createSortedTable, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

interface StatementCounts {
  lwt: number;
  serialRead: number;
  read: number;
  write: number;
}

type Options = { consistency?: number } | undefined;

/** Counts the statements `client` runs while `work` runs (nothing else may use the client meanwhile). */
async function counted(client: cassandra.Client, work: () => Promise<unknown>): Promise<StatementCounts> {
  const counts: StatementCounts = { lwt: 0, serialRead: 0, read: 0, write: 0 };
  const classify = (query: string, options: Options) => {
    // The table catalog is read once in a while and index intents are swept: neither per request.
    if (/"dc_catalog"|"dc_index_intents" WHERE bucket/.test(query)) return;
    if (/^\s*SELECT\s/i.test(query)) {
      const serial = options?.consistency === cassandra.types.consistencies.serial || options?.consistency === cassandra.types.consistencies.localSerial;
      counts[serial ? 'serialRead' : 'read']++;
    } else counts[/\sIF\s/i.test(query) ? 'lwt' : 'write']++;
  };
  // What earlier requests left to send (a transaction's unlog lingers for company) is not counted.
  await new Promise((r) => setTimeout(r, 150));
  const hooks = {
    execute(query: string, _params: unknown[], options: Options) {
      classify(query, options);
      if (process.env.DC_TEST_SHOW_CQL) console.log(`CQL ${options?.consistency} ${query.slice(0, 140)}`);
      return undefined;
    },
    batch(queries: { query: string }[]) {
      // A conditional batch is one Paxos round; a plain one, its statements' writes.
      if (queries.some((q) => /\sIF\s/i.test(q.query))) counts.lwt++;
      else counts.write += queries.length;
      return undefined;
    },
  };
  await withStatementHooks(client, hooks, async () => {
    await work();
    // Work the answer did not wait for (an unlog sent after it) is part of the cost too.
    await new Promise((r) => setTimeout(r, 300));
  });
  return counts;
}

for (const translator of TEST_TRANSLATORS) {
  describe(`statements per request (${translator})`, () => {
    let t: TestServer;
    let n = 0;
    before(async () => {
      // No sweeper: its reads would land in the counts.
      t = await startTestServer(`t_tx_cost_${translator}`, { translator, transactionSweepMs: 0 });
      await createPkTable(t.client, 'cost');
      await createSortedTable(t.client, 'cost-sk', 'N');
      // Prepares every statement once, so that counts hold no first-use work.
      await t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S('warm') }, ConditionExpression: 'attribute_not_exists(pk)' }));
      await t.client.send(new TransactWriteItemsCommand({ TransactItems: [fresh('warm-1'), fresh('warm-2')] }));
    });
    after(async () => {
      await t?.close();
    });
    const fresh = (pk: string): TransactWriteItem => ({
      Put: { TableName: 'cost', Item: { pk: S(pk), n: N(1) }, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    const count = (work: () => Promise<unknown>) => counted(t.server.session.client, work);

    test('a conditional PutItem that creates its item: one lightweight transaction (IF NOT EXISTS), no read', async () => {
      const c = await count(() => t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(`p${++n}`) }, ConditionExpression: 'attribute_not_exists(pk)' })));
      assert.deepEqual(c, { lwt: 1, serialRead: 0, read: 0, write: 0 });
    });

    test('the same on an item that exists: the refused IF NOT EXISTS returns the row, which decides the condition failed unread', async () => {
      await t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(`p${++n}`), v: N(1) } }));
      const c = await count(async () => {
        const refused = (await t.client
          .send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(`p${n}`), v: N(2) }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }))
          .then(() => undefined, (e: unknown) => e)) as (Error & { Item?: unknown }) | undefined;
        assert.equal(refused?.name, 'ConditionalCheckFailedException');
        assert.deepEqual(refused?.Item, { pk: S(`p${n}`), v: N(1) });
      });
      assert.deepEqual(c, { lwt: 1, serialRead: 0, read: 0, write: 0 });
    });

    test('a conditional PutItem on an existing item: one read and one lightweight transaction on its version', async () => {
      await t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(`p${++n}`), v: N(1) } }));
      const c = await count(() =>
        t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(`p${n}`), v: N(2) }, ConditionExpression: 'v = :one', ExpressionAttributeValues: { ':one': N(1) } })),
      );
      assert.deepEqual(c, { lwt: 1, serialRead: 0, read: 1, write: 0 });
    });

    // The SDK sends a ClientRequestToken with every TransactWriteItems: the decision's lightweight
    // transaction, in the token's partition, also checks it, so a token costs no statement.
    test('a 2-item TransactWriteItems creating items: no reads of the items (IF NOT EXISTS is the check)', async () => {
      const c = await count(() => t.client.send(new TransactWriteItemsCommand({ TransactItems: [fresh(`a${++n}`), fresh(`b${n}`)] })));
      // 2 intents, the decision; the applies are plain writes at the intents' timestamps, read
      // for both rows at once (a table without indexes or a stream); log and unlog.
      assert.deepEqual(c, { lwt: 3, serialRead: 0, read: 1, write: 4 });
    });

    test('the same without a ClientRequestToken', async () => {
      const c = await count(async () => {
        const res = await rawRequest(t.endpoint, 'TransactWriteItems', { TransactItems: [fresh(`e${++n}`), fresh(`f${n}`)] });
        assert.equal(res.status, 200, res.text);
      });
      assert.deepEqual(c, { lwt: 3, serialRead: 0, read: 1, write: 4 });
    });

    test('on a table with a sort key, the intents\' write times are read at once within a partition', async () => {
      const item = (pk: string, sk: number): TransactWriteItem => ({
        Put: { TableName: 'cost-sk', Item: { pk: S(pk), sk: N(sk), n: N(sk) }, ConditionExpression: 'attribute_not_exists(pk)' },
      });
      const send = (items: TransactWriteItem[]) => async () => {
        const res = await rawRequest(t.endpoint, 'TransactWriteItems', { TransactItems: items });
        assert.equal(res.status, 200, res.text);
      };
      const one = await count(send([item(`s${++n}`, 1), item(`s${n}`, 2.5), item(`s${n}`, 10)]));
      assert.deepEqual(one, { lwt: 4, serialRead: 0, read: 1, write: 5 });
      const two = await count(send([item(`s${++n}`, 1), item(`t${n}`, 1)]));
      assert.deepEqual(two, { lwt: 3, serialRead: 0, read: 2, write: 4 });
      // Each row got its own image, applied (no intent left for readers to resolve).
      const rows = await t.client.send(new QueryCommand({ TableName: 'cost-sk', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': S(`s${n - 1}`) }, ConsistentRead: true }));
      assert.deepEqual(rows.Items?.map((i) => [i.sk.N, i.n.N]), [['1', '1'], ['2.5', '2.5'], ['10', '10']]);
    });

    test('creating an item that exists: the failed IF NOT EXISTS answers with the row, which is not read again', async () => {
      await t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(`x${++n}`) } }));
      const c = await count(async () => {
        const res = await rawRequest(t.endpoint, 'TransactWriteItems', { TransactItems: [fresh(`x${n}`), fresh(`y${n}`)] });
        assert.equal(res.body.__type, 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException');
        assert.deepEqual(res.body.CancellationReasons.map((r: { Code: string }) => r.Code), ['ConditionalCheckFailed', 'None']);
      });
      // Two intents tried (one placed), no read of the items; the placed one is removed by a plain
      // write at its timestamp, after a read of that timestamp.
      assert.deepEqual(c, { lwt: 2, serialRead: 0, read: 1, write: 3 });
    });

    test('a 2-item TransactWriteItems updating items', async () => {
      const pks = [`u${++n}`, `v${n}`];
      for (const pk of pks) await t.client.send(new PutItemCommand({ TableName: 'cost', Item: { pk: S(pk), n: N(5) } }));
      const c = await count(() =>
        t.client.send(
          new TransactWriteItemsCommand({
            TransactItems: pks.map((pk) => ({
              Update: { TableName: 'cost', Key: { pk: S(pk) }, UpdateExpression: 'SET n = n - :one', ConditionExpression: 'n > :zero', ExpressionAttributeValues: { ':one': N(1), ':zero': N(0) } },
            })),
          }),
        ),
      );
      // The items read before their intents, then their intents' write times at once.
      assert.deepEqual(c, { lwt: 3, serialRead: 0, read: 3, write: 4 });
    });

    test('the same token sent again: its intents are refused (the items exist), then the token\'s winner is read', async () => {
      const request = { TransactItems: [fresh(`c${++n}`), fresh(`d${n}`)], ClientRequestToken: `tok-${n}` };
      await t.client.send(new TransactWriteItemsCommand(request));
      const c = await count(() => t.client.send(new TransactWriteItemsCommand(request)));
      assert.deepEqual(c, { lwt: 2, serialRead: 0, read: 1, write: 2 });
    });
    test('an unlog nobody waits for rides with the next log write of its slot', async () => {
      const { records } = t.server.store.transactions;
      const slot = (id: string) => TransactionRecords.slotOf(TransactionRecords.startOf(id));
      let ids: string[];
      do ids = [TransactionRecords.newId(), TransactionRecords.newId()];
      while (slot(ids[0]!) !== slot(ids[1]!) || Date.now() % 1000 > 800);
      const [done, next] = ids as [string, string];
      await records.logItems(done, [{ table: 'cost', key: { pk: S(`linger-${++n}`) } }]);
      const batches: string[][] = [];
      const hooks = {
        batch(queries: { query: string }[]) {
          if (queries.some((q) => /"dc_transaction_log"/.test(q.query))) batches.push(queries.map((q) => q.query.split(' ')[0]!));
          return undefined;
        },
      };
      await withStatementHooks(t.server.session.client, hooks, async () => {
        const unlogged = records.unlog(done, 200);
        await new Promise((r) => setTimeout(r, 20));
        await records.logItems(next, [{ table: 'cost', key: { pk: S(`linger-${n}-next`) } }]);
        await unlogged;
      });
      assert.deepEqual(batches, [['DELETE', 'INSERT']]);
      const logged = (await records.logged(slot(next))).map((l) => l.id);
      assert.ok(logged.includes(next) && !logged.includes(done), JSON.stringify(logged));
      await records.unlog(next);
    });

    test('log rows written together go out together, a batch per slot', async () => {
      const logBatches: number[] = [];
      const { records } = t.server.store.transactions;
      const ids = Array.from({ length: 40 }, () => TransactionRecords.newId());
      const batches = {
        batch(queries: { query: string }[]) {
          const inserts = queries.filter((q) => /^INSERT INTO \S+"dc_transaction_log"/.test(q.query)).length;
          if (inserts > 0) logBatches.push(inserts);
          return undefined;
        },
      };
      await withStatementHooks(t.server.session.client, batches, () =>
        Promise.all(ids.map((id, i) => records.logItems(id, [{ table: 'cost', key: { pk: S(`log-${n}-${i}`) } }]))),
      );
      // Every row was written, in fewer requests than rows; and they read back.
      assert.equal(logBatches.reduce((x, y) => x + y, 0), ids.length);
      assert.ok(logBatches.length < ids.length, `log batches: ${logBatches.join(', ')}`);
      const buckets = [...new Set(ids.map((id) => TransactionRecords.slotOf(TransactionRecords.startOf(id))))];
      const logged = new Set((await Promise.all(buckets.map((b) => records.logged(b)))).flat().map((l) => l.id));
      for (const id of ids) assert.ok(logged.has(id), `${id} logged`);
      await Promise.all(ids.map((id) => records.unlog(id)));
      const left = new Set((await Promise.all(buckets.map((b) => records.logged(b)))).flat().map((l) => l.id));
      for (const id of ids) assert.ok(!left.has(id), `${id} unlogged`);
      n++;
    });
  });
}
