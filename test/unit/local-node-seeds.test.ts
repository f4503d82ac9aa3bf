// local-node's cluster options: several nodes join one cluster through shared seeds and a fixed
// storage port (test/helpers/cluster.ts starts three this way).
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cassandraYaml, jvmArgs, nodeLayout } from '../../src/local-node/config.js';
import { LocalNodeError, startLocalNode } from '../../src/local-node/index.js';

const layout = nodeLayout(path.join(os.tmpdir(), 'n'));
const base = { clusterName: 'c', datacenter: 'd', address: '127.0.0.2', nativePort: 19142, storagePort: 19170, auth: false, commitlogSync: 'batch' as const, layout };

test('a node seeds itself unless seeds are given', () => {
  assert.match(cassandraYaml(base), /^ {6}- seeds: "127.0.0.2:19170"$/m);
  assert.match(cassandraYaml({ ...base, seeds: ['127.0.0.1:19170', '127.0.0.3:19170'] }), /^ {6}- seeds: "127.0.0.1:19170,127.0.0.3:19170"$/m);
  assert.match(cassandraYaml(base), /^storage_port: 19170$/m);
});

test('commit-log sync: batch, group (2 ms) or periodic (10 s)', async () => {
  assert.match(cassandraYaml(base), /^commitlog_sync: batch$/m);
  assert.doesNotMatch(cassandraYaml(base), /commitlog_sync_period|commitlog_sync_group_window/);
  assert.match(cassandraYaml({ ...base, commitlogSync: 'group' }), /^commitlog_sync: group\ncommitlog_sync_group_window: 2ms$/m);
  const periodic = cassandraYaml({ ...base, commitlogSync: 'periodic' });
  assert.match(periodic, /^commitlog_sync: periodic$/m);
  assert.match(periodic, /^commitlog_sync_period: 10000ms$/m);
  await assert.rejects(
    startLocalNode({ address: '127.0.0.2', port: 19142, commitlogSync: 'fsync' as 'batch' }),
    (e: unknown) => e instanceof LocalNodeError && /commit-log sync/.test(e.message),
  );
});

test('bad seeds and storage ports are refused before anything starts', async () => {
  const refused = (message: RegExp) => (e: unknown) => e instanceof LocalNodeError && message.test(e.message);
  await assert.rejects(startLocalNode({ address: '127.0.0.2', port: 19142, seeds: ['a b'] }), refused(/Invalid seed 'a b'/));
  await assert.rejects(startLocalNode({ address: '127.0.0.2', port: 19142, seeds: ['h:1,h:2'] }), refused(/Invalid seed/));
  await assert.rejects(startLocalNode({ address: '127.0.0.2', port: 19142, seeds: [] }), refused(/Empty seed list/));
  await assert.rejects(startLocalNode({ address: '127.0.0.2', port: 19142, storagePort: 19142 }), refused(/Invalid storage port 19142/));
  await assert.rejects(startLocalNode({ address: '127.0.0.2', port: 19142, storagePort: 70000 }), refused(/Invalid storage port/));
});

test('a node joining others waits seconds for gossip, a lone node does not', () => {
  const j = { classpathDir: '/cp', heapMb: 512, jmxPort: 7199, layout, yamlFile: 'y', rackdcFile: 'r', logbackFile: 'l' };
  assert.ok(jvmArgs(j).includes('-Dcassandra.ring_delay_ms=100'));
  assert.ok(jvmArgs({ ...j, joinsCluster: true }).includes('-Dcassandra.ring_delay_ms=15000'));
});
