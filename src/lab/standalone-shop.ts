import pg from 'pg';
import type { Patterns } from '../shop/patterns.ts';
import { startShop, type ShopEvents, type ShopInstance } from '../shop/shop-instance.ts';
import { PostgresServer } from './postgres/postgres-server.ts';
import { ServicesStore } from './services-store/index.ts';

/** The database the shop's tables live in. */
export const SHOP_DATABASE = 'chaos_shop';

/** Options of a standalone shop. */
export interface StandaloneShopOptions {
  port?: number;
  /** What the shop does, resolved (resolvePatterns); default: the resilient preset. */
  patterns?: Patterns;
  instanceId?: string;
  events?: ShopEvents;
}

/** A shop instance with its own PostgreSQL server. */
export interface StandaloneShop {
  readonly postgres: PostgresServer;
  /** The services store, when the patterns use it: a shared breaker's state, the read cache, the order queue. */
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
 * Starts an embedded PostgreSQL server and one shop instance on it: `chaos-lab shop`. With a
 * shared breaker, the read cache or the write buffer it also starts the services store, reached
 * straight (there is no fault proxy here: `chaos-lab up` is where the store can be cut on its
 * own). No recovery worker runs here: orders the write buffer queues stay queued (`chaos-lab up`
 * runs the worker).
 */
export async function startStandaloneShop(options: StandaloneShopOptions = {}): Promise<StandaloneShop> {
  const patterns = options.patterns;
  const usesStore = patterns !== undefined && (patterns.circuitBreaker.mode === 'shared' || patterns.readCache.mode !== 'off' || patterns.writeBuffer.mode !== 'off');
  const [postgres, servicesStore] = await startBoth(PostgresServer.start(), usesStore ? ServicesStore.start() : Promise.resolve(undefined));
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

/** Both servers, started side by side; when one fails, the other is stopped before the error is thrown. */
async function startBoth(
  database: Promise<PostgresServer>,
  store: Promise<ServicesStore | undefined>,
): Promise<[PostgresServer, ServicesStore | undefined]> {
  const [a, b] = await Promise.allSettled([database, store]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return [a.value, b.value];
  if (a.status === 'fulfilled') await a.value.destroy();
  if (b.status === 'fulfilled') await b.value?.close();
  throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
}
