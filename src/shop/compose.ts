// Where the patterns become behaviour: the connection patterns build the database access, and
// the port patterns wrap the ports the routes talk to. The one place that reads `Patterns`
// (besides GET /, which names them), so a route never branches on what the shop is.
import { retry } from '../resilience/backoff.ts';
import {
  DEFAULT_BREAKER_SETTINGS,
  localCircuitBreaker,
  sharedCircuitBreaker,
  type BreakerStore,
  type CircuitBreaker,
} from '../resilience/circuit-breaker/index.ts';
import type { KeyValueCache, ProductCache } from '../services/cache/index.ts';
import type { BlobStore } from '../services/promo/index.ts';
import type { ReviewStore } from '../services/reviews/index.ts';
import type { MessageQueue } from '../services/queue/index.ts';
import { isDatabaseUnavailable, withCircuitBreaker } from './circuit-breaker-ports.ts';
import { isConnectionError } from './database/connection-errors.ts';
import { ConnectionPool } from './database/connection-pool.ts';
import { PersistentConnection } from './database/persistent-connection.ts';
import type { DatabaseEndpoint, EndpointRole } from './database/queryable.ts';
import type { EndpointConnection, ShopDatabase } from './database/shop-database.ts';
import { databasePorts } from './database-ports.ts';
import { READ_CACHE_DEFAULTS, type Patterns } from './patterns.ts';
import type { PromoPort, ReviewsPort, ShopPorts } from './ports.ts';
import { catalogWithReadCache } from './read-cache-ports.ts';
import { onPool, promoFromStore, reviewsFromStore, type DependencyUnavailable } from './secondary-ports.ts';
import { withStaleFallback } from './stale-fallback.ts';
import type { WorkerPools } from './worker-pools.ts';
import { ordersWithWriteBuffer } from './write-buffer-ports.ts';

/** Where the database is, and how long a connection may take to open. */
export interface DatabaseTarget {
  writer: DatabaseEndpoint;
  /** The reader endpoint (the writer in a single-server setup). */
  reader: DatabaseEndpoint;
  connectTimeoutMs: number;
  /** Called before each retry of a statement, for logs and metrics. */
  onRetry?: (role: EndpointRole, error: unknown, attempt: number) => void;
}

/**
 * The database access the patterns describe: a persistent connection or a checked pool per
 * endpoint, with the statement timeout; the reader used for reads when the read/write split is
 * on (else everything goes to the writer); each statement attempt through the circuit breaker
 * (composeCircuitBreaker), when there is one; statements that lose their connection retried on
 * the retry schedule, around the breaker (circuit-breaker-ports.ts says why that order).
 */
export function composeDatabase(patterns: Patterns, target: DatabaseTarget, breaker?: CircuitBreaker): ShopDatabase {
  const connect = (endpoint: DatabaseEndpoint): EndpointConnection => {
    const { connection, queryTimeoutMs } = patterns;
    if (connection.kind === 'persistent') return new PersistentConnection({ endpoint, connectTimeoutMs: target.connectTimeoutMs, queryTimeoutMs });
    return new ConnectionPool({ endpoint, connectTimeoutMs: target.connectTimeoutMs, queryTimeoutMs, size: connection.size, validateAfterIdleMs: connection.validateAfterIdleMs });
  };
  const writer = connect(target.writer);
  // A reader of its own whenever reads are split, even onto the writer's endpoint (a single
  // server): Article 3's resilient shop has a pool per endpoint, so reads never queue behind writes.
  const reader = patterns.readWriteSplit ? connect(target.reader) : writer;
  const byRole: ShopDatabase = {
    query: (role, statement) => (role === 'writer' ? writer : reader).query(statement),
    ping: () => writer.ping(),
    close: async () => {
      await Promise.all(reader === writer ? [writer.close()] : [writer.close(), reader.close()]);
    },
  };
  const guarded = breaker ? withCircuitBreaker(byRole, breaker) : byRole;
  const { delaysMs } = patterns.retry;
  return delaysMs.length === 0 ? guarded : withStatementRetry(guarded, delaysMs, target.onRetry);
}

/** Retries a statement that lost its connection after each delay in turn (Article 3: 0.5 s, 1 s, 2 s). */
export function withStatementRetry(
  database: ShopDatabase,
  delaysMs: readonly number[],
  onRetry?: (role: EndpointRole, error: unknown, attempt: number) => void,
): ShopDatabase {
  return {
    query: (role, statement) =>
      retry(() => database.query(role, statement), {
        delaysMs,
        shouldRetry: isConnectionError,
        onRetry: (error, attempt) => onRetry?.(role, error, attempt),
      }),
    // /health/deep reports the database as it is this moment: never retried.
    ping: () => database.ping(),
    close: () => database.close(),
  };
}

/** The shared breaker's key in the services store: every instance of a lab guards the same database. */
export const SHOP_BREAKER_NAME = 'shop-database';

/** What the circuit breaker pattern needs besides its settings. */
export interface BreakerTarget {
  /** The shared breaker's store (the services store); required when the mode is shared. */
  store?: BreakerStore;
  /** How long opening a database connection may take: part of how long a trial call may last. */
  connectTimeoutMs: number;
}

/**
 * The breaker the patterns ask for around the database's statements (composeDatabase), or
 * undefined when it is off. A failure is the database not answering (isDatabaseUnavailable),
 * never a business answer.
 */
export function composeCircuitBreaker(patterns: Patterns, target: BreakerTarget): CircuitBreaker | undefined {
  const pattern = patterns.circuitBreaker;
  if (pattern.mode === 'off') return undefined;
  const settings = { failureThreshold: pattern.failureThreshold, recoveryTimeoutMs: pattern.recoveryTimeoutMs, trialLeaseMs: trialLeaseMs(patterns, target.connectTimeoutMs) };
  if (pattern.mode === 'local') return localCircuitBreaker(settings, { isFailure: isDatabaseUnavailable, name: SHOP_BREAKER_NAME });
  if (!target.store) throw new Error('patterns.circuitBreaker.mode: shared needs the services store (SERVICES_STORE_URL), got none');
  return sharedCircuitBreaker({ name: SHOP_BREAKER_NAME, settings, store: target.store, isFailure: isDatabaseUnavailable });
}

/**
 * How long the HALF_OPEN trial holds its lease: at least the longest one statement attempt can
 * take (the breaker guards attempts, inside the retry) when it runs into its timeouts (connect,
 * statement), so a slow but live trial is never presumed lost and doubled by a second one. With
 * no statement timeout (the naive connection waits forever) a hang has no bound: the default
 * lease keeps the breaker moving.
 */
export function trialLeaseMs(patterns: Patterns, connectTimeoutMs: number): number {
  if (patterns.queryTimeoutMs === null) return DEFAULT_BREAKER_SETTINGS.trialLeaseMs;
  return Math.max(DEFAULT_BREAKER_SETTINGS.trialLeaseMs, connectTimeoutMs + patterns.queryTimeoutMs);
}

/** What composePorts wraps the ports with, besides the patterns: the breaker, the cache, the queue, and hooks for metrics. */
export interface PortsTarget {
  instanceId: string;
  readerIsWriter: boolean;
  /** The read cache (the services store's product cache); required when patterns.readCache is on. */
  cache?: ProductCache;
  /** The order queue (the services store's order-buffer); required when patterns.writeBuffer is on. */
  queue?: MessageQueue;
  /** A database failure a fallback answered for (it never reached the routes, which count the others). */
  onDegradedFailure?: (error: unknown) => void;
  /** After each read-cache write; `error` set when it failed. */
  onCacheWrite?: (error: unknown) => void;
  /** After each write-buffer send; `error` set when it failed. */
  onQueueSend?: (error: unknown) => void;
  /** The reviews table's client (REVIEWS_URL); without it the reviews routes answer 503 REVIEWS_NOT_CONFIGURED. */
  reviewsStore?: ReviewStore;
  /** The promo bucket's client (PROMO_URL); without it GET /promo answers 503 PROMO_NOT_CONFIGURED. */
  promoStore?: BlobStore;
  /** The read cache's entries (READ_CACHE_URL): required when patterns.dependencyClient.fallback is stale. */
  keyValueCache?: KeyValueCache;
  /** The worker pools (composeWorkerPools): a secondary dependency's calls run on its own pool when it has one. */
  workerPools?: WorkerPools;
  /** A secondary dependency's failure the stale fallback answered for. */
  onStaleFallback?: (error: DependencyUnavailable) => void;
}

/**
 * The ports the routes talk to, over `database` (whose statements already pass the circuit
 * breaker, composeDatabase), wrapped as the patterns say: the read cache around the catalog and
 * the write buffer around the orders, so that a call the breaker refuses falls back exactly like
 * one the database failed. The health port is never wrapped: /health/deep reports the database
 * as it is this moment.
 */
export function composePorts(database: ShopDatabase, patterns: Patterns, target: PortsTarget): ShopPorts {
  const ports = databasePorts(database, {
    instanceId: target.instanceId,
    retriesStatements: patterns.retry.delaysMs.length > 0,
    readYourWrites: patterns.readWriteSplit && !target.readerIsWriter,
  });
  let { catalog, orders } = ports;
  const { readCache, writeBuffer } = patterns;
  if (readCache.mode === 'write-through') {
    if (!target.cache) throw new Error('patterns.readCache.mode: write-through needs the read cache (READ_CACHE_URL), got none');
    catalog = catalogWithReadCache(catalog, target.cache, { refreshMs: readCache.refreshMs, onWrite: target.onCacheWrite, onFallback: target.onDegradedFailure });
  }
  if (writeBuffer.mode === 'queue') {
    if (!target.queue) throw new Error('patterns.writeBuffer.mode: queue needs the order queue (ORDER_QUEUE_URL), got none');
    orders = ordersWithWriteBuffer(orders, target.queue, { instanceId: target.instanceId, onSend: target.onQueueSend, onFallback: target.onDegradedFailure });
  }
  return { catalog, orders, health: ports.health, ...composeSecondaryPorts(patterns, target) };
}

/**
 * Article 7's secondary dependencies: each store's client (its timeouts and retries were set from
 * patterns.dependencyClient where the client was made), its calls on the dependency's own worker
 * pool when the pools are per-dependency, and outside that, the stale fallback when it is on (so a
 * call the pool refuses is answered from the cache like one the store failed).
 */
export function composeSecondaryPorts(patterns: Patterns, target: PortsTarget): { reviews: ReviewsPort; promo: PromoPort } {
  let reviews = reviewsFromStore(target.reviewsStore);
  let promo = promoFromStore(target.promoStore);
  const reviewsPool = target.workerPools?.forDependency('reviews');
  const promoPool = target.workerPools?.forDependency('promo');
  if (reviewsPool) {
    const inner = reviews;
    reviews = { reviewsOf: (productId) => onPool('reviews', reviewsPool, () => inner.reviewsOf(productId)) };
  }
  if (promoPool) {
    const inner = promo;
    promo = { banner: () => onPool('promo', promoPool, () => inner.banner()) };
  }
  if (patterns.dependencyClient.fallback === 'stale') {
    if (!target.keyValueCache) throw new Error('patterns.dependencyClient.fallback: stale needs the read cache (READ_CACHE_URL), got none');
    const refreshMs = patterns.readCache.mode === 'write-through' ? patterns.readCache.refreshMs : READ_CACHE_DEFAULTS.refreshMs;
    ({ reviews, promo } = withStaleFallback({ reviews, promo }, { cache: target.keyValueCache, refreshMs, onWrite: target.onCacheWrite, onFallback: target.onStaleFallback }));
  }
  return { reviews, promo };
}
