import pg from 'pg';
import type { Patterns } from '../shop/patterns.ts';
import { startShop, type ShopEvents, type ShopInstance } from '../shop/shop-instance.ts';
import { PostgresServer } from './postgres/postgres-server.ts';

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
  readonly shop: ShopInstance;
  /** Stops the shop, then the server, and removes its data. */
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

/** Starts an embedded PostgreSQL server and one shop instance on it: `chaos-lab shop`. */
export async function startStandaloneShop(options: StandaloneShopOptions = {}): Promise<StandaloneShop> {
  const postgres = await PostgresServer.start();
  try {
    await createDatabase(postgres, SHOP_DATABASE);
    const endpoint = postgres.connectionConfig(SHOP_DATABASE);
    const shop = await startShop(
      { writer: endpoint, port: options.port, patterns: options.patterns, instanceId: options.instanceId ?? 'i-standalone' },
      options.events,
    );
    return {
      postgres,
      shop,
      async close() {
        await shop.close();
        await postgres.destroy();
      },
    };
  } catch (error) {
    await postgres.destroy();
    throw error;
  }
}
