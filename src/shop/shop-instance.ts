import type { FastifyInstance } from 'fastify';
import { PostgresBreakerStore, type CircuitBreaker } from '../resilience/circuit-breaker/index.ts';
import { PostgresProductCache, type ProductCache } from '../services/cache/index.ts';
import { PostgresBlobStore } from '../services/promo/index.ts';
import { ORDER_QUEUE_NAME, PostgresQueue, type MessageQueue } from '../services/queue/index.ts';
import { PostgresReviewStore } from '../services/reviews/index.ts';
import { buildShopApp } from './app.ts';
import { composeCircuitBreaker, composeDatabase, composePorts } from './compose.ts';
import { resolveShopConfig, type ShopConfig, type ShopOptions } from './config.ts';
import type { ShopDatabase } from './database/shop-database.ts';
import { SchemaInitializer } from './initializer.ts';
import { ShopMetrics } from './metrics.ts';
import { DatabaseFailure } from './ports.ts';
import { composeWorkerPools, type WorkerPools } from './worker-pools.ts';

/** A running shop instance. */
export interface ShopInstance {
  readonly config: ShopConfig;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly initializer: SchemaInitializer;
  /** The circuit breaker around every database statement, when the patterns ask for one. */
  readonly breaker: CircuitBreaker | undefined;
  /** The read cache's client, when the patterns ask for the read cache. */
  readonly cache: ProductCache | undefined;
  /** The order queue's client, when the patterns ask for the write buffer. */
  readonly queue: MessageQueue | undefined;
  /** The worker pools (patterns.workerPools; none when off): their stats say how busy the instance is. */
  readonly workerPools: WorkerPools;
  /** Resolves once the schema is initialised (or initialisation gave up or was stopped). */
  whenInitialised(): Promise<void>;
  /** Stops serving and closes every database connection. */
  close(): Promise<void>;
}

/** How long opening a connection to the services store (cache, queue) may take. */
const SERVICE_CONNECT_TIMEOUT_MS = 1000;
/** How long one statement on the services store may take. */
const SERVICE_STATEMENT_TIMEOUT_MS = 2000;

/** Events a shop reports while it runs, for whoever shows them (library code never prints). */
export interface ShopEvents {
  onInitRetry?: (error: unknown, nextDelayMs: number | undefined) => void;
  onDatabaseRetry?: (role: string, error: unknown, attempt: number) => void;
}

/** Creates the database access the instance's patterns describe. */
export function createShopDatabase(config: ShopConfig, metrics: ShopMetrics, events: ShopEvents = {}, breaker?: CircuitBreaker): ShopDatabase {
  return composeDatabase(config.patterns, {
    writer: config.writer,
    reader: config.reader,
    connectTimeoutMs: config.connectTimeoutMs,
    onRetry: (role, error, attempt) => {
      metrics.databaseRetries.inc({ role });
      events.onDatabaseRetry?.(role, error, attempt);
    },
  }, breaker);
}

/**
 * Starts one Chaos Shop instance: it listens at once (so /health answers) and initialises the
 * schema in the background.
 */
export async function startShop(options: ShopOptions, events: ShopEvents = {}): Promise<ShopInstance> {
  const config = resolveShopConfig(options);
  const metrics = new ShopMetrics({ instance_id: config.instanceId, availability_zone: config.availabilityZone });
  const initializer = new SchemaInitializer({
    writer: config.writer,
    connectTimeoutMs: config.connectTimeoutMs,
    pattern: config.patterns.initialisation,
    onAttemptFailed: events.onInitRetry,
  });
  // A shared breaker's store: the lab's services store, reached (in a lab) through its own
  // fault-proxy listener; config validation has made sure it was given.
  const breakerMode = config.patterns.circuitBreaker.mode;
  const store = breakerMode === 'shared' && config.servicesStore ? new PostgresBreakerStore({ ...config.servicesStore }) : undefined;
  const breaker = composeCircuitBreaker(config.patterns, { store, connectTimeoutMs: config.connectTimeoutMs });
  if (breaker && breakerMode !== 'off') metrics.observeCircuitBreaker(breaker, breakerMode);
  const database = createShopDatabase(config, metrics, events, breaker);
  // The read cache and the order queue: the services store again, each through its own way in (in
  // a lab, its own fault-proxy listener), so that an experiment can cut one and not the others.
  // Their timeouts are short: they are the fallback, asked while the database is already away,
  // and a customer waiting seconds on a dead store is served no better than by a 503 at once.
  const serviceTimeouts = { connectTimeoutMs: Math.min(config.connectTimeoutMs, SERVICE_CONNECT_TIMEOUT_MS), statementTimeoutMs: SERVICE_STATEMENT_TIMEOUT_MS };
  // The read cache also holds the secondary dependencies' last good answers when the stale fallback is on.
  const usesCache = config.patterns.readCache.mode !== 'off' || config.patterns.dependencyClient.fallback === 'stale';
  const cache = usesCache && config.readCacheStore ? new PostgresProductCache({ connection: { ...config.readCacheStore }, ...serviceTimeouts }) : undefined;
  // Article 7's secondary dependencies, each through its own client with the pattern's timeouts and retries.
  const { connectTimeoutMs, readTimeoutMs, retries } = config.patterns.dependencyClient;
  const client = { connectTimeoutMs, readTimeoutMs, retries };
  const reviewsStore = config.reviewsStore ? new PostgresReviewStore({ connection: { ...config.reviewsStore }, client }) : undefined;
  const promoStore = config.promoStore ? new PostgresBlobStore({ connection: { ...config.promoStore }, client }) : undefined;
  const workerPools = composeWorkerPools(config.patterns.workerPools);
  metrics.observeWorkerPools(workerPools.all());
  const queue =
    config.patterns.writeBuffer.mode !== 'off' && config.orderQueueStore ? new PostgresQueue({ connection: { ...config.orderQueueStore }, name: ORDER_QUEUE_NAME, ...serviceTimeouts }) : undefined;
  const release = async (): Promise<void> => {
    await database.close();
    await breaker?.close();
    await Promise.allSettled([store?.close(), cache?.close(), queue?.close(), reviewsStore?.close(), promoStore?.close()]);
  };
  const ports = composePorts(database, config.patterns, {
    instanceId: config.instanceId,
    readerIsWriter: config.reader === config.writer,
    cache,
    queue,
    // A failure the cache or the queue answered for is still a database failure: counted, as the routes count the others.
    onDegradedFailure: (error) => {
      if (error instanceof DatabaseFailure) metrics.databaseErrors.inc({ role: error.role, kind: error.kind });
    },
    onCacheWrite: (error) => metrics.readCacheWrites.inc({ result: error === undefined ? 'ok' : 'failed' }),
    onQueueSend: (error) => metrics.writeBufferSends.inc({ result: error === undefined ? 'ok' : 'failed' }),
    reviewsStore,
    promoStore,
    keyValueCache: cache,
    workerPools,
    onStaleFallback: (error) => metrics.staleAnswers.inc({ dependency: error.dependency }),
  });
  const app = buildShopApp({ config, ports, initializer, metrics, workerPools });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await release();
    throw error;
  }
  const initialised = initializer.start();
  let closed: Promise<void> | undefined;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    config,
    url: `http://${config.host}:${port}`,
    port,
    app,
    initializer,
    breaker,
    cache,
    queue,
    workerPools,
    whenInitialised: () => initialised,
    // Once: a second close (a test's cleanup after the test closed it) waits for the first.
    close() {
      closed ??= (async () => {
        initializer.stop();
        const closing = app.close();
        // A request waiting on a blackholed secondary dependency would hold the close for the
        // client's timeouts (the SDK's: a minute, and retries): its client is closed first, so the
        // call fails at once and the request is answered.
        await Promise.allSettled([reviewsStore?.close(), promoStore?.close()]);
        await closing;
        await release();
      })();
      return closed;
    },
  };
}
