// Prometheus metrics of the replicator. Registered in the API's registry when the replicator runs
// inside `serve`, else in a registry of its own served by `replicate` on --replicate-metrics-port.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface ReplicationMetrics {
  registry: Registry;
  applied: Counter<'table' | 'event'>;
  skippedReplicated: Counter<'table'>;
  snapshotItems: Counter<'table'>;
  lag: Gauge<'table' | 'shard'>;
  errors: Counter<'table' | 'type'>;
  shardsOwned: Gauge<'table'>;
}

export function createReplicationMetrics(registry?: Registry): ReplicationMetrics {
  const own = !registry;
  const reg = registry ?? new Registry();
  if (own) collectDefaultMetrics({ register: reg });
  const registers = [reg];
  return {
    registry: reg,
    applied: new Counter({
      name: 'dynamodb_replication_records_applied_total',
      help: 'Stream records applied to the target, by table and event (INSERT, MODIFY, REMOVE)',
      labelNames: ['table', 'event'],
      registers,
    }),
    skippedReplicated: new Counter({
      name: 'dynamodb_replication_records_skipped_replicated_total',
      help: 'Stream records not applied because a replicator wrote them (the loop guard of --ignore-replicated), by table',
      labelNames: ['table'],
      registers,
    }),
    snapshotItems: new Counter({
      name: 'dynamodb_replication_snapshot_items_total',
      help: 'Items copied by snapshots, by table',
      labelNames: ['table'],
      registers,
    }),
    lag: new Gauge({
      name: 'dynamodb_replication_shard_lag_seconds',
      help: 'Age of the newest applied stream record of each shard this process reads (0 when caught up)',
      labelNames: ['table', 'shard'],
      registers,
    }),
    errors: new Counter({
      name: 'dynamodb_replication_errors_total',
      help: 'Replication errors, by table and error type',
      labelNames: ['table', 'type'],
      registers,
    }),
    shardsOwned: new Gauge({
      name: 'dynamodb_replication_shards_owned',
      help: 'Stream shards this process holds a lease on, by table',
      labelNames: ['table'],
      registers,
    }),
  };
}

/** A minimal HTTP server for GET /metrics (the standalone `replicate` command). */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (e) => res.writeHead(500).end(String(e)),
      );
    } else {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' }).end(req.url === '/' ? 'replicator\n' : '');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
