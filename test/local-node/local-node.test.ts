import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';
import { cacheDir, LocalNodeError, probeCql, startLocalNode, stopAllLocalNodes, type LocalNode } from '../../src/local-node/index.js';
import { cassandraYaml, nodeLayout, rackdcProperties } from '../../src/local-node/config.js';
import { parseJavaMajor } from '../../src/local-node/install.js';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createPkTable, startTestServer } from '../helpers/server.js';

// A loopback address nobody else in the suite uses, so the node cannot clash with a shared one.
const ADDRESS = '127.0.0.23';
const PORT = 9042;
const CLUSTER = 'ln-test-cluster';
const DC = 'ln-test-dc';

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function withClient<T>(fn: (c: cassandra.Client) => Promise<T>, auth = false): Promise<T> {
  const client = new cassandra.Client({
    contactPoints: [ADDRESS], protocolOptions: { port: PORT }, localDataCenter: DC,
    ...(auth ? { authProvider: new cassandra.auth.PlainTextAuthProvider('cassandra', 'cassandra') } : {}),
  });
  try { await client.connect(); return await fn(client); } finally { await client.shutdown(); }
}

describe('helpers', () => {
  test('parseJavaMajor reads old and new version strings', () => {
    assert.equal(parseJavaMajor('openjdk version "17.0.15" 2025-04-15'), 17);
    assert.equal(parseJavaMajor('java version "1.8.0_392"'), 8);
    assert.equal(parseJavaMajor('openjdk version "21" 2023-09-19'), 21);
    assert.equal(parseJavaMajor('nonsense'), undefined);
  });

  test('cacheDir honours DYNAMO_CASSANDRA_HOME, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(cacheDir({ DYNAMO_CASSANDRA_HOME: '/x/y', XDG_CACHE_HOME: '/z' }), path.resolve('/x/y'));
    assert.equal(cacheDir({ XDG_CACHE_HOME: '/z' }), path.join(path.resolve('/z'), 'dynamo-cassandra'));
    assert.equal(cacheDir({}), path.join(os.homedir(), '.cache', 'dynamo-cassandra'));
  });

  test('generated config carries names, addresses and auth', () => {
    const layout = nodeLayout(path.join(os.tmpdir(), 'n'));
    const y = cassandraYaml({ clusterName: 'c "q"', datacenter: 'd', address: '127.0.0.9', nativePort: 9142, storagePort: 7001, auth: true, commitlogSync: 'periodic', layout });
    assert.match(y, /^cluster_name: "c \\"q\\""$/m);
    assert.match(y, /seeds: "127.0.0.9:7001"/);
    assert.match(y, /^native_transport_port: 9142$/m);
    assert.match(y, /^paxos_variant: v2$/m);
    assert.match(y, /^authenticator: PasswordAuthenticator$/m);
    assert.match(rackdcProperties('dc9'), /^dc=dc9$/m);
  });

  test('probeCql tells closed ports from non-CQL listeners', async () => {
    const srv = net.createServer((s) => { s.resume(); s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
    await new Promise<void>((r) => srv.listen(0, ADDRESS, r));
    const { port } = srv.address() as net.AddressInfo;
    try {
      assert.equal((await probeCql(ADDRESS, port)).kind, 'other');
      await assert.rejects(startLocalNode({ address: ADDRESS, port }), (e: unknown) => e instanceof LocalNodeError && /does not speak CQL/.test(e.message));
    } finally {
      await new Promise((r) => srv.close(r));
    }
    assert.equal((await probeCql(ADDRESS, port)).kind, 'closed');
  });
});

describe('a local node', () => {
  let dataDir: string;
  let node: LocalNode | undefined;
  const log = (line: string): void => { if (process.env.LOCAL_NODE_TEST_VERBOSE) console.error(line); };

  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ln-test-'));
  });

  after(async () => {
    await stopAllLocalNodes();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('starts, serves CQL, and reports its cluster and datacenter', async () => {
    const t0 = Date.now();
    node = await startLocalNode({ address: ADDRESS, port: PORT, dataDir, clusterName: CLUSTER, datacenter: DC, log });
    log(`started in ${Date.now() - t0} ms`);
    assert.equal(node.reused, false, `something already answers CQL at ${ADDRESS}:${PORT}`);
    assert.ok(node.pid && isAlive(node.pid));
    assert.equal(node.datacenter, DC);
    await withClient(async (c) => {
      const local = (await c.execute('SELECT cluster_name, data_center FROM system.local')).first();
      assert.equal(local.get('cluster_name'), CLUSTER);
      assert.equal(local.get('data_center'), DC);
      await c.execute(`CREATE KEYSPACE ln_ks WITH replication = {'class': 'NetworkTopologyStrategy', '${DC}': 1}`);
      await c.execute('CREATE TABLE ln_ks.t (k text PRIMARY KEY, v int)');
      await c.execute('INSERT INTO ln_ks.t (k, v) VALUES (?, ?)', ['a', 42], { prepare: true });
      // Lightweight transactions exercise paxos v2.
      const lwt = await c.execute('INSERT INTO ln_ks.t (k, v) VALUES (?, ?) IF NOT EXISTS', ['a', 1], { prepare: true });
      assert.equal(lwt.first().get('[applied]'), false);
      const row = (await c.execute('SELECT v FROM ln_ks.t WHERE k = ?', ['a'], { prepare: true })).first();
      assert.equal(row.get('v'), 42);
    });
  });

  test('a second start at the same address and port reuses it', async () => {
    const again = await startLocalNode({ address: ADDRESS, port: PORT, clusterName: CLUSTER, datacenter: DC });
    assert.equal(again.reused, true);
    assert.equal(again.pid, undefined);
    assert.equal(again.clusterName, CLUSTER);
    assert.equal(again.datacenter, DC);
    await again.stop(); // no-op: the node is not ours through this handle
    assert.equal((await probeCql(ADDRESS, PORT)).kind, 'cql');
  });

  test('stop ends the process and closes the port', async () => {
    const pid = node!.pid!;
    await node!.stop();
    await node!.stop(); // idempotent
    assert.equal(isAlive(pid), false);
    assert.equal((await probeCql(ADDRESS, PORT)).kind, 'closed');
    assert.equal(existsSync(path.join(dataDir, 'node.lock')), false);
  });

  test('refuses a data dir that belongs to another cluster', async () => {
    await assert.rejects(
      startLocalNode({ address: ADDRESS, port: PORT, dataDir, clusterName: 'other', datacenter: DC }),
      (e: unknown) => e instanceof LocalNodeError && e.message.includes(`'${CLUSTER}'`));
  });

  test('the CLI runs in the foreground with --auth and stops cleanly on SIGTERM; data persists', async () => {
    const index = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'local-node', 'index.js');
    const script = `import { localNodeCommand } from ${JSON.stringify(index)}; process.exitCode = await localNodeCommand(process.argv.slice(1));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--',
      '--address', ADDRESS, '--port', String(PORT), '--data-dir', dataDir, '--cluster-name', CLUSTER, '--datacenter', DC, '--auth'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) resolve(); });
      void exited.then((code) => reject(new Error(`CLI exited early (${code}): ${out}${err}`)));
    });
    assert.match(out, new RegExp(`Cassandra ready at ${ADDRESS.replace(/\./g, '\\.')}:${PORT}`));
    // Ready with --auth means the default superuser can already log in.
    const row = await withClient(async (c) => (await c.execute('SELECT v FROM ln_ks.t WHERE k = ?', ['a'], { prepare: true })).first(), true);
    assert.equal(row?.get('v'), 42);
    await assert.rejects(withClient(async (c) => c.execute('SELECT v FROM ln_ks.t')));
    // serve against a cluster with PasswordAuthenticator: --username/--password log it in.
    const points = [`${ADDRESS}:${PORT}`];
    const api = await startTestServer('ln_serve', { contactPoints: points, localDc: DC, username: 'cassandra', password: 'cassandra' });
    try {
      await createPkTable(api.client, 'guarded');
      await api.client.send(new PutItemCommand({ TableName: 'guarded', Item: { pk: { S: 'a' }, v: { N: '1' } } }));
      assert.deepEqual((await api.client.send(new GetItemCommand({ TableName: 'guarded', Key: { pk: { S: 'a' } } }))).Item, { pk: { S: 'a' }, v: { N: '1' } });
    } finally {
      await api.close();
    }
    await assert.rejects(startTestServer('ln_serve', { contactPoints: points, localDc: DC, username: 'cassandra', password: 'wrong' }), /credentials|authenticat|password/i);
    await assert.rejects(startTestServer('ln_serve', { contactPoints: points, localDc: DC }), /authenticat|credentials/i);
    const lock = JSON.parse(await fs.readFile(path.join(dataDir, 'node.lock'), 'utf8')) as { java: number };
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    assert.equal(isAlive(lock.java), false);
    assert.equal((await probeCql(ADDRESS, PORT)).kind, 'closed');
  });
});
