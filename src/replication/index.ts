// Replication from DynamoDB Streams into Cassandra (or a DynamoDB-API endpoint): the entry points used by the rest of the program.
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { apiTarget, targetEndpointOf, usesApiTarget } from './api-target.js';
import { createReplicationMetrics } from './metrics.js';
import { Replicator, parseTableMapping } from './replicator.js';
import { awsSource } from './source.js';
import type { ReplicationContext } from './process.js';

/**
 * The replicator `serve` runs beside the API when --replicate-tables is set: same Cassandra
 * session and catalog, metrics in the API's registry. Several serve processes (or workers) may
 * all run it; they share the work through leases.
 */
export async function startServeReplicator(
  config: Config,
  ctx: ReplicationContext,
  registry: Registry,
  log: (line: string) => void,
): Promise<{ replicator: Replicator; stop(): Promise<void> } | undefined> {
  if (config.replicateTables.length === 0) return undefined;
  const source = awsSource({ endpoint: config.replicateSourceEndpoint, region: config.replicateRegion });
  const target = usesApiTarget(config) ? apiTarget(targetEndpointOf(config)) : undefined;
  const replicator = new Replicator({
    ctx,
    source,
    tables: config.replicateTables.map(parseTableMapping),
    metrics: createReplicationMetrics(registry),
    log: (line) => log(`replicate: ${line}`),
    segments: config.replicateSegments,
    concurrency: config.replicateConcurrency,
    leaseMs: config.replicateLeaseSeconds * 1000,
    writeIsolation: config.replicateWriteIsolation,
    target: target?.open,
    targetScope: target?.scope,
    ignoreReplicated: config.replicateIgnoreReplicated,
  });
  await replicator.start();
  return {
    replicator,
    async stop() {
      await replicator.stop();
      source.close();
      target?.close();
    },
  };
}
