// Faults injected at one exact step of the transaction protocol, through the server's own
// cassandra-driver client (a write that times out, a log write that lands late), and what
// DynamoDB's contract makes of them: a committed transaction is committed even when applying it
// fails; a writer that meets its intent and fails to finish it tries again; an intent is never
// placed for a transaction that others may already take for dead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetItemCommand, PutItemCommand, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import type { Item } from '../../src/dynamo/types.js';
import { Catalog } from '../../src/storage/catalog.js';
import { keyParams, qualifiedName } from '../../src/storage/cql-layout.js';
import { nextVersion } from '../../src/storage/indexes.js';
import { intentTimes } from '../../src/storage/transactions/apply.js';
import { TransactionRecords } from '../../src/storage/transactions/records.js';
import { withStatementHooks, type StatementHooks } from '../helpers/intercept.js';
import { TEST_TRANSLATORS, createPkTable, createSortedTable, errorOf, rawIntent, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });
const TABLE = 'faults';
const LOCK_TIMEOUT_MS = 1000;

const put = (pk: string, n: number): TransactWriteItem => ({ Put: { TableName: TABLE, Item: { pk: S(pk), n: N(n) } } });

const timeout = () => new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.writeTimeout, 'injected: write timeout');

/**
 * Answers the first statement (or batch) that `matches` with a write timeout, as when a node is lost
 * mid-request: after it landed (`landed`), or without sending it.
 */
function timeOutOnce(matches: (queries: { query: string; params: unknown[] }[]) => boolean, landed: boolean): StatementHooks & { failed: number } {
  const fail = (queries: { query: string; params: unknown[] }[], send: () => Promise<cassandra.types.ResultSet>) => {
    if (hooks.failed > 0 || !matches(queries)) return undefined;
    hooks.failed++;
    return landed ? send().then(() => Promise.reject(timeout())) : Promise.reject(timeout());
  };
  const hooks = {
    failed: 0,
    execute: (query: string, params: unknown[], _o: unknown, send: () => Promise<cassandra.types.ResultSet>) => fail([{ query, params }], send),
    batch: (queries: { query: string; params: unknown[] }[], _o: unknown, send: () => Promise<cassandra.types.ResultSet>) => fail(queries, send),
  };
  return hooks;
}

/** Fails the first plain write of `pk`'s row at a fixed timestamp (a committed intent's apply) as a lost node would. */
const failApplyOnce = (pk: string) =>
  timeOutOnce((q) => q.length === 1 && /USING TIMESTAMP/.test(q[0]!.query) && !/^\s*DELETE/i.test(q[0]!.query) && q[0]!.params.includes(pk), false);

/** The decision's LWT: in dc_transactions, or with a token in dc_token_transactions. */
const isDecision = (queries: { query: string }[]) => queries.some((q) => /"dc_(token_)?transactions"/.test(q.query) && /\sIF\s/.test(q.query));
/** The LWT placing an intent on `pk`'s row. */
const isIntentOn = (pk: string) => (queries: { query: string; params: unknown[] }[]) =>
  queries.length === 1 && /\sIF\s/.test(queries[0]!.query) && /\btx\b/.test(queries[0]!.query) && queries[0]!.params.includes(pk);

for (const translator of TEST_TRANSLATORS) {
  describe(`transaction faults (${translator})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(`t_tx_faults_${translator}`, { translator, transactionLockTimeoutMs: LOCK_TIMEOUT_MS, transactionSweepMs: 100 });
      await createPkTable(t.client, TABLE);
      await createSortedTable(t.client, 'faults-sk', 'N');
    });
    after(async () => {
      await t?.close();
    });
    const get = async (pk: string) => (await t.client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: S(pk) }, ConsistentRead: true }))).Item;
    /** The log rows, in the slots from `started` until now, of transactions that name the item `pk`. */
    const loggedSince = async (started: number, pk: string) => {
      const { records } = t.server.store.transactions;
      const first = TransactionRecords.slotOf(started);
      const slots = Array.from({ length: TransactionRecords.slotOf(Date.now()) - first + 1 }, (_, i) => first + i);
      return (await Promise.all(slots.map((s) => records.logged(s)))).flat().filter((l) => JSON.stringify(l.items).includes(`"${pk}"`));
    };
    /** Commits a 2-item transaction whose apply on `pk` fails: its intent stays, committed. */
    const commitLeavingIntent = async (pk: string, other: string) => {
      const fault = failApplyOnce(pk);
      await withStatementHooks(t.server.session.client, fault, () => t.client.send(new TransactWriteItemsCommand({ TransactItems: [put(pk, 1), put(other, 1)] })));
      assert.equal(fault.failed, 1, 'the apply was failed');
      assert.ok(await rawIntent(t, TABLE, pk), 'the committed intent is still on the row');
    };

    test('a committed transaction whose apply fails succeeds; readers see it, and the sweeper finishes it', async () => {
      const started = Date.now();
      await commitLeavingIntent('applied-a', 'applied-b');
      assert.equal(await rawIntent(t, TABLE, 'applied-b'), null, 'the other item was applied');
      assert.deepEqual([(await get('applied-a'))?.n, (await get('applied-b'))?.n], [N(1), N(1)]);
      // The log row stays for the sweeper, which applies the intent once the transaction is twice
      // the lock timeout old, and then removes the row.
      const logged = () => loggedSince(started, 'applied-a');
      assert.equal((await logged()).length, 1, 'the log row is kept');
      const deadline = Date.now() + 2 * LOCK_TIMEOUT_MS + 15_000;
      while ((await rawIntent(t, TABLE, 'applied-a')) && Date.now() < deadline) await sleep(100);
      assert.equal(await rawIntent(t, TABLE, 'applied-a'), null, 'the sweeper applied the intent');
      await sleep(300); // the sweeper unlogs after it settled the items
      assert.equal((await logged()).length, 0, 'and removed the log row');
      assert.deepEqual((await get('applied-a'))?.n, N(1));
    });

    test('a single-item write whose roll-forward of a committed intent times out reads again and succeeds', async () => {
      await commitLeavingIntent('single-a', 'single-b');
      const fault = failApplyOnce('single-a');
      await withStatementHooks(t.server.session.client, fault, () =>
        t.client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: S('single-a'), n: N(2) }, ConditionExpression: 'n = :one', ExpressionAttributeValues: { ':one': N(1) } })),
      );
      assert.equal(fault.failed, 1, 'the roll-forward was failed');
      assert.deepEqual((await get('single-a'))?.n, N(2));
      assert.equal(await rawIntent(t, TABLE, 'single-a'), null);
    });

    test('a transaction whose roll-forward of another committed intent times out reads again and commits', async () => {
      await commitLeavingIntent('tx-a', 'tx-b');
      const fault = failApplyOnce('tx-a');
      await withStatementHooks(t.server.session.client, fault, () =>
        t.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Update: { TableName: TABLE, Key: { pk: S('tx-a') }, UpdateExpression: 'SET n = n + :one', ConditionExpression: 'n = :one', ExpressionAttributeValues: { ':one': N(1) } } },
              put('tx-c', 5),
            ],
          }),
        ),
      );
      assert.equal(fault.failed, 1, 'the roll-forward was failed');
      assert.deepEqual([(await get('tx-a'))?.n, (await get('tx-c'))?.n], [N(2), N(5)]);
    });

    for (const landed of [true, false]) {
      for (const token of [false, true]) {
        test(`a decision that times out${landed ? ' after it landed' : ''} is sent again and stands${token ? ' (with a ClientRequestToken)' : ''}`, async () => {
          const pks = [`dec-${landed}-${token}-a`, `dec-${landed}-${token}-b`];
          const fault = timeOutOnce(isDecision, landed);
          const TransactItems = pks.map((pk) => put(pk, 3));
          await withStatementHooks(t.server.session.client, fault, async () => {
            // The SDK always sends a token; without one, the request goes raw.
            if (token) await t.client.send(new TransactWriteItemsCommand({ TransactItems }));
            else {
              const res = await rawRequest(t.endpoint, 'TransactWriteItems', { TransactItems });
              assert.equal(res.status, 200, res.text);
            }
          });
          assert.equal(fault.failed, 1, 'the decision was failed');
          assert.deepEqual(await Promise.all(pks.map(async (pk) => (await get(pk))?.n)), [N(3), N(3)]);
          assert.deepEqual(await Promise.all(pks.map((pk) => rawIntent(t, TABLE, pk))), [null, null], 'both applied');
        });
      }
      test(`an intent whose placement times out${landed ? ' after it landed' : ''} is found (or placed again), and the transaction commits`, async () => {
        for (const create of [true, false]) {
          const pks = [`int-${landed}-${create}-a`, `int-${landed}-${create}-b`];
          if (!create) for (const pk of pks) await t.client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: S(pk), n: N(1) } }));
          const fault = timeOutOnce(isIntentOn(pks[0]!), landed);
          const action = (pk: string): TransactWriteItem =>
            create
              ? { Put: { TableName: TABLE, Item: { pk: S(pk), n: N(2) }, ConditionExpression: 'attribute_not_exists(pk)' } }
              : { Update: { TableName: TABLE, Key: { pk: S(pk) }, UpdateExpression: 'SET n = n + :one', ExpressionAttributeValues: { ':one': N(1) } } };
          await withStatementHooks(t.server.session.client, fault, () => t.client.send(new TransactWriteItemsCommand({ TransactItems: pks.map(action) })));
          assert.equal(fault.failed, 1, 'the intent was failed');
          assert.deepEqual(await Promise.all(pks.map(async (pk) => (await get(pk))?.n)), [N(2), N(2)], create ? 'created' : 'updated once');
        }
      });
    }

    test('an item whose node stays unreachable fails the transaction after a few attempts with a retryable InternalServerError', async () => {
      const started = Date.now();
      let failed = 0;
      const unreachable: StatementHooks = {
        execute(query, params) {
          if (!isIntentOn('gone-a')([{ query, params }])) return undefined;
          failed++;
          return Promise.reject(timeout());
        },
      };
      // Raw: the SDK would send the retryable answer again.
      const res = await withStatementHooks(t.server.session.client, unreachable, () => rawRequest(t.endpoint, 'TransactWriteItems', { TransactItems: [put('gone-a', 1), put('gone-b', 1)] }));
      assert.equal(res.status, 500, res.text);
      assert.equal(res.body.__type, 'com.amazonaws.dynamodb.v20120810#InternalServerError', res.text);
      assert.equal(failed, 4, 'four placements, not the 32 attempts contention gets');
      assert.deepEqual([await rawIntent(t, TABLE, 'gone-a'), await rawIntent(t, TABLE, 'gone-b')], [undefined, undefined], 'nothing stays written');
      // A placement that timed out may have landed unseen: the log row stays for the sweeper.
      assert.equal((await loggedSince(started, 'gone-a')).length, 1, 'the log row is kept');
    });

    test('a cancelled transaction answers once its intents are gone, without waiting for its unlog', async () => {
      await t.client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: S('cancel-b'), n: N(1) } }));
      await sleep(200); // earlier transactions' lingering unlogs go out first
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let unlogs = 0;
      const holdUnlog: StatementHooks = {
        batch(queries, _options, send) {
          // Only unlogs: a log insert (ours) may ride with an earlier transaction's unlog.
          if (!queries.every((q) => /^\s*DELETE/i.test(q.query) && /"dc_transaction_log"/.test(q.query))) return undefined;
          unlogs++;
          return held.then(send);
        },
      };
      await withStatementHooks(t.server.session.client, holdUnlog, async () => {
        const answer = errorOf(() =>
          t.client.send(
            new TransactWriteItemsCommand({
              TransactItems: [put('cancel-a', 1), { Put: { TableName: TABLE, Item: { pk: S('cancel-b'), n: N(2) }, ConditionExpression: 'attribute_not_exists(pk)' } }],
            }),
          ),
        );
        const first = await Promise.race([answer, sleep(5000).then(() => undefined)]);
        assert.equal(first?.name, 'TransactionCanceledException', 'answered while the unlog was held');
        assert.deepEqual([await rawIntent(t, TABLE, 'cancel-a'), await rawIntent(t, TABLE, 'cancel-b')], [undefined, null], 'its intents were gone');
        release();
        for (let i = 0; i < 50 && unlogs === 0; i++) await sleep(20);
        assert.equal(unlogs, 1, 'the unlog was sent');
      });
    });

    test('intents read together are told apart by their keys: versions repeat across rows', async () => {
      // Versions are the clock in µs · 1024 plus 10 random bits: two rows locked in the same
      // millisecond share one about once in a thousand pairs (a 20-item transaction: one in six).
      const version = nextVersion();
      const cases: { table: string; keys: Item[] }[] = [
        { table: TABLE, keys: [{ pk: S('same-a') }, { pk: S('same-b') }, { pk: S('same-c') }] },
        { table: 'faults-sk', keys: [{ pk: S('p'), sk: N(1.5) }, { pk: S('p'), sk: N(10) }, { pk: S('p'), sk: N(2) }] },
      ];
      for (const { table, keys } of cases) {
        const { layout } = (await new Catalog(t.server.session).get(table))!;
        const columns = layout.key.range ? 'pk, sk' : 'pk';
        const marks = layout.key.range ? '?, ?' : '?';
        // The last row holds another version: it has moved on.
        for (const [i, key] of keys.entries()) {
          await t.server.session.client.execute(
            `INSERT INTO ${qualifiedName(layout)} (${columns}, tx, ver) VALUES (${marks}, '{}', ?) USING TIMESTAMP ?`,
            [...keyParams(layout, key), i < 2 ? version : version.add(1), 1000 * (i + 1)],
            { prepare: true },
          );
        }
        const times = await intentTimes(t.server.session, layout, keys, keys.map(() => version));
        assert.deepEqual(times.map((x) => x?.toNumber()), [1000, 2000, undefined], table);
      }
    });

    test('no intent is placed for a transaction older than the lock timeout (its log row landed late)', async () => {
      const lateLog: StatementHooks = {
        batch(queries, _options, send) {
          if (!queries.some((q) => /"dc_transaction_log"/.test(q.query) && JSON.stringify(q.params).includes('late-a'))) return undefined;
          return sleep(LOCK_TIMEOUT_MS + 300).then(send);
        },
      };
      const refused = await withStatementHooks(t.server.session.client, lateLog, () =>
        errorOf(() => t.client.send(new TransactWriteItemsCommand({ TransactItems: [put('late-a', 1), put('late-b', 1)] }))),
      );
      assert.equal(refused.name, 'TransactionCanceledException', refused.message);
      assert.deepEqual((refused as { CancellationReasons?: { Code?: string }[] }).CancellationReasons?.map((r) => r.Code), ['TransactionConflict', 'TransactionConflict']);
      assert.deepEqual([await rawIntent(t, TABLE, 'late-a'), await rawIntent(t, TABLE, 'late-b')], [undefined, undefined], 'no row was written');
    });
  });
}
