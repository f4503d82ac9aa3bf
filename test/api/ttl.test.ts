// Time to Live through the AWS SDK v3 over real Cassandra: UpdateTimeToLive / DescribeTimeToLive
// with DynamoDB's shapes and errors, and expiry by the sweeper (index entries included, rewrites
// between scan and delete respected, two servers sharing the work).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand,
  UpdateTimeToLiveCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { TEST_TRANSLATORS, createPkTable, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { Catalog } from '../../src/storage/catalog.js';
import { TtlSegmentTable } from '../../src/storage/state/ttl-segments.js';
import { TtlLeases } from '../../src/ttl/leases.js';

type Item = Record<string, AttributeValue>;
const S = (s: string) => ({ S: s });
const N = (n: number | string) => ({ N: String(n) });
const nowS = () => Math.floor(Date.now() / 1000);

const enable = (t: TestServer, table: string, attribute: string, enabled = true) =>
  t.client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: attribute, Enabled: enabled } }));
const describeTtl = async (t: TestServer, table: string) =>
  (await t.client.send(new DescribeTimeToLiveCommand({ TableName: table }))).TimeToLiveDescription;

/** A counter of the server's /metrics for one table (0 when absent). */
async function metric(t: TestServer, name: string, table: string): Promise<number> {
  const text = await (await fetch(`${t.endpoint}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{table="${table}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}
const expiredCount = (t: TestServer, table: string) => metric(t, 'dynamo_cassandra_ttl_items_expired_total', table);
const scannedCount = (t: TestServer, table: string) => metric(t, 'dynamo_cassandra_ttl_items_scanned_total', table);

const exists = async (t: TestServer, table: string, key: Item) =>
  (await t.client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item !== undefined;

// Servers whose sweeper never runs by itself (its timer fires every quarter period): tests drive rounds.
const MANUAL = { ttlSweepSeconds: 3600, ttlChangeCooldownSeconds: 0 };

describe('UpdateTimeToLive and DescribeTimeToLive', () => {
  let t: TestServer;
  let quick: TestServer; // the same keyspace, without DynamoDB's cooldown between changes
  before(async () => {
    t = await startTestServer('t_ttl_api', { ttlSweepSeconds: 3600 });
    quick = await startTestServer('t_ttl_api', MANUAL);
    await createPkTable(t.client, 'sessions');
  });
  after(async () => {
    // Both serve one keyspace: the first close drops it, so neither may still be sweeping.
    await t?.server.stopBackground();
    await quick?.close();
    await t?.close();
  });

  test('a new table has TTL disabled, without an attribute', async () => {
    assert.deepEqual(await describeTtl(t, 'sessions'), { TimeToLiveStatus: 'DISABLED' });
  });

  test('enable, the errors DynamoDB gives while enabled, the cooldown, then disable and re-enable', async () => {
    const disabledAlready = await errorOf(() => enable(t, 'sessions', 'expires', false));
    assert.equal(disabledAlready.name, 'ValidationException');
    assert.equal(disabledAlready.message, 'TimeToLive is already disabled');

    const res = await enable(t, 'sessions', 'expires');
    assert.deepEqual(res.TimeToLiveSpecification, { Enabled: true, AttributeName: 'expires' });
    assert.deepEqual(await describeTtl(t, 'sessions'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });

    const again = await errorOf(() => enable(t, 'sessions', 'expires'));
    assert.equal(again.name, 'ValidationException');
    assert.equal(again.message, 'TimeToLive is already enabled');
    for (const enabled of [true, false]) {
      const other = await errorOf(() => enable(t, 'sessions', 'other', enabled));
      assert.equal(other.name, 'ValidationException');
      assert.equal(other.message, 'TimeToLive is active on a different AttributeName: current AttributeName is expires');
    }
    // DynamoDB allows one change per table within the hour (--ttl-change-cooldown-seconds).
    const tooSoon = await errorOf(() => enable(t, 'sessions', 'expires', false));
    assert.equal(tooSoon.name, 'ValidationException');
    assert.equal(tooSoon.message, 'Time to live has been modified multiple times within a fixed interval');
    assert.deepEqual(await describeTtl(t, 'sessions'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });

    const off = await enable(quick, 'sessions', 'expires', false);
    assert.deepEqual(off.TimeToLiveSpecification, { Enabled: false, AttributeName: 'expires' });
    assert.deepEqual(await describeTtl(t, 'sessions'), { TimeToLiveStatus: 'DISABLED' });
    const offAgain = await errorOf(() => enable(quick, 'sessions', 'anything', false));
    assert.equal(offAgain.message, 'TimeToLive is already disabled');

    // Another attribute once disabled; a key attribute is allowed too, as in DynamoDB.
    await enable(quick, 'sessions', 'pk');
    assert.deepEqual(await describeTtl(quick, 'sessions'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'pk' });
    await enable(quick, 'sessions', 'pk', false);
  });

  test('DescribeTable does not show TTL', async () => {
    const { Table } = await t.client.send(new DescribeTableCommand({ TableName: 'sessions' }));
    assert.ok(Table);
    assert.deepEqual(Object.keys(Table).filter((k) => /ttl|timetolive/i.test(k)), []);
  });

  test('a missing table is ResourceNotFoundException for both actions', async () => {
    const update = await errorOf(() => enable(t, 'no-such-table', 'x'));
    assert.equal(update.name, 'ResourceNotFoundException');
    const desc = await errorOf(() => describeTtl(t, 'no-such-table'));
    assert.equal(desc.name, 'ResourceNotFoundException');
    assert.equal(desc.message, 'Requested resource not found: Table: no-such-table not found');
  });

  test('request validation as DynamoDB words it', async () => {
    const cases: [object, number, string, string][] = [
      [{ TableName: 'sessions' }, 400, 'ValidationException', "1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null"],
      [{ TableName: 'sessions', TimeToLiveSpecification: { AttributeName: 'x' } }, 400, 'ValidationException', "1 validation error detected: Value null at 'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be null"],
      [{ TableName: 'sessions', TimeToLiveSpecification: { Enabled: false } }, 400, 'ValidationException', "1 validation error detected: Value null at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must not be null"],
      [{ TableName: 'sessions', TimeToLiveSpecification: { AttributeName: '', Enabled: true } }, 400, 'ValidationException', "1 validation error detected: Value '' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1"],
      [{ TableName: 'sessions', TimeToLiveSpecification: { AttributeName: 'x'.repeat(256), Enabled: true } }, 400, 'ValidationException', `1 validation error detected: Value '${'x'.repeat(256)}' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255`],
      [{ TableName: 'sessions', TimeToLiveSpecification: { AttributeName: 'x', Enabled: 'dog' } }, 400, 'SerializationException', ''],
      [{ TableName: 'sessions', TimeToLiveSpecification: 'x' }, 400, 'SerializationException', ''],
      [{ TableName: 'a', TimeToLiveSpecification: { AttributeName: 'x', Enabled: true } }, 400, 'ValidationException', ''],
    ];
    for (const [body, status, type, message] of cases) {
      const res = await rawRequest(t.endpoint, 'UpdateTimeToLive', body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.body.__type.split('#')[1], type, JSON.stringify(body));
      // The case of nested member names in constraint messages is the shared validator's (its
      // member paths keep the case of members below the top level), not compared here.
      const nested = message.includes('Member must have length');
      if (message) assert.equal(nested ? res.body.message.toLowerCase() : res.body.message, nested ? message.toLowerCase() : message);
    }
    const missing = await rawRequest(t.endpoint, 'DescribeTimeToLive', {});
    // As DynamoDB words it for the table actions (dynalite's recordings of DescribeTimeToLive).
    assert.equal(missing.body.message, "The parameter 'TableName' is required but was not present in the request");
  });
});

for (const translator of TEST_TRANSLATORS) {
  describe(`TTL expiry (${translator})`, () => {
    let t: TestServer;
    const T = 'carts';
    before(async () => {
      t = await startTestServer(`t_ttl_expiry_${translator}`, { translator, ...MANUAL });
      await t.client.send(
        new CreateTableCommand({
          TableName: T,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'user', KeyType: 'HASH' }, { AttributeName: 'cart', KeyType: 'RANGE' }],
          AttributeDefinitions: [
            { AttributeName: 'user', AttributeType: 'S' },
            { AttributeName: 'cart', AttributeType: 'S' },
            { AttributeName: 'shop', AttributeType: 'S' },
            { AttributeName: 'total', AttributeType: 'N' },
          ],
          LocalSecondaryIndexes: [
            { IndexName: 'by-total', KeySchema: [{ AttributeName: 'user', KeyType: 'HASH' }, { AttributeName: 'total', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
          ],
          GlobalSecondaryIndexes: [{ IndexName: 'by-shop', KeySchema: [{ AttributeName: 'shop', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
        }),
      );
    });
    after(() => t?.close());

    const key = (cart: string) => ({ user: S('u'), cart: S(cart) });
    const shopEntries = async (shop: string) =>
      (await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-shop', KeyConditionExpression: 'shop = :s', ExpressionAttributeValues: { ':s': S(shop) } }))).Items ?? [];
    const lsiEntries = async () =>
      (await t.client.send(new QueryCommand({ TableName: T, IndexName: 'by-total', KeyConditionExpression: '#u = :u', ExpressionAttributeNames: { '#u': 'user' }, ExpressionAttributeValues: { ':u': S('u') }, ConsistentRead: true }))).Items ?? [];

    test('expired items go with their index entries; unexpired, non-number and far-past ones stay', async () => {
      const past = nowS() - 60;
      const items: Record<string, Item> = {
        expired: { ...key('expired'), exp: N(past), shop: S('s-expired'), total: N(1) },
        // 1.7e9-style and fractional numbers are epoch seconds too.
        'expired-exponent': { ...key('expired-exponent'), exp: N(`${Math.floor(past / 10)}E1`), shop: S('s-exponent'), total: N(2) },
        'expired-fraction': { ...key('expired-fraction'), exp: N(`${past}.25`), total: N(3) },
        future: { ...key('future'), exp: N(nowS() + 3600), shop: S('s-future'), total: N(4) },
        string: { ...key('string'), exp: S(String(past)), shop: S('s-string'), total: N(5) },
        'far-past': { ...key('far-past'), exp: N(162777600), total: N(6) }, // 1975: over five years ago
        none: { ...key('none'), shop: S('s-none'), total: N(7) },
      };
      for (const item of Object.values(items)) await t.client.send(new PutItemCommand({ TableName: T, Item: item }));
      await enable(t, T, 'exp');
      // Not yet swept: an expired item is still returned, as in DynamoDB.
      assert.equal(await exists(t, T, key('expired')), true);
      assert.equal((await shopEntries('s-expired')).length, 1);

      await t.server.ttl.runOnce();
      for (const name of ['expired', 'expired-exponent', 'expired-fraction']) assert.equal(await exists(t, T, key(name)), false, name);
      for (const name of ['future', 'string', 'far-past', 'none']) assert.equal(await exists(t, T, key(name)), true, name);
      assert.deepEqual(await shopEntries('s-expired'), []);
      assert.deepEqual(await shopEntries('s-exponent'), []);
      assert.equal((await shopEntries('s-future')).length, 1);
      const totals = (await lsiEntries()).map((i) => Number(i.total!.N)).sort();
      assert.deepEqual(totals, [4, 5, 6, 7]);
      assert.equal(await expiredCount(t, T), 3);
      assert.equal(await scannedCount(t, T), 7);
      // The next round is not due yet (one sweep per period): nothing is read again.
      await t.server.ttl.runOnce();
      assert.equal(await scannedCount(t, T), 7);
    });

    test('an item rewritten with a new TTL between the scan and the delete is kept', async () => {
      const U = 'rewritten';
      await t.client.send(
        new CreateTableCommand({
          TableName: U,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        }),
      );
      await enable(t, U, 'exp');
      await t.client.send(new PutItemCommand({ TableName: U, Item: { pk: S('renewed'), exp: N(nowS() - 10), v: N(1) } }));
      await t.client.send(new PutItemCommand({ TableName: U, Item: { pk: S('gone'), exp: N(nowS() - 10) } }));
      const renewedTo = nowS() + 3600;
      const seen: string[] = [];
      t.server.ttl.beforeExpire = async (table, k) => {
        if (table !== U) return;
        seen.push(k.pk && 'S' in k.pk ? k.pk.S : '?');
        if ('S' in k.pk! && k.pk.S === 'renewed') {
          await t.client.send(new PutItemCommand({ TableName: U, Item: { pk: S('renewed'), exp: N(renewedTo), v: N(2) } }));
        }
      };
      try {
        await t.server.ttl.runOnce();
      } finally {
        t.server.ttl.beforeExpire = undefined;
      }
      assert.deepEqual(seen.sort(), ['gone', 'renewed']);
      const kept = await t.client.send(new GetItemCommand({ TableName: U, Key: { pk: S('renewed') }, ConsistentRead: true }));
      assert.deepEqual(kept.Item, { pk: S('renewed'), exp: N(renewedTo), v: N(2) });
      assert.equal(await exists(t, U, { pk: S('gone') }), false);
      assert.equal(await expiredCount(t, U), 1);
    });

    test('writes racing the sweep are never lost: every rewritten item survives with its new TTL', async () => {
      const R = 'raced';
      await createPkTable(t.client, R);
      await enable(t, R, 'exp');
      const count = 40;
      for (let i = 0; i < count; i++) await t.client.send(new PutItemCommand({ TableName: R, Item: { pk: S(`r${i}`), exp: N(nowS() - 10) } }));
      const later = nowS() + 3600;
      // Each rewrite lands before the sweep reads its item, between the read and the delete, or after
      // the delete (recreating it): in every order the rewritten item must be there in the end.
      await Promise.all([
        t.server.ttl.runOnce(),
        ...Array.from({ length: count }, (_, i) =>
          t.client.send(new PutItemCommand({ TableName: R, Item: { pk: S(`r${i}`), exp: N(later), v: N(i) } })),
        ),
      ]);
      for (let i = 0; i < count; i++) {
        const { Item } = await t.client.send(new GetItemCommand({ TableName: R, Key: { pk: S(`r${i}`) }, ConsistentRead: true }));
        assert.deepEqual(Item, { pk: S(`r${i}`), exp: N(later), v: N(i) }, `r${i}`);
      }
    });
  });
}

describe('TTL expiry across servers', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    a = await startTestServer('t_ttl_two', MANUAL);
    b = await startTestServer('t_ttl_two', MANUAL);
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('two servers sweeping one table read each item once and delete each expired item once', async () => {
    await createPkTable(a.client, 'shared');
    await enable(a, 'shared', 'exp');
    const total = 60;
    const puts = [];
    for (let i = 0; i < total; i++) {
      const exp = i % 2 === 0 ? nowS() - 30 : nowS() + 3600;
      puts.push(a.client.send(new PutItemCommand({ TableName: 'shared', Item: { pk: S(`k${i}`), exp: N(exp) } })));
    }
    await Promise.all(puts);
    await Promise.all([a.server.ttl.runOnce(), b.server.ttl.runOnce()]);
    const scanned = (await scannedCount(a, 'shared')) + (await scannedCount(b, 'shared'));
    const expired = (await expiredCount(a, 'shared')) + (await expiredCount(b, 'shared'));
    assert.equal(scanned, total, 'every segment is swept once, by one of the servers');
    assert.equal(expired, total / 2);
    for (let i = 0; i < total; i++) assert.equal(await exists(b, 'shared', { pk: S(`k${i}`) }), i % 2 === 1, `k${i}`);
    // Both servers again at once: the segments were just swept, so neither reads anything.
    await Promise.all([a.server.ttl.runOnce(), b.server.ttl.runOnce()]);
    assert.equal((await scannedCount(a, 'shared')) + (await scannedCount(b, 'shared')), total);
  });
});

describe('TTL expiry after a sweeper died', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('t_ttl_takeover', { ...MANUAL, ttlSegments: 1 });
  });
  after(() => t?.close());

  test('a segment whose owner stopped renewing is taken over and continued from its recorded position', async () => {
    await createPkTable(t.client, 'orphaned');
    await enable(t, 'orphaned', 'exp');
    for (let i = 0; i < 12; i++) await t.client.send(new PutItemCommand({ TableName: 'orphaned', Item: { pk: S(`k${i}`), exp: N(nowS() - 30) } }));
    // Scan order is token order, the order the sweep reads in.
    const order = ((await t.client.send(new ScanCommand({ TableName: 'orphaned', ConsistentRead: true }))).Items ?? []).map((i) => i.pk!.S!);
    assert.equal(order.length, 12);
    // A server took the only segment, swept the first five items' worth of it, recorded that, then died:
    // its lease (here already run out) is never renewed again.
    const { definition } = (await new Catalog(t.server.session).get('orphaned'))!;
    const dead = new TtlLeases(new TtlSegmentTable(t.server.session), 'dead-server', -1);
    const lease = await dead.acquire(definition.id, 0, undefined);
    assert.ok(lease);
    assert.equal(await lease.renew({ pk: S(order[4]!) }), true);

    await t.server.ttl.runOnce();
    assert.equal(await scannedCount(t, 'orphaned'), 7, 'the successor reads only what is left');
    for (const [i, pk] of order.entries()) assert.equal(await exists(t, 'orphaned', { pk: S(pk) }), i <= 4, pk);
    // The dead owner's late renewal is refused: the segment is no longer its own.
    assert.equal(await lease.renew({ pk: S(order[11]!) }), false);
  });
});

describe('TTL expiry in the background', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('t_ttl_background', { ttlSweepSeconds: 2 });
  });
  after(() => t?.close());

  test('the sweeper deletes an expired item by itself within a few sweep periods', async () => {
    await createPkTable(t.client, 'background');
    await enable(t, 'background', 'exp');
    await t.client.send(new PutItemCommand({ TableName: 'background', Item: { pk: S('old'), exp: N(nowS() - 5) } }));
    await t.client.send(new PutItemCommand({ TableName: 'background', Item: { pk: S('new'), exp: N(nowS() + 3600) } }));
    const started = Date.now();
    while (await exists(t, 'background', { pk: S('old') })) {
      assert.ok(Date.now() - started < 20_000, 'expired within 20 s with a 2 s sweep period');
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await exists(t, 'background', { pk: S('new') }), true);
  });
});
