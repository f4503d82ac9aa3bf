// ElectroDB's own transaction API (Service.transaction.write / .get) over the real server, as an
// application built on it would use it: an order placed together with its stock count, and a user
// created together with a guard item that keeps emails unique. A failed condition must come back
// through ElectroDB as a canceled transaction with one reason per action, in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Entity, Service, type Attribute } from 'electrodb';
import { TEST_TRANSLATORS, startTestServer, type TestServer } from '../helpers/server.js';

const TABLE = 'app';

/** An entity keyed by one of its attributes, in the table's pk; sk is the entity's own constant. */
function keyedEntity<A extends Record<string, Attribute>, K extends keyof A & string>(client: DynamoDBDocumentClient, entity: string, attributes: A, key: K) {
  return new Entity(
    {
      model: { entity, version: '1', service: 'shop' },
      attributes,
      indexes: { primary: { pk: { field: 'pk', composite: [key] as [K] }, sk: { field: 'sk', composite: [] } } },
    },
    { table: TABLE, client },
  );
}

function shop(server: TestServer) {
  const client = server.doc;
  const text = { type: 'string', required: true } as const;
  const count = { type: 'number', required: true } as const;
  const order = keyedEntity(client, 'order', { orderId: text, productId: text, quantity: count }, 'orderId');
  const stock = keyedEntity(client, 'stock', { productId: text, count }, 'productId');
  const user = keyedEntity(client, 'user', { userId: text, email: text }, 'userId');
  const emailGuard = keyedEntity(client, 'emailGuard', { email: text, userId: text }, 'email');
  return new Service({ order, stock, user, emailGuard }, { table: TABLE, client });
}

for (const translator of TEST_TRANSLATORS) {
  describe(`ElectroDB transactions (${translator})`, () => {
    let s: TestServer;
    let app: ReturnType<typeof shop>;
    before(async () => {
      s = await startTestServer(`t_odm_tx_${translator}`, { translator });
      await s.client.send(
        new CreateTableCommand({
          TableName: TABLE,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      app = shop(s);
    });
    after(async () => {
      await s?.close();
    });

    const placeOrder = (orderId: string, productId: string) =>
      app.transaction
        .write(({ order, stock }) => [
          order.create({ orderId, productId, quantity: 1 }).commit(),
          stock
            .patch({ productId })
            .subtract({ count: 1 })
            .where(({ count }, { gte }) => gte(count, 1))
            .commit({ response: 'all_old' }),
        ])
        .go();

    const readBoth = (orderId: string, productId: string) =>
      app.transaction.get(({ order, stock }) => [order.get({ orderId }).commit(), stock.get({ productId }).commit()]).go();

    test('an order and its stock count: committed together, canceled together, read together', async () => {
      await app.entities.stock.create({ productId: 'widget', count: 1 }).go();

      const placed = await placeOrder('o1', 'widget');
      assert.equal(placed.canceled, false);
      let read = await readBoth('o1', 'widget');
      assert.equal(read.canceled, false);
      assert.deepEqual(
        read.data.map((r) => r.item),
        [
          { orderId: 'o1', productId: 'widget', quantity: 1 },
          { productId: 'widget', count: 0 },
        ],
      );

      // Out of stock: the stock's condition fails, so the second order is not written either.
      const refused = await placeOrder('o2', 'widget');
      assert.equal(refused.canceled, true);
      assert.deepEqual(
        refused.data.map((r) => [r.rejected, r.code]),
        [
          [false, 'None'],
          [true, 'ConditionalCheckFailed'],
        ],
      );
      // ReturnValuesOnConditionCheckFailure=ALL_OLD: ElectroDB hands back the stock item as it was.
      assert.deepEqual(refused.data[1]!.item, { productId: 'widget', count: 0 });
      read = await readBoth('o2', 'widget');
      assert.equal(read.canceled, false);
      assert.deepEqual(
        read.data.map((r) => r.item),
        [null, { productId: 'widget', count: 0 }],
      );

      // The same order again is refused by create's own attribute_not_exists condition.
      await app.entities.stock.update({ productId: 'widget' }).set({ count: 5 }).go();
      const again = await placeOrder('o1', 'widget');
      assert.equal(again.canceled, true);
      assert.deepEqual(
        again.data.map((r) => r.code),
        ['ConditionalCheckFailed', 'None'],
      );
      assert.equal((await app.entities.stock.get({ productId: 'widget' }).go()).data?.count, 5);
    });

    test('a unique email guard: the second user with the same email is refused, the first stays whole', async () => {
      const signUp = (userId: string, email: string) =>
        app.transaction
          .write(({ user, emailGuard }) => [user.create({ userId, email }).commit(), emailGuard.create({ email, userId }).commit()])
          .go();

      assert.equal((await signUp('u1', 'ann@example.com')).canceled, false);
      const dup = await signUp('u2', 'ann@example.com');
      assert.equal(dup.canceled, true);
      assert.deepEqual(
        dup.data.map((r) => [r.rejected, r.code]),
        [
          [false, 'None'],
          [true, 'ConditionalCheckFailed'],
        ],
      );
      const read = await app.transaction
        .get(({ user, emailGuard }) => [
          user.get({ userId: 'u1' }).commit(),
          user.get({ userId: 'u2' }).commit(),
          emailGuard.get({ email: 'ann@example.com' }).commit(),
        ])
        .go();
      assert.deepEqual(
        read.data.map((r) => r.item),
        [{ userId: 'u1', email: 'ann@example.com' }, null, { email: 'ann@example.com', userId: 'u1' }],
      );
    });

    test('concurrent orders on the last unit: exactly one is placed', async () => {
      await app.entities.stock.create({ productId: 'last-one', count: 1 }).go();
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => placeOrder(`race-${i}`, 'last-one').catch((e: Error) => e)));
      const placed = results.filter((r) => !(r instanceof Error) && !r.canceled);
      // Losers are canceled (condition or conflict) or refused outright with TransactionConflict;
      // nothing else is acceptable.
      for (const r of results) {
        if (r instanceof Error) assert.match(String((r as { cause?: { name?: string } }).cause?.name ?? r.name), /TransactionConflict|TransactionCanceled/);
      }
      assert.equal(placed.length, 1);
      assert.equal((await app.entities.stock.get({ productId: 'last-one' }).go()).data?.count, 0);
      const orders = await app.transaction
        .get(({ order }) => Array.from({ length: 6 }, (_, i) => order.get({ orderId: `race-${i}` }).commit()))
        .go();
      assert.equal((orders.data as { item: unknown }[]).filter((r) => r.item !== null).length, 1);
    });
  });
}
