// Node loss under load: three nodes, RF=3, two `serve` processes at the default LOCAL_QUORUM /
// LOCAL_SERIAL, mixed load from the real AWS SDK; one Cassandra node is SIGKILLed mid-load and
// restarted. No client request may fail (the SDK's own retries, up to its default 3 attempts, are
// allowed and counted), no acknowledged write may be lost, and the GSI must agree with the table
// item by item afterwards. Transfers between accounts run through TransactWriteItems meanwhile:
// none is half applied (the total never changes, in TransactGetItems snapshots taken during the
// kill or in the end), and no intent is left on an account. A table with a stream takes writes too:
// every acknowledged one has its record, in order per item, and the last record of an item is the
// item as it stands. A table with TTL takes items already expired and items that expire in an hour:
// the sweep deletes all of the first and none of the second.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type DynamoDBClient, BatchWriteItemCommand, CreateTableCommand, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand,
  TransactGetItemsCommand, TransactWriteItemsCommand, UpdateItemCommand, UpdateTimeToLiveCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { clusterFixture, phaseClock } from '../helpers/cluster.js';
import { readStream, streamsClient } from '../streams/helpers.js';

const KEYSPACE = 'dc_cluster_node_loss';
const TABLE = 'load';
const STREAMED = 'streamed';
const EXPIRING = 'expiring';
let streamArn = '';
const COUNTERS = 4;
const ACCOUNTS = 6;
const OPENING = 1000; // each account's opening balance
const WORKERS = 8;
const PHASE_MS = Number(process.env.DC_CLUSTER_PHASE_MS ?? 15_000);
const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The SDK as applications use it: its default retry strategy (3 attempts). */
const f = clusterFixture(KEYSPACE, 2, {
  setup: async ({ clients, serves }) => {
    await clients[0]!.send(
      new CreateTableCommand({
        TableName: TABLE,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'cat', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [
          { IndexName: 'by-cat', KeySchema: [{ AttributeName: 'cat', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
        ],
      }),
    );
    for (let a = 0; a < ACCOUNTS; a++) await clients[0]!.send(new PutItemCommand({ TableName: TABLE, Item: { pk: S(`acct${a}`), sk: N(0), balance: N(OPENING) } }));
    const created = await clients[0]!.send(
      new CreateTableCommand({
        TableName: STREAMED,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    streamArn = created.TableDescription!.LatestStreamArn!;
    await clients[0]!.send(
      new CreateTableCommand({
        TableName: EXPIRING,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await clients[0]!.send(new UpdateTimeToLiveCommand({ TableName: EXPIRING, TimeToLiveSpecification: { AttributeName: 'exp', Enabled: true } }));
    // Writes before every server knows of the stream would have no record: wait for ENABLED.
    const streams = streamsClient(serves[0]!.endpoint);
    for (;;) {
      const d = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      if (d.StreamDescription?.StreamStatus === 'ENABLED') break;
      await sleep(250);
    }
    streams.destroy();
  },
});

const accountKeys = () => Array.from({ length: ACCOUNTS }, (_, a) => ({ pk: S(`acct${a}`), sk: N(0) }));

/** The accounts' total in one TransactGetItems snapshot. */
async function snapshotTotal(db: DynamoDBClient): Promise<number> {
  const out = await db.send(new TransactGetItemsCommand({ TransactItems: accountKeys().map((Key) => ({ Get: { TableName: TABLE, Key } })) }));
  return (out.Responses ?? []).reduce((sum, r) => sum + Number(r.Item?.balance?.N ?? NaN), 0);
}

test('a node SIGKILLed and restarted under mixed load: no failed request, no lost write, GSI agrees', async () => {
  const clock = phaseClock(['before', 'during', 'after'] as const);
  const failures: string[] = [];
  let retried = 0;
  const acked = new Map<string, string>(); // "pk|sk" -> val of acknowledged puts
  const addsAcked = new Array<number>(COUNTERS).fill(0);
  const addsRetried = new Array<number>(COUNTERS).fill(0); // ADDs the SDK sent more than once
  let stop = false;
  const tx = { committed: 0, cancelled: 0, snapshots: 0 };
  const streamedAcked = new Map<string, number[]>(); // item -> the seq of each acknowledged write, in order
  const expiring = { expired: new Set<string>(), kept: new Set<string>() }; // acknowledged puts by their TTL

  /** `answered`: errors that are a legitimate answer (a cancelled transaction), not a failure. */
  const run = async <T extends { $metadata: { attempts?: number } }>(what: string, send: () => Promise<T>, answered?: (e: Error) => boolean): Promise<T | undefined> => {
    try {
      const out = await send();
      if ((out.$metadata.attempts ?? 1) > 1) retried++;
      clock.done[clock.phase]++;
      return out;
    } catch (e) {
      if (answered?.(e as Error)) {
        clock.done[clock.phase]++;
        return undefined;
      }
      failures.push(`${clock.phase} ${what}: ${(e as Error).name}: ${(e as Error).message}`);
      return undefined;
    }
  };

  const worker = async (w: number) => {
    const db = f.clients[w % f.clients.length]!;
    for (let n = 0; !stop; n++) {
      const pk = `p${w}`;
      const pick = n % 7;
      if (pick === 0 || pick === 3) {
        const val = `v${w}-${n}`;
        const item = { pk: S(pk), sk: N(n), cat: S(`c${n % 5}`), val: S(val) };
        if (await run('PutItem', () => db.send(new PutItemCommand({ TableName: TABLE, Item: item })))) acked.set(`${pk}|${n}`, val);
      } else if (pick === 1) {
        const c = (w + n) % COUNTERS;
        const out = await run('UpdateItem ADD', () =>
          db.send(new UpdateItemCommand({
            TableName: TABLE, Key: { pk: S(`counter${c}`), sk: N(0) },
            UpdateExpression: 'ADD cnt :one', ConditionExpression: 'attribute_not_exists(frozen)', ExpressionAttributeValues: { ':one': N(1) },
          })));
        if (out) {
          addsAcked[c]!++;
          if ((out.$metadata.attempts ?? 1) > 1) addsRetried[c]!++;
        }
      } else if (pick === 2) {
        // An acknowledged put of this worker must be readable at once with ConsistentRead.
        const sk = [...Array(n).keys()].reverse().find((k) => acked.has(`${pk}|${k}`));
        if (sk === undefined) continue;
        const out = await run('GetItem', () => db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: S(pk), sk: N(sk) }, ConsistentRead: true })));
        if (out && out.Item?.val?.S !== acked.get(`${pk}|${sk}`)) failures.push(`${clock.phase} GetItem ${pk}/${sk}: read ${JSON.stringify(out.Item)}`);
      } else if (pick === 4) {
        const rows = Array.from({ length: 5 }, (_, i) => ({ pk: S(`b${w}`), sk: N(n * 10 + i), cat: S(`c${i}`), val: S(`b${w}-${n}-${i}`) }));
        let pending: { PutRequest: { Item: Record<string, AttributeValue> } }[] = rows.map((Item) => ({ PutRequest: { Item } }));
        for (let round = 0; pending.length && round < 10 && !stop; round++) {
          const out = await run('BatchWriteItem', () => db.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: pending } })));
          if (!out) break;
          pending = (out.UnprocessedItems?.[TABLE] ?? []) as typeof pending;
          if (pending.length) await sleep(50 * 2 ** round);
        }
        const unprocessed = new Set(pending.map((p) => p.PutRequest.Item.sk!.N));
        for (const r of rows) if (!unprocessed.has(r.sk.N)) acked.set(`b${w}|${r.sk.N}`, r.val.S);
      } else if (pick === 6) {
        if (n % 2 === 0) {
          // A transfer: all of it or none of it, whatever the node loss does to its statements.
          const from = (w + n) % ACCOUNTS;
          const to = (from + 1 + (n % (ACCOUNTS - 1))) % ACCOUNTS;
          const amount = N(1 + (n % 7));
          // Cancelled (another transfer holds an account) or still in progress after an SDK
          // resend with the same token: answers a client handles, not failures.
          const cancelled = (e: Error) => {
            const ok = e.name === 'TransactionCanceledException' || e.name === 'TransactionInProgressException';
            if (ok) tx.cancelled++;
            return ok;
          };
          const out = await run('TransactWriteItems', () => db.send(new TransactWriteItemsCommand({
            TransactItems: [
              { Update: { TableName: TABLE, Key: accountKeys()[from]!, UpdateExpression: 'SET balance = balance - :x', ConditionExpression: 'balance >= :x', ExpressionAttributeValues: { ':x': amount } } },
              { Update: { TableName: TABLE, Key: accountKeys()[to]!, UpdateExpression: 'SET balance = balance + :x', ExpressionAttributeValues: { ':x': amount } } },
            ],
          })), cancelled);
          if (out) tx.committed++;
        } else {
          const total = await run('TransactGetItems', () => snapshotTotal(db).then((total) => ({ total, $metadata: {} })), (e) => e.name === 'TransactionCanceledException');
          if (total) {
            tx.snapshots++;
            if (total.total !== ACCOUNTS * OPENING) failures.push(`${clock.phase} TransactGetItems: the accounts total ${total.total}`);
          }
        }
      } else if (n % 3 === 1) {
        // Every other one expired already (its TTL a second past), the rest in an hour.
        const key = `x${w}-${n}`;
        const expired = n % 2 === 0;
        const exp = Math.floor(Date.now() / 1000) + (expired ? -1 : 3600);
        if (await run('PutItem (TTL)', () => db.send(new PutItemCommand({ TableName: EXPIRING, Item: { pk: S(key), exp: N(exp) } })))) {
          expiring[expired ? 'expired' : 'kept'].add(key);
        }
      } else if (n % 3 === 2) {
        // The item's record sequence: an insert, then modifications; its new image carries seq.
        const key = `s${w}`;
        const out = await run('UpdateItem (stream)', () =>
          db.send(new UpdateItemCommand({ TableName: STREAMED, Key: { pk: S(key) }, UpdateExpression: 'SET seq = :n', ExpressionAttributeValues: { ':n': N(n) } })));
        if (out) streamedAcked.set(key, [...(streamedAcked.get(key) ?? []), n]);
      } else {
        if (n % 12 === 5) {
          await run('Query', () => db.send(new QueryCommand({
            TableName: TABLE, KeyConditionExpression: 'pk = :p AND sk BETWEEN :a AND :b', ConsistentRead: true,
            ExpressionAttributeValues: { ':p': S(pk), ':a': N(Math.max(0, n - 30)), ':b': N(n) },
          })));
        } else {
          await run('Query GSI', () => db.send(new QueryCommand({
            TableName: TABLE, IndexName: 'by-cat', KeyConditionExpression: 'cat = :c', Limit: 20, ScanIndexForward: false,
            ExpressionAttributeValues: { ':c': S(`c${n % 5}`) },
          })));
        }
      }
    }
  };

  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  const victim = 1; // 127.0.0.2, not the seed
  try {
    await sleep(PHASE_MS);
    clock.next('during');
    await f.cluster.kill(victim);
    await sleep(PHASE_MS);
    await f.cluster.restart(victim); // "during" lasts until every node sees the restarted one again
    clock.next('after');
    await sleep(PHASE_MS);
    clock.next('after');
  } finally {
    stop = true;
    await load;
  }
  const { rate, done } = clock;
  console.log(
    `[node-loss] requests/s before ${rate('before')}, during (node down and restarting, ${(clock.ms.during / 1000).toFixed(0)} s) ${rate('during')}, ` +
      `after ${rate('after')}; requests ${done.before + done.during + done.after}, retried by the SDK ${retried}, failed ${failures.length}`,
  );
  // The servers' own account of a 500 (their log lines), so a failure here names its cause.
  const logged = f.serves.flatMap((s) => s.serve.output().split('\n').filter((l) => /request failed/.test(l))).slice(0, 5);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed requests; the servers logged:\n${logged.join('\n')}`);

  // Every acknowledged put is there, read at quorum.
  const db = f.clients[0]!;
  const entries = [...acked.entries()];
  const missing: string[] = [];
  for (let i = 0; i < entries.length; i += 32) {
    await Promise.all(entries.slice(i, i + 32).map(async ([key, val]) => {
      const [pk, sk] = key.split('|') as [string, string];
      const out = await db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: S(pk), sk: { N: sk } }, ConsistentRead: true }));
      if (out.Item?.val?.S !== val) missing.push(`${key}: ${JSON.stringify(out.Item)}`);
    }));
  }
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${entries.length} acknowledged puts lost`);

  // Every acknowledged ADD is counted; an ADD the SDK had to resend may have landed twice at most.
  for (let c = 0; c < COUNTERS; c++) {
    const out = await db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: S(`counter${c}`), sk: N(0) }, ConsistentRead: true }));
    const value = Number(out.Item?.cnt?.N ?? 0);
    assert.ok(value >= addsAcked[c]! && value <= addsAcked[c]! + addsRetried[c]!, `counter${c} is ${value}, acknowledged ADDs ${addsAcked[c]} (${addsRetried[c]} resent)`);
  }
  console.log(`[node-loss] verified ${entries.length} acknowledged puts and ${addsAcked.reduce((a, b) => a + b, 0)} acknowledged ADDs`);

  // No transfer half applied: the total stands, in a snapshot and in consistent reads one by one.
  assert.equal(await snapshotTotal(db), ACCOUNTS * OPENING);
  let total = 0;
  for (const Key of accountKeys()) total += Number((await db.send(new GetItemCommand({ TableName: TABLE, Key, ConsistentRead: true }))).Item?.balance?.N);
  assert.equal(total, ACCOUNTS * OPENING);
  console.log(`[node-loss] transfers: ${tx.committed} committed, ${tx.cancelled} cancelled; ${tx.snapshots} snapshots during the run, every one ${ACCOUNTS * OPENING}`);
  assert.ok(tx.committed > 10 && tx.snapshots > 10, 'too few transactions to show anything');

  // Every acknowledged write to the streamed table has its record, an item's records come in the
  // order of its writes, and its last one shows the item as it stands. (A write whose answer was
  // lost and that the SDK sent again may show twice.)
  const expected = [...streamedAcked.values()].reduce((n, seqs) => n + seqs.length, 0);
  const streams = streamsClient(f.serves[0]!.endpoint);
  const seqsOf = (records: _Record[]) => {
    const seen = new Map<string, number[]>();
    for (const r of records) {
      const key = r.dynamodb!.Keys!.pk!.S!;
      seen.set(key, [...(seen.get(key) ?? []), Number(r.dynamodb!.NewImage!.seq!.N)]);
    }
    return seen;
  };
  const unseen = (seen: Map<string, number[]>) => [...streamedAcked].reduce((n, [key, acks]) => n + acks.filter((a) => !seen.get(key)?.includes(a)).length, 0);
  let records = await readStream(streams, streamArn, expected, 60_000);
  // A write the SDK sent again after its answer was lost may show twice, so a count can be reached
  // early: read on while acknowledged writes are missing (bounded).
  for (let more = 0; more < 3 && unseen(seqsOf(records)) > 0; more++) records = await readStream(streams, streamArn, records.length + unseen(seqsOf(records)), 20_000);
  streams.destroy();
  const seen = seqsOf(records);
  for (const [key, acks] of streamedAcked) {
    const got = seen.get(key) ?? [];
    assert.deepEqual(acks.filter((n) => !got.includes(n)), [], `${key}: acknowledged writes without a record (records: ${got.join(',')})`);
    assert.ok(got.every((n, i) => i === 0 || n >= got[i - 1]!), `${key}: records out of order: ${got.join(',')}`);
    const item = (await db.send(new GetItemCommand({ TableName: STREAMED, Key: { pk: S(key) }, ConsistentRead: true }))).Item;
    assert.equal(item?.seq?.N, String(got[got.length - 1]), `${key}: the last record is not the item`);
  }
  console.log(`[node-loss] stream: ${expected} acknowledged writes to ${streamedAcked.size} items, ${records.length} records, all there and in order`);
  assert.ok(expected > 20, 'too few streamed writes to show anything');

  // The TTL sweep (every 20 s by default, one server per segment) deletes every expired item and
  // none of the others.
  const ttlDeadline = Date.now() + 90_000;
  for (;;) {
    const left = new Set<string>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await db.send(new ScanCommand({ TableName: EXPIRING, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const it of page.Items ?? []) left.add(it.pk!.S!);
      start = page.LastEvaluatedKey;
    } while (start);
    assert.deepEqual([...expiring.kept].filter((k) => !left.has(k)), [], 'items that expire in an hour were deleted');
    const due = [...expiring.expired].filter((k) => left.has(k));
    if (due.length === 0) break;
    assert.ok(Date.now() < ttlDeadline, `${due.length} of ${expiring.expired.size} expired items still there 90 s after the load`);
    await sleep(2000);
  }
  console.log(`[node-loss] TTL: ${expiring.expired.size} expired items deleted (all gone ${((Date.now() - ttlDeadline + 90_000) / 1000).toFixed(0)} s after this check began), ${expiring.kept.size} unexpired kept`);
  assert.ok(expiring.expired.size > 10 && expiring.kept.size > 10, 'too few TTL writes to show anything');

  // The GSI agrees with the table item by item (GSIs are eventually consistent: bounded wait).
  const deadline = Date.now() + 60_000;
  for (;;) {
    const diff = await gsiDiff(db);
    if (diff.length === 0) break;
    assert.ok(Date.now() < deadline, `GSI differs from the table: ${diff.slice(0, 10).join('; ')} (${diff.length} in all)`);
    await sleep(2000);
  }
});

/** Differences between the table (items with cat) and the by-cat index, item by item. */
async function gsiDiff(db: DynamoDBClient): Promise<string[]> {
  const base = new Map<string, string>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const it of page.Items ?? []) if (it.cat) base.set(`${it.pk!.S}|${it.sk!.N}`, JSON.stringify(sorted(it)));
    start = page.LastEvaluatedKey;
  } while (start);
  const index = new Map<string, string>();
  for (let c = 0; c < 5; c++) {
    let from: Record<string, AttributeValue> | undefined;
    do {
      const page = await db.send(new QueryCommand({
        TableName: TABLE, IndexName: 'by-cat', KeyConditionExpression: 'cat = :c', ExpressionAttributeValues: { ':c': S(`c${c}`) }, ExclusiveStartKey: from,
      }));
      for (const it of page.Items ?? []) {
        const k = `${it.pk!.S}|${it.sk!.N}`;
        if (index.has(k)) return [`${k} twice in the index`];
        index.set(k, JSON.stringify(sorted(it)));
      }
      from = page.LastEvaluatedKey;
    } while (from);
  }
  const diff: string[] = [];
  for (const [k, v] of base) if (index.get(k) !== v) diff.push(`${k}: table ${v}, index ${index.get(k) ?? 'missing'}`);
  for (const k of index.keys()) if (!base.has(k)) diff.push(`${k} only in the index`);
  return diff;
}

const sorted = (it: Record<string, AttributeValue>) => Object.fromEntries(Object.entries(it).sort(([a], [b]) => a.localeCompare(b)));
