// The `local-node` command, configured from its option table (flags, DC_LOCAL_NODE_* variables, --config FILE).
import { helpText, loadOptions, type CommandSpec } from '../options.js';
import { COMMITLOG_SYNC_MODES } from './config.js';
import { LocalNodeError } from './errors.js';
import { startLocalNode, type LocalNodeOptions } from './node.js';

export const LOCAL_NODE_COMMAND: CommandSpec = {
  name: 'local-node',
  summary: 'Runs an Apache Cassandra 5.0 node (alone, or joining others through --seeds) in the foreground until Ctrl-C (fetched once via Maven and cached)',
  usage: ['local-node [options]'],
  example: 'local-node --address 127.0.0.2 --port 19042 --heap-mb 1024 --data-dir ./cassandra-data',
  options: [
    { key: 'address', flag: 'address', kind: 'string', default: '127.0.0.1', value: 'IP', help: 'Listen and CQL address' },
    { key: 'port', flag: 'port', kind: 'number', default: 9042, help: 'CQL native port' },
    { key: 'clusterName', flag: 'cluster-name', kind: 'string', default: 'dynamo-cassandra', value: 'NAME', help: 'Cluster name' },
    { key: 'datacenter', flag: 'datacenter', kind: 'string', default: 'datacenter1', value: 'NAME', help: 'Datacenter name' },
    { key: 'dataDir', flag: 'data-dir', kind: 'string', value: 'DIR', defaultText: '<cache>/nodes/<address>_<port>', help: 'Data directory' },
    { key: 'storagePort', flag: 'storage-port', kind: 'number', defaultText: '7000, or a free port', help: 'Inter-node port (the same on every node of a cluster)' },
    { key: 'seeds', flag: 'seeds', kind: 'list', value: 'HOST[:PORT],...', defaultText: 'this node alone', help: 'Seed nodes of the cluster to join (same list and --cluster-name on every node)' },
    { key: 'heapMb', flag: 'heap-mb', kind: 'number', default: 512, help: 'JVM heap in MiB' },
    { key: 'auth', flag: 'auth', kind: 'boolean', default: false, help: 'Require login; superuser cassandra/cassandra' },
    {
      key: 'commitlogSync', flag: 'commitlog-sync', kind: 'string', choices: COMMITLOG_SYNC_MODES, default: 'periodic',
      help: 'periodic: Cassandra\'s default, a crash loses the last ~100 ms of acknowledged writes; batch or group: none, at a cost in throughput',
    },
  ],
  envPrefix: 'DC_LOCAL_NODE_',
};

/** `local-node` command: exit 0 after a clean stop, 1 when the node fails, 2 on bad arguments. */
export async function localNodeCommand(argv: string[]): Promise<number> {
  let opts: LocalNodeOptions;
  try {
    const { values, help } = loadOptions(LOCAL_NODE_COMMAND, argv);
    if (help) { process.stdout.write(helpText(LOCAL_NODE_COMMAND) + '\n'); return 0; }
    opts = { ...(values as Partial<LocalNodeOptions>), log: (line) => process.stderr.write(`${line}\n`) };
  } catch (e) {
    process.stderr.write(`local-node: ${(e as Error).message}\n\n${helpText(LOCAL_NODE_COMMAND)}\n`);
    return 2;
  }

  // Installed before starting so a Ctrl-C during a long install or startup also stops the child.
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const onSignal = (sig: NodeJS.Signals): void => { signalled ??= sig; wake(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const node = await startLocalNode(opts);
    if (node.reused) {
      process.stdout.write(`Cassandra is already running at ${node.address}:${node.port} (cluster '${node.clusterName}', datacenter '${node.datacenter}'), owned by another process.\n`);
      return 0;
    }
    const authNote = opts.auth ? ' (login cassandra/cassandra)' : '';
    process.stdout.write(
      `Cassandra ready at ${node.address}:${node.port}${authNote}: cluster '${node.clusterName}', datacenter '${node.datacenter}', ` +
      `data ${node.dataDir}. Press Ctrl-C to stop.\n`);
    // The child is unref'd; this timer keeps us in the foreground while the node runs.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      const outcome = await Promise.race([
        new Promise<'signal'>((r) => { wake = () => r('signal'); if (signalled) r('signal'); }),
        node.exited!.then(() => 'exited' as const),
      ]);
      if (outcome === 'exited') {
        process.stderr.write(`local-node: Cassandra exited unexpectedly; see ${node.logFile}\n`);
        await node.stop();
        return 1;
      }
      process.stderr.write(`Stopping Cassandra (${signalled})...\n`);
      await node.stop();
      process.stderr.write('Cassandra stopped.\n');
      return 0;
    } finally {
      clearInterval(keepAlive);
    }
  } catch (e) {
    if (signalled) {
      // The signal stopped the node mid-start; that is not a failure worth a log dump.
      process.stderr.write(`local-node: interrupted (${signalled}) during startup\n`);
      return 130;
    }
    if (e instanceof LocalNodeError) {
      process.stderr.write(`local-node: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
