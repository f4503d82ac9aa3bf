// Core item operations: PutItem, GetItem, UpdateItem (plain and conditional) through the AWS SDK
// against a `serve` process, and the same work as direct prepared CQL through cassandra-driver on
// the same node and the same CQL layout, in one run. Prints ops/s, p50/p99 and the API/direct ratio.
import { getRandomValues } from 'node:crypto';
import { CreateTableCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import { formatRow, hasWrk, load, serveBench, withCpu, wrkLoad, type Result } from './harness.js';

const { Long } = cassandra.types;
const ONE = cassandra.types.consistencies.localOne;
const QUORUM = cassandra.types.consistencies.localQuorum;
const SERIAL = cassandra.types.consistencies.localSerial;

export interface CoreOptions {
  seconds: number;
  concurrency: number;
  workers: number;
  items: number;
}

type Measured = Result & { cpu: Partial<Record<'server' | 'cassandra' | 'client', number>> };

interface Row {
  translator: string;
  isolation: string;
  op: string;
  api: Measured;
  light: Measured;
  /** wrk, when installed: the server's capacity without a Node client's CPU on the same cores. */
  wrk?: Measured;
  direct: Measured;
}

const version = () => {
  const w = getRandomValues(new Int32Array(2));
  return Long.fromBits(w[0] | 1, w[1]);
};

/** A 1 KB-ish item like the ones the benchmark writes. */
function payload(i: number) {
  return { pk: { S: `k${i}` }, name: { S: `user ${i}` }, n: { N: String(i) }, blob: { S: 'x'.repeat(900) } };
}

export async function runCore(o: CoreOptions): Promise<string> {
  const env = await serveBench('bench_core', ['--workers', String(o.workers)]);
  const wrk = hasWrk();
  const { sdk, raw, cql } = env;
  const rows: Row[] = [];
  try {
    for (const translator of ['document', 'cells']) {
      for (const isolation of ['always', 'only_rmw']) {
        const table = `bench-${translator}-${isolation}`;
        await sdk.send(
          new CreateTableCommand({
            TableName: table,
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
            Tags: [
              { Key: 'dynamo-cassandra:translator', Value: translator },
              { Key: 'dynamo-cassandra:write_isolation', Value: isolation },
            ],
          }),
        );
        const t = await env.cqlTableOf(table);
        const lwt = isolation === 'always';
        // Direct CQL equivalents of each operation, on the same layout.
        const doc = translator === 'document';
        const direct = {
          put: (i: number) => {
            const item = payload(i % o.items);
            if (doc) {
              const json = JSON.stringify(item);
              return lwt
                ? cql.execute(`UPDATE ${t} SET item = ?, ver = ? WHERE pk = ? IF ver != ?`, [json, version(), item.pk.S, Long.ZERO], { prepare: true, consistency: QUORUM, serialConsistency: SERIAL })
                : cql.execute(`INSERT INTO ${t} (pk, item, ver) VALUES (?, ?, ?)`, [item.pk.S, json, version()], { prepare: true, consistency: QUORUM });
            }
            const cells = Object.fromEntries(Object.entries(item).map(([k, v]) => [k, JSON.stringify(v)]));
            return lwt
              ? cql.execute(`UPDATE ${t} SET attrs = ?, ver = ? WHERE pk = ? IF ver != ?`, [cells, version(), item.pk.S, Long.ZERO], { prepare: true, consistency: QUORUM, serialConsistency: SERIAL })
              : cql.execute(`INSERT INTO ${t} (pk, attrs, ver) VALUES (?, ?, ?)`, [item.pk.S, cells, version()], { prepare: true, consistency: QUORUM });
          },
          get: (i: number) =>
            cql.execute(`SELECT ${doc ? 'item' : 'attrs'}, ver FROM ${t} WHERE pk = ?`, [`k${i % o.items}`], { prepare: true, consistency: ONE }),
          // Read the row, then compare-and-set its version: what any atomic read-modify-write costs.
          rmw: async (i: number) => {
            const pk = `k${i % o.items}`;
            const rs = await cql.execute(`SELECT ${doc ? 'item' : 'attrs'}, ver FROM ${t} WHERE pk = ?`, [pk], { prepare: true, consistency: QUORUM });
            const ver = rs.first().get('ver');
            return doc
              ? cql.execute(`UPDATE ${t} SET item = ?, ver = ? WHERE pk = ? IF ver = ?`, [rs.first().get('item'), version(), pk, ver], { prepare: true, consistency: QUORUM, serialConsistency: SERIAL })
              : cql.execute(`UPDATE ${t} SET attrs = attrs + ?, ver = ? WHERE pk = ? IF ver = ?`, [{ name: '{"S":"x"}' }, version(), pk, ver], { prepare: true, consistency: QUORUM, serialConsistency: SERIAL });
          },
          // A blind partial update (cells layout only).
          merge: (i: number) =>
            cql.execute(`UPDATE ${t} SET attrs = attrs + ?, ver = ? WHERE pk = ?${lwt ? ' IF ver != ?' : ''}`, [{ name: '{"S":"x"}' }, version(), `k${i % o.items}`, ...(lwt ? [Long.ZERO] : [])], {
              prepare: true,
              consistency: QUORUM,
              serialConsistency: SERIAL,
            }),
        };
        const updateRequest = (i: number, conditional: boolean) => ({
          TableName: table,
          Key: { pk: { S: `k${i % o.items}` } },
          UpdateExpression: 'SET #n = :v',
          ...(conditional ? { ConditionExpression: 'attribute_exists(pk)' } : {}),
          ExpressionAttributeNames: { '#n': 'name' },
          ExpressionAttributeValues: { ':v': { S: 'x' } },
        });
        const light = {
          put: (i: number) => raw('PutItem', { TableName: table, Item: payload(i % o.items) }),
          get: (i: number) => raw('GetItem', { TableName: table, Key: { pk: { S: `k${i % o.items}` } } }),
          update: (i: number) => raw('UpdateItem', updateRequest(i, false)),
          conditional: (i: number) => raw('UpdateItem', updateRequest(i, true)),
        };
        const api = {
          put: (i: number) => sdk.send(new PutItemCommand({ TableName: table, Item: payload(i % o.items) })),
          get: (i: number) => sdk.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `k${i % o.items}` } } })),
          update: (i: number) => sdk.send(new UpdateItemCommand(updateRequest(i, false))),
          conditional: (i: number) => sdk.send(new UpdateItemCommand(updateRequest(i, true))),
        };
        // Load the items once through the API so both sides read the same rows.
        for (let i = 0; i < o.items; i += 64) {
          await Promise.all(Array.from({ length: Math.min(64, o.items - i) }, (_, j) => api.put(i + j)));
        }
        type Op = (i: number) => Promise<unknown>;
        const pids = { server: env.serverPid, cassandra: env.cluster.pid };
        // The warm-up runs outside the CPU bracket, so CPU per operation counts only measured operations.
        const run = async (op: Op) => {
          await load(o.concurrency, 1, op, 0);
          return withCpu(pids, () => load(o.concurrency, o.seconds, op, 0));
        };
        // The same requests for wrk, as templates whose {i} it fills with a key number.
        const key = { pk: { S: 'k{i}' } };
        const wrkBodies = {
          get: { action: 'GetItem', body: { TableName: table, Key: key } },
          put: { action: 'PutItem', body: { TableName: table, Item: { ...payload(0), ...key } } },
          update: { action: 'UpdateItem', body: { ...updateRequest(0, false), Key: key } },
          conditional: { action: 'UpdateItem', body: { ...updateRequest(0, true), Key: key } },
        };
        const viaWrk = (w: { action: string; body: object }) =>
          withCpu(pids, () => wrkLoad(env.endpoint, w.action, JSON.stringify(w.body), o.items, o.concurrency, o.seconds));
        const measure = async (op: string, viaSdk: Op, viaLight: Op, viaCql: Op, w: { action: string; body: object }) => {
          const row: Row = {
            translator, isolation, op,
            api: await run(viaSdk), light: await run(viaLight), wrk: wrk ? await viaWrk(w) : undefined, direct: await run(viaCql),
          };
          rows.push(row);
          process.stderr.write(
            `[bench] ${translator}/${isolation} ${op}: SDK ${row.api.opsPerSec.toFixed(0)}, light client ${row.light.opsPerSec.toFixed(0)},${row.wrk ? ` wrk ${row.wrk.opsPerSec.toFixed(0)},` : ''} direct CQL ${row.direct.opsPerSec.toFixed(0)} ops/s\n`,
          );
        };
        if (isolation === 'always') await measure('GetItem', api.get, light.get, direct.get, wrkBodies.get);
        await measure('PutItem', api.put, light.put, direct.put, wrkBodies.put);
        await measure('UpdateItem SET', api.update, light.update, doc ? direct.rmw : direct.merge, wrkBodies.update);
        if (isolation === 'always') await measure('UpdateItem conditional', api.conditional, light.conditional, direct.rmw, wrkBodies.conditional);
      }
    }
  } finally {
    await env.close();
  }
  const lines = [
    `Concurrency ${o.concurrency}, ${o.seconds} s per measurement, ${o.items} items of ~1 KB, serve with ${o.workers} worker(s); latencies in ms.`,
    '',
    'SDK: the AWS SDK v3 client; light: a minimal keep-alive HTTP client in Node sending the same JSON (isolates the',
    "server's cost from the SDK's); wrk: the same JSON from wrk, a load generator in C whose CPU per request is a",
    "fraction of any Node client's (- when wrk is not installed); direct: the same CQL through cassandra-driver, prepared.",
    '',
    formatRow(['layout', 'isolation', 'operation', 'SDK ops/s', 'SDK p50', 'SDK p99', 'light ops/s', 'light p50', 'wrk ops/s', 'wrk p50', 'wrk p99', 'direct ops/s', 'direct p50', 'direct p99', 'SDK/direct', 'light/direct', 'wrk/direct']),
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) =>
      formatRow([
        r.translator, r.isolation, r.op,
        Math.round(r.api.opsPerSec), r.api.p50, r.api.p99,
        Math.round(r.light.opsPerSec), r.light.p50,
        r.wrk ? Math.round(r.wrk.opsPerSec) : '-', r.wrk ? r.wrk.p50 : '-', r.wrk ? r.wrk.p99 : '-',
        Math.round(r.direct.opsPerSec), r.direct.p50, r.direct.p99,
        r.api.opsPerSec / r.direct.opsPerSec, r.light.opsPerSec / r.direct.opsPerSec, r.wrk ? r.wrk.opsPerSec / r.direct.opsPerSec : '-',
      ]),
    ),
  ];
  if (rows.some((r) => r.direct.cpu.cassandra !== undefined)) lines.push('', ...cpuTable(rows));
  const errors = rows.filter((r) => r.api.errors || r.light.errors || r.wrk?.errors || r.direct.errors);
  if (errors.length) {
    lines.push('', `Errors: ${errors.map((r) => `${r.translator}/${r.isolation} ${r.op}: SDK ${r.api.errors}, light ${r.light.errors}, wrk ${r.wrk?.errors ?? '-'}, direct ${r.direct.errors}`).join('; ')}`);
  }
  return lines.join('\n');
}

const us = (x: number | undefined) => (x === undefined ? '?' : Math.round(x));

/**
 * CPU per operation of each process, from /proc: less dependent on what else the machine runs than
 * throughput (though a process's background work is spread over fewer operations when throughput
 * is low, and contention for the cores costs CPU too). The capacity ratio is what the API would reach against direct CQL if the load
 * generators ran on other machines and Cassandra plus the server had the cores to themselves.
 */
function cpuTable(rows: Row[]): string[] {
  return [
    'CPU per operation in µs, from /proc (background work of each process included, so low throughput inflates it). Capacity',
    'ratio: direct Cassandra CPU / (server + Cassandra CPU through the API, under wrk when installed, else the light client): the API/direct throughput to expect',
    'if the load generators ran on other machines and Cassandra and the server had these cores to themselves.',
    '',
    formatRow(['layout', 'isolation', 'operation', 'SDK client', 'light client', 'direct client', 'server', 'Cassandra via API', 'Cassandra direct', 'capacity ratio']),
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => {
      const { server, cassandra } = (r.wrk ?? r.light).cpu;
      const direct = r.direct.cpu.cassandra;
      const ratio = server !== undefined && cassandra !== undefined && direct !== undefined ? direct / (server + cassandra) : '?';
      return formatRow([r.translator, r.isolation, r.op, us(r.api.cpu.client), us(r.light.cpu.client), us(r.direct.cpu.client), us(server), us(cassandra), us(direct), ratio]);
    }),
  ];
}
