import type { FastifyInstance } from 'fastify';
import { PostgresBreakerStore, type CircuitBreaker } from '../resilience/circuit-breaker/index.ts';
import { buildShopApp } from './app.ts';
import { composeCircuitBreaker, composeDatabase, composePorts } from './compose.ts';
import { resolveShopConfig, type ShopConfig, type ShopOptions } from './config.ts';
import type { ShopDatabase } from './database/shop-database.ts';
import { SchemaInitializer } from './initializer.ts';
import { ShopMetrics } from './metrics.ts';

/** A running shop instance. */
export interface ShopInstance {
  readonly config: ShopConfig;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly initializer: SchemaInitializer;
  /** The circuit breaker around the database ports, when the patterns ask for one. */
  readonly breaker: CircuitBreaker | undefined;
  /** Resolves once the schema is initialised (or initialisation gave up or was stopped). */
  whenInitialised(): Promise<void>;
  /** Stops serving and closes every database connection. */
  close(): Promise<void>;
}

/** Events a shop reports while it runs, for whoever shows them (library code never prints). */
export interface ShopEvents {
  onInitRetry?: (error: unknown, nextDelayMs: number | undefined) => void;
  onDatabaseRetry?: (role: string, error: unknown, attempt: number) => void;
}

/** Creates the database access the instance's patterns describe. */
export function createShopDatabase(config: ShopConfig, metrics: ShopMetrics, events: ShopEvents = {}): ShopDatabase {
  return composeDatabase(config.patterns, {
    writer: config.writer,
    reader: config.reader,
    connectTimeoutMs: config.connectTimeoutMs,
    onRetry: (role, error, attempt) => {
      metrics.databaseRetries.inc({ role });
      events.onDatabaseRetry?.(role, error, attempt);
    },
  });
}

/**
 * Starts one Chaos Shop instance: it listens at once (so /health answers) and initialises the
 * schema in the background.
 */
export async function startShop(options: ShopOptions, events: ShopEvents = {}): Promise<ShopInstance> {
  const config = resolveShopConfig(options);
  const metrics = new ShopMetrics({ instance_id: config.instanceId, availability_zone: config.availabilityZone });
  const database = createShopDatabase(config, metrics, events);
  const initializer = new SchemaInitializer({
    writer: config.writer,
    connectTimeoutMs: config.connectTimeoutMs,
    mode: config.initMode,
    initialDelayMs: config.initInitialDelayMs,
    maxDelayMs: config.initMaxDelayMs,
    onAttemptFailed: events.onInitRetry,
  });
  // A shared breaker's store: the lab's services store, reached (in a lab) through its own
  // fault-proxy listener; config validation has made sure it was given.
  const breakerMode = config.patterns.circuitBreaker.mode;
  const store = breakerMode === 'shared' && config.servicesStore ? new PostgresBreakerStore({ ...config.servicesStore }) : undefined;
  const breaker = composeCircuitBreaker(config.patterns, { store, connectTimeoutMs: config.connectTimeoutMs });
  if (breaker && breakerMode !== 'off') metrics.observeCircuitBreaker(breaker, breakerMode);
  const release = async (): Promise<void> => {
    await database.close();
    await breaker?.close();
    await store?.close();
  };
  const ports = composePorts(database, config.patterns, { instanceId: config.instanceId, readerIsWriter: config.reader === config.writer, breaker });
  const app = buildShopApp({ config, ports, initializer, metrics });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await release();
    throw error;
  }
  const initialised = initializer.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    config,
    url: `http://${config.host}:${port}`,
    port,
    app,
    initializer,
    breaker,
    whenInitialised: () => initialised,
    async close() {
      initializer.stop();
      await app.close();
      await release();
    },
  };
}
