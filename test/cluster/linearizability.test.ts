// Linearizability of conditional writes during a node kill: several clients, split across two
// `serve` processes, run conditional PutItem / UpdateItem and ConsistentRead GetItem on a few
// keys while one Cassandra node is SIGKILLed and restarted; the recorded history must be
// linearizable for a compare-and-set register per key (test/helpers/linearizability.ts).
// DC_LINEARIZABILITY_RUNS sets the number of runs (default 1; each kills and restarts a node).
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import {
  CreateTableCommand, GetItemCommand, type DynamoDBClient, PutItemCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { clusterFixture } from '../helpers/cluster.js';
import { checkHistory, type HistoryOp, type Op, type Value } from '../helpers/linearizability.js';

const KEYSPACE = 'dc_cluster_linearizability';
const RUNS = Number(process.env.DC_LINEARIZABILITY_RUNS ?? 1);
const KEYS = 3;
const CLIENTS = 6;
const DOWN_MS = 10_000;
const S = (s: string) => ({ S: s });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** No SDK retries: a resent conditional write could fail on its own first attempt's effect, which the history could not tell. */
const f = clusterFixture(KEYSPACE, 2, { sdk: { maxAttempts: 1 } });

/** One client's loop: read a key, then a conditional write from what it read (sometimes a blind put). */
async function clientLoop(
  name: string, db: DynamoDBClient, table: string, history: HistoryOp[], errors: Map<string, number>, stopped: () => boolean,
): Promise<void> {
  for (let n = 0; !stopped(); n++) {
    const key = `k${(n * 7 + name.length + Number(name.slice(1))) % KEYS}`;
    const record = async (op: Op, send: () => Promise<unknown>): Promise<HistoryOp> => {
      const call = performance.now();
      let result: HistoryOp['result'] = 'ok';
      try {
        const out = (await send()) as { Item?: Record<string, { S?: string }> };
        if (op.kind === 'read') op.value = out.Item?.v?.S ?? null;
      } catch (e) {
        result = (e as Error).name === 'ConditionalCheckFailedException' ? 'fail' : 'unknown';
        if (result === 'unknown') {
          const what = `${op.kind} ${(e as Error).name}: ${(e as Error).message.slice(0, 120)}`;
          errors.set(what, (errors.get(what) ?? 0) + 1);
        }
      }
      const h: HistoryOp = { key, op, result, call, ret: performance.now(), client: name };
      history.push(h);
      return h;
    };
    const read = await record({ kind: 'read', value: null }, () =>
      db.send(new GetItemCommand({ TableName: table, Key: { pk: S(key) }, ConsistentRead: true })));
    if (read.result !== 'ok') continue;
    const seen = (read.op as { value: Value }).value;
    const value = `${name}-${n}`;
    const style = n % 5;
    if (style === 4) {
      await record({ kind: 'write', value }, () => db.send(new PutItemCommand({ TableName: table, Item: { pk: S(key), v: S(value) } })));
    } else if (seen === null) {
      await record({ kind: 'cas', expected: null, value }, () =>
        db.send(new PutItemCommand({ TableName: table, Item: { pk: S(key), v: S(value) }, ConditionExpression: 'attribute_not_exists(pk)' })));
    } else if (style % 2 === 0) {
      await record({ kind: 'cas', expected: seen, value }, () =>
        db.send(new PutItemCommand({ TableName: table, Item: { pk: S(key), v: S(value) }, ConditionExpression: 'v = :old', ExpressionAttributeValues: { ':old': S(seen) } })));
    } else {
      await record({ kind: 'cas', expected: seen, value }, () =>
        db.send(new UpdateItemCommand({
          TableName: table, Key: { pk: S(key) }, UpdateExpression: 'SET v = :new', ConditionExpression: 'v = :old',
          ExpressionAttributeValues: { ':old': S(seen), ':new': S(value) },
        })));
    }
  }
}

for (let run = 0; run < RUNS; run++) {
  const victim = (run + 1) % 3; // 127.0.0.2 first; the seed too when there are three runs or more
  test(`run ${run + 1}/${RUNS}: conditional writes stay linearizable while node ${victim + 1} is killed and restarted`, async () => {
    const table = `reg${run}`;
    await f.clients[0]!.send(new CreateTableCommand({
      TableName: table, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    const history: HistoryOp[] = [];
    const errors = new Map<string, number>();
    let stop = false;
    const loops = Promise.all(Array.from({ length: CLIENTS }, (_, c) => clientLoop(`c${c}`, f.clients[c % f.clients.length]!, table, history, errors, () => stop)));
    try {
      await sleep(3000);
      await f.cluster.kill(victim);
      await sleep(DOWN_MS);
      await f.cluster.restart(victim);
      await sleep(3000);
    } finally {
      stop = true;
      await loops;
    }
    const count = (r: HistoryOp['result']) => history.filter((h) => h.result === r).length;
    const t0 = performance.now();
    const res = checkHistory(history);
    console.log(
      `[linearizability] run ${run + 1}: ${history.length} operations on ${res.keys} keys (ok ${count('ok')}, condition failed ${count('fail')}, ` +
        `unanswered ${count('unknown')}), checked in ${(performance.now() - t0).toFixed(0)} ms: ${res.ok ? 'linearizable' : 'VIOLATION'}`,
    );
    for (const [what, n] of errors) console.log(`[linearizability]   unanswered: ${n} x ${what}`);
    assert.ok(res.ok, res.explanation);
    // A history without successful and failed conditions on every key would prove little.
    assert.ok(count('ok') > 20 && count('fail') > 0, `too few contended operations: ${history.length}`);
  });
}
