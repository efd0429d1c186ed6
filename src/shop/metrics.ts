import { Counter, Histogram, Registry } from 'prom-client';

/** The shop's Prometheus metrics, on a registry of its own (one per instance, never global). */
export class ShopMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status' | 'source'>;
  readonly requestDuration: Histogram<'method' | 'route'>;
  readonly databaseErrors: Counter<'role' | 'kind'>;
  readonly databaseRetries: Counter<'role'>;

  constructor(labels: Record<string, string>) {
    this.registry.setDefaultLabels(labels);
    this.requests = new Counter({
      name: 'chaos_shop_http_requests_total',
      help: 'HTTP requests by route, status and the source that served them (database, none)',
      labelNames: ['method', 'route', 'status', 'source'],
      registers: [this.registry],
    });
    this.requestDuration = new Histogram({
      name: 'chaos_shop_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.databaseErrors = new Counter({
      name: 'chaos_shop_database_errors_total',
      help: 'Database statements that failed, by endpoint role and kind (connection, statement)',
      labelNames: ['role', 'kind'],
      registers: [this.registry],
    });
    this.databaseRetries = new Counter({
      name: 'chaos_shop_database_retries_total',
      help: 'Statements retried after losing their connection (the retry pattern)',
      labelNames: ['role'],
      registers: [this.registry],
    });
  }
}
