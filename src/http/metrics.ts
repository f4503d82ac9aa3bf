// Prometheus metrics of the HTTP API (prom-client), served on GET /metrics.
import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TableLabels } from './table-labels.js';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'action' | 'table' | 'status'>;
  errors: Counter<'action' | 'table' | 'type'>;
  latency: Histogram<'action' | 'table'>;
  /** Statements per coalesced send to Cassandra (--cql-coalesce): how much coalescing saves. */
  cqlFlush: Histogram;
  /** The bounded `table` label of requests, errors and latency: count requests through it. */
  tables: TableLabels;
}

/**
 * prom-client's gauges named *_total, which Prometheus reserves for counters (promtool fails
 * them). Each is the sum of a gauge by type that stays (nodejs_active_handles and so on).
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** maxTables: how many tables get a label of their own (--metrics-max-tables). */
export function createMetrics(registry = new Registry(), maxTables = 100): ApiMetrics {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  const series = {
    requests: new Counter({
      name: 'dynamodb_requests_total',
      help: 'DynamoDB API requests by action, table and HTTP status',
      labelNames: ['action', 'table', 'status'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'dynamodb_errors_total',
      help: 'DynamoDB API errors by action, table and error type',
      labelNames: ['action', 'table', 'type'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'dynamodb_request_duration_seconds',
      help: 'DynamoDB API request latency by action and table',
      labelNames: ['action', 'table'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  return {
    registry,
    ...series,
    tables: new TableLabels(series, maxTables),
    cqlFlush: new Histogram({
      name: 'dynamo_cassandra_cql_statements_per_flush',
      help: 'CQL statements sent together per turn of the event loop (--cql-coalesce); 1 means no coalescing happened',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
  };
}

const REQUEST = 'dynamo-cassandra:metrics-request';
const RESPONSE = 'dynamo-cassandra:metrics-response';

/**
 * The text GET /metrics serves. In a worker of `serve --workers N`, any worker may take the
 * request, so it asks the primary, which sums the metrics of all workers (prom-client's cluster
 * aggregation); otherwise this process's own registry.
 */
export function metricsText(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker) return () => registry.metrics();
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener that answers the primary's requests.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, (text: string) => void>();
  process.on('message', (m: { type?: string; id?: number; text?: string }) => {
    if (m?.type === RESPONSE && m.id !== undefined) {
      waiting.get(m.id)?.(m.text ?? '');
      waiting.delete(m.id);
    }
  });
  return () =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      process.send!({ type: REQUEST, id });
    });
}

/** In the primary of `serve --workers N`: answers workers' requests for the summed metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, m: { type?: string; id?: number }) => {
    if (m?.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: RESPONSE, id: m.id, text }),
      (e: Error) => worker.send({ type: RESPONSE, id: m.id, text: `# metrics unavailable: ${e.message}\n` }),
    );
  });
}
