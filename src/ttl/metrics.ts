// Prometheus metrics of TTL expiry, in the API's registry (GET /metrics).
import { Counter, type Registry } from 'prom-client';

export interface TtlMetrics {
  /** Items deleted because their TTL passed. */
  expired: Counter<'table'>;
  /** Items the sweep read (what it costs: each is read once per sweep period). */
  scanned: Counter<'table'>;
}

export function createTtlMetrics(registry: Registry): TtlMetrics {
  return {
    expired: new Counter({
      name: 'dynamo_cassandra_ttl_items_expired_total',
      help: 'Items deleted by TTL expiry, by table',
      labelNames: ['table'],
      registers: [registry],
    }),
    scanned: new Counter({
      name: 'dynamo_cassandra_ttl_items_scanned_total',
      help: 'Items read by the TTL expiry sweep, by table',
      labelNames: ['table'],
      registers: [registry],
    }),
  };
}
