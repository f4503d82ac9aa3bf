// Running one Cassandra node apart from the rest of a benchmark: in its own network namespace
// (reached over a veth pair, as another machine would be) and pinned to its own CPU, while the
// benchmark, its client and the other processes are pinned to the remaining CPUs. On a 2-core
// machine this is what keeps a dual-write figure from measuring two clusters sharing two cores.
// Needs root (network namespaces), `ip` and `taskset`; `isolationAvailable()` says whether it can.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const run = (cmd: string, args: string[]): void => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
};

/** Why isolation cannot run here, or undefined when it can. */
export function isolationUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (network namespaces need it)';
  if (cpus().length < 2) return 'fewer than 2 CPUs';
  for (const [cmd, args] of [['ip', ['netns', 'list']], ['taskset', ['-p', String(process.pid)]]] as const) {
    if (spawnSync(cmd, [...args]).status !== 0) return `\`${cmd}\` is not usable`;
  }
  return undefined;
}

/** Pins a running process (every thread) to the given CPUs; children started later inherit it. */
export function pin(pid: number, cpuList: string): void {
  run('taskset', ['-a', '-p', '-c', cpuList, String(pid)]);
}

export interface IsolatedNode {
  /** Address and CQL port of the node, reachable from the host namespace. */
  address: string;
  port: number;
  /** The local-node process (Cassandra is its child, so CPU accounting over children covers it). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `local-node` inside a fresh network namespace pinned to `cpu`. The namespace gets
 * 10.211.0.2, the host side 10.211.0.1; both go away in stop().
 */
export async function startIsolatedNode(o: { cpu: number; clusterName: string; datacenter: string; dataDir: string; heapMb: number }): Promise<IsolatedNode> {
  const ns = `dcbench${process.pid}`;
  const [hostIf, nsIf] = [`dcb${process.pid}h`, `dcb${process.pid}n`];
  const [hostAddr, nsAddr] = ['10.211.0.1', '10.211.0.2'];
  const teardown = (): void => {
    spawnSync('ip', ['link', 'del', hostIf]);
    spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    run('ip', ['link', 'set', nsIf, 'netns', ns]);
    run('ip', ['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
    run('ip', ['link', 'set', hostIf, 'up']);
    for (const args of [['addr', 'add', `${nsAddr}/30`, 'dev', nsIf], ['link', 'set', nsIf, 'up'], ['link', 'set', 'lo', 'up']]) run('ip', ['netns', 'exec', ns, 'ip', ...args]);
  } catch (e) {
    teardown();
    throw e;
  }
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, 'taskset', '-c', String(o.cpu), process.execPath, cli, 'local-node',
    '--address', nsAddr, '--port', '9042', '--cluster-name', o.clusterName, '--datacenter', o.datacenter, '--data-dir', o.dataDir, '--heap-mb', String(o.heapMb)],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Cassandra ready')) resolve();
      });
      void exited.then(() => reject(new Error(`isolated local-node exited before it was ready:\n${stderr}`)));
    });
  } catch (e) {
    teardown();
    throw e;
  }
  return {
    address: nsAddr,
    port: 9042,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM'); // local-node stops Cassandra cleanly on SIGTERM
      await exited;
      teardown();
    },
  };
}
