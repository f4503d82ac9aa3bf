// `serve`: the DynamoDB API over Cassandra. Connects to the configured cluster, or starts (or
// reuses) the embedded local node; optionally runs several HTTP worker processes on one port.
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { translators } from '../translators/index.js';
import { ConfigError, type Config } from './config.js';
import { preflightAuth, setupAuth } from './auth/index.js';
import { buildApp } from './http/app.js';
import { createMetrics, serveClusterMetrics } from './http/metrics.js';
import { resolveCluster } from './cluster.js';
import { IndexMaintenance } from './storage/index-maintenance.js';
import { storageServices } from './storage/services.js';
import { cqlProxyOptionsFromEnvironment } from './cqlproxy/commands.js';
import { startCqlProxy, type CqlProxyOptions } from './cqlproxy/index.js';
import { Catalog } from './storage/catalog.js';
import { actionServices, handleOf } from './actions/context.js';
import { ItemStore } from './storage/item-store.js';
import { addLockColumns } from './storage/transactions/schema.js';
import { TransactionSweeper } from './storage/transactions/sweeper.js';
import { connect, type CqlSession } from './storage/session.js';
import { startServeReplicator } from './replication/index.js';
import { TtlSweeper } from './ttl/sweeper.js';

export interface Server {
  app: FastifyInstance;
  session: CqlSession;
  /** The port the API listens on (useful with --port 0). */
  port: number;
  /** Background index work; tests drive a round of it directly. */
  maintenance: IndexMaintenance;
  /** TTL expiry (src/ttl); tests drive a round of it directly. */
  ttl: TtlSweeper;
  /** Item reads and writes (tests reach the transaction records through it). */
  store: ItemStore;
  /** The CQL proxy listener, when --cql-proxy-listen is set. */
  cqlProxy?: { address: string; port: number };
  /** Stops the sweepers and index maintenance (idempotent; close() does it too): nothing then reads the keyspace on its own. */
  stopBackground(): Promise<void>;
  close(): Promise<void>;
}

/** Runs the API in this process against the given cluster. */
export async function startServer(config: Config, points: string[]): Promise<Server> {
  const metrics = createMetrics(undefined, config.metricsMaxTables);
  const session = await connect(config, points, (n) => metrics.cqlFlush.observe(n));
  const catalog = new Catalog(session);
  await catalog.init();
  // Authentication (src/auth): key store, --access-key, auth mode; HTTPS with --tls-cert/--tls-key.
  const auth = await setupAuth(config, session, (line) => process.stderr.write(`[dynamo-cassandra] ${line}\n`)).catch(async (e) => {
    await session.shutdown(); // e.g. the refusal to serve a non-loopback address without keys
    throw e;
  });
  const store = new ItemStore(session, { transactionLockTimeoutMs: Math.max(1, config.transactionLockTimeoutMs) });
  await store.indexes.init();
  await store.streams.init();
  await store.transactions.init();
  await addLockColumns(session, catalog); // tables created before transactions (src/storage/transactions)
  // Index backfills, removals and crash repair run in every server process.
  // Its failures go to the app's log once the app exists.
  let warn = (message: string, err: unknown): void => {
    process.stderr.write(`[dynamo-cassandra] ${message}: ${(err as Error)?.message ?? err}\n`);
  };
  const services = storageServices({ config, session, catalog, store, translators });
  const maintenance = new IndexMaintenance(services, (m, e) => warn(m, e));
  maintenance.start();
  // TTL expiry sweeps, shared by all servers through leases in Cassandra.
  const ttl = new TtlSweeper(
    services,
    { periodMs: config.ttlSweepSeconds * 1000, pageSize: Math.max(1, config.ttlPageSize), registry: metrics.registry },
    (m, e) => warn(m, e),
  );
  await ttl.init();
  ttl.start();
  const txSweeper = new TransactionSweeper(store.transactions, async (name) => {
    const entry = await catalog.get(name);
    return entry && handleOf({ translators }, entry);
  }, (m, e) => warn(m, e), config.transactionSweepMs);
  txSweeper.start();
  // The CQL dual-write proxy as a second listener (not in cluster workers: one process owns the port).
  const proxy =
    config.cqlProxyListen && !cluster.isWorker ? await startCqlProxy(cqlProxyOptions(config), { registry: metrics.registry }) : undefined;
  const app = await buildApp({
    context: { ...actionServices(services), maintenance },
    metrics,
    logLevel: config.logLevel,
    authenticate: auth.authenticate,
    https: auth.https,
  });
  warn = (message, err) => {
    app.log.warn({ err }, message);
  };
  await app.listen({ host: config.host, port: config.port });
  // Replication from DynamoDB Streams beside the API (--replicate-tables), metrics in its registry.
  const replication = await startServeReplicator(config, { ...services, maintenance }, metrics.registry, (line) =>
    process.stderr.write(`[dynamo-cassandra] ${line}\n`),
  );
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const stopBackground = async () => {
    await Promise.all([maintenance.stop(), ttl.stop(), txSweeper.stop()]);
  };
  return {
    app,
    session,
    port,
    maintenance,
    ttl,
    store,
    cqlProxy: proxy,
    stopBackground,
    async close() {
      await replication?.stop();
      await stopBackground();
      await proxy?.close();
      await app.close();
      await session.shutdown();
    },
  };
}

/** The `serve` command: runs until SIGINT/SIGTERM, then stops what it started. */
export async function serveCommand(config: Config): Promise<number> {
  const log = (line: string) => process.stderr.write(`[dynamo-cassandra] ${line}\n`);
  if (cluster.isWorker) {
    const server = await startServer(config, config.contactPoints);
    await waitForSignal();
    await server.close();
    return 0;
  }
  const { points, node } = await resolveCluster(config, log);
  const stopNode = async () => {
    if (node && !node.reused) {
      log('stopping the embedded Cassandra node');
      await node.stop();
    }
  };
  try {
    await preflightAuth(config, points); // src/auth: refuses a non-loopback address without keys
    if (config.workers > 1) {
      // Workers share the listening socket (node:cluster); each has its own Cassandra session.
      const env = { DC_CONTACT_POINTS: points.join(','), DC_LOCAL_DC: node?.datacenter ?? config.localDc };
      serveClusterMetrics();
      for (let i = 0; i < config.workers; i++) cluster.fork(env);
      log(`serving DynamoDB API on ${config.tlsCert ? 'https' : 'http'}://${config.host}:${config.port} with ${config.workers} workers`);
      await waitForSignal();
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      await Promise.all(
        Object.values(cluster.workers ?? {}).map((w) => new Promise((r) => (w && !w.isDead() ? w.once('exit', r) : r(null)))),
      );
    } else {
      const server = await startServer({ ...config, localDc: node?.datacenter ?? config.localDc }, points);
      log(`serving DynamoDB API on ${config.tlsCert ? 'https' : 'http'}://${config.host}:${server.port} (Cassandra at ${points.join(',')})`);
      await waitForSignal();
      await server.close();
    }
  } finally {
    await stopNode();
  }
  return 0;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** serve's --cql-proxy-* options as the proxy's own. */
function cqlProxyOptions(config: Config): CqlProxyOptions {
  if (!config.cqlProxySource || !config.cqlProxyTarget) {
    throw new ConfigError('--cql-proxy-listen needs --cql-proxy-source and --cql-proxy-target');
  }
  // Everything else (failure policy, timeouts, logs, target credentials, TLS) as for `cql-proxy`,
  // from its DC_CQL_PROXY_* environment variables.
  return { ...cqlProxyOptionsFromEnvironment(), listen: config.cqlProxyListen, source: config.cqlProxySource, target: config.cqlProxyTarget };
}
