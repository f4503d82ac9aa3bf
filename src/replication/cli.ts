// The `replicate`, `replicate status` and `verify` commands. They take the options of `serve` (and
// its configuration file and DC_* variables) plus short forms of the replication options, as
// their option tables in src/replication/options.ts say.
import type { Server } from 'node:http';
import { ConfigError, type Config } from '../config.js';
import { helpText, loadOptions, type CommandSpec } from '../options.js';
import { REPLICATE_COMMAND, REPLICATE_STATUS_COMMAND, VERIFY_COMMAND } from './options.js';
import { translators } from '../../translators/index.js';
import { IndexMaintenance } from '../storage/index-maintenance.js';
import { storageServices } from '../storage/services.js';
import { openCluster } from '../cluster.js';
import { Catalog } from '../storage/catalog.js';
import { ItemStore } from '../storage/item-store.js';
import type { CqlSession } from '../storage/session.js';
import { apiTarget, scopeOf, targetEndpointOf, usesApiTarget } from './api-target.js';
import { ReplicationError } from './errors.js';
import { createReplicationMetrics, serveMetrics } from './metrics.js';
import { Replicator, parseTableMapping } from './replicator.js';
import { awsSource, type SourceApi } from './source.js';
import { ReplicationState } from '../storage/state/replication-state.js';
import { formatStatus, readStatus } from './status.js';
import { formatReport, verify } from './verify.js';
import type { ReplicationContext } from './process.js';

interface Parsed {
  config: Config;
  tables: string[];
  values: Record<string, unknown>;
}

/** A command's flags, variables and file through its option table (src/replication/options.ts). */
function parse(command: CommandSpec, argv: string[]): Parsed {
  const { values } = loadOptions(command, argv);
  const config = values as unknown as Config;
  return { config, tables: config.replicateTables, values };
}

const log = (line: string) => process.stderr.write(`[dynamo-cassandra] ${line}\n`);

/** Cassandra (embedded node or --contact-points) plus the storage services the actions use. */
async function open(config: Config): Promise<{ ctx: ReplicationContext; session: CqlSession; close(): Promise<void> }> {
  const cassandra = await openCluster(config, log);
  const { session } = cassandra;
  const catalog = new Catalog(session);
  await catalog.init();
  const store = new ItemStore(session);
  await store.indexes.init();
  await store.streams.init();
  const ctx = storageServices({ config: cassandra.config, session, catalog, store, translators });
  // Repairs index entries of writes a killed process left unfinished (as every server does).
  const maintenance = new IndexMaintenance(ctx);
  maintenance.start();
  return {
    ctx: { ...ctx, maintenance },
    session,
    async close() {
      await maintenance.stop();
      await cassandra.close();
    },
  };
}

function sourceOf(config: Config): SourceApi {
  return awsSource({ endpoint: config.replicateSourceEndpoint, region: config.replicateRegion });
}

function waitForSignal(): { promise: Promise<void>; dispose(): void } {
  let done!: () => void;
  const promise = new Promise<void>((r) => (done = r));
  process.on('SIGINT', done);
  process.on('SIGTERM', done);
  return {
    promise,
    dispose() {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
    },
  };
}

/** Prints the command's --help and returns true when it was asked for. */
function help(command: CommandSpec, argv: string[]): boolean {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  process.stdout.write(helpText(command) + '\n');
  return true;
}

const usageOf = (command: CommandSpec) => `\n\n${helpText(command)}`;

export async function replicateCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'status') return statusCommand(argv.slice(1));
  if (help(REPLICATE_COMMAND, argv)) return 0;
  const { config, tables, values } = parse(REPLICATE_COMMAND, argv);
  if (tables.length === 0) throw new ConfigError(`replicate needs at least one --table${usageOf(REPLICATE_COMMAND)}`);
  const env = await open(config);
  const source = sourceOf(config);
  const target = usesApiTarget(config) ? apiTarget(targetEndpointOf(config)) : undefined;
  const metrics = createReplicationMetrics();
  let metricsServer: Server | undefined;
  const signal = waitForSignal();
  try {
    if (config.replicateMetricsPort > 0) {
      metricsServer = await serveMetrics(metrics.registry, config.host, config.replicateMetricsPort);
      log(`replication metrics on http://${config.host}:${config.replicateMetricsPort}/metrics`);
    }
    const replicator = new Replicator({
      ctx: env.ctx,
      source,
      tables: tables.map(parseTableMapping),
      metrics,
      log,
      segments: config.replicateSegments,
      concurrency: config.replicateConcurrency,
      leaseMs: config.replicateLeaseSeconds * 1000,
      writeIsolation: config.replicateWriteIsolation,
      target: target?.open,
      targetScope: target?.scope,
      ignoreReplicated: config.replicateIgnoreReplicated,
      resnapshot: values.resnapshot === true,
      progress: process.stderr.isTTY === true,
    });
    await replicator.start();
    const into = target ? `the DynamoDB API at ${config.replicateTargetEndpoint ?? 'AWS'} (checkpoints in keyspace ${config.keyspace})` : `keyspace ${config.keyspace}`;
    log(`replicator ${replicator.id} replicating ${tables.join(', ')} into ${into}`);
    await Promise.race([signal.promise, replicator.done()]);
    await replicator.stop();
    for (const [table, e] of replicator.failures) process.stderr.write(`dynamo-cassandra: replication of ${table} failed: ${e.message}\n`);
    return replicator.failures.size > 0 ? 1 : 0;
  } finally {
    signal.dispose();
    metricsServer?.close();
    source.close();
    target?.close();
    await env.close();
  }
}

async function statusCommand(argv: string[]): Promise<number> {
  if (help(REPLICATE_STATUS_COMMAND, argv)) return 0;
  const { config, tables, values } = parse(REPLICATE_STATUS_COMMAND, argv);
  const env = await open(config);
  try {
    const state = new ReplicationState(env.session);
    await state.init();
    const scope = usesApiTarget(config) ? scopeOf(targetEndpointOf(config)) : '';
    const status = await readStatus(state, tables.map((t) => scope + parseTableMapping(t).target));
    process.stdout.write((values.json === true ? JSON.stringify(status, null, 2) : formatStatus(status)) + '\n');
    return 0;
  } finally {
    await env.close();
  }
}

export async function verifyCommand(argv: string[]): Promise<number> {
  if (help(VERIFY_COMMAND, argv)) return 0;
  const { config, tables, values } = parse(VERIFY_COMMAND, argv);
  if (tables.length === 0) throw new ConfigError(`verify needs at least one --table${usageOf(VERIFY_COMMAND)}`);
  const maxReport = values.maxReport as number;
  const env = await open(config);
  const source = sourceOf(config);
  const targetApi = usesApiTarget(config) ? awsSource(targetEndpointOf(config)) : undefined;
  let identical = true;
  try {
    for (const spec of tables) {
      const m = parseTableMapping(spec);
      const report = await verify({
        ctx: env.ctx,
        source,
        sourceTable: m.source,
        target: m.target,
        targetApi,
        segments: config.replicateSegments,
        maxReport,
        log,
      });
      identical &&= report.identical;
      process.stdout.write((values.json === true ? JSON.stringify({ table: m.target, ...report }) : formatReport(report, m.source, m.target)) + '\n');
    }
    return identical ? 0 : 1;
  } finally {
    source.close();
    targetApi?.close();
    await env.close();
  }
}

/** Runs a command, printing user-facing failures without a stack trace. */
export async function runReplicationCommand(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ReplicationError) {
      process.stderr.write(`dynamo-cassandra: ${e.message}\n`);
      return 1;
    }
    // The source or the cluster cannot be reached, or refuses us: no stack trace needed.
    const err = e as { $metadata?: unknown; code?: unknown; name?: string; message?: string };
    if (err?.$metadata !== undefined || typeof err?.code === 'string' || err?.name === 'NoHostAvailableError') {
      process.stderr.write(`dynamo-cassandra: ${err.name}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}
