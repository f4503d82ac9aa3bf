import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { cassandraYaml, jvmArgs, logbackXml, nodeLayout, rackdcProperties, COMMITLOG_SYNC_MODES, type CommitlogSync, type NodeLayout } from './config.js';
import { probeCql, readSystemLocal, tryLogin } from './cql-probe.js';
import { LocalNodeError } from './errors.js';
import { checkJava, ensureCassandra } from './install.js';
import { CASSANDRA_VERSION, defaultDataDir } from './paths.js';

export interface LocalNodeOptions {
  /** Listen/CQL address; default 127.0.0.1. Other loopback addresses (127.0.0.2, ...) work on Linux without aliases. */
  address?: string;
  /** CQL native port; default 9042. */
  port?: number;
  /** Inter-node port; default 7000 when free, else any free port. The nodes of one cluster share it. */
  storagePort?: number;
  /**
   * Seeds (host or host:port, the port defaulting to the storage port) of a cluster this node joins;
   * default this node alone. Every node of a cluster names the same seeds and cluster name.
   */
  seeds?: string[];
  /** Default 'dynamo-cassandra'. */
  clusterName?: string;
  /** Default 'datacenter1'. */
  datacenter?: string;
  /** Default <cache dir>/nodes/<address>_<port>; data persists across restarts. */
  dataDir?: string;
  /** JVM heap; default 512. */
  heapMb?: number;
  /** PasswordAuthenticator + CassandraAuthorizer with superuser cassandra/cassandra. */
  auth?: boolean;
  /**
   * When an acknowledged write is on disk (Cassandra's `commitlog_sync`); default 'periodic'.
   * 'periodic' (Cassandra's own default) acknowledges at once and syncs every 10 s: a killed node
   * loses what it acknowledged in the last ~100 ms (the commit log marks its replayable end no
   * more often), Paxos acceptor state included. 'batch' syncs before acknowledging (concurrent
   * writes share an fsync), 'group' every 2 ms: a crash, even SIGKILL, loses no acknowledged
   * write, at about half the plain-write and two thirds of the LWT throughput (README, Storage).
   */
  commitlogSync?: CommitlogSync;
  /** Progress messages (a few lines per start). */
  log?: (line: string) => void;
  /** How long to wait for the node to answer CQL; default 120 s. */
  startTimeoutMs?: number;
}

export interface LocalNode {
  address: string;
  port: number;
  datacenter: string;
  clusterName: string;
  /** True when another process (or an earlier start in this one) already serves address:port; stop() is then a no-op. */
  reused: boolean;
  /** The java process, when this call started it. */
  pid?: number;
  dataDir?: string;
  /** Cassandra's own log, for diagnosing the node. */
  logFile?: string;
  /** Settles when the java process exits (only for nodes this call started). */
  exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

const SUPERUSER = { username: 'cassandra', password: 'cassandra' };
const STOP_GRACE_MS = 30_000;
const METADATA_FILE = 'dynamo-cassandra-node.json';
const LOCK_FILE = 'node.lock';

interface Metadata { clusterName: string; datacenter: string; cassandraVersion: string }
interface LockInfo { owner: number; java?: number; address: string; port: number }

// --- nodes started by this process ---------------------------------------------------------------

interface Owned { node: LocalNode; child: ChildProcess; root: string; signalSync(sig: NodeJS.Signals): void }
const owned = new Map<string, Owned>(); // by data dir
const starting = new Map<string, Promise<LocalNode>>(); // by address:port, to merge concurrent starts

/** Stops every node this process started (idempotent); hosts call it from their own shutdown path. */
export async function stopAllLocalNodes(): Promise<void> {
  await Promise.all([...owned.values()].map((o) => o.node.stop()));
}

let hooksInstalled = false;

/**
 * Makes sure our java children do not outlive us. On exit we can only act synchronously, so we send
 * SIGTERM (Cassandra then shuts itself down cleanly). For signals, if nobody else listens we re-raise
 * the signal after our handler so the host still dies the default way; otherwise the host's handler
 * decides, and can await stopAllLocalNodes().
 */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => { for (const o of owned.values()) o.signalSync('SIGTERM'); });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      for (const o of owned.values()) o.signalSync('SIGTERM');
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

// --- helpers ------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Is pid a Cassandra started for this data dir? Guards against pid reuse before we wait on or name it. */
function isNodeJava(pid: number, root: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`-Dcassandra.storagedir=${root}`);
  } catch {
    return process.platform !== 'linux'; // no /proc: trust the pid
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function fileSize(p: string): Promise<number> {
  try { return (await fs.stat(p)).size; } catch { return 0; }
}

async function readFrom(p: string, offset: number): Promise<string> {
  try {
    const fh = await fs.open(p, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(offset, size - 256 * 1024);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally { await fh.close(); }
  } catch { return ''; }
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** Turns the usual startup failures into one-line explanations; undefined when not recognised. */
function explainFailure(log: string, root: string): string | undefined {
  let m = /Saved cluster name (.+?) != configured name (.+?)\s*$/m.exec(log);
  if (m) return `The data directory ${root} belongs to cluster '${m[1]}', not '${m[2]}'. Use --cluster-name '${m[1]}' or another --data-dir.`;
  m = /snitch's data center \((.+?)\) differs from previous data center \((.+?)\)/.exec(log);
  if (m) return `The data directory ${root} belongs to datacenter '${m[2]}', not '${m[1]}'. Use --datacenter '${m[2]}' or another --data-dir.`;
  if (/Address already in use|BindException/.test(log)) return 'A port Cassandra needs is already in use (see the log below).';
  return undefined;
}

// --- data directory ownership -------------------------------------------------------------------

async function readJson<T>(p: string): Promise<T | undefined> {
  try { return JSON.parse(await fs.readFile(p, 'utf8')) as T; } catch { return undefined; }
}

/**
 * Waits until address:port answers CQL (and, with auth, the superuser can log in). `gone` says when
 * waiting is pointless (the process we wait for died); returns false then.
 */
async function waitForCql(address: string, port: number, auth: boolean, deadline: number, gone: () => boolean): Promise<boolean> {
  while (Date.now() < deadline) {
    if (gone()) return false;
    const p = await probeCql(address, port, 2000);
    if (p.kind === 'cql') {
      if (!auth) return true;
      try { await tryLogin(address, port, SUPERUSER); return true; } catch { /* superuser not created yet */ }
    }
    await sleep(250);
  }
  return false;
}

/**
 * Takes the data directory's lock file for this process. If another live process holds it and its
 * node comes up at address:port, returns 'reused' instead; a lock left by a dead process is taken over
 * once its java (if any) has gone.
 */
async function lockDataDir(root: string, address: string, port: number, auth: boolean, deadline: number, log: (l: string) => void): Promise<'acquired' | 'reused'> {
  const lockFile = path.join(root, LOCK_FILE);
  for (;;) {
    try {
      await fs.writeFile(lockFile, JSON.stringify({ owner: process.pid, address, port } satisfies LockInfo), { flag: 'wx' });
      return 'acquired';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const info = await readJson<LockInfo>(lockFile);
    if (!info) { await sleep(100); continue; } // being written or removed right now
    const elsewhere = info.address !== address || info.port !== port;
    if (info.owner !== process.pid && isAlive(info.owner)) {
      if (elsewhere) throw new LocalNodeError(`The data directory ${root} is in use by a node at ${info.address}:${info.port} run by process ${info.owner}.`);
      log(`Waiting for the node that process ${info.owner} is starting at ${address}:${port}...`);
      if (await waitForCql(address, port, auth, deadline, () => !isAlive(info.owner))) return 'reused';
      if (Date.now() >= deadline) throw new LocalNodeError(`Timed out waiting for the node that process ${info.owner} is starting in ${root}.`);
      continue;
    }
    if (info.java && isNodeJava(info.java, root)) {
      // Left by a process that died: it may still be starting or shutting down.
      const until = Math.min(deadline, Date.now() + STOP_GRACE_MS);
      if (!elsewhere && await waitForCql(address, port, auth, until, () => !isNodeJava(info.java!, root))) return 'reused';
      if (isNodeJava(info.java, root)) {
        throw new LocalNodeError(
          `A Cassandra process (pid ${info.java}) left by an earlier run still uses ${root}` +
          `${elsewhere ? ` (at ${info.address}:${info.port})` : ` but does not answer at ${address}:${port}`}. Stop it (kill ${info.java}) or use another --data-dir.`);
      }
    }
    await fs.rm(lockFile, { force: true });
  }
}

async function checkMetadata(root: string, clusterName: string, datacenter: string): Promise<void> {
  const meta = await readJson<Metadata>(path.join(root, METADATA_FILE));
  if (!meta) return;
  if (meta.clusterName !== clusterName) {
    throw new LocalNodeError(
      `The data directory ${root} belongs to cluster '${meta.clusterName}', not '${clusterName}'. ` +
      `Use --cluster-name '${meta.clusterName}', or another --data-dir for a new cluster.`);
  }
  if (meta.datacenter !== datacenter) {
    throw new LocalNodeError(
      `The data directory ${root} belongs to datacenter '${meta.datacenter}', not '${datacenter}'. ` +
      `Use --datacenter '${meta.datacenter}', or another --data-dir.`);
  }
}

// --- start --------------------------------------------------------------------------------------

async function reusedNode(address: string, port: number, clusterName: string, datacenter: string, log: (l: string) => void): Promise<LocalNode> {
  let actual = { clusterName, datacenter };
  try {
    actual = await readSystemLocal(address, port, SUPERUSER);
  } catch (e) {
    log(`Could not read system.local at ${address}:${port} (${(e as Error).message}); assuming cluster '${clusterName}', datacenter '${datacenter}'`);
  }
  if (actual.datacenter !== datacenter || actual.clusterName !== clusterName) {
    log(`Note: the node at ${address}:${port} is cluster '${actual.clusterName}', datacenter '${actual.datacenter}'`);
  }
  return { address, port, ...actual, reused: true, stop: async () => {} };
}

type Validated = Required<Omit<LocalNodeOptions, 'log' | 'dataDir' | 'storagePort' | 'seeds'>> &
  Pick<LocalNodeOptions, 'storagePort' | 'seeds'> & { dataDir: string; log: (l: string) => void };

function validate(o: LocalNodeOptions): Validated {
  const address = o.address ?? '127.0.0.1';
  const port = o.port ?? 9042;
  const heapMb = o.heapMb ?? 512;
  if (!address || /\s/.test(address)) throw new LocalNodeError(`Invalid address '${address}'`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LocalNodeError(`Invalid port ${port}`);
  if (!Number.isInteger(heapMb) || heapMb < 256) throw new LocalNodeError(`Invalid heap size ${heapMb} MB (need an integer >= 256)`);
  if (o.storagePort !== undefined && (!Number.isInteger(o.storagePort) || o.storagePort < 1 || o.storagePort > 65535 || o.storagePort === port)) {
    throw new LocalNodeError(`Invalid storage port ${o.storagePort}`);
  }
  for (const seed of o.seeds ?? []) {
    if (!/^[^\s:,]+(:\d{1,5})?$/.test(seed)) throw new LocalNodeError(`Invalid seed '${seed}' (want host or host:port)`);
  }
  if (o.seeds && o.seeds.length === 0) throw new LocalNodeError('Empty seed list');
  if (o.commitlogSync !== undefined && !COMMITLOG_SYNC_MODES.includes(o.commitlogSync)) {
    throw new LocalNodeError(`Invalid commit-log sync '${o.commitlogSync}' (want ${COMMITLOG_SYNC_MODES.join(' or ')})`);
  }
  const clusterName = o.clusterName ?? 'dynamo-cassandra';
  const datacenter = o.datacenter ?? 'datacenter1';
  if (!clusterName || /[\n\r]/.test(clusterName)) throw new LocalNodeError(`Invalid cluster name '${clusterName}'`);
  if (!datacenter || /[\s=:#!\\]/.test(datacenter)) throw new LocalNodeError(`Invalid datacenter name '${datacenter}'`);
  return {
    address, port, heapMb, clusterName, datacenter,
    auth: o.auth ?? false,
    commitlogSync: o.commitlogSync ?? 'periodic',
    storagePort: o.storagePort,
    seeds: o.seeds,
    dataDir: path.resolve(o.dataDir ?? defaultDataDir(address, port)),
    log: o.log ?? (() => {}),
    startTimeoutMs: o.startTimeoutMs ?? 120_000,
  };
}

/**
 * Starts (or reuses) a single-node Cassandra at address:port and resolves once it answers CQL.
 * Reuse: anything already speaking CQL there is returned with reused=true and a no-op stop().
 */
export async function startLocalNode(opts: LocalNodeOptions = {}): Promise<LocalNode> {
  const o = validate(opts);
  // Keyed by endpoint, like reuse: whatever ends up serving address:port is the node.
  const key = `${o.address}:${o.port}`;
  const pending = starting.get(key);
  if (pending) {
    // A concurrent call in this process is starting the same node: share it, but only one owner stops it.
    const n = await pending;
    return { ...n, reused: true, pid: undefined, exited: undefined, stop: async () => {} };
  }
  const p = start(o);
  starting.set(key, p);
  try { return await p; } finally { starting.delete(key); }
}

async function start(o: Validated): Promise<LocalNode> {
  const { address, port, clusterName, datacenter, log } = o;
  const t0 = Date.now();
  const deadline = t0 + o.startTimeoutMs;

  const probe = await probeCql(address, port);
  if (probe.kind === 'cql') {
    log(`Cassandra already answers at ${address}:${port}; using it`);
    const lock = await readJson<LockInfo>(path.join(o.dataDir, LOCK_FILE));
    if (lock?.java && !isAlive(lock.owner) && isNodeJava(lock.java, o.dataDir)) {
      // Its owner died without stopping it (e.g. SIGKILL); we use it but do not take it over.
      log(`Note: this node (pid ${lock.java}) was started by process ${lock.owner}, which has exited; it keeps running until stopped (kill ${lock.java})`);
    }
    return reusedNode(address, port, clusterName, datacenter, log);
  }
  if (probe.kind === 'other') {
    throw new LocalNodeError(`${address}:${port} is in use by something that does not speak CQL (${probe.detail}). Choose another --port or --address.`);
  }
  if (owned.has(o.dataDir)) {
    const n = owned.get(o.dataDir)!.node;
    throw new LocalNodeError(`The data directory ${o.dataDir} is already used by this process's node at ${n.address}:${n.port}.`);
  }

  const java = await checkJava(log);
  const classpathDir = await ensureCassandra(log);
  const layout = nodeLayout(o.dataDir);
  await Promise.all(Object.values(layout).map((d) => fs.mkdir(d, { recursive: true })));
  await checkMetadata(layout.root, clusterName, datacenter);

  if (await lockDataDir(layout.root, address, port, o.auth, deadline, log) === 'reused') {
    return reusedNode(address, port, clusterName, datacenter, log);
  }
  const lockFile = path.join(layout.root, LOCK_FILE);
  try {
    return await spawnNode(o, java, classpathDir, layout, lockFile, t0, deadline);
  } catch (e) {
    await fs.rm(lockFile, { force: true });
    throw e;
  }
}

async function spawnNode(
  o: Validated, java: string, classpathDir: string, layout: NodeLayout,
  lockFile: string, t0: number, deadline: number,
): Promise<LocalNode> {
  const { address, port, clusterName, datacenter, log } = o;
  // 7000 when we can (the conventional port); a node sharing an address with another picks a free one.
  const storagePort = o.storagePort ?? ((await portFree(address, 7000)) ? 7000 : await freePort(address));
  const seeds = o.seeds?.map((s) => (s.includes(':') ? s : `${s}:${storagePort}`));
  const jmxPort = await freePort('127.0.0.1');

  const yamlFile = path.join(layout.conf, 'cassandra.yaml');
  const rackdcFile = path.join(layout.conf, 'cassandra-rackdc.properties');
  const logbackFile = path.join(layout.conf, 'logback.xml');
  await Promise.all([
    fs.writeFile(yamlFile, cassandraYaml({ clusterName, datacenter, address, nativePort: port, storagePort, seeds, auth: o.auth, commitlogSync: o.commitlogSync, layout })),
    fs.writeFile(rackdcFile, rackdcProperties(datacenter)),
    fs.writeFile(logbackFile, logbackXml()),
  ]);

  const systemLog = path.join(layout.logs, 'system.log');
  const stdoutLog = path.join(layout.logs, 'stdout.log');
  const systemLogStart = await fileSize(systemLog);
  // The JVM's own output (bad flags, crashes) goes to a file: our stdout stays the host's.
  const outFd = openSync(stdoutLog, 'a');
  writeSync(outFd, `\n--- ${new Date().toISOString()} starting Cassandra ${CASSANDRA_VERSION} at ${address}:${port} ---\n`);
  const stdoutLogStart = await fileSize(stdoutLog);

  log(`Starting Cassandra ${CASSANDRA_VERSION} at ${address}:${port} (cluster '${clusterName}', datacenter '${datacenter}', data ${layout.root})`);
  let child: ChildProcess;
  try {
    child = spawn(java, jvmArgs({ classpathDir, heapMb: o.heapMb, jmxPort, joinsCluster: seeds?.some((s) => s !== `${address}:${storagePort}`), layout, yamlFile, rackdcFile, logbackFile }), {
      cwd: layout.root, // hs_err / heap dump files land with the node
      stdio: ['ignore', outFd, outFd],
      // Own process group: a terminal Ctrl-C reaches only us, and we decide when the node stops.
      detached: true,
    });
  } finally {
    closeSync(outFd);
  }
  // The node must not keep the host alive on its own; the exit hook stops it when the host exits.
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((r) => child.once('error', r));
    throw new LocalNodeError(`Could not start ${java}: ${err.message}`);
  }

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo); });
  });
  const running = (): boolean => exitInfo === undefined && child.exitCode === null && child.signalCode === null;
  // Only ever signal our own child, and only while it has not been reaped (its pid could be reused after).
  const signalSync = (sig: NodeJS.Signals): void => { if (running()) { try { process.kill(pid, sig); } catch { /* gone */ } } };

  await fs.writeFile(lockFile, JSON.stringify({ owner: process.pid, java: pid, address, port } satisfies LockInfo));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      signalSync('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceful = await Promise.race([
        exited.then(() => true),
        new Promise<false>((r) => { timer = setTimeout(() => r(false), STOP_GRACE_MS); }),
      ]);
      clearTimeout(timer); // a pending 30 s timer would keep the host alive after stop()
      if (!graceful) {
        log(`Cassandra (pid ${pid}) did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
        signalSync('SIGKILL');
        await exited;
      }
      owned.delete(layout.root);
      await fs.rm(lockFile, { force: true });
    })();
    return stopping;
  };

  const node: LocalNode = { address, port, datacenter, clusterName, reused: false, pid, dataDir: layout.root, logFile: systemLog, exited, stop };
  owned.set(layout.root, { node, child, root: layout.root, signalSync });
  installExitHooks();

  // This start's part of both logs; the JVM's stock SecurityManager deprecation notice is noise.
  const tail = async (): Promise<{ system: string; stdout: string }> => ({
    system: await readFrom(systemLog, systemLogStart),
    stdout: (await readFrom(stdoutLog, stdoutLogStart)).split('\n').filter((l) => !/^WARNING: .*(SecurityManager|terminally deprecated)/.test(l)).join('\n'),
  });

  const ready = await waitForCql(address, port, o.auth, deadline, () => !running());
  if (!ready) {
    const died = !running();
    await stop();
    const logs = await tail();
    const why = explainFailure(logs.system + logs.stdout, layout.root);
    const head = died
      ? `Cassandra exited during startup (${exitInfo?.signal ?? `code ${exitInfo?.code}`}).`
      : `Cassandra did not answer CQL at ${address}:${port} within ${Math.round((deadline - t0) / 1000)} s.`;
    let detail = `\nLast lines of ${systemLog}:\n${lastLines(logs.system, why ? 8 : 25) || '(empty)'}`;
    if (logs.stdout.trim()) detail += `\nJVM output (${stdoutLog}):\n${lastLines(logs.stdout, 15)}`;
    throw new LocalNodeError(`${head}${why ? ` ${why}` : ''}${detail}`);
  }

  const meta: Metadata = { clusterName, datacenter, cassandraVersion: CASSANDRA_VERSION };
  await fs.writeFile(path.join(layout.root, METADATA_FILE), JSON.stringify(meta, null, 2) + '\n');
  log(`Cassandra ready at ${address}:${port} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${pid}, log ${systemLog})`);
  return node;
}
