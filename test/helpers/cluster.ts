// A three-node Cassandra cluster for the cluster tests (test/cluster/): nodes on 127.0.0.1-3 with
// their own CQL and storage ports, so that the default test node (127.0.0.1:19042) and the CQL
// proxy's nodes (127.0.0.2/3:9042, storage 7000) run beside it. Only one cluster runs on a machine
// at a time: a lock file serialises test files that want it. Nodes can be SIGKILLed and restarted.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import cassandra from 'cassandra-driver';
import { startLocalNode, type LocalNode, type LocalNodeOptions } from '../../src/local-node/index.js';
import { CLI, freePort, spawnServe, stopServe, waitServing, type ServeProcess } from './serve-process.js';

export const CLUSTER_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const;
export const CLUSTER_CQL_PORT = 19142;
export const CLUSTER_STORAGE_PORT = 19170;
export const CLUSTER_DC = 'datacenter1';
/** RF=3: every node holds every row, so LOCAL_QUORUM (2) survives the loss of any one node. */
export const RF3 = "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}";

const PROBE_KEYSPACE = 'dc_cluster_probe';
const LOCK = join(tmpdir(), `dynamo-cassandra-test-cluster-${CLUSTER_CQL_PORT}.lock`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TestCluster {
  /** host:port of every node, for --contact-points. */
  readonly contactPoints: string[];
  /** A driver session over the whole cluster (for checks by the tests). */
  readonly client: cassandra.Client;
  /** SIGKILL node i (0-2) and wait until its process is gone. */
  kill(i: number): Promise<void>;
  /** Start node i again (same data) and wait until every node sees every other as up. */
  restart(i: number): Promise<void>;
  /** Every node answers and, as coordinator, reaches all three replicas. */
  waitAllUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the machine-wide cluster lock, waiting for another test file that holds it (a dead holder's lock is taken over). */
async function lock(timeoutMs: number, log: (l: string) => void): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (let said = false; ; ) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => rmSync(LOCK, { force: true });
      process.once('exit', release);
      return () => {
        process.removeListener('exit', release);
        release();
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(LOCK, 'utf8'));
    } catch {
      continue; // removed meanwhile
    }
    if (holder && !alive(holder)) {
      rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the test cluster is still used by process ${holder} after ${timeoutMs / 1000} s (lock ${LOCK})`);
    if (!said) log(`waiting for process ${holder}, which uses the test cluster`);
    said = true;
    await sleep(1000);
  }
}

/** SIGKILLs a node this process started and waits until it is gone (its data stays for a restart). */
export async function sigkill(n: LocalNode): Promise<void> {
  if (!n.pid) return;
  try {
    process.kill(n.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  // The java child is unref'd: without a handle of our own the host could exit while we wait.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await n.exited;
    await n.stop(); // releases the data directory's lock; the process is gone already
  } finally {
    clearInterval(keepAlive);
  }
}

/**
 * Starts the cluster: the seed (127.0.0.1) first, then the two others together. Node starts are slow
 * on a loaded machine: `startTimeoutMs` bounds each; a failure stops whatever was started.
 */
export async function startTestCluster(opts: { heapMb?: number; startTimeoutMs?: number; log?: (l: string) => void } = {}): Promise<TestCluster> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[cluster] ${l}\n`));
  const release = await lock(15 * 60_000, log);
  const root = mkdtempSync(join(tmpdir(), 'dc-test-cluster-'));
  const nodes: (LocalNode | undefined)[] = [undefined, undefined, undefined];
  const nodeOptions = (i: number): LocalNodeOptions => ({
    address: CLUSTER_ADDRESSES[i],
    port: CLUSTER_CQL_PORT,
    storagePort: CLUSTER_STORAGE_PORT,
    seeds: [CLUSTER_ADDRESSES[0]],
    clusterName: 'dynamo-cassandra-test-cluster',
    datacenter: CLUSTER_DC,
    dataDir: join(root, `node${i + 1}`),
    heapMb: opts.heapMb ?? 640,
    // The tests kill nodes and require every acknowledged write (and Paxos promise) to survive.
    commitlogSync: 'batch',
    startTimeoutMs: opts.startTimeoutMs ?? 300_000,
    log: (l) => log(`node${i + 1}: ${l}`),
  });
  const startNode = async (i: number) => {
    const t0 = Date.now();
    const n = await startLocalNode(nodeOptions(i));
    if (n.reused) {
      throw new Error(`a Cassandra node already answers at ${n.address}:${n.port} (left by an earlier run?); stop it first`);
    }
    nodes[i] = n;
    log(`node${i + 1} (${n.address}) up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  const killNode = async (i: number) => {
    const n = nodes[i];
    if (!n) return;
    await sigkill(n);
    nodes[i] = undefined;
  };
  let client: cassandra.Client | undefined;
  const stopAll = async () => {
    await client?.shutdown().catch(() => undefined);
    await Promise.all([0, 1, 2].map(killNode));
    rmSync(root, { recursive: true, force: true });
    release();
  };

  try {
    await startNode(0);
    await Promise.all([startNode(1), startNode(2)]);
    const connect = async () => {
      const fresh = new cassandra.Client({
        contactPoints: [...CLUSTER_ADDRESSES],
        protocolOptions: { port: CLUSTER_CQL_PORT },
        localDataCenter: CLUSTER_DC,
        socketOptions: { readTimeout: 30_000 },
        // Reconnect quickly to a restarted node.
        policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(500) },
      });
      await fresh.connect();
      return fresh;
    };
    client = await connect();
    // The driver learns of a node that joins after it connected from a topology event, which it can
    // miss (CI once saw a client know 2 nodes for 3 minutes): a client that still knows fewer than
    // three after a while is replaced by a new one, which reads system.peers anew.
    const started = Date.now();
    let since = started;
    while (client.hosts.values().length < 3 && Date.now() - started < 180_000) {
      await sleep(1000);
      if (client.hosts.values().length < 3 && Date.now() - since > 20_000) {
        log(`the driver knows ${client.hosts.values().length} nodes after 20 s: connecting anew`);
        await client.shutdown().catch(() => undefined);
        client = await connect();
        since = Date.now();
      }
    }
    const c = client;
    const waitAllUp = async (timeoutMs = 180_000) => {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        try {
          await everyCoordinatorReachesAll(c);
          return;
        } catch (e) {
          last = (e as Error).message;
        }
        if (Date.now() > deadline) throw new Error(`the cluster did not come up within ${timeoutMs / 1000} s: ${last}`);
        await sleep(1000);
      }
    };
    await waitAllUp();
    return {
      contactPoints: CLUSTER_ADDRESSES.map((a) => `${a}:${CLUSTER_CQL_PORT}`),
      client: c,
      kill: killNode,
      async restart(i) {
        await startNode(i);
        await waitAllUp();
      },
      waitAllUp,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * nodetool-free "all UN": each node lists the two others in system.peers, and a read at ALL of an
 * RF=3 table coordinated by each node succeeds (Cassandra refuses it unless that node believes all
 * three replicas are alive and serving).
 */
async function everyCoordinatorReachesAll(client: cassandra.Client): Promise<void> {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${PROBE_KEYSPACE} WITH replication = ${RF3}`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${PROBE_KEYSPACE}.probe (k int PRIMARY KEY)`);
  const hosts = client.hosts.values();
  if (hosts.length !== 3) throw new Error(`the driver knows ${hosts.length} nodes`);
  for (const host of hosts) {
    const peers = await client.execute('SELECT peer FROM system.peers', [], { host });
    const seen = peers.rows.map((r) => r.peer.toString()).sort();
    const others = CLUSTER_ADDRESSES.filter((a) => !host.address.startsWith(`${a}:`));
    if (seen.join() !== others.join()) throw new Error(`${host.address} sees peers ${seen.join(', ')}`);
    await client.execute(`SELECT k FROM ${PROBE_KEYSPACE}.probe WHERE k = 0`, [], { host, consistency: cassandra.types.consistencies.all });
  }
}

export interface ClusterServe {
  endpoint: string;
  serve: ServeProcess;
  stop(): Promise<void>;
  /** SIGKILL, as a crash or the OOM killer would. */
  kill(): Promise<void>;
}

/** A `serve` process over the cluster, in `keyspace` (created with RF=3), at the default consistency levels. */
export async function startClusterServe(
  cluster: TestCluster,
  keyspace: string,
  opts: { args?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<ClusterServe> {
  const port = await freePort();
  const serve = spawnServe(
    [
      CLI, 'serve', '--port', String(port), '--contact-points', cluster.contactPoints.join(','), '--local-dc', CLUSTER_DC,
      '--keyspace', keyspace, '--replication', RF3, '--log-level', 'warn', ...(opts.args ?? []),
    ],
    { env: { ...process.env, ...opts.env } },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  // A new keyspace at RF=3 on a loaded machine: schema agreement alone can take a minute.
  await waitServing(endpoint, serve, 300_000);
  const exited = new Promise<void>((r) => (serve.child.exitCode !== null || serve.child.signalCode !== null ? r() : serve.child.once('exit', () => r())));
  return {
    endpoint,
    serve,
    stop: async () => void (await stopServe(serve)),
    async kill() {
      serve.child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ClusterFixture {
  cluster: TestCluster;
  serves: ClusterServe[];
  /** An SDK client per serve process. */
  clients: DynamoDBClient[];
}

/**
 * Registers a test file's before/after hooks: the cluster, `count` serve processes over it in
 * `keyspace`, an SDK client for each (`sdk` overrides, e.g. maxAttempts), then `setup`. The returned
 * object is filled in by the before hook; the after hook stops everything, also after a failure.
 */
export function clusterFixture(
  keyspace: string,
  count: number,
  opts: { sdk?: DynamoDBClientConfig; setup?: (f: ClusterFixture) => Promise<void> } = {},
): ClusterFixture {
  const f = { serves: [], clients: [] } as unknown as ClusterFixture;
  // One hook: a failed start is the error reported, not a later step's consequence of it.
  before(async () => {
    f.cluster = await startTestCluster();
    f.serves = await Promise.all(Array.from({ length: count }, () => startClusterServe(f.cluster, keyspace)));
    f.clients = f.serves.map((s) => sdkClient(s.endpoint, opts.sdk));
    await opts.setup?.(f);
  });
  after(async () => {
    for (const c of f.clients) c.destroy();
    await Promise.all(f.serves.map((s) => s.stop()));
    await f.cluster?.stop();
  });
  return f;
}

export const sdkClient = (endpoint: string, sdk: DynamoDBClientConfig = {}) =>
  new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, ...sdk });

/**
 * Times the phases of a load test and counts the requests done in each: `next(p)` ends the current
 * phase (adding its length to `ms`) and starts `p`; `rate(p)` is requests per second in `p`.
 */
export function phaseClock<P extends string>(phases: readonly P[]) {
  const zero = () => Object.fromEntries(phases.map((p) => [p, 0])) as Record<P, number>;
  const ms = zero();
  const done = zero();
  let t = Date.now();
  const clock = {
    phase: phases[0]!,
    ms,
    done,
    next(p: P) {
      ms[clock.phase] += Date.now() - t;
      t = Date.now();
      clock.phase = p;
    },
    rate: (p: P) => (done[p] / Math.max(1, ms[p] / 1000)).toFixed(1),
  };
  return clock;
}
