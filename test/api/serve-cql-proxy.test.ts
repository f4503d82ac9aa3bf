// serve's second listener: the CQL dual-write proxy next to the DynamoDB API, one process.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
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
