// Test fixtures: one real PostgreSQL server per test file, a fresh database per test.
import { after, before } from 'node:test';
import pg from 'pg';
import { PostgresServer } from '../../src/lab/postgres/postgres-server.ts';
import { createDatabase } from '../../src/lab/standalone-shop.ts';
import type { DatabaseEndpoint } from '../../src/shop/database/queryable.ts';
import { startShop, type ShopInstance } from '../../src/shop/shop-instance.ts';
import type { ShopOptions } from '../../src/shop/config.ts';

/** Starts a PostgreSQL server before the file's tests and destroys it after them, also on failure. */
export function usePostgres(): () => PostgresServer {
  let server: PostgresServer | undefined;
  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => {
    await server?.destroy();
  });
  return () => {
    if (!server) throw new Error('PostgreSQL server not started');
    return server;
  };
}

let databaseCounter = 0;

/** Creates a fresh, empty database on `server` and returns its endpoint. */
export async function freshDatabase(server: PostgresServer): Promise<DatabaseEndpoint> {
  const database = `test_${process.pid}_${++databaseCounter}`;
  await createDatabase(server, database);
  return server.connectionConfig(database);
}

/** Starts a shop on a fresh database and waits for its schema. Close it with `shop.close()`. */
export async function startTestShop(server: PostgresServer, options: Partial<ShopOptions> = {}): Promise<ShopInstance> {
  const writer = options.writer ?? (await freshDatabase(server));
  const shop = await startShop({ instanceId: 'i-test', ...options, writer });
  await shop.whenInitialised();
  if (!shop.initializer.ready) {
    await shop.close();
    throw new Error(`shop did not initialise: ${JSON.stringify(shop.initializer.state)}`);
  }
  return shop;
}

/** Runs `fn` with a direct connection to `endpoint`, for checking what the database holds. */
export async function withClient<T>(endpoint: DatabaseEndpoint, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(endpoint);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A JSON HTTP call against a shop. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(15_000) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, body: parsed, headers: response.headers };
}
