// serve's second listener: the CQL dual-write proxy next to the DynamoDB API, one process.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import cassandra from 'cassandra-driver';
import { contactPoints, startTestServer, type TestServer } from '../helpers/server.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

let t: TestServer;
let port: number;
before(async () => {
  port = await freePort();
  const point = contactPoints()[0];
  t = await startTestServer('t_serve_proxy', { cqlProxyListen: `127.0.0.1:${port}`, cqlProxySource: point, cqlProxyTarget: point });
});
after(() => t?.close());

test('serve --cql-proxy-listen answers CQL clients and shares /metrics', async () => {
  assert.equal(t.server.cqlProxy?.port, port);
  const client = new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: process.env.DC_TEST_LOCAL_DC ?? 'datacenter1' });
  await client.connect();
  try {
    await client.execute(`CREATE TABLE IF NOT EXISTS t_serve_proxy.kv (k text PRIMARY KEY, v int)`);
    await client.execute('INSERT INTO t_serve_proxy.kv (k, v) VALUES (?, ?)', ['a', 1], { prepare: true });
    const rs = await client.execute('SELECT v FROM t_serve_proxy.kv WHERE k = ?', ['a'], { prepare: true });
    assert.equal(rs.first().get('v'), 1);
    // The driver sees the proxy as the whole cluster.
    assert.deepEqual(client.getState().getConnectedHosts().map((h) => h.address), [`127.0.0.1:${port}`]);
  } finally {
    await client.shutdown();
  }
  const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
  assert.match(metrics, /cql_proxy_request_seconds_count\{[^}]*\} [1-9]/);
});

test("serve's proxy listener takes the other cql-proxy settings from DC_CQL_PROXY_* (failure policy, failed-write log)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-proxy-'));
  const failedLog = join(dir, 'failed.jsonl');
  const deadTarget = `127.0.0.1:${await freePort()}`; // nothing listens there
  process.env.DC_CQL_PROXY_FAILED_LOG = failedLog;
  process.env.DC_CQL_PROXY_ON_TARGET_FAILURE = 'log';
  const proxyPort = await freePort();
  let second: TestServer | undefined;
  let client: cassandra.Client | undefined;
  try {
    second = await startTestServer('t_serve_proxy_env', { cqlProxyListen: `127.0.0.1:${proxyPort}`, cqlProxySource: contactPoints()[0], cqlProxyTarget: deadTarget });
    client = new cassandra.Client({ contactPoints: [`127.0.0.1:${proxyPort}`], localDataCenter: process.env.DC_TEST_LOCAL_DC ?? 'datacenter1' });
    await client.connect();
    await client.execute('CREATE TABLE IF NOT EXISTS t_serve_proxy_env.kv (k text PRIMARY KEY, v int)');
    // The target is down: under the 'log' policy the write succeeds on the source and is logged.
    await client.execute('INSERT INTO t_serve_proxy_env.kv (k, v) VALUES (?, ?)', ['b', 2], { prepare: true });
    const rs = await client.execute('SELECT v FROM t_serve_proxy_env.kv WHERE k = ?', ['b'], { prepare: true });
    assert.equal(rs.first().get('v'), 2);
    const deadline = Date.now() + 10_000;
    while (!(existsSync(failedLog) && readFileSync(failedLog, 'utf8').includes('INSERT INTO t_serve_proxy_env.kv')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(readFileSync(failedLog, 'utf8'), /INSERT INTO t_serve_proxy_env\.kv/);
  } finally {
    delete process.env.DC_CQL_PROXY_FAILED_LOG;
    delete process.env.DC_CQL_PROXY_ON_TARGET_FAILURE;
    await client?.shutdown();
    await second?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
