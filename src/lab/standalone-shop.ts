import pg from 'pg';
import type { Patterns } from '../shop/patterns.ts';
import { startShop, type ShopEvents, type ShopInstance } from '../shop/shop-instance.ts';
import { PostgresServer } from './postgres/postgres-server.ts';
import { ServicesStore } from './services-store/index.ts';
import { startSideBySide } from './side-by-side.ts';

/** The database the shop's tables live in. */
export const SHOP_DATABASE = 'chaos_shop';

/** Options of a standalone shop. */
export interface StandaloneShopOptions {
  port?: number;
  /** What the shop does, resolved (resolvePatterns); default: the resilient preset. */
  patterns?: Patterns;
  instanceId?: string;
  events?: ShopEvents;
  /**
   * Start the services store beside the database (default true): reviews and promo live there, as
   * do a shared breaker's state, the read cache and the order queue. False (a test or benchmark
   * that needs none of them): the shop answers reviews and promo 503 *_NOT_CONFIGURED; patterns
   * that keep something in the store are then refused by the shop's configuration.
   */
  servicesStore?: boolean;
}

/** A shop instance with its own PostgreSQL server. */
export interface StandaloneShop {
  readonly postgres: PostgresServer;
  /** The services store (reviews, promo, a shared breaker's state, the read cache, the order queue), unless started without it. */
  readonly servicesStore: ServicesStore | undefined;
  readonly shop: ShopInstance;
  /** Stops the shop, then the servers, and removes their data. */
  close(): Promise<void>;
}

/** Creates `database` on `server` unless it exists. */
export async function createDatabase(server: PostgresServer, database: string): Promise<void> {
  const client = new pg.Client(server.connectionConfig());
  client.on('error', () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts an embedded PostgreSQL server and one shop instance on it: `chaos-lab shop`. Beside the
 * database it starts the services store (seeded reviews and promo banner; a shared breaker's
 * state, the read cache, the order queue), reached straight: there is no fault proxy here
 * (`chaos-lab up` is where each path to the store can be cut on its own). No recovery worker runs
 * here: orders the write buffer queues stay queued (`chaos-lab up` runs the worker).
 */
export async function startStandaloneShop(options: StandaloneShopOptions = {}): Promise<StandaloneShop> {
  const [postgres, servicesStore] = await startSideBySide(
    { started: PostgresServer.start(), stop: (server) => server.destroy() },
    { started: (options.servicesStore ?? true) ? ServicesStore.start() : Promise.resolve(undefined), stop: async (store) => store?.close() },
  );
  const destroy = async (): Promise<void> => {
    await Promise.allSettled([postgres.destroy(), servicesStore?.close()]);
  };
  try {
    await createDatabase(postgres, SHOP_DATABASE);
    const endpoint = postgres.connectionConfig(SHOP_DATABASE);
    const shop = await startShop(
      {
        writer: endpoint,
        port: options.port,
        patterns: options.patterns,
        instanceId: options.instanceId ?? 'i-standalone',
        servicesStore: servicesStore?.connectionConfig(),
        readCacheStore: servicesStore?.connectionConfig(),
        orderQueueStore: servicesStore?.connectionConfig(),
        reviewsStore: servicesStore?.connectionConfig(),
        promoStore: servicesStore?.connectionConfig(),
      },
      options.events,
    );
    return {
      postgres,
      servicesStore,
      shop,
      async close() {
        await shop.close();
        await destroy();
      },
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
