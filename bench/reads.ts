// Reads at scale: Query latency on a 100-item partition as the table grows, Query through the API
// against the same CQL read direct, a GSI query against a table query, and Scan throughput with 1
// and 2 parallel segments.
import { CreateTableCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import { formatRow, load, median, medianOf, scanPage, serveBench, withCpu, type Measured, type Result } from './harness.js';

export interface ReadsOptions {
  seconds: number;
  concurrency: number;
  /** Table sizes at which Query latency is measured. */
  sizes: number[];
  /** Measurements at each size, alternating the API and direct CQL (default 3); medians reported. */
  rounds?: number;
  /** Seconds of Query load before the first measurement (JIT, connections, caches; default 3). */
  warmup?: number;
}

const ONE = cassandra.types.consistencies.localOne;

export async function runReads(o: ReadsOptions): Promise<string> {
  const env = await serveBench('bench_reads');
  const { sdk, raw, cql } = env;
  const lines: string[] = [];
  try {
    const table = 'bench-reads';
    await sdk.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
          { AttributeName: 'g', AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [{ IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
      }),
    );
    const t = await env.cqlTableOf(table);
    // The partition every Query reads: 100 items of ~200 bytes, written through the API (so the
    // GSI has them too).
    for (let i = 0; i < 100; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          sdk.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'hot' }, sk: { N: String(i + j) }, g: { S: 'hot-g' }, v: { S: 'x'.repeat(160) } } })),
        ),
      );
    }
    const queryBody = { TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'hot' } } };
    const gsiBody = { TableName: table, IndexName: 'by-g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'hot-g' } } };
    // Grows the table with rows in the same layout, written directly (fast), in other partitions.
    let rows = 100;
    const insert = `INSERT INTO ${t} (pk, sk, item, ver) VALUES (?, ?, ?, ?)`;
    const grow = async (target: number) => {
      const started = Date.now();
      const perPartition = 10;
      while (rows < target) {
        const batch = Math.min(512, target - rows);
        await Promise.all(
          Array.from({ length: batch }, (_, j) => {
            const n = rows + j;
            const pk = `p${Math.floor(n / perPartition)}`;
            const item = JSON.stringify({ pk: { S: pk }, sk: { N: String(n % perPartition) }, v: { S: 'x'.repeat(160) } });
            return cql.execute(insert, [pk, String(n % perPartition), item, cassandra.types.Long.fromNumber(n + 1)], { prepare: true, consistency: ONE });
          }),
        );
        rows += batch;
      }
      process.stderr.write(`[bench] table grown to ${rows} rows in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    };
    const rounds = o.rounds ?? 3;
    const sdkQueryOnce = () => sdk.send(new QueryCommand(queryBody));
    const directOnce = () => cql.execute(`SELECT item, ver FROM ${t} WHERE pk = ?`, ['hot'], { prepare: true, consistency: ONE });
    lines.push(
      '### Query latency as the table grows',
      '',
      `Query of one partition of 100 items (~200 B each), SDK client, concurrency 8; the table grows with other partitions of 10 items. ` +
        `After ${o.warmup ?? 3} s of warm-up; at each size, medians of ${rounds} rounds alternating the Query with the same read in direct CQL (the control: what the node itself does at that size).`,
      '',
    );
    lines.push(formatRow(['table rows', 'Query ops/s', 'p50 ms', 'p99 ms', 'direct CQL p50 ms']), '| --- | --- | --- | --- | --- |');
    await load(8, o.warmup ?? 3, sdkQueryOnce, 0);
    await load(8, o.warmup ?? 3, directOnce, 0);
    for (const size of o.sizes) {
      await grow(size);
      const api: Result[] = [];
      const direct: Result[] = [];
      for (let r = 0; r < rounds; r++) {
        api.push(await load(8, o.seconds, sdkQueryOnce));
        direct.push(await load(8, o.seconds, directOnce));
      }
      const med = (rs: Result[], f: (r: Result) => number) => median(rs.map(f));
      lines.push(formatRow([size, Math.round(med(api, (r) => r.opsPerSec)), med(api, (r) => r.p50), med(api, (r) => r.p99), med(direct, (r) => r.p50)]));
    }
    lines.push(
      '',
      '### Query: API against direct CQL, and GSI against table',
      '',
      `Same partition (100 items), concurrency ${o.concurrency}, medians of ${rounds} alternating rounds; light = minimal HTTP client, direct = \`SELECT item, ver FROM t WHERE pk = ?\` prepared. ` +
        'CPU per read in µs: the load generator (the SDK, the light client or cassandra-driver), the server and Cassandra, all on the same two cores.',
      '',
    );
    const reads: [string, () => Promise<unknown>][] = [
      ['Query via SDK', () => sdk.send(new QueryCommand(queryBody))],
      ['Query via light client', () => raw('Query', queryBody)],
      ['GSI Query via light client', () => raw('Query', gsiBody)],
      ['direct CQL', directOnce],
    ];
    const measured = new Map<string, Measured<'server' | 'storage'>[]>();
    for (let r = 0; r < rounds; r++) {
      for (const [label, op] of reads) {
        const res = await withCpu({ server: env.serverPid, storage: env.cluster.pid }, () => load(o.concurrency, o.seconds, op));
        measured.set(label, [...(measured.get(label) ?? []), res]);
      }
    }
    const med = (label: string, f: (r: Measured<'server' | 'storage'>) => number | undefined) => medianOf(measured.get(label)!, f);
    const direct = med('direct CQL', (r) => r.opsPerSec);
    const cpuCell = (label: string, k: 'client' | 'server' | 'storage') => {
      const x = med(label, (r) => r.cpu[k]);
      return Number.isNaN(x) ? '-' : Math.round(x);
    };
    lines.push(
      formatRow(['read', 'ops/s', 'p50 ms', 'p99 ms', 'ratio to direct CQL', 'client CPU', 'server CPU', 'Cassandra CPU']),
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const [label] of reads) {
      lines.push(
        formatRow([
          label, Math.round(med(label, (r) => r.opsPerSec)), med(label, (r) => r.p50), med(label, (r) => r.p99), med(label, (r) => r.opsPerSec) / direct,
          cpuCell(label, 'client'), label === 'direct CQL' ? '-' : cpuCell(label, 'server'), cpuCell(label, 'storage'),
        ]),
      );
    }
    lines.push('', '### Scan throughput', '', `Whole-table Scan of ${rows} rows for ${o.seconds} s (1 MB pages, light client), with 1 and 2 parallel segments; items/s over 3 runs (median).`, '');
    lines.push(formatRow(['segments', 'items/s (median)']), '| --- | --- |');
    for (const segments of [1, 2]) {
      const rates: number[] = [];
      for (let run = 0; run < 3; run++) {
        let items = 0;
        const until = Date.now() + o.seconds * 1000;
        const started = Date.now();
        await Promise.all(
          Array.from({ length: segments }, async (_, segment) => {
            let start: unknown;
            while (Date.now() < until) {
              const body = { TableName: table, Segment: segment, TotalSegments: segments, ...(start ? { ExclusiveStartKey: start } : {}) };
              const page = await scanPage(env.endpoint, body);
              items += page.Count;
              start = page.LastEvaluatedKey;
              if (!start) break;
            }
          }),
        );
        rates.push(items / ((Date.now() - started) / 1000));
      }
      lines.push(formatRow([segments, Math.round(median(rates))]));
    }
  } finally {
    await env.close();
  }
  return lines.join('\n');
}
