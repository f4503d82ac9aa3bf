import { parseArgs } from 'node:util';
import { LocalNodeError } from './errors.js';
import { startLocalNode, type LocalNodeOptions } from './node.js';

const USAGE = `Usage: local-node [options]

Runs a single-node Apache Cassandra in the foreground until Ctrl-C (installs it once via Maven).

  --address <ip>          listen and CQL address (default 127.0.0.1)
  --port <n>              CQL native port (default 9042)
  --cluster-name <name>   cluster name (default dynamo-cassandra)
  --datacenter <name>     datacenter name (default datacenter1)
  --data-dir <dir>        data directory (default <cache>/nodes/<address>_<port>)
  --heap-mb <n>           JVM heap in MB (default 512)
  --auth                  require login; superuser cassandra/cassandra
  -h, --help              show this help
`;

function intArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} needs a whole number, got '${v}'`);
  return Number(v);
}

class UsageError extends Error {}

/** `local-node` command: exit 0 after a clean stop, 1 when the node fails, 2 on bad arguments. */
export async function localNodeCommand(argv: string[]): Promise<number> {
  let opts: LocalNodeOptions;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        address: { type: 'string' },
        port: { type: 'string' },
        'cluster-name': { type: 'string' },
        datacenter: { type: 'string' },
        'data-dir': { type: 'string' },
        'heap-mb': { type: 'string' },
        auth: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    opts = {
      address: values.address,
      port: intArg('port', values.port),
      clusterName: values['cluster-name'],
      datacenter: values.datacenter,
      dataDir: values['data-dir'],
      heapMb: intArg('heap-mb', values['heap-mb']),
      auth: values.auth,
      log: (line) => process.stderr.write(`${line}\n`),
    };
  } catch (e) {
    process.stderr.write(`local-node: ${(e as Error).message}\n\n${USAGE}`);
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
