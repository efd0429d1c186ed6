import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Bulkhead } from '../resilience/bulkhead.ts';
import type { CircuitBreaker } from '../resilience/circuit-breaker/index.ts';

const CIRCUIT_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;

/** The shop's Prometheus metrics, on a registry of its own (one per instance, never global). */
export class ShopMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status' | 'source'>;
  readonly requestDuration: Histogram<'method' | 'route'>;
  readonly databaseErrors: Counter<'role' | 'kind'>;
  readonly databaseRetries: Counter<'role'>;
  readonly readCacheWrites: Counter<'result'>;
  readonly writeBufferSends: Counter<'result'>;
  readonly dependencyFailures: Counter<'dependency' | 'configured'>;
  readonly staleAnswers: Counter<'dependency'>;

  constructor(labels: Record<string, string>) {
    this.registry.setDefaultLabels(labels);
    this.requests = new Counter({
      name: 'chaos_shop_http_requests_total',
      help: 'HTTP requests by route, status and the source that served them (database, cache, queue, none)',
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
    this.readCacheWrites = new Counter({
      name: 'chaos_shop_read_cache_writes_total',
      help: 'Writes of database answers to the read cache (only on change or refresh, never one per read), by result (ok, failed)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.writeBufferSends = new Counter({
      name: 'chaos_shop_write_buffer_sends_total',
      help: 'Orders sent to the order queue while the database was away (answered 202 when ok, 503 QUEUE_UNAVAILABLE or QUEUE_UNCERTAIN when failed), by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.dependencyFailures = new Counter({
      name: 'chaos_shop_dependency_failures_total',
      help: "Secondary dependency calls (reviews, promo) answered 503 (configured false: the shop was given no address for it)",
      labelNames: ['dependency', 'configured'],
      registers: [this.registry],
    });
    this.staleAnswers = new Counter({
      name: 'chaos_shop_dependency_stale_answers_total',
      help: 'Secondary dependency calls that failed and were answered from the read cache, marked stale',
      labelNames: ['dependency'],
      registers: [this.registry],
    });
  }

  /** The worker pools' occupancy, read at each scrape: workers busy and requests waiting, per pool. */
  observeWorkerPools(pools: readonly Bulkhead[]): void {
    if (pools.length === 0) return;
    new Gauge({
      name: 'chaos_shop_worker_pool_busy',
      help: 'Workers of the pool serving a request (Article 7: all of them busy on a dead dependency is the cascade)',
      labelNames: ['pool'],
      registers: [this.registry],
      collect() {
        for (const pool of pools) this.set({ pool: pool.name }, pool.stats().busy);
      },
    });
    new Counter({
      name: 'chaos_shop_worker_pool_refused_total',
      help: 'Calls refused because every worker of the pool was busy and its backlog full (503 WORKERS_BUSY for the main pool; a dependency pool\'s refusal is its fast 503, or a stale answer)',
      labelNames: ['pool'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pool of pools) this.inc({ pool: pool.name }, pool.stats().refused);
      },
    });
    new Gauge({
      name: 'chaos_shop_worker_pool_waiting',
      help: 'Requests in the pool\'s backlog, waiting for a worker',
      labelNames: ['pool'],
      registers: [this.registry],
      collect() {
        for (const pool of pools) this.set({ pool: pool.name }, pool.stats().waiting);
      },
    });
  }

  /**
   * The circuit breaker's metrics, read from its stats() at each scrape (nothing on the request
   * path): state as one gauge per state, transitions by from and to, calls rejected while open,
   * trial calls, failures counted; for a shared breaker, whether its store answers and how often
   * it fell back to local state. Registered only when the breaker is on.
   */
  observeCircuitBreaker(breaker: CircuitBreaker, mode: 'local' | 'shared'): void {
    const registers = [this.registry];
    new Gauge({
      name: 'chaos_shop_circuit_breaker_state',
      help: 'The circuit breaker around the database: 1 for its current state (CLOSED, OPEN, HALF_OPEN), 0 for the others',
      labelNames: ['state', 'mode'],
      registers,
      collect() {
        const state = breaker.state;
        for (const candidate of CIRCUIT_STATES) this.set({ state: candidate, mode }, candidate === state ? 1 : 0);
      },
    });
    new Counter({
      name: 'chaos_shop_circuit_breaker_transitions_total',
      help: 'Circuit breaker transitions this instance saw, by from and to state',
      labelNames: ['from', 'to'],
      registers,
      collect() {
        this.reset();
        for (const [change, count] of Object.entries(breaker.stats().transitions)) {
          const [from, to] = change.split('->');
          this.inc({ from, to }, count);
        }
      },
    });
    const statCounter = (name: string, help: string, read: (stats: ReturnType<CircuitBreaker['stats']>) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const value = read(breaker.stats());
          if (value > 0) this.inc(value);
        },
      });
    };
    statCounter('chaos_shop_circuit_breaker_rejected_total', 'Database calls the open circuit refused without touching the database (answered 503 CIRCUIT_OPEN)', (s) => s.rejected);
    statCounter('chaos_shop_circuit_breaker_trial_calls_total', 'HALF_OPEN trial calls this instance made', (s) => s.trialCalls);
    statCounter('chaos_shop_circuit_breaker_failures_total', 'Database calls that failed as the breaker counts failures (connection errors and timeouts)', (s) => s.failures);
    if (mode !== 'shared') return;
    new Gauge({
      name: 'chaos_shop_circuit_breaker_store_available',
      help: "1 while the shared breaker's store (the services store) answers, 0 while the breaker runs on local state",
      registers,
      collect() {
        this.set(breaker.stats().storeAvailable ? 1 : 0);
      },
    });
    statCounter('chaos_shop_circuit_breaker_store_fallbacks_total', 'Times the shared breaker lost its store and fell back to local state', (s) => s.storeFallbacks);
    statCounter('chaos_shop_circuit_breaker_fallback_calls_total', 'Calls the local fallback decided while the store was out of reach', (s) => s.fallbackCalls);
  }
}
