// TransactWriteItems and TransactGetItems through the AWS SDK over real Cassandra: DynamoDB's
// examples, cancellation reasons, idempotency tokens, capacity, isolation against single-item
// writes, and concurrency (one winner per round; transfers that never change the sum).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, TagResourceCommand, TransactGetItemsCommand,
  TransactWriteItemsCommand, UpdateItemCommand, type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { Catalog } from '../../src/storage/catalog.js';
import { nextVersion } from '../../src/storage/indexes.js';
import { intentTime } from '../../src/storage/transactions/apply.js';
import { placeLock, type Lock } from '../../src/storage/transactions/locks.js';
import { cellsTranslator } from '../../translators/cells/index.js';
import { documentTranslator } from '../../translators/document/index.js';
import { TransactionRecords } from '../../src/storage/transactions/records.js';
import { TEST_TRANSLATORS, createPkTable, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const S = (s: string) => ({ S: s });
const N = (n: number | string) => ({ N: String(n) });

for (const translator of TEST_TRANSLATORS) {
  describe(`transactions (${translator})`, () => {
    let a: TestServer;
    let b: TestServer;
    const keyspace = `t_tx_${translator}`;
    before(async () => {
      a = await startTestServer(keyspace, { translator });
      b = await startTestServer(keyspace, { translator });
      for (const t of ['orders', 'stock', 'accounts', 'rounds']) await createPkTable(a.client, t);
      await a.client.send(
        new CreateTableCommand({
          TableName: 'users',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'email', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          GlobalSecondaryIndexes: [{ IndexName: 'by-email', KeySchema: [{ AttributeName: 'email', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
        }),
      );
    });
    after(async () => {
      await b?.server.close();
      await a?.close();
    });
    const get = async (table: string, pk: string, server = a) =>
      (await server.client.send(new GetItemCommand({ TableName: table, Key: { pk: S(pk) }, ConsistentRead: true }))).Item;

    test('an order and its stock count are written together (DynamoDB example)', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'stock', Item: { pk: S('widget'), count: N(3) } }));
      const order = (id: string): TransactWriteItem[] => [
        { Put: { TableName: 'orders', Item: { pk: S(id), product: S('widget') }, ConditionExpression: 'attribute_not_exists(pk)' } },
        {
          Update: {
            TableName: 'stock',
            Key: { pk: S('widget') },
            UpdateExpression: 'SET #c = #c - :one',
            ConditionExpression: '#c >= :one',
            ExpressionAttributeNames: { '#c': 'count' },
            ExpressionAttributeValues: { ':one': N(1) },
          },
        },
      ];
      const out = await a.client.send(new TransactWriteItemsCommand({ TransactItems: order('o1'), ReturnConsumedCapacity: 'TOTAL' }));
      assert.deepEqual(out.ConsumedCapacity, [
        { TableName: 'orders', CapacityUnits: 2 },
        { TableName: 'stock', CapacityUnits: 2 },
      ]);
      assert.equal((await get('stock', 'widget'))?.count.N, '2');
      assert.equal((await get('orders', 'o1', b))?.product.S, 'widget');
      // The same order again: its condition fails, and the stock is not touched.
      const e = (await errorOf(() => a.client.send(new TransactWriteItemsCommand({ TransactItems: order('o1') })))) as Error & {
        CancellationReasons?: { Code: string; Message?: string }[];
      };
      assert.equal(e.name, 'TransactionCanceledException');
      assert.equal(e.message, 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]');
      assert.deepEqual(e.CancellationReasons?.map((r) => r.Code), ['ConditionalCheckFailed', 'None']);
      assert.equal((await get('stock', 'widget'))?.count.N, '2');
    });

    test('ALL_OLD returns the item with ConditionalCheckFailed; ConditionCheck and Delete', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'accounts', Item: { pk: S('acc-x'), balance: N(5) } }));
      await a.client.send(new PutItemCommand({ TableName: 'accounts', Item: { pk: S('acc-gone'), balance: N(1) } }));
      const e = (await errorOf(() =>
        a.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Delete: { TableName: 'accounts', Key: { pk: S('acc-gone') } } },
              {
                ConditionCheck: {
                  TableName: 'accounts',
                  Key: { pk: S('acc-x') },
                  ConditionExpression: 'balance > :min',
                  ExpressionAttributeValues: { ':min': N(10) },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
            ],
          }),
        ),
      )) as Error & { CancellationReasons?: { Code: string; Item?: unknown }[] };
      assert.equal(e.name, 'TransactionCanceledException');
      assert.deepEqual(e.CancellationReasons, [
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed.', Item: { pk: S('acc-x'), balance: N(5) } },
      ]);
      assert.ok(await get('accounts', 'acc-gone'), 'the cancelled delete did nothing');
      await a.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Delete: { TableName: 'accounts', Key: { pk: S('acc-gone') } } },
            { ConditionCheck: { TableName: 'accounts', Key: { pk: S('acc-x') }, ConditionExpression: 'balance > :min', ExpressionAttributeValues: { ':min': N(1) } } },
          ],
        }),
      );
      assert.equal(await get('accounts', 'acc-gone'), undefined);
      assert.equal((await get('accounts', 'acc-x'))?.balance.N, '5');
    });

    test('validation before anything runs', async () => {
      const put = (pk: string) => ({ Put: { TableName: 'orders', Item: { pk: S(pk) } } });
      const twice = await errorOf(() => a.client.send(new TransactWriteItemsCommand({ TransactItems: [put('v1'), put('v1')] })));
      assert.equal(twice.name, 'ValidationException');
      assert.equal(twice.message, 'Transaction request cannot include multiple operations on one item');
      const many = await rawRequest(a.endpoint, 'TransactWriteItems', { TransactItems: Array.from({ length: 101 }, (_, i) => put(`m${i}`)) });
      assert.equal(many.status, 400);
      assert.match(many.body.message, /Member must have length less than or equal to 100/);
      const none = await rawRequest(a.endpoint, 'TransactWriteItems', { TransactItems: [{}] });
      assert.equal(none.body.message, 'Invalid Request: TransactWriteRequest should contain Delete or Put or Update request');
      const both = await rawRequest(a.endpoint, 'TransactWriteItems', { TransactItems: [{ ...put('v2'), Delete: { TableName: 'orders', Key: { pk: S('v2') } } }] });
      assert.equal(both.body.message, 'TransactItems can only contain one of Check, Put, Update or Delete');
      const unused = await errorOf(() =>
        a.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [{ Update: { TableName: 'orders', Key: { pk: S('v3') }, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': N(1), ':b': N(2) } } }],
          }),
        ),
      );
      assert.equal(unused.message, 'Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}');
      const missing = await errorOf(() => a.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'no-such-table', Item: { pk: S('x') } } }] })));
      assert.equal(missing.name, 'ResourceNotFoundException');
      const keyUpdate = (await errorOf(() =>
        a.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [{ Update: { TableName: 'orders', Key: { pk: S('v4') }, UpdateExpression: 'SET pk = :a', ExpressionAttributeValues: { ':a': S('z') } } }],
          }),
        ),
      )) as Error & { CancellationReasons?: { Code: string; Message?: string }[] };
      assert.equal(keyUpdate.name, 'TransactionCanceledException');
      assert.deepEqual(keyUpdate.CancellationReasons, [
        { Code: 'ValidationError', Message: 'One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key' },
      ]);
      // Nothing of the rejected requests was written.
      for (const pk of ['v1', 'v2', 'v3', 'v4', 'm0']) assert.equal(await get('orders', pk), undefined);
    });

    test('ClientRequestToken: a replay succeeds without applying again; another request with it is refused', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'stock', Item: { pk: S('tok'), n: N(0) } }));
      const add = (n: number) =>
        new TransactWriteItemsCommand({
          ClientRequestToken: `token-${translator}`,
          TransactItems: [{ Update: { TableName: 'stock', Key: { pk: S('tok') }, UpdateExpression: 'ADD n :n', ExpressionAttributeValues: { ':n': N(n) } } }],
        });
      await a.client.send(add(1));
      await b.client.send(add(1));
      assert.equal((await get('stock', 'tok'))?.n.N, '1');
      const e = await errorOf(() => a.client.send(add(2)));
      assert.equal(e.name, 'IdempotentParameterMismatchException');
      assert.equal(e.message, 'Specified idempotent token was used with different request parameters within the idempotency window');
    });

    test('different requests with one ClientRequestToken at once: one commits, the others get IdempotentParameterMismatchException', async () => {
      for (let round = 0; round < 3; round++) {
        // Each request writes its own item, so none meets another's intent: only the token's check
        // at the decision stands between them.
        const requests = Array.from({ length: 4 }, (_, i) => new TransactWriteItemsCommand({
          ClientRequestToken: `rival-${translator}-${round}`,
          TransactItems: [{ Put: { TableName: 'stock', Item: { pk: S(`rival-${round}-${i}`), n: N(i) } } }],
        }));
        const outcomes = await Promise.all(requests.map((r, i) => [a, b][i % 2]!.client.send(r).then(() => 'ok', (err: Error) => err.name)));
        assert.equal(outcomes.filter((o) => o === 'ok').length, 1, `round ${round}: ${outcomes.join(', ')}`);
        assert.ok(outcomes.every((o) => o === 'ok' || o === 'IdempotentParameterMismatchException'), `round ${round}: ${outcomes.join(', ')}`);
        const written = await Promise.all(requests.map((_, i) => get('stock', `rival-${round}-${i}`)));
        assert.deepEqual(written.map((w) => w !== undefined), outcomes.map((o) => o === 'ok'), `round ${round}: only the winner's item exists`);
      }
    });

    test('ClientRequestToken sent again while its transaction runs: TransactionInProgressException, applied once', async () => {
      for (let round = 0; round < 3; round++) {
        const pks = Array.from({ length: 20 }, (_, i) => `dup-${round}-${i}`);
        const request = new TransactWriteItemsCommand({
          ClientRequestToken: `dup-${translator}-${round}`,
          TransactItems: pks.map((pk) => ({ Update: { TableName: 'stock', Key: { pk: S(pk) }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } } })),
        });
        const outcomes = await Promise.all([a, b, a, b].map((server) => server.client.send(request).then(() => 'ok', (err: Error) => `${err.name}: ${err.message}`)));
        assert.ok(outcomes.includes('ok'), `round ${round}: ${outcomes.join(', ')}`);
        for (const o of outcomes) {
          assert.ok(o === 'ok' || o === 'TransactionInProgressException: Transaction with the given request token is already in progress.', `round ${round}: ${o}`);
        }
        // Once it is done, the same request answers success again, and nothing was applied twice.
        await a.client.send(request);
        for (const pk of [pks[0]!, pks[19]!]) assert.equal((await get('stock', pk))?.n.N, '1');
      }
    });

    test('TransactGetItems: items, absent ones, projections, capacity', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('g1'), a: N(1), b: N(2) } }));
      const out = await a.client.send(
        new TransactGetItemsCommand({
          TransactItems: [
            { Get: { TableName: 'orders', Key: { pk: S('g1') }, ProjectionExpression: '#b', ExpressionAttributeNames: { '#b': 'b' } } },
            { Get: { TableName: 'stock', Key: { pk: S('none') } } },
            { Get: { TableName: 'orders', Key: { pk: S('g1x') } } },
          ],
          ReturnConsumedCapacity: 'INDEXES',
        }),
      );
      assert.deepEqual(out.Responses, [{ Item: { b: N(2) } }, {}, {}]);
      assert.deepEqual(out.ConsumedCapacity, [
        { TableName: 'orders', CapacityUnits: 4, Table: { CapacityUnits: 4 } },
        { TableName: 'stock', CapacityUnits: 2, Table: { CapacityUnits: 2 } },
      ]);
      const twice = await errorOf(() =>
        a.client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'orders', Key: { pk: S('g1') } } }, { Get: { TableName: 'orders', Key: { pk: S('g1') } } }] })),
      );
      assert.equal(twice.message, 'Transaction request cannot include multiple operations on one item');
    });

    test('a unique email as a second item, and the GSI follows every transactional write', async () => {
      const register = (user: string, email: string) =>
        a.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: 'users', Item: { pk: S(user), email: S(email) }, ConditionExpression: 'attribute_not_exists(pk)' } },
              { Put: { TableName: 'users', Item: { pk: S(`email#${email}`) }, ConditionExpression: 'attribute_not_exists(pk)' } },
            ],
          }),
        );
      await register('ann', 'ann@example.com');
      const taken = await errorOf(() => register('bob', 'ann@example.com'));
      assert.equal(taken.name, 'TransactionCanceledException');
      assert.equal(await get('users', 'bob'), undefined);
      const byEmail = async (email: string) =>
        (await a.client.send(new QueryCommand({ TableName: 'users', IndexName: 'by-email', KeyConditionExpression: 'email = :e', ExpressionAttributeValues: { ':e': S(email) } }))).Items;
      assert.deepEqual(await byEmail('ann@example.com'), [{ pk: S('ann'), email: S('ann@example.com') }]);
      // Move the email in a transaction: the index entry moves with it.
      await a.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Update: { TableName: 'users', Key: { pk: S('ann') }, UpdateExpression: 'SET email = :e', ExpressionAttributeValues: { ':e': S('ann@new.example') } } },
            { Delete: { TableName: 'users', Key: { pk: S('email#ann@example.com') } } },
            { Put: { TableName: 'users', Item: { pk: S('email#ann@new.example') }, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
      assert.deepEqual(await byEmail('ann@example.com'), []);
      assert.deepEqual(await byEmail('ann@new.example'), [{ pk: S('ann'), email: S('ann@new.example') }]);
      // An index key of the wrong type cancels the transaction (ValidationError), as DynamoDB does.
      const wrong = (await errorOf(() =>
        a.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'users', Item: { pk: S('cy'), email: N(1) } } }] })),
      )) as Error & { CancellationReasons?: { Code: string }[] };
      assert.deepEqual(wrong.CancellationReasons?.map((r) => r.Code), ['ValidationError']);
    });

    test('concurrent transactions on one item: exactly one wins each round', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'rounds', Item: { pk: S('r'), v: N(0) } }));
      for (let round = 0; round < 5; round++) {
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? b : a).client.send(
              new TransactWriteItemsCommand({
                TransactItems: [
                  {
                    Update: {
                      TableName: 'rounds',
                      Key: { pk: S('r') },
                      UpdateExpression: 'SET v = :next, winner = :me',
                      ConditionExpression: 'v = :cur',
                      ExpressionAttributeValues: { ':cur': N(round), ':next': N(round + 1), ':me': N(i) },
                    },
                  },
                  { Put: { TableName: 'rounds', Item: { pk: S(`r-${round}-${i}`) } } },
                ],
              }),
            ),
          ),
        );
        const won = results.map((r, i) => (r.status === 'fulfilled' ? i : -1)).filter((i) => i >= 0);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'TransactionCanceledException');
        const item = await get('rounds', 'r');
        assert.equal(item?.v.N, String(round + 1), `round ${round}`);
        assert.ok(won.length <= 1, `round ${round}: ${won.length} winners`);
        if (won.length === 1) assert.equal(item?.winner.N, String(won[0]));
        // The losers' second items were not written; the winner's was.
        for (let i = 0; i < 6; i++) assert.equal((await get('rounds', `r-${round}-${i}`)) !== undefined, won.includes(i) || (won.length === 0 && i === Number(item?.winner.N)));
      }
    });

    test('transfers among 20 accounts never change the sum (TransactGetItems while they run)', async () => {
      const ACCOUNTS = 20;
      const key = (i: number) => ({ pk: S(`t${i}`) });
      for (let i = 0; i < ACCOUNTS; i++) await a.client.send(new PutItemCommand({ TableName: 'accounts', Item: { ...key(i), balance: N(100) } }));
      const total = async () => {
        const out = await (Math.random() < 0.5 ? a : b).client.send(
          new TransactGetItemsCommand({ TransactItems: Array.from({ length: ACCOUNTS }, (_, i) => ({ Get: { TableName: 'accounts', Key: key(i) } })) }),
        );
        return out.Responses!.reduce((sum, r) => sum + Number(r.Item!.balance.N), 0);
      };
      let committed = 0;
      let cancelled = 0;
      let running = true;
      const sums: number[] = [];
      const checker = (async () => {
        while (running) {
          try {
            sums.push(await total());
          } catch (e) {
            assert.equal((e as Error).name, 'TransactionCanceledException');
          }
        }
      })();
      const worker = async (w: number) => {
        for (let n = 0; n < 12; n++) {
          const from = (w * 7 + n * 3) % ACCOUNTS;
          const to = (from + 1 + ((w + n) % (ACCOUNTS - 1))) % ACCOUNTS;
          const amount = 1 + ((w + n) % 9);
          try {
            await (w % 2 ? b : a).client.send(
              new TransactWriteItemsCommand({
                TransactItems: [
                  {
                    Update: {
                      TableName: 'accounts',
                      Key: key(from),
                      UpdateExpression: 'SET balance = balance - :x',
                      ConditionExpression: 'balance >= :x',
                      ExpressionAttributeValues: { ':x': N(amount) },
                    },
                  },
                  { Update: { TableName: 'accounts', Key: key(to), UpdateExpression: 'SET balance = balance + :x', ExpressionAttributeValues: { ':x': N(amount) } } },
                ],
              }),
            );
            committed++;
          } catch (e) {
            assert.equal((e as Error).name, 'TransactionCanceledException', String(e));
            cancelled++;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      running = false;
      await checker;
      assert.ok(committed > 20, `only ${committed} transfers committed (${cancelled} cancelled)`);
      assert.ok(sums.length > 0, 'TransactGetItems never succeeded while transfers ran');
      for (const s of sums) assert.equal(s, ACCOUNTS * 100);
      assert.equal(await total(), ACCOUNTS * 100);
      // Scan (read-committed) agrees once everything is done.
      const scanned = await a.client.send(new ScanCommand({ TableName: 'accounts', FilterExpression: 'begins_with(pk, :t)', ExpressionAttributeValues: { ':t': S('t') } }));
      assert.equal(scanned.Items!.reduce((sum, i) => sum + Number(i.balance.N), 0), ACCOUNTS * 100);
    });

    /** Places an intent on orders' item `pk` as a transaction begun at `at` would; its id. */
    const hold = async (pk: string, at: number, token?: Pick<Lock, 'tk' | 'fp' | 'tt'>) => {
      const session = a.server.session;
      const entry = (await new Catalog(session).get('orders'))!;
      const row = (await session.client.execute(`SELECT ver FROM "${keyspace}"."${entry.layout.cqlTable}" WHERE pk = ?`, [pk])).first();
      const id = TransactionRecords.newId();
      const lock: Lock = { id, op: 'put', at, item: { pk: S(pk), n: N(2) }, ...token };
      assert.ok(await placeLock(session, entry.layout, { pk: S(pk) }, lock, row.get('ver'), nextVersion(row.get('ver'))));
      return id;
    };

    test('an item a running transaction holds: readers see the committed item, writers get TransactionConflictException', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('held'), n: N(1) } }));
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('stale'), n: N(1) } }));
      // Intents placed as a stalled transaction's would be: one fresh, one older than the lock timeout.
      const id = await hold('held', Date.now());
      assert.equal((await get('orders', 'held'))?.n.N, '1');
      const put = () => a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('held'), n: N(9) } }));
      assert.equal((await errorOf(put)).name, 'TransactionConflictException');
      const update = await errorOf(() =>
        b.client.send(new UpdateItemCommand({ TableName: 'orders', Key: { pk: S('held') }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } })),
      );
      assert.equal(update.name, 'TransactionConflictException');
      assert.equal(update.message, 'Transaction is ongoing for the item');
      const tx = (await errorOf(() =>
        a.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'orders', Item: { pk: S('other') } } }, { Delete: { TableName: 'orders', Key: { pk: S('held') } } }] })),
      )) as Error & { CancellationReasons?: { Code: string }[] };
      assert.deepEqual(tx.CancellationReasons?.map((r) => r.Code), ['None', 'TransactionConflict']);
      assert.equal(await get('orders', 'other'), undefined);
      const snap = await a.client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'orders', Key: { pk: S('held') } } }] }));
      assert.equal(snap.Responses?.[0]?.Item?.n.N, '1');
      // Once its record says committed, everyone sees the new image, and writers roll it forward.
      assert.equal(await a.server.store.transactions.records.decide({ id }, 'committed'), 'committed');
      assert.equal((await get('orders', 'held', b))?.n.N, '2');
      const scanned = await a.client.send(new ScanCommand({ TableName: 'orders', ConsistentRead: true }));
      assert.equal(scanned.Items?.find((i) => i.pk.S === 'held')?.n.N, '2');
      await b.client.send(new UpdateItemCommand({ TableName: 'orders', Key: { pk: S('held') }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } }));
      assert.equal((await get('orders', 'held'))?.n.N, '3');
      // An expired intent without a decision is aborted by the first writer that meets it.
      const staleId = await hold('stale', Date.now() - 60_000);
      assert.equal((await get('orders', 'stale'))?.n.N, '1');
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('stale'), n: N(7) } }));
      assert.equal((await get('orders', 'stale'))?.n.N, '7');
      assert.equal(await a.server.store.transactions.records.state({ id: staleId }), 'aborted');
    });

    test('an intent says where its decision lives: with a token, in the token\'s partition; an older version\'s (a token, no tt) in dc_transactions', async () => {
      const { records } = a.server.store.transactions;
      for (const pk of ['tt-abort', 'tt-commit', 'tt-old']) await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S(pk), n: N(1) } }));
      // An expired intent of a transaction with a token is aborted in the token's partition.
      const expired = await hold('tt-abort', Date.now() - 60_000, { tk: 'tok-a', fp: 'f', tt: 1 });
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('tt-abort'), n: N(7) } }));
      assert.equal((await get('orders', 'tt-abort'))?.n.N, '7');
      assert.equal(await records.state({ id: expired, token: 'tok-a' }), 'aborted');
      assert.equal(await records.state({ id: expired }), undefined);
      // One committed there is seen committed, and a later copy of its request is a replay.
      const committed = await hold('tt-commit', Date.now(), { tk: 'tok-c', fp: 'f', tt: 1 });
      assert.equal(await records.commitWithToken(committed, 'tok-c', 'f'), 'committed');
      assert.equal((await get('orders', 'tt-commit', b))?.n.N, '2');
      assert.deepEqual(await records.tokenWinner('tok-c'), { tx: committed, fingerprint: 'f' });
      assert.deepEqual(await records.commitWithToken(TransactionRecords.newId(), 'tok-c', 'g'), { tx: committed, fingerprint: 'f' });
      // An intent written before tokens decided in their partition names a token without tt: its
      // record is in dc_transactions, where its server decided it.
      const old = await hold('tt-old', Date.now(), { tk: 'tok-o', fp: 'f' });
      assert.equal(await records.decide({ id: old }, 'committed'), 'committed');
      assert.equal((await get('orders', 'tt-old', b))?.n.N, '2');
      await b.client.send(new UpdateItemCommand({ TableName: 'orders', Key: { pk: S('tt-old') }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } }));
      assert.equal((await get('orders', 'tt-old'))?.n.N, '3');
    });

    test('an apply at the intent\'s timestamp that comes late, or twice, never undoes a later write', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('late'), n: N(1) } }));
      const session = a.server.session;
      const entry = (await new Catalog(session).get('orders'))!;
      const version = async () => (await session.client.execute(`SELECT ver FROM "${keyspace}"."${entry.layout.cqlTable}" WHERE pk = ?`, ['late'])).first().get('ver');
      const id = await hold('late', Date.now()); // its new image: n = 2
      const locked = await version();
      const at = await intentTime(session, entry.layout, { pk: S('late') }, locked);
      assert.ok(at, 'the write time of the intent');
      assert.equal(await a.server.store.transactions.records.decide({ id }, 'committed'), 'committed');
      // A writer meets the committed intent, rolls it forward (n = 2) and adds one.
      const add = () => b.client.send(new UpdateItemCommand({ TableName: 'orders', Key: { pk: S('late') }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } }));
      await add();
      assert.equal((await get('orders', 'late'))?.n.N, '3');
      assert.equal(await intentTime(session, entry.layout, { pk: S('late') }, locked), undefined, 'the row moved on');
      // The coordinator's own apply arriving now, twice: written at the intent's timestamp, it loses to the later write.
      const t = translator === 'cells' ? cellsTranslator : documentTranslator;
      for (let i = 0; i < 2; i++) {
        const [query, params] = t.putAt(entry.layout, { pk: S('late'), n: N(2) }, nextVersion(locked), at!);
        await session.execute(query, params, session.consistency.write);
      }
      assert.equal((await get('orders', 'late'))?.n.N, '3');
      assert.equal((await get('orders', 'late', b))?.n.N, '3');
      // The version too stayed the later write's: compare-and-set writes still apply.
      await add();
      assert.equal((await get('orders', 'late'))?.n.N, '4');
    });

    test('the lock timeout is an option: a server with a shorter one aborts an intent that others still respect', async () => {
      await a.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('timed'), n: N(1) } }));
      const c = await startTestServer(keyspace, { translator, transactionLockTimeoutMs: 300, transactionSweepMs: 0 });
      try {
        const id = await hold('timed', Date.now() - 1000);
        const put = (server: TestServer, n: number) => server.client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('timed'), n: N(n) } }));
        assert.equal((await errorOf(() => put(a, 5))).name, 'TransactionConflictException', 'a second-old intent is within the default 5 s');
        await put(c, 6);
        assert.equal(await a.server.store.transactions.records.state({ id }), 'aborted');
        assert.equal((await get('orders', 'timed'))?.n.N, '6');
      } finally {
        await c.server.close();
      }
    });

    test('a table created before transactions gets its intent column when a server starts', async () => {
      await createPkTable(a.client, 'legacy');
      await a.client.send(new PutItemCommand({ TableName: 'legacy', Item: { pk: S('old'), v: N(1) } }));
      const entry = (await new Catalog(a.server.session).get('legacy'))!;
      const table = `"${keyspace}"."${entry.layout.cqlTable}"`;
      await a.server.session.client.execute(`ALTER TABLE ${table} DROP tx`);
      const c = await startTestServer(keyspace, { translator });
      try {
        await c.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: { TableName: 'legacy', Key: { pk: S('old') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(2) } } }] }));
        assert.equal((await get('legacy', 'old', c))?.v.N, '2');
      } finally {
        await c.server.close();
      }
    });

    test('transactions are refused under forbid_rmw isolation', async () => {
      await createPkTable(a.client, 'plain-only');
      await a.client.send(
        new TagResourceCommand({ ResourceArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/plain-only', Tags: [{ Key: 'dynamo-cassandra:write_isolation', Value: 'forbid_rmw' }] }),
      );
      const e = await errorOf(() => a.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'plain-only', Item: { pk: S('x') } } }] })));
      assert.equal(e.name, 'ValidationException');
      assert.match(e.message, /forbid_rmw/);
    });
  });
}
