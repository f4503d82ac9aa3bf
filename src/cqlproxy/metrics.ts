// The measurements the original dual-write proxy kept, as prom-client metrics.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ProxyMetrics {
  readonly processing: Histogram<'opcode' | 'kind'>;
  readonly request: Histogram<'opcode' | 'kind'>;
  readonly serverErrors: Counter<'cluster' | 'opcode' | 'kind' | 'error'>;
  readonly differentResults: Counter<'keyspace' | 'table'>;
  readonly mirroredReads: Counter<'keyspace' | 'table'>;
  readonly pausedSeconds: Counter<'side'>;
  readonly failedWrites: Counter<'reason'>;
  readonly connections: Gauge<never>;
  readonly inFlight: Gauge<'cluster'>;

  constructor(readonly registry: Registry) {
    const reg = [registry];
    const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    this.processing = get('cql_proxy_processing_seconds', () => new Histogram({
      name: 'cql_proxy_processing_seconds',
      help: 'Time the proxy itself spends on a request (decode, route, rewrite), excluding cluster time',
      labelNames: ['opcode', 'kind'],
      buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005],
      registers: reg,
    }));
    this.request = get('cql_proxy_request_seconds', () => new Histogram({
      name: 'cql_proxy_request_seconds',
      help: 'Whole request time, from the client frame arriving to the answer being written',
      labelNames: ['opcode', 'kind'],
      buckets: LATENCY_BUCKETS,
      registers: reg,
    }));
    this.serverErrors = get('cql_proxy_server_errors_total', () => new Counter({
      name: 'cql_proxy_server_errors_total',
      help: 'Error answers and failures (timeouts, closed connections) per cluster',
      labelNames: ['cluster', 'opcode', 'kind', 'error'],
      registers: reg,
    }));
    this.differentResults = get('cql_proxy_read_differences_total', () => new Counter({
      name: 'cql_proxy_read_differences_total',
      help: 'Mirrored reads whose result differed between source and target',
      labelNames: ['keyspace', 'table'],
      registers: reg,
    }));
    this.mirroredReads = get('cql_proxy_mirrored_reads_total', () => new Counter({
      name: 'cql_proxy_mirrored_reads_total',
      help: 'Reads compared between source and target',
      labelNames: ['keyspace', 'table'],
      registers: reg,
    }));
    this.pausedSeconds = get('cql_proxy_socket_paused_seconds_total', () => new Counter({
      name: 'cql_proxy_socket_paused_seconds_total',
      help: 'Time reading was paused because the other side could not take more (client / source / target)',
      labelNames: ['side'],
      registers: reg,
    }));
    this.failedWrites = get('cql_proxy_target_failed_writes_total', () => new Counter({
      name: 'cql_proxy_target_failed_writes_total',
      help: 'Writes the target did not apply, recorded in the failed-write log',
      labelNames: ['reason'],
      registers: reg,
    }));
    this.connections = get('cql_proxy_client_connections', () => new Gauge({
      name: 'cql_proxy_client_connections',
      help: 'Open client connections',
      registers: reg,
    }));
    this.inFlight = get('cql_proxy_in_flight_requests', () => new Gauge({
      name: 'cql_proxy_in_flight_requests',
      help: 'Requests awaiting a cluster answer',
      labelNames: ['cluster'],
      registers: reg,
    }));
  }
}
