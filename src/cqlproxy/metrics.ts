// The measurements the original dual-write proxy kept, as prom-client metrics.

import { Counter, Gauge, Registry, type Metric } from 'prom-client';

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface Observer {
  observe(v: number): void;
}

/**
 * A labelled histogram for the per-request hot path, registered like any prom-client metric.
 * prom-client's own observe() validates and hashes the labels on every call (a few µs, the
 * proxy's largest cost after socket writes); here a child is a bucket array bumped in place.
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children = new Map<string, { labels: Record<string, string>; counts: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  labels(labels: Record<string, string>): Observer {
    const key = JSON.stringify(labels);
    let c = this.children.get(key);
    if (!c) {
      c = { labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.children.set(key, c);
    }
    const child = c;
    const buckets = this.buckets;
    return {
      observe(v: number): void {
        let i = 0;
        while (i < buckets.length && v > buckets[i]!) i++;
        if (i < buckets.length) child.counts[i]!++;
        child.sum += v;
        child.count++;
      },
    };
  }

  /** What prom-client's registry (and its cluster aggregation) reads from a metric. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    for (const c of this.children.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le: '+Inf' }, value: c.count });
      values.push({ metricName: `${this.name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: c.labels, value: c.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    this.children.clear();
  }
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ProxyMetrics {
  readonly processing: FastHistogram;
  readonly request: FastHistogram;
  readonly serverErrors: Counter<'cluster' | 'opcode' | 'kind' | 'error'>;
  readonly differentResults: Counter<'keyspace' | 'table'>;
  readonly mirroredReads: Counter<'keyspace' | 'table'>;
  readonly pausedSeconds: Counter<'side'>;
  readonly failedWrites: Counter<'reason'>;
  readonly connections: Gauge<never>;
  readonly startups: Counter<'protocol_version'>;
  readonly inFlight: Gauge<'cluster'>;

  constructor(readonly registry: Registry) {
    const reg = [registry];
    const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    // Labels opcode and kind.
    this.processing = get('cql_proxy_processing_seconds', () => new FastHistogram(
      'cql_proxy_processing_seconds',
      'Time the proxy itself spends on a request (decode, route, rewrite), excluding cluster time',
      [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005],
      registry,
    ));
    this.request = get('cql_proxy_request_seconds', () => new FastHistogram(
      'cql_proxy_request_seconds',
      'Whole request time, from the client frame arriving to the answer being written',
      LATENCY_BUCKETS,
      registry,
    ));
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
    this.startups = get('cql_proxy_client_startups_total', () => new Counter({
      name: 'cql_proxy_client_startups_total',
      help: 'Client connections accepted (READY or AUTH_SUCCESS) by the protocol version spoken on them',
      labelNames: ['protocol_version'],
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
