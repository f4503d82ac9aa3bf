// CQL coalescing (--cql-coalesce): statements of requests handled in one turn of the event loop
// go to Cassandra together. Checked through the server's own metric of statements per flush,
// and for correctness: every concurrent request still gets its own answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BatchWriteItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createPkTable, startTestServer, type TestServer } from '../helpers/server.js';

const T = 'coalesced';
const N = 64;

/** count and sum of the statements-per-flush histogram, and the count of flushes of one statement. */
async function flushes(endpoint: string): Promise<{ count: number; sum: number; single: number }> {
  const text = await (await fetch(endpoint + '/metrics')).text();
  const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  return {
    count: value(/^dynamo_cassandra_cql_statements_per_flush_count (\S+)$/m),
    sum: value(/^dynamo_cassandra_cql_statements_per_flush_sum (\S+)$/m),
    single: value(/^dynamo_cassandra_cql_statements_per_flush_bucket\{le="1"\} (\S+)$/m),
  };
}

async function setUp(t: TestServer): Promise<void> {
  await createPkTable(t.client, T);
  for (let i = 0; i < N; i += 25) {
    const puts = Array.from({ length: Math.min(25, N - i) }, (_, j) => ({ PutRequest: { Item: { pk: { S: `k${i + j}` }, n: { N: String(i + j) } } } }));
    await t.client.send(new BatchWriteItemCommand({ RequestItems: { [T]: puts } }));
  }
}

/** N GetItems at once; each must answer with its own item. */
async function concurrentReads(t: TestServer): Promise<void> {
  const got = await Promise.all(
    Array.from({ length: N }, (_, i) => t.client.send(new GetItemCommand({ TableName: T, Key: { pk: { S: `k${i}` } } }))),
  );
  got.forEach((r, i) => assert.deepEqual(r.Item, { pk: { S: `k${i}` }, n: { N: String(i) } }));
}

describe('CQL coalescing', () => {
  let on: TestServer;
  let off: TestServer;
  before(async () => {
    [on, off] = await Promise.all([startTestServer('t_coalesce_on'), startTestServer('t_coalesce_off', { cqlCoalesce: false })]);
    await Promise.all([setUp(on), setUp(off)]);
  });
  after(async () => {
    await Promise.all([on?.close(), off?.close()]);
  });

  test('concurrent requests share flushes, and each gets its own answer', async () => {
    const before = await flushes(on.endpoint);
    // Requests arriving on many sockets are read in one poll phase; a few rounds make that certain enough.
    let after = before;
    for (let round = 0; round < 5 && after.sum - before.sum <= after.count - before.count; round++) {
      await concurrentReads(on);
      after = await flushes(on.endpoint);
    }
    const flushed = after.count - before.count;
    const statements = after.sum - before.sum;
    assert.ok(statements >= N, `every statement went through a flush (${statements})`);
    assert.ok(statements > flushed, `${statements} statements in ${flushed} flushes: some flush carried several`);
    assert.ok(after.single - before.single < flushed, 'not every flush was a single statement');
  });

  test('--cql-coalesce false: statements go out one by one, answers the same', async () => {
    await concurrentReads(off);
    const m = await flushes(off.endpoint);
    assert.equal(m.count, 0, 'no coalesced flush at all');
  });
});
