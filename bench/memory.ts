// Memory of `serve`: its resident set under a soak of mixed operations (does it grow?) and while a
// whole large table is scanned through the API (is it bounded by the page, not the table?), with
// the Scan's items/s beside a direct CQL scan of the same rows.
import { readFileSync, readdirSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { formatRow, load, median, scanPage, serveBench } from './harness.js';

export interface MemoryOptions {
  soakSeconds: number;
  concurrency: number;
  scanRows: number;
}

const ONE = cassandra.types.consistencies.localOne;

/** Resident set of a process and its direct children (serve's workers), in MiB, from /proc. */
function rssMiB(pid: number): number {
  const rss = (p: string) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
  let kb = rss(String(pid));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) kb += rss(entry);
    } catch {
      /* exited meanwhile */
    }
  }
  return kb / 1024;
}

/** Samples `rssMiB(pid)` every `ms` until stopped. */
function sampler(pid: number, ms: number): { stop(): number[] } {
  const samples = [rssMiB(pid)];
  const timer = setInterval(() => samples.push(rssMiB(pid)), ms);
  return { stop: () => (clearInterval(timer), samples.push(rssMiB(pid)), samples) };
}

export async function runMemory(o: MemoryOptions): Promise<string> {
  const env = await serveBench('bench_memory');
  const { raw, cql } = env;
  const table = 'bench-memory';
  const lines: string[] = [];
  try {
    await raw('CreateTable', {
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'g', AttributeType: 'S' }],
      GlobalSecondaryIndexes: [{ IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
    });
    const item = (i: number) => ({ pk: { S: `p${i % 500}` }, sk: { N: String(i % 1000) }, g: { S: `g${i % 50}` }, v: { S: 'x'.repeat(400) } });
    // A mixed workload over 500 partitions: writes, reads, read-modify-writes, index reads, batches, scans.
    const mix = [
      (i: number) => raw('PutItem', { TableName: table, Item: item(i) }),
      (i: number) => raw('GetItem', { TableName: table, Key: { pk: item(i).pk, sk: item(i).sk } }),
      (i: number) => raw('UpdateItem', { TableName: table, Key: { pk: item(i).pk, sk: item(i).sk }, UpdateExpression: 'ADD hits :one', ExpressionAttributeValues: { ':one': { N: '1' } } }),
      (i: number) => raw('Query', { TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': item(i).pk }, Limit: 50 }),
      (i: number) => raw('Query', { TableName: table, IndexName: 'by-g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': item(i).g }, Limit: 50 }),
      (i: number) => raw('BatchWriteItem', { RequestItems: { [table]: Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: item(i * 25 + j) } })) } }),
      () => raw('Scan', { TableName: table, Limit: 100 }),
    ];
    await load(o.concurrency, 5, (i) => mix[i % mix.length](i), 0);
    const soak = sampler(env.serverPid, 5000);
    const soaked = await load(o.concurrency, o.soakSeconds, (i) => mix[i % mix.length](i), 0);
    const samples = soak.stop();
    const third = Math.max(1, Math.floor(samples.length / 3));
    const first = median(samples.slice(0, third));
    const last = median(samples.slice(-third));
    lines.push(
      '### Soak of mixed operations',
      '',
      `${o.soakSeconds} s at concurrency ${o.concurrency} (light client): PutItem, GetItem, UpdateItem ADD, Query, GSI Query, BatchWriteItem of 25, Scan page, in turn;`,
      `${Math.round(soaked.opsPerSec)} requests/s, ${soaked.errors} errors. RSS of serve sampled every 5 s (MiB).`,
      '',
      formatRow(['RSS first third (median)', 'RSS last third (median)', 'RSS max', 'growth']),
      '| --- | --- | --- | --- |',
      formatRow([Math.round(first), Math.round(last), Math.round(Math.max(...samples)), `${(((last - first) / first) * 100).toFixed(1)}%`]),
      '',
      // The shape tells a leak (steady climb) from a heap that grows until its next full collection (saw-tooth).
      `RSS each minute (MiB): ${samples.filter((_, i) => i % 12 === 0).map((x) => Math.round(x)).join(', ')}.`,
      '',
    );

    // The large Scan: the table grown with direct inserts in the same layout, then read whole.
    const t = await env.cqlTableOf(table);
    const insert = `INSERT INTO ${t} (pk, sk, item, ver) VALUES (?, ?, ?, ?)`;
    let rows = 0;
    const grown = Date.now();
    while (rows < o.scanRows) {
      const batch = Math.min(512, o.scanRows - rows);
      await Promise.all(
        Array.from({ length: batch }, (_, j) => {
          const n = rows + j;
          const doc = JSON.stringify({ pk: { S: `s${Math.floor(n / 10)}` }, sk: { N: String(n % 10) }, v: { S: 'y'.repeat(160) } });
          return cql.execute(insert, [`s${Math.floor(n / 10)}`, String(n % 10), doc, cassandra.types.Long.fromNumber(n + 1)], { prepare: true, consistency: ONE });
        }),
      );
      rows += batch;
    }
    process.stderr.write(`[bench] memory: ${rows} rows inserted in ${((Date.now() - grown) / 1000).toFixed(0)} s\n`);
    const before = rssMiB(env.serverPid);
    const scan = sampler(env.serverPid, 1000);
    const scanned = Date.now();
    let items = 0;
    let start: unknown;
    do {
      const page = await scanPage(env.endpoint, { TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) });
      items += page.Count;
      start = page.LastEvaluatedKey;
    } while (start);
    const apiSeconds = (Date.now() - scanned) / 1000;
    const scanSamples = scan.stop();
    // The same rows read directly: a paged token-order scan of the CQL table.
    const direct = Date.now();
    let directRows = 0;
    await new Promise<void>((resolve, reject) =>
      cql.eachRow(`SELECT item FROM ${t}`, [], { prepare: true, fetchSize: 1000, autoPage: true, consistency: ONE }, () => directRows++, (e) => (e ? reject(e) : resolve())),
    );
    const directSeconds = (Date.now() - direct) / 1000;
    lines.push(
      '### Whole-table Scan',
      '',
      `A Scan of every item (${items} items, about ${o.scanRows} of ~250 B plus the soak's) through the API, one segment, 1 MB pages (light client), against`,
      `the same CQL table read directly with the driver's paging (${directRows} rows). RSS of serve sampled every second.`,
      '',
      formatRow(['API items/s', 'direct CQL rows/s', 'ratio', 'RSS before (MiB)', 'RSS max during Scan (MiB)']),
      '| --- | --- | --- | --- | --- |',
      formatRow([Math.round(items / apiSeconds), Math.round(directRows / directSeconds), items / apiSeconds / (directRows / directSeconds), Math.round(before), Math.round(Math.max(...scanSamples))]),
    );
  } finally {
    await env.close();
  }
  return lines.join('\n');
}
