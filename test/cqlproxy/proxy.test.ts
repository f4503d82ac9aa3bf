// The CQL dual-write proxy against two real single-node clusters with different cluster
// and datacenter names and password authentication: cassandra-driver and cqlsh through the
// proxy, then both clusters read directly must hold the same data; a stopped target follows
// the failure policy and `replay` catches it up.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import cassandra from 'cassandra-driver';
import { startLocalNode, type LocalNode } from '../../src/local-node/index.js';
import { startCqlProxy, replayFailedWrites, summarizeReadReport, type CqlProxyHandle } from '../../src/cqlproxy/index.js';
import { readFailedWrites } from '../../src/cqlproxy/failedlog.js';
import { BodyReader, BodyWriter, ErrorCode, Opcode, parseError } from '../../src/cqlproxy/frame.js';
import { RawCql, describeFrame, queryBody } from './rawcql.js';
import { makeCerts, relay, type Relay } from '../helpers/relay.js';

const run = promisify(execFile);
const SOURCE = { address: '127.0.0.2', clusterName: 'cqlproxy_source', datacenter: 'dc_source' };
const TARGET = { address: '127.0.0.3', clusterName: 'cqlproxy_target', datacenter: 'dc_target' };
const KS = 'proxytest';
const quiet = { info() {}, warn() {}, error() {} };
/** The local nodes' superuser (both clusters run PasswordAuthenticator). */
const SUPER = { username: 'cassandra', password: 'cassandra' };
const auth = (c: { username: string; password: string } = SUPER) => new cassandra.auth.PlainTextAuthProvider(c.username, c.password);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tmp: string;
let source: LocalNode;
let target: LocalNode;
let proxy: CqlProxyHandle;
let registry: Registry;
let client: cassandra.Client;
let direct: { source: cassandra.Client; target: cassandra.Client };

function nodeOpts(n: typeof SOURCE, dir: string) {
  // Two nodes start at once, on a machine that may be busy: give them longer than the default 120 s.
  return { ...n, port: 9042, dataDir: dir, heapMb: 512, auth: true, startTimeoutMs: 600_000 };
}

async function connect(port: number, credentials = SUPER): Promise<cassandra.Client> {
  const c = new cassandra.Client({
    contactPoints: [`127.0.0.1:${port}`],
    localDataCenter: SOURCE.datacenter,
    authProvider: auth(credentials),
    keyspace: undefined,
    socketOptions: { readTimeout: 30000 },
    // One connection carrying thousands of requests at once.
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 }, maxRequestsPerConnection: 8192 },
  });
  await c.connect();
  return c;
}

function directClient(n: typeof SOURCE): cassandra.Client {
  return new cassandra.Client({ contactPoints: [`${n.address}:9042`], localDataCenter: n.datacenter, authProvider: auth(), socketOptions: { readTimeout: 30000 } });
}

/** Every row of every table of the keyspace, with write times, as comparable text. */
async function dump(c: cassandra.Client): Promise<Record<string, string[]>> {
  const tables = await c.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [KS], { prepare: true });
  const out: Record<string, string[]> = {};
  for (const { table_name: t } of tables.rows) {
    const cols = await c.execute('SELECT column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [KS, t], { prepare: true });
    const names = cols.rows.map((r) => r.column_name as string);
    const regular = cols.rows.filter((r) => r.kind === 'regular' && !String(r.type).startsWith('counter')).map((r) => r.column_name as string);
    const select = [...names.map((n) => `"${n}"`), ...regular.map((n) => `writetime("${n}")`)].join(', ');
    const rows: string[] = [];
    let pageState: string | undefined;
    do {
      const r = await c.execute(`SELECT ${select} FROM ${KS}."${t}"`, [], { fetchSize: 1000, pageState });
      for (const row of r.rows) rows.push(JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      pageState = r.pageState ?? undefined;
    } while (pageState);
    out[t as string] = rows.sort();
  }
  return out;
}

async function assertIdentical(label: string): Promise<void> {
  const [a, b] = await Promise.all([dump(direct.source), dump(direct.target)]);
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), `${label}: same tables`);
  for (const t of Object.keys(a)) {
    assert.equal(b[t]!.length, a[t]!.length, `${label}: ${t} row count`);
    assert.deepEqual(b[t], a[t], `${label}: ${t} contents`);
  }
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cqlproxy-test-'));
  [source, target] = await Promise.all([
    startLocalNode(nodeOpts(SOURCE, path.join(tmp, 'source'))),
    startLocalNode(nodeOpts(TARGET, path.join(tmp, 'target'))),
  ]);
  registry = new Registry();
  proxy = await startCqlProxy(
    {
      listen: '127.0.0.1:0',
      source: `${SOURCE.address}:9042`,
      target: `${TARGET.address}:9042`,
      failedLog: path.join(tmp, 'failed-main.jsonl'),
      readReport: path.join(tmp, 'read-report.jsonl'),
      mirrorReads: 1,
    },
    { registry, logger: quiet },
  );
  client = await connect(proxy.port);
  direct = { source: directClient(SOURCE), target: directClient(TARGET) };
  await Promise.all([direct.source.connect(), direct.target.connect()]);
});

after(async () => {
  // Each step bounded and named: a hang fails the run saying where, instead of stalling it.
  const errors: Error[] = [];
  const step = async (name: string, work: () => Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`after: ${name} still running after 20 s; active: ${process.getActiveResourcesInfo().join(',')}`)), 20_000);
    });
    try {
      await Promise.race([work(), limit]);
    } catch (err) {
      errors.push(err as Error);
    } finally {
      clearTimeout(timer);
    }
  };
  await step('driver shutdown', () => Promise.allSettled([client?.shutdown(), direct?.source.shutdown(), direct?.target.shutdown()]));
  await step('proxy close', async () => proxy?.close());
  await step('nodes stop', () => Promise.allSettled([source?.stop(), target?.stop()]));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (errors.length) throw errors[0];
});

test('the client sees the proxy as the whole cluster', async () => {
  const hosts = client.getState().getConnectedHosts().map((h) => h.address);
  assert.deepEqual(hosts, [`127.0.0.1:${proxy.port}`]);
  const local = await client.execute("SELECT rpc_address, cluster_name, data_center FROM system.local WHERE key = 'local'");
  assert.equal(local.rows[0]!.rpc_address.toString(), '127.0.0.1');
  assert.equal(local.rows[0]!.cluster_name, SOURCE.clusterName);
  const peers = await client.execute('SELECT * FROM system.peers');
  assert.equal(peers.rowLength, 0);
});

test('DDL reaches both clusters (different cluster and DC names)', async () => {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${KS}.kv (k int PRIMARY KEY, v text, tu timeuuid, u uuid, ts timestamp)`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${KS}.events (p text, c int, v text, PRIMARY KEY (p, c))`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${KS}.counts (k text PRIMARY KEY, n counter)`);
  for (const d of [direct.source, direct.target]) {
    const r = await d.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [KS], { prepare: true });
    assert.deepEqual(r.rows.map((x) => x.table_name).sort(), ['counts', 'events', 'kv']);
  }
  const tl = await direct.target.execute("SELECT cluster_name, data_center FROM system.local WHERE key = 'local'");
  assert.equal(tl.rows[0]!.cluster_name, TARGET.clusterName);
});

test('simple, prepared and batch writes with now()/uuid() land identically', async () => {
  await client.execute(`INSERT INTO ${KS}.kv (k, v, tu, u, ts) VALUES (1, 'simple', now(), uuid(), currentTimestamp())`);
  await client.execute(`/* comment */ insert into ${KS}.kv (k, v, tu) values (?, ?, NOW())`, [2, 'prepared'], { prepare: true });
  await client.execute(`UPDATE ${KS}.kv SET v = 'updated' WHERE k = 1`);
  await client.execute(`INSERT INTO ${KS}.kv (k, v) VALUES (3, 'to delete')`);
  await client.execute(`DELETE FROM ${KS}.kv WHERE k = ?`, [3], { prepare: true });
  await client.batch(
    [
      { query: `INSERT INTO ${KS}.events (p, c, v) VALUES (?, ?, ?)`, params: ['b', 1, 'one'] },
      { query: `INSERT INTO ${KS}.events (p, c, v) VALUES (?, ?, ?)`, params: ['b', 2, 'two'] },
      { query: `INSERT INTO ${KS}.kv (k, v, tu) VALUES (?, ?, now())`, params: [4, 'batched'] },
    ],
    { prepare: true },
  );
  await client.batch([`INSERT INTO ${KS}.events (p, c, v) VALUES ('b', 3, 'three')`, `INSERT INTO ${KS}.kv (k, v, u) VALUES (5, 'simple batch', uuid())`]);
  await client.execute(`BEGIN BATCH INSERT INTO ${KS}.events (p, c, v) VALUES ('b', 4, 'four'); APPLY BATCH`);
  const r = await client.execute(`SELECT * FROM ${KS}.kv WHERE k = 1`);
  assert.equal(r.rows[0]!.v, 'updated');
  assert.ok(r.rows[0]!.tu);
  await assertIdentical('after writes');
});

test('now()/uuid()/currentTimestamp()/currentDate() inside function calls keep their type: QUERY, EXECUTE, BATCH', async () => {
  // Replaced by an untyped literal, toTimestamp(now()) would be ambiguous (date or timeuuid).
  await client.execute(`CREATE TABLE IF NOT EXISTS ${KS}.typed (id int, c int, u timeuuid, uu uuid, ts timestamp, d date, b bigint, mt timeuuid, PRIMARY KEY (id, c))`);
  const statements = [
    `INSERT INTO ${KS}.typed (id, c, u, ts) VALUES (?, ?, now(), toTimestamp(now()))`,
    `INSERT INTO ${KS}.typed (id, c, d, b) VALUES (?, ?, toDate(now()), toUnixTimestamp(now()))`,
    `INSERT INTO ${KS}.typed (id, c, mt, ts, b) VALUES (?, ?, minTimeuuid(currentTimestamp()), toTimestamp(currentDate()), toUnixTimestamp(currentTimestamp()))`,
    `INSERT INTO ${KS}.typed (id, c, mt, d, uu) VALUES (?, ?, maxTimeuuid(toTimestamp(currentTimeUUID())), toDate(currentTimestamp()), uuid())`,
    `UPDATE ${KS}.typed SET ts = toTimestamp(now()), uu = uuid(), d = toDate(toTimestamp(currentDate())) WHERE id = ? AND c = ?`,
  ];
  const literal = (q: string, id: number, c: number) => q.replace('?', String(id)).replace('?', String(c));
  // QUERY: the statement word for word, then each form.
  await client.execute(`INSERT INTO ${KS}.typed (id, c, u, ts) VALUES (9000, 0, now(), toTimestamp(now()))`);
  for (const [i, q] of statements.entries()) await client.execute(literal(q, 9001, i));
  // PREPARE/EXECUTE: the calls become hidden bind markers that must carry the same types.
  for (const [i, q] of statements.entries()) await client.execute(q, [9002, i], { prepare: true });
  // BATCH of simple statements and of prepared ones.
  await client.batch(statements.map((q, i) => literal(q, 9003, i)));
  await client.batch(statements.map((q, i) => ({ query: q, params: [9004, i] })), { prepare: true });
  const today = new Date().toISOString().slice(0, 10);
  for (const id of [9000, 9001, 9002, 9003, 9004]) {
    const rows = (await direct.target.execute(`SELECT * FROM ${KS}.typed WHERE id = ?`, [id], { prepare: true })).rows;
    assert.equal(rows.length, id === 9000 ? 1 : statements.length, `rows of ${id} on the target`);
    for (const r of rows) {
      if (r.c === 0) {
        // toTimestamp(now()) is the time of the timeuuid now() gave in the same statement.
        assert.ok(Math.abs(r.ts.getTime() - r.u.getDate().getTime()) < 60_000, `${id}/0: ts ${r.ts} near u ${r.u}`);
        assert.ok(Math.abs(r.ts.getTime() - Date.now()) < 600_000, `${id}/0: ts ${r.ts} is now`);
      }
      if (r.c === 1) {
        assert.equal(r.d.toString(), today, `${id}/1: toDate(now())`);
        assert.ok(Math.abs(r.b.toNumber() - Date.now()) < 600_000, `${id}/1: toUnixTimestamp(now()) ${r.b}`);
      }
      if (r.c === 2) assert.equal(r.ts.toISOString().slice(0, 10), today, `${id}/2: toTimestamp(currentDate())`);
      if (r.c === 4) assert.equal(r.d.toString(), today, `${id}/4: toDate(toTimestamp(currentDate()))`);
    }
  }
  await assertIdentical('typed non-deterministic calls');
});

test('counters and paging', async () => {
  for (let i = 0; i < 5; i++) await client.execute(`UPDATE ${KS}.counts SET n = n + ? WHERE k = ?`, [cassandra.types.Long.fromNumber(2), 'c1'], { prepare: true });
  await client.execute(`UPDATE ${KS}.counts SET n = n - 1 WHERE k = 'c1'`);
  for (const d of [direct.source, direct.target, client]) {
    const r = await d.execute(`SELECT n FROM ${KS}.counts WHERE k = 'c1'`);
    assert.equal(r.rows[0]!.n.toString(), '9');
  }
  const ins = `INSERT INTO ${KS}.events (p, c, v) VALUES (?, ?, ?)`;
  await Promise.all(Array.from({ length: 230 }, (_, i) => client.execute(ins, ['page', i, `v${i}`], { prepare: true })));
  let pages = 0;
  let rows = 0;
  let pageState: string | undefined;
  do {
    const r = await client.execute(`SELECT * FROM ${KS}.events WHERE p = ?`, ['page'], { prepare: true, fetchSize: 50, pageState });
    pages++;
    rows += r.rowLength;
    pageState = r.pageState ?? undefined;
  } while (pageState);
  assert.equal(rows, 230);
  assert.equal(pages, 5);
});

test('thousands of concurrent requests on one connection', async () => {
  const ins = `INSERT INTO ${KS}.events (p, c, v) VALUES (?, ?, ?)`;
  const n = 4000;
  await Promise.all(Array.from({ length: n }, (_, i) => client.execute(ins, ['many', i, `v${i}`], { prepare: true })));
  const reads = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.execute(`SELECT v FROM ${KS}.events WHERE p = ? AND c = ?`, ['many', i], { prepare: true })));
  reads.forEach((r, i) => assert.equal(r.rows[0]!.v, `v${i}`));
  for (const d of [direct.source, direct.target]) {
    const r = await d.execute(`SELECT count(*) FROM ${KS}.events WHERE p = 'many'`);
    assert.equal(Number(r.rows[0]!.count), n);
  }
});

test('schema change: prepared statements are re-prepared transparently', async () => {
  const sel = `SELECT * FROM ${KS}.kv WHERE k = ?`;
  const before1 = await client.execute(sel, [1], { prepare: true });
  assert.equal(before1.rows[0]!.v, 'updated');
  await client.execute(`ALTER TABLE ${KS}.kv ADD extra text`);
  const upd = `UPDATE ${KS}.kv SET extra = ? WHERE k = ?`;
  await client.execute(upd, ['x', 1], { prepare: true });
  const after1 = await client.execute(sel, [1], { prepare: true });
  assert.equal(after1.rows[0]!.extra, 'x');
  // A second proxy knows none of the client's prepared ids: the driver is told to re-prepare.
  const p2 = await startCqlProxy({ listen: '127.0.0.1:0', source: `${SOURCE.address}:9042`, target: `${TARGET.address}:9042`, failedLog: path.join(tmp, 'failed-p2.jsonl') }, { logger: quiet });
  const c2 = await connect(p2.port);
  try {
    await c2.execute(upd, ['y', 2], { prepare: true });
    const r = await c2.execute(sel, [2], { prepare: true });
    assert.equal(r.rows[0]!.extra, 'y');
  } finally {
    await c2.shutdown();
    await p2.close();
  }
  await assertIdentical('after schema change');
});

/** The per-table summary of the read report once it names `table` (the file is written asynchronously). */
async function reportedTable(table: string) {
  for (let i = 0; i < 100; i++) {
    const t = summarizeReadReport(path.join(tmp, 'read-report.jsonl')).tables.find((x) => x.table === table);
    if (t) return t;
    await sleep(100);
  }
  return undefined;
}

test('mirrored reads report differences per table and key', async (t) => {
  // Repair through the proxy however the test ends, so later comparisons hold.
  t.after(() => client.execute(`UPDATE ${KS}.kv SET v = 'prepared' WHERE k = 2`));
  // Make the clusters disagree behind the proxy's back.
  await direct.target.execute(`UPDATE ${KS}.kv SET v = 'diverged' WHERE k = 2`);
  const r = await client.execute(`SELECT v FROM ${KS}.kv WHERE k = ?`, [2], { prepare: true });
  assert.equal(r.rows[0]!.v, 'prepared'); // the source answers
  // The comparison runs after the client got its answer: wait for it (slow under load).
  const kv = await reportedTable('kv');
  assert.ok(kv && kv.differences >= 1);
  assert.ok(kv.sampleKeys.some((k) => k.includes('00000002')), 'key of the differing row is reported');
  const metrics = await registry.metrics();
  assert.match(metrics, /cql_proxy_read_differences_total\{keyspace="proxytest",table="kv"\} [1-9]/);
  for (const name of ['cql_proxy_processing_seconds', 'cql_proxy_request_seconds', 'cql_proxy_server_errors_total', 'cql_proxy_socket_paused_seconds_total']) {
    assert.ok(metrics.includes(name), name);
  }
  assert.match(metrics, /cql_proxy_request_seconds_count\{opcode="execute",kind="write"\} \d+/);
});

test('mirrored reads compare following pages too (the target reads from the source paging state)', async (t) => {
  t.after(() => client.execute(`UPDATE ${KS}.events SET v = 'v120' WHERE p = 'page' AND c = 120`));
  const before = proxy.stats().readDifferences;
  // Rows c = 100..149 make the third page of 50.
  await direct.target.execute(`UPDATE ${KS}.events SET v = 'diverged' WHERE p = 'page' AND c = 120`);
  const sel = `SELECT c, v FROM ${KS}.events WHERE p = ?`;
  let pageState: string | undefined;
  let pages = 0;
  do {
    const r = await client.execute(sel, ['page'], { prepare: true, fetchSize: 50, pageState });
    pageState = r.pageState ?? undefined;
    pages++;
  } while (pageState);
  assert.equal(pages, 5);
  for (let i = 0; i < 100 && proxy.stats().readDifferences === before; i++) await sleep(100);
  await sleep(500); // comparisons of the other pages, which must not count
  assert.equal(proxy.stats().readDifferences, before + 1, 'exactly the page with the differing row differs');
  assert.ok(await reportedTable('events'), 'the differing page is in the read report');
});

/** Client connections the proxy accepted with protocol version `v` so far. */
async function startups(v: number): Promise<number> {
  const m = registry.getSingleMetric('cql_proxy_client_startups_total');
  const values = m ? (await m.get()).values : [];
  return values.find((x) => x.labels.protocol_version === String(v))?.value ?? 0;
}

test('cqlsh speaks protocol v5 through the proxy (its preferred version, no downgrade)', async () => {
  let cqlsh = 'cqlsh';
  try {
    await run(cqlsh, ['--version']);
  } catch {
    try {
      await run('pip', ['install', '--quiet', 'cqlsh'], { timeout: 300000 });
      await run(cqlsh, ['--version']);
    } catch (err) {
      assert.fail(`cqlsh is required for this test and could not be installed with "pip install cqlsh": ${(err as Error).message}`);
    }
  }
  const [v4Before, v5Before] = [await startups(4), await startups(5)];
  const out = await run(
    cqlsh,
    ['127.0.0.1', String(proxy.port), '-u', SUPER.username, '-p', SUPER.password, '-e', `INSERT INTO ${KS}.kv (k, v, tu) VALUES (100, 'from cqlsh', now()); SELECT k, v FROM ${KS}.kv WHERE k = 100;`],
    { timeout: 60000 },
  );
  assert.match(out.stdout, /from cqlsh/);
  assert.ok((await startups(5)) > v5Before, 'cqlsh connected with v5');
  assert.equal(await startups(4), v4Before, 'and never fell back to v4');
  const desc = await run(cqlsh, ['127.0.0.1', String(proxy.port), '-u', SUPER.username, '-p', SUPER.password, '-e', `DESCRIBE TABLE ${KS}.events`], { timeout: 60000 });
  assert.match(desc.stdout, /CREATE TABLE proxytest\.events/);
  await assertIdentical('after cqlsh');
  // Pinned versions: v5 and v4 both work.
  for (const v of [5, 4]) {
    const pinned = await run(cqlsh, ['127.0.0.1', String(proxy.port), `--protocol-version=${v}`, '-u', SUPER.username, '-p', SUPER.password, '-e', `INSERT INTO ${KS}.kv (k, v) VALUES (10${v}, 'cqlsh v${v}'); SELECT v FROM ${KS}.kv WHERE k = 10${v};`], { timeout: 60000 });
    assert.match(pinned.stdout, new RegExp(`cqlsh v${v}`));
  }
  await assertIdentical('after cqlsh with pinned versions');
});

test('protocol versions: v6 and v2 requests get the protocol error drivers downgrade on', async () => {
  for (const version of [6, 2]) {
    const raw = await RawCql.connect(proxy.port);
    try {
      raw.send(0, Opcode.OPTIONS, Buffer.alloc(0), version);
      const f = await raw.answer(0, 10000);
      assert.equal(f.opcode, Opcode.ERROR);
      assert.equal(f.version, Math.min(5, version));
      const e = parseError(f.body);
      assert.equal(e.code, ErrorCode.PROTOCOL_ERROR);
      assert.match(e.message, new RegExp(`unsupported protocol version \\(${version}\\); supported versions are \\(3/v3, 4/v4, 5/v5\\)`));
      // The connection stays usable with a supported version.
      raw.send(1, Opcode.OPTIONS, Buffer.alloc(0), 4);
      assert.equal((await raw.answer(1, 10000)).opcode, Opcode.SUPPORTED);
    } finally {
      raw.destroy();
    }
  }
});

test('lz4 compression negotiated by the Python driver: v5 compressed segments', async () => {
  try {
    await run('python3', ['-c', 'import lz4.block']);
  } catch {
    try {
      await run('pip', ['install', '--quiet', 'lz4'], { timeout: 300000 });
    } catch (err) {
      assert.fail(`the Python lz4 module is required for this test ("pip install lz4"): ${(err as Error).message}`);
    }
  }
  const script = [
    'import sys',
    'from cassandra.cluster import Cluster',
    'from cassandra.auth import PlainTextAuthProvider',
    `c = Cluster(['127.0.0.1'], port=${proxy.port}, compression='lz4', auth_provider=PlainTextAuthProvider('${SUPER.username}', '${SUPER.password}'))`,
    's = c.connect()',
    `rows = list(s.execute("SELECT c, v FROM ${KS}.events WHERE p = 'many' LIMIT 800"))`,
    `s.execute("INSERT INTO ${KS}.kv (k, v) VALUES (300, '" + "z" * 2000 + "')")`,
    'print(c.protocol_version, len(rows), s.cluster.control_connection._connection.compressor is not None)',
    'c.shutdown()',
  ].join('\n');
  const out = await run('python3', ['-c', script], { timeout: 60000 });
  assert.equal(out.stdout.trim(), '5 800 True');
  await assertIdentical('after python lz4');
});

test('Python driver pinned to v5 (plain and lz4 segments) and to v4: query, prepare/execute, batch, paging, a row over 128 KiB, changed result metadata', async () => {
  await client.execute(`CREATE TABLE IF NOT EXISTS ${KS}.pymeta (k int PRIMARY KEY, a text)`);
  const runs = [
    { label: 'v5', version: 5, compression: 'None', base: 400 },
    { label: 'v5 lz4', version: 5, compression: "'lz4'", base: 500 },
    { label: 'v4', version: 4, compression: 'None', base: 600 },
  ];
  for (const r of runs) {
    const before = await startups(r.version);
    const script = [
      'from cassandra.cluster import Cluster',
      'from cassandra.auth import PlainTextAuthProvider',
      'from cassandra.query import BatchStatement',
      `c = Cluster(['127.0.0.1'], port=${proxy.port}, protocol_version=${r.version}, compression=${r.compression}, auth_provider=PlainTextAuthProvider('${SUPER.username}', '${SUPER.password}'))`,
      `s = c.connect('${KS}')`,
      `B = ${r.base}`,
      `P = 'py%d' % B`,
      // QUERY with a non-deterministic call, then PREPARE/EXECUTE.
      "s.execute(\"INSERT INTO kv (k, v, tu) VALUES (%d, 'query', now())\" % B)",
      'ins = s.prepare("INSERT INTO events (p, c, v) VALUES (?, ?, ?)")',
      'for i in range(300): s.execute(ins, (P, i, "v%d" % i))',
      // BATCH of a prepared and a simple statement.
      'b = BatchStatement()',
      'b.add(ins, (P + "b", 1, "one"))',
      'b.add("INSERT INTO kv (k, v, u) VALUES (%s, %s, uuid())", (B + 1, "batched"))',
      's.execute(b)',
      // Paging over a prepared SELECT (result metadata ids in v5).
      'sel = s.prepare("SELECT c, v FROM events WHERE p = ?")',
      'bound = sel.bind((P,))',
      'bound.fetch_size = 70',
      'rs = s.execute(bound)',
      'pages, rows = 1, len(rs.current_rows)',
      'while rs.has_more_pages:',
      '    rs.fetch_next_page()',
      '    pages += 1',
      '    rows += len(rs.current_rows)',
      // A value over one segment payload (128 KiB), written and read back.
      "big = ''.join(chr(97 + (i * 7919 + B) % 26) for i in range(300000))",
      's.execute(s.prepare("INSERT INTO kv (k, v) VALUES (?, ?)"), (B + 2, big))',
      'same = s.execute(s.prepare("SELECT v FROM kv WHERE k = ?"), (B + 2,)).one().v == big',
      // The table changes under a prepared SELECT *: v5 answers with the new metadata (and id).
      's.execute("INSERT INTO pymeta (k, a) VALUES (%s, %s)", (B, "x"))',
      'star = s.prepare("SELECT * FROM pymeta WHERE k = ?")',
      'cols1 = len(s.execute(star, (B,)).one())',
      's.execute("ALTER TABLE pymeta ADD c%d text" % B)',
      's.execute("UPDATE pymeta SET c%d = %%s WHERE k = %%s" % B, ("y", B))',
      'row = s.execute(star, (B,)).one()',
      'print(c.protocol_version, rows, pages, same, len(row) - cols1, getattr(row, "c%d" % B))',
      'c.shutdown()',
    ].join('\n');
    const out = await run('python3', ['-c', script], { timeout: 120000 }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`${r.label}: ${err.stderr ?? ''}${err.stdout ?? ''}`);
    });
    assert.equal(out.stdout.trim(), `${r.version} 300 5 True 1 y`, r.label);
    assert.ok((await startups(r.version)) > before, `${r.label}: connected with v${r.version}`);
    for (const d of [direct.source, direct.target]) {
      const big = await d.execute(`SELECT v FROM ${KS}.kv WHERE k = ?`, [r.base + 2], { prepare: true });
      assert.equal(big.rows[0]!.v.length, 300000, `${r.label}: the large row on both clusters`);
    }
  }
  await assertIdentical('after the Python driver on v5 and v4');
});

test('TLS: clients to the proxy, proxy to a cluster with CA and host name checks', async () => {
  const certs = await makeCerts(fs.mkdtempSync(path.join(tmp, 'tls-')));
  const good = await relay({ host: SOURCE.address, port: 9042 }, { cert: certs.goodCert!, key: certs.goodKey! });
  const wrong = await relay({ host: SOURCE.address, port: 9042 }, { cert: certs.wrongCert!, key: certs.wrongKey! });
  const port = (r: Relay) => r.port;
  const base = { listen: '127.0.0.1:0', target: `${TARGET.address}:9042`, failedLog: path.join(tmp, 'failed-tls.jsonl') };
  const proxies: CqlProxyHandle[] = [];
  const clients: cassandra.Client[] = [];
  try {
    const p1 = await startCqlProxy(
      { ...base, source: `127.0.0.1:${port(good)}`, sourceTls: { ca: certs.ca }, tls: { cert: certs.goodCert, key: certs.goodKey } },
      { logger: quiet },
    );
    proxies.push(p1);
    const c1 = new cassandra.Client({ contactPoints: [`127.0.0.1:${p1.port}`], localDataCenter: SOURCE.datacenter, authProvider: auth(), sslOptions: { ca: [fs.readFileSync(certs.ca!)] } });
    clients.push(c1);
    await c1.connect();
    await c1.execute(`INSERT INTO ${KS}.kv (k, v) VALUES (400, 'over tls')`);
    const r = await c1.execute(`SELECT v FROM ${KS}.kv WHERE k = 400`);
    assert.equal(r.rows[0]!.v, 'over tls');
    // The certificate does not name 127.0.0.1: refused unless verification is switched off.
    const p2 = await startCqlProxy({ ...base, source: `127.0.0.1:${port(wrong)}`, sourceTls: { ca: certs.ca } }, { logger: quiet });
    proxies.push(p2);
    const c2 = new cassandra.Client({ contactPoints: [`127.0.0.1:${p2.port}`], localDataCenter: SOURCE.datacenter, authProvider: auth() });
    clients.push(c2);
    await assert.rejects(c2.connect());
    const p3 = await startCqlProxy({ ...base, source: `127.0.0.1:${port(wrong)}`, sourceTls: { ca: certs.ca }, tlsVerify: false }, { logger: quiet });
    proxies.push(p3);
    const c3 = new cassandra.Client({ contactPoints: [`127.0.0.1:${p3.port}`], localDataCenter: SOURCE.datacenter, authProvider: auth() });
    clients.push(c3);
    await c3.connect();
    assert.equal((await c3.execute(`SELECT v FROM ${KS}.kv WHERE k = 400`)).rows[0]!.v, 'over tls');
  } finally {
    await Promise.allSettled(clients.map((c) => c.shutdown()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    good.close();
    wrong.close();
  }
});

const XKS = 'proxyextra'; // tables of the tests below, which may leave the clusters different
const proxyOpts = (name: string, more: Partial<Parameters<typeof startCqlProxy>[0]> = {}) => ({
  listen: '127.0.0.1:0',
  source: `${SOURCE.address}:9042`,
  target: `${TARGET.address}:9042`,
  failedLog: path.join(tmp, `failed-${name}.jsonl`),
  readReport: path.join(tmp, `reads-${name}.jsonl`),
  ...more,
});

/** Sockets of this process to the clusters or to a relay that are not in `before` and not the relay's own. */
function newClusterSockets(before: Set<unknown>, relays: Relay[]): net.Socket[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const relayPorts = new Set(relays.map((r) => r.port));
  return handles.filter(
    (h): h is net.Socket =>
      h instanceof net.Socket &&
      !before.has(h) &&
      !relays.some((r) => r.sockets.has(h)) &&
      ((h.remotePort === 9042 && [SOURCE.address, TARGET.address].includes(h.remoteAddress ?? '')) || relayPorts.has(h.remotePort ?? -1)),
  );
}

test('close() completes promptly with clients connected, one mid-handshake with a hung cluster, and leaves no socket open', async () => {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${XKS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  const hung = await relay({ host: SOURCE.address, port: 9042 });
  hung.freeze();
  const before = new Set((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles());
  const p = await startCqlProxy(proxyOpts('close', { wait: false }), { logger: quiet });
  const pHung = await startCqlProxy(proxyOpts('close-hung', { source: `127.0.0.1:${hung.port}` }), { logger: quiet });
  const c = await connect(p.port);
  try {
    await c.execute(`SELECT release_version FROM system.local`);
    const raw = await RawCql.connect(p.port);
    await raw.startup(SUPER);
    // A write under way (--wait false) while closing.
    raw.send(5, Opcode.QUERY, queryBody(`CREATE TABLE IF NOT EXISTS ${XKS}.closing (k int PRIMARY KEY)`));
    const stuck = await RawCql.connect(pHung.port);
    stuck.send(0, Opcode.STARTUP, new BodyWriter().stringMap({ CQL_VERSION: '3.0.0' }).build());
    await sleep(300);
    assert.equal(p.stats().clients, 2);
    const t0 = Date.now();
    await Promise.all([p.close(), pHung.close()]);
    const took = Date.now() - t0;
    assert.ok(took < 3000, `close took ${took} ms`);
    // The clients were disconnected, not left waiting.
    await Promise.all([raw.closed, stuck.closed]);
    await sleep(200);
    assert.deepEqual(newClusterSockets(before, [hung]).map((h) => `${h.remoteAddress}:${h.remotePort}`), [], 'no connection to a cluster left open');
  } finally {
    await c.shutdown();
    hung.close();
  }
});

test('SASL PLAIN: the client logs in at the source, the target gets the credentials of the flags', async () => {
  // Each cluster knows only its own role besides the superuser.
  await direct.source.execute("CREATE ROLE IF NOT EXISTS app WITH PASSWORD = 'app-pw' AND LOGIN = true AND SUPERUSER = true");
  await direct.target.execute("CREATE ROLE IF NOT EXISTS migrator WITH PASSWORD = 'mig-pw' AND LOGIN = true AND SUPERUSER = true");
  const app = { username: 'app', password: 'app-pw' };
  const withFlag = await startCqlProxy(proxyOpts('auth-flag', { onTargetFailure: 'fail', targetUsername: 'migrator', targetPassword: 'mig-pw' }), { logger: quiet });
  const without = await startCqlProxy(proxyOpts('auth-none', { onTargetFailure: 'fail' }), { logger: quiet });
  const clients: cassandra.Client[] = [];
  try {
    const c1 = await connect(withFlag.port, app);
    clients.push(c1);
    await c1.execute(`CREATE TABLE IF NOT EXISTS ${XKS}.authed (k int PRIMARY KEY, v text)`);
    await c1.execute(`INSERT INTO ${XKS}.authed (k, v) VALUES (1, 'as app')`);
    for (const d of [direct.source, direct.target]) {
      assert.equal((await d.execute(`SELECT v FROM ${XKS}.authed WHERE k = 1`)).rows[0]?.v, 'as app');
    }
    // Without the flags the target is offered the client's credentials, which it does not know.
    const c2 = await connect(without.port, app);
    clients.push(c2);
    await assert.rejects(c2.execute(`INSERT INTO ${XKS}.authed (k, v) VALUES (2, 'x')`), /target/);
    // A wrong password is the source's answer, relayed: the driver reports an AuthenticationError.
    const bad = new cassandra.Client({ contactPoints: [`127.0.0.1:${withFlag.port}`], localDataCenter: SOURCE.datacenter, authProvider: auth({ username: 'app', password: 'wrong' }) });
    clients.push(bad);
    const err = (await bad.connect().then(() => undefined, (e: unknown) => e)) as { innerErrors?: Record<string, unknown> } | undefined;
    assert.ok(err, 'connect with a wrong password must fail');
    const inner = Object.values(err.innerErrors ?? {});
    assert.ok(inner.length > 0 && inner.every((e) => e instanceof cassandra.errors.AuthenticationError), `inner errors: ${inner.map(String).join('; ')}`);
  } finally {
    await Promise.allSettled(clients.map((c) => c.shutdown()));
    await Promise.all([withFlag.close(), without.close()]);
  }
});

test('a cluster that stops answering: timeout errors in time instead of hangs', async () => {
  const src = await relay({ host: SOURCE.address, port: 9042 });
  const tgt = await relay({ host: TARGET.address, port: 9042 });
  const p = await startCqlProxy(
    proxyOpts('timeouts', { source: `127.0.0.1:${src.port}`, target: `127.0.0.1:${tgt.port}`, requestTimeoutMs: 2000, targetTimeoutMs: 2000 }),
    { logger: quiet },
  );
  // Made through the main proxy: DDL may take longer than the 2 s timeouts here on a busy machine.
  await client.execute(`CREATE TABLE IF NOT EXISTS ${XKS}.hang (k int PRIMARY KEY, v text)`);
  const c = await connect(p.port);
  const ins = `INSERT INTO ${XKS}.hang (k, v) VALUES (?, ?)`;
  const timed = async (f: () => Promise<unknown>) => {
    const t0 = Date.now();
    const res = await f().then((r) => ({ r }), (e: { code?: number; message?: string }) => ({ e }));
    return { ...res, ms: Date.now() - t0 };
  };
  try {
    await c.execute(ins, [1, 'both up'], { prepare: true });
    await c.execute(`SELECT v FROM ${XKS}.hang WHERE k = ?`, [1], { prepare: true }); // prepared while the source answers
    // The target hangs: with --wait and the log policy the client gets the source's answer after the target timeout.
    tgt.freeze();
    const failedBefore = p.stats().failedWrites;
    const w = await timed(() => c.execute(ins, [2, 'target hung'], { prepare: true }));
    assert.ok('r' in w, `write with a hung target: ${'e' in w ? w.e.message : ''}`);
    assert.ok(w.ms >= 1900 && w.ms < 8000, `answered after ${w.ms} ms`);
    assert.equal(p.stats().failedWrites, failedBefore + 1);
    tgt.thaw();
    // The source hangs: writes get WRITE_TIMEOUT, reads READ_TIMEOUT, within the timeout (not the driver's 30 s).
    src.freeze();
    const wt = await timed(() => c.execute(ins, [3, 'source hung'], { prepare: true }));
    assert.ok('e' in wt && wt.e.code === cassandra.types.responseErrorCodes.writeTimeout, `write: ${'e' in wt ? wt.e.message : 'succeeded'}`);
    assert.ok(wt.ms < 8000, `write error after ${wt.ms} ms`);
    const rt = await timed(() => c.execute(`SELECT v FROM ${XKS}.hang WHERE k = ?`, [1], { prepare: true }));
    assert.ok('e' in rt && rt.e.code === cassandra.types.responseErrorCodes.readTimeout, `read: ${'e' in rt ? rt.e.message : 'succeeded'}`);
    assert.ok(rt.ms < 8000, `read error after ${rt.ms} ms`);
    // Back to normal once the source answers again (late answers free their stream ids).
    src.thaw();
    assert.equal((await c.execute(`SELECT v FROM ${XKS}.hang WHERE k = ?`, [1], { prepare: true })).rows[0]?.v, 'both up');
  } finally {
    await c.shutdown();
    await p.close();
    src.close();
    tgt.close();
  }
});

const intBytes = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};

test('back-pressure: a client that does not read, a cluster that does not read; buffers stay bounded', async () => {
  const BLOB = 256 * 1024;
  const src = await relay({ host: SOURCE.address, port: 9042 });
  const reg = new Registry();
  const p = await startCqlProxy(proxyOpts('bp', { source: `127.0.0.1:${src.port}` }), { logger: quiet, registry: reg });
  const paused = async (side: string) => {
    const m = (await reg.getSingleMetric('cql_proxy_socket_paused_seconds_total')!.get()).values.find((v) => v.labels.side === side);
    return m?.value ?? 0;
  };
  const raw = await RawCql.connect(p.port);
  let maxBuffered = 0;
  const sample = setInterval(() => (maxBuffered = Math.max(maxBuffered, p.stats().bufferedBytes)), 20);
  try {
    await raw.startup(SUPER);
    raw.send(1, Opcode.QUERY, queryBody(`CREATE TABLE IF NOT EXISTS ${XKS}.big (k int, c int, v blob, PRIMARY KEY (k, c))`));
    assert.equal((await raw.answer(1)).opcode, Opcode.RESULT);
    // Rows for the read phase, written one at a time so Cassandra never sees a burst of 256 KB
    // mutations (on a loaded machine such a burst times out inside Cassandra, which is not what
    // this test is about).
    const insert = (i: number) =>
      new BodyWriter().longString(`INSERT INTO ${XKS}.big (k, c, v) VALUES (?, ?, ?)`).short(1).byte(0x01)
        .short(3).bytes(intBytes(i % 4)).bytes(intBytes(i)).bytes(Buffer.alloc(BLOB, i)).build();
    for (let i = 0; i < 16; i++) {
      raw.send(10 + i, Opcode.QUERY, insert(i));
      const f = await raw.answer(10 + i);
      assert.equal(f.opcode, Opcode.RESULT, describeFrame(f));
    }
    // Requests of 256 KB while the source reads nothing: the proxy must stop reading the client.
    // A read with a large bound value costs Cassandra nothing to answer (no row matches), so only
    // the proxy's buffering is under test.
    src.freeze();
    const n = 96; // 24 MB, more than loopback socket buffers hold
    const bigRead = (i: number) =>
      new BodyWriter().longString("SELECT key FROM system.local WHERE key = 'local' AND cluster_name = ? ALLOW FILTERING").short(1).byte(0x01)
        .short(1).bytes(Buffer.alloc(BLOB, 0x61 + (i % 26))).build();
    for (let i = 0; i < n; i++) raw.send(100 + i, Opcode.QUERY, bigRead(i));
    await sleep(1500);
    src.thaw();
    for (let i = 0; i < n; i++) {
      const f = await raw.answer(100 + i);
      assert.equal(f.opcode, Opcode.RESULT, describeFrame(f));
    }
    assert.ok((await paused('client')) > 0, 'reading from the client was paused');
    // 1 MB answers to a client that reads nothing: the proxy must stop reading the source.
    raw.sock.pause();
    const reads = 64;
    for (let i = 0; i < reads; i++) raw.send(1000 + i, Opcode.QUERY, queryBody(`SELECT * FROM ${XKS}.big WHERE k = ${i % 4} LIMIT 4`));
    await sleep(2000);
    raw.sock.resume();
    for (let i = 0; i < reads; i++) {
      const f = await raw.answer(1000 + i);
      assert.equal(f.opcode, Opcode.RESULT, describeFrame(f));
      assert.ok(f.body.length > 4 * BLOB);
    }
    raw.frames.length = 0;
    assert.ok((await paused('server')) > 0, 'reading from the clusters was paused');
    assert.ok(maxBuffered < 4 * 1024 * 1024, `proxy buffered up to ${maxBuffered} bytes`);
  } finally {
    clearInterval(sample);
    raw.destroy();
    await p.close();
    src.close();
  }
});

test('EVENT relay: schema changes reach registered clients and the driver metadata', async () => {
  const raw = await RawCql.connect(proxy.port);
  try {
    await raw.startup(SUPER);
    raw.send(1, Opcode.REGISTER, new BodyWriter().stringList(['SCHEMA_CHANGE', 'TOPOLOGY_CHANGE', 'STATUS_CHANGE']).build());
    assert.equal((await raw.answer(1)).opcode, Opcode.READY);
    // Made directly on the source, behind the proxy's back.
    await direct.source.execute(`CREATE KEYSPACE IF NOT EXISTS ${XKS}_events WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    const ev = await raw.next((f) => f.opcode === Opcode.EVENT, 20000);
    assert.equal(ev.stream, -1);
    const r = new BodyReader(ev.body);
    assert.deepEqual([r.string(), r.string(), r.string(), r.string()], ['SCHEMA_CHANGE', 'CREATED', 'KEYSPACE', `${XKS}_events`]);
    // The driver's control connection registered through the proxy too: its metadata follows.
    for (let i = 0; i < 100 && !client.metadata.keyspaces[`${XKS}_events`]; i++) await sleep(100);
    assert.ok(client.metadata.keyspaces[`${XKS}_events`], 'driver metadata saw the new keyspace');
  } finally {
    raw.destroy();
    await direct.source.execute(`DROP KEYSPACE IF EXISTS ${XKS}_events`);
  }
});

test('bad input never takes the proxy down: random and mutilated frames of every opcode', async () => {
  // Deterministic (mulberry32), so a failure can be replayed.
  let seed = 0x5eed;
  const rnd = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(rnd() * n);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${XKS}.fuzz (k int PRIMARY KEY, v text)`);
  const prepared = await client.execute(`SELECT v FROM ${XKS}.fuzz WHERE k = ?`, [1], { prepare: true });
  assert.ok(prepared);
  const templates: Array<[number, Buffer]> = [
    [Opcode.QUERY, queryBody(`INSERT INTO ${XKS}.fuzz (k, v) VALUES (1, 'x') USING TTL 60`)],
    [Opcode.QUERY, queryBody('SELECT * FROM system.local')],
    [Opcode.PREPARE, new BodyWriter().longString(`UPDATE ${XKS}.fuzz SET v = ? WHERE k = ?`).build()],
    [Opcode.BATCH, new BodyWriter().byte(1).short(1).byte(0).longString(`INSERT INTO ${XKS}.fuzz (k, v) VALUES (2, now())`).short(0).short(1).byte(0).build()],
    [Opcode.EXECUTE, new BodyWriter().shortBytes(Buffer.alloc(16, 7)).short(1).byte(0).build()],
    [Opcode.STARTUP, new BodyWriter().stringMap({ CQL_VERSION: '3.0.0', COMPRESSION: 'lz4' }).build()],
    [Opcode.REGISTER, new BodyWriter().stringList(['SCHEMA_CHANGE']).build()],
    [Opcode.AUTH_RESPONSE, new BodyWriter().bytes(Buffer.from('\0cassandra\0cassandra')).build()],
    [Opcode.OPTIONS, Buffer.alloc(0)],
  ];
  const mutilate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    switch (int(4)) {
      case 0:
        return out.subarray(0, int(out.length + 1)); // truncated
      case 1:
        for (let i = 0; i < 1 + int(4); i++) if (out.length) out[int(out.length)] = int(256); // flipped bytes
        return out;
      case 2:
        return Buffer.concat([out, Buffer.from(Array.from({ length: int(40) }, () => int(256)))]); // trailing junk
      default:
        return Buffer.from(Array.from({ length: int(200) }, () => int(256))); // noise
    }
  };
  for (let conn = 0; conn < 24; conn++) {
    const raw = await RawCql.connect(proxy.port);
    try {
      if (conn % 3 !== 0) await raw.startup(SUPER);
      for (let i = 0; i < 40; i++) {
        const [opcode, body] = rnd() < 0.1 ? [int(256), Buffer.alloc(0)] : templates[int(templates.length)]!;
        const flags = rnd() < 0.15 ? int(256) : 0;
        const frame = Buffer.concat([Buffer.from([rnd() < 0.05 ? int(256) : 4, flags, 0, i, opcode, 0, 0, 0, 0]), mutilate(body)]);
        frame.writeUInt32BE(frame.length - 9, 5);
        raw.sock.write(frame);
      }
      if (conn % 4 === 0) raw.sock.write(Buffer.from(Array.from({ length: 64 }, () => int(256)))); // a torn header
      await sleep(100);
    } finally {
      raw.destroy();
    }
  }
  // Still serving: the long-lived client, a new client, and both clusters agree on the main data.
  assert.equal((await client.execute(`SELECT v FROM ${KS}.kv WHERE k = ?`, [1], { prepare: true })).rows[0]?.v, 'updated');
  const fresh = await connect(proxy.port);
  try {
    assert.equal((await fresh.execute("SELECT cluster_name FROM system.local WHERE key = 'local'")).rows[0]?.cluster_name, SOURCE.clusterName);
  } finally {
    await fresh.shutdown();
  }
  await assertIdentical('after bad input');
});

test('counters on replay: updates the target may have applied are set aside, those it never got are replayed', async () => {
  await client.execute(`CREATE TABLE IF NOT EXISTS ${XKS}.cnt (k text PRIMARY KEY, n counter)`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${XKS}.plain (k int PRIMARY KEY, v text)`);
  const tgt = await relay({ host: TARGET.address, port: 9042 });
  const log = path.join(tmp, 'failed-counters.jsonl');
  const p = await startCqlProxy(proxyOpts('counters', { target: `127.0.0.1:${tgt.port}`, targetTimeoutMs: 1000, failedLog: log }), { logger: quiet });
  const c = await connect(p.port);
  const inc = `UPDATE ${XKS}.cnt SET n = n + ? WHERE k = ?`;
  const value = async (d: cassandra.Client) => Number((await d.execute(`SELECT n FROM ${XKS}.cnt WHERE k = 'a'`)).rows[0]?.n ?? 0);
  try {
    const one = cassandra.types.Long.fromNumber(1);
    await c.execute(inc, [one, 'a'], { prepare: true });
    // The target hangs: the update times out there but reaches it later (uncertain).
    tgt.freeze();
    await c.execute(inc, [one, 'a'], { prepare: true });
    await c.execute(`INSERT INTO ${XKS}.plain (k, v) VALUES (1, 'timed out too')`);
    tgt.thaw();
    for (let i = 0; i < 100 && (await value(direct.target)) !== 2; i++) await sleep(100);
    assert.equal(await value(direct.target), 2, 'the late update reached the target');
    // The target is gone: the next update is never sent (certain to be missing).
    tgt.close();
    await sleep(500); // the proxy notices the closed connection
    await c.execute(`UPDATE ${XKS}.cnt SET n = n + 1 WHERE k = 'a'`);
    assert.equal(await value(direct.source), 3);
    const logged = readFailedWrites(log);
    assert.deepEqual(logged.map((e) => e.repeats ?? false), [true, false, false]);
    const r = await replayFailedWrites({ target: [{ host: TARGET.address, port: 9042 }], file: log, graceMs: 100, credentials: SUPER });
    assert.deepEqual({ replayed: r.replayed, uncertain: r.uncertain, rejected: r.rejected }, { replayed: 2, uncertain: 1, rejected: 0 });
    assert.equal(await value(direct.target), 3, 'target equals the source: nothing counted twice');
    // Told to, replay applies the set-aside entry (here: counted twice, as the warning says).
    const again = await replayFailedWrites({ target: [{ host: TARGET.address, port: 9042 }], file: r.uncertainFile!, graceMs: 100, credentials: SUPER, applyUncertain: true });
    assert.equal(again.replayed, 1);
    assert.equal(await value(direct.target), 4);
  } finally {
    await c.shutdown();
    await p.close();
    tgt.close();
  }
});

test('target stopped: failure policies, durable log, replay catches up', async () => {
  const logs = { log: path.join(tmp, 'failed-log.jsonl'), fail: path.join(tmp, 'failed-fail.jsonl'), async: path.join(tmp, 'failed-async.jsonl') };
  const common = { listen: '127.0.0.1:0', source: `${SOURCE.address}:9042`, target: `${TARGET.address}:9042`, targetTimeoutMs: 3000 };
  const pLog = await startCqlProxy({ ...common, failedLog: logs.log }, { logger: quiet });
  const pFail = await startCqlProxy({ ...common, failedLog: logs.fail, onTargetFailure: 'fail' }, { logger: quiet });
  const pAsync = await startCqlProxy({ ...common, failedLog: logs.async, wait: false }, { logger: quiet });
  const cLog = await connect(pLog.port);
  const cFail = await connect(pFail.port);
  const cAsync = await connect(pAsync.port);
  const ins = `INSERT INTO ${KS}.events (p, c, v) VALUES (?, ?, ?)`;
  try {
    await cLog.execute(ins, ['down', -1, 'before'], { prepare: true });
    await cFail.execute(ins, ['down', -2, 'before'], { prepare: true });
    // The direct client is closed while the target is up: cassandra-driver (4.10) shut down in the
    // middle of a reconnection leaves its reconnection timer running, which keeps the test process alive.
    await direct.target.shutdown();
    await target.stop();
    // --wait, log: the client succeeds, the target's share goes to the log.
    for (let i = 0; i < 20; i++) await cLog.execute(ins, ['down', i, 'log'], { prepare: true });
    await cLog.execute(`INSERT INTO ${KS}.kv (k, v, tu) VALUES (200, 'simple while down', now())`);
    await cLog.batch([{ query: ins, params: ['down', 500, 'batch'] }, { query: `UPDATE ${KS}.kv SET v = ? WHERE k = ?`, params: ['batch while down', 201] }], { prepare: true });
    // --wait, fail: the request fails (it is applied on the source and logged all the same).
    await assert.rejects(cFail.execute(ins, ['down', 1000, 'fail'], { prepare: true }), /target/);
    // --wait false: answered on the source, target share logged.
    for (let i = 0; i < 10; i++) await cAsync.execute(ins, ['down', 2000 + i, 'async'], { prepare: true });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(readFailedWrites(logs.log).length, 22);
    assert.equal(readFailedWrites(logs.fail).length, 1);
    assert.equal(readFailedWrites(logs.async).length, 10);
    // Reads keep working from the source.
    const r = await cLog.execute(`SELECT count(*) FROM ${KS}.events WHERE p = 'down'`);
    assert.equal(Number(r.rows[0]!.count), 34);

    target = await startLocalNode(nodeOpts(TARGET, path.join(tmp, 'target')));
    // New writes reach the restarted target again (the proxy reconnects by itself).
    await new Promise((r) => setTimeout(r, 2500));
    await cLog.execute(ins, ['down', 3000, 'after restart'], { prepare: true });
    assert.equal(readFailedWrites(logs.log).length, 22, 'no new failure after the target is back');
    for (const file of Object.values(logs)) {
      const res = await replayFailedWrites({ target: [{ host: TARGET.address, port: 9042 }], file, graceMs: 100, credentials: SUPER });
      assert.equal(res.rejected, 0);
      assert.equal(res.replayed, res.entries);
      assert.ok(!fs.existsSync(file));
    }
  } finally {
    await Promise.allSettled([cLog.shutdown(), cFail.shutdown(), cAsync.shutdown()]);
    await Promise.allSettled([pLog.close(), pFail.close(), pAsync.close()]);
  }
  direct.target = directClient(TARGET);
  await direct.target.connect();
  await assertIdentical('after replay');
});
