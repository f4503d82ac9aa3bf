// Cost of transactions: TransactWriteItems of 2 and of 10 items against the same items written by
// single conditional PutItems, through the light HTTP client (the server's cost, not the SDK's),
// alternated in one run against one `serve` process. Each operation writes fresh keys, so no
// two requests contend; the ratios say what the commit protocol costs per item. The same PutItem
// and 2-item transaction against DynamoDB Local, in the same rounds, give the reference
// implementation's own ratio.
import { startDynamoDBLocal, type DynamoDBLocal } from '../test/helpers/dynamodb-local.js';
import { PEER_AUTH, formatRow, lightClient, load, median, medianOf, serveBench, withCpu, type Measured, type Result } from './harness.js';

export interface TransactionBenchOptions {
  seconds: number;
  concurrency: number;
  /** Measurements per operation, alternated (default 3); the report gives their medians. */
  rounds?: number;
  /** Seconds of every operation before the measured rounds (JIT and Cassandra warm-up; default 3). */
  warmup?: number;
}

const TABLE = 'bench-tx';
const item = (k: string) => ({ pk: { S: k }, n: { N: '1' }, body: { S: 'x'.repeat(200) } });
const absent = { ConditionExpression: 'attribute_not_exists(pk)' };

type Raw = (action: string, body: object) => Promise<void>;

const createTable = (raw: Raw) =>
  raw('CreateTable', {
    TableName: TABLE,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  });

const PUT = 'conditional PutItem (1 item)';
const TX2_TOKEN = 'TransactWriteItems, 2 items, ClientRequestToken';
const LOCAL = 'DynamoDB Local: ';

export async function runTransactionBench(o: TransactionBenchOptions): Promise<string> {
  const b = await serveBench('bench_tx');
  let local: DynamoDBLocal | undefined;
  try {
    await createTable(b.raw);
    // Java runs Cassandra already, so DynamoDB Local can run too; without its jar the bench goes on alone.
    local = await startDynamoDBLocal().catch((e: Error) => (process.stderr.write(`[bench] DynamoDB Local not started: ${e.message}\n`), undefined));
    const localRaw = local && lightClient(local.endpoint, PEER_AUTH);
    if (localRaw) await createTable(localRaw);
    let run = 0;
    const transaction = (size: number, token = false, raw: Raw = b.raw) => (i: number) =>
      raw('TransactWriteItems', {
        TransactItems: Array.from({ length: size }, (_, j) => ({ Put: { TableName: TABLE, Item: item(`t${size}-${run}-${i}-${j}`), ...absent } })),
        // The AWS SDKs send a ClientRequestToken with every TransactWriteItems.
        ...(token && { ClientRequestToken: `tok-${run}-${i}` }),
      });
    // The same items, each a conditional PutItem of its own, one after another (as an application
    // without transactions would write them).
    const puts = (size: number, raw: Raw = b.raw) => async (i: number) => {
      for (let j = 0; j < size; j++) await raw('PutItem', { TableName: TABLE, Item: item(`p${size}-${run}-${i}-${j}`), ...absent });
    };
    type Op = [string, (i: number) => Promise<unknown>];
    const ops: Op[] = [
      [PUT, puts(1)],
      ['TransactWriteItems, 2 items', transaction(2)],
      [TX2_TOKEN, transaction(2, true)],
      ['2 conditional PutItems', puts(2)],
      ['TransactWriteItems, 10 items', transaction(10)],
      ['10 conditional PutItems', puts(10)],
      ...(localRaw ? ([[LOCAL + PUT, puts(1, localRaw)], [LOCAL + TX2_TOKEN, transaction(2, true, localRaw)]] satisfies Op[]) : []),
    ];
    // DynamoDB Local's CPU is its own process's; Cassandra and our server are idle meanwhile.
    const pidsOf = (name: string) => (name.startsWith(LOCAL) ? { server: local!.pid } : { server: b.serverPid, storage: b.cluster.pid });
    const rounds = o.rounds ?? 3;
    const warmup = o.warmup ?? 3;
    for (const [, op] of ops) {
      run++;
      await load(o.concurrency, warmup, op, 0);
    }
    const results = new Map<string, Measured<'server' | 'storage'>[]>();
    for (let r = 0; r < rounds; r++) {
      // Each round starts one operation later: the compactions that heavy operations leave behind
      // then fall on every operation in turn, not always on the one measured first.
      for (const [name, op] of [...ops.slice(r % ops.length), ...ops.slice(0, r % ops.length)]) {
        run++;
        const res = await withCpu(pidsOf(name), () => load(o.concurrency, o.seconds, op));
        results.set(name, [...(results.get(name) ?? []), res]);
      }
    }
    const med = (name: string, f: (r: Result) => number) => median(results.get(name)!.map(f));
    const cpu = (name: string, k: 'server' | 'storage') => {
      const x = medianOf(results.get(name)!, (r) => r.cpu[k]);
      return Number.isNaN(x) ? '-' : Math.round(x);
    };
    const rows = ops.map(([name]) =>
      formatRow([name, med(name, (r) => r.opsPerSec), med(name, (r) => r.p50), med(name, (r) => r.p99), cpu(name, 'server'), cpu(name, 'storage'), results.get(name)!.reduce((n, r) => n + r.errors, 0)]),
    );
    const cost = (name: string, put = PUT) => med(put, (r) => r.opsPerSec) / med(name, (r) => r.opsPerSec);
    // The same ratio per round (the PutItem and the operation measured in the same round, so a
    // machine that drifts between rounds moves both), then its median.
    const perRound = (name: string, put = PUT) => results.get(name)!.map((r, i) => results.get(put)![i].opsPerSec / r.opsPerSec);
    const paired = (name: string, put = PUT) => median(perRound(name, put));
    return [
      `Concurrency ${o.concurrency}, ${o.seconds} s per measurement after ${warmup} s of every operation, medians of ${rounds} rounds, each starting one operation later; light HTTP client; fresh keys (no contention); \`always\` isolation, document layout.`,
      '',
      '| operation | ops/s | p50 ms | p99 ms | server CPU µs/op | Cassandra CPU µs/op | errors |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `Cost relative to one conditional PutItem (its ops/s over theirs): 2-item transaction ${cost('TransactWriteItems, 2 items').toFixed(2)}× ` +
        `(${cost(TX2_TOKEN).toFixed(2)}× with a ClientRequestToken, as the SDKs send), ` +
        `2 PutItems ${cost('2 conditional PutItems').toFixed(2)}×, 10-item transaction ${cost('TransactWriteItems, 10 items').toFixed(2)}×, ` +
        `10 PutItems ${cost('10 conditional PutItems').toFixed(2)}× (target: a 2-item transaction at most 3×). ` +
        `Median of the per-round ratios: 2-item transaction ${paired('TransactWriteItems, 2 items').toFixed(2)}× ` +
        `(rounds: ${perRound('TransactWriteItems, 2 items').map((x) => x.toFixed(2)).join(', ')}), ` +
        `with a token ${paired(TX2_TOKEN).toFixed(2)}×, 10-item transaction ${paired('TransactWriteItems, 10 items').toFixed(2)}×.`,
      ...(localRaw
        ? [
            '',
            `DynamoDB Local in the same rounds (its server CPU in the server column): a 2-item transaction with a token costs ${cost(LOCAL + TX2_TOKEN, LOCAL + PUT).toFixed(2)}× its conditional PutItem ` +
              `(median of the per-round ratios ${paired(LOCAL + TX2_TOKEN, LOCAL + PUT).toFixed(2)}×).`,
          ]
        : []),
    ].join('\n');
  } finally {
    await local?.stop();
    await b.close();
  }
}
