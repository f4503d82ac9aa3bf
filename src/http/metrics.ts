// Prometheus metrics of the HTTP API (prom-client), served on GET /metrics.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'action' | 'table' | 'status'>;
  errors: Counter<'action' | 'table' | 'type'>;
  latency: Histogram<'action' | 'table'>;
}

export function createMetrics(registry = new Registry()): ApiMetrics {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
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
}
