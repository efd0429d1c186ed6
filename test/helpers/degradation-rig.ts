// The rig of the shop-degradation tests (Article 4): one shop instance in front of a real database
// the fault proxy takes away (refused, or blackholed under a short statement timeout), with the
// services store (cache, queue) on a second database reached through listeners of its own, so that
// it can be cut too. The tests are split by topic: test/shop-degradation-reads.test.ts (the read
// cache, statement errors, initialisation) and test/shop-degradation-orders.test.ts (the write
// buffer, the follow-up endpoint).
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { FaultProxy } from '../../src/lab/fault-proxy/fault-proxy.ts';
import type { PostgresServer } from '../../src/lab/postgres/index.ts';
import { ensureBreakerSchema } from '../../src/resilience/circuit-breaker/index.ts';
import { ensureCacheSchema, PostgresProductCache } from '../../src/services/cache/index.ts';
import { createQueue, ensureQueueSchema, ORDER_QUEUE_NAME, PostgresQueue } from '../../src/services/queue/index.ts';
import { shopOptionsFromEnv } from '../../src/shop/config.ts';
import type { DatabaseEndpoint } from '../../src/shop/database/queryable.ts';
import { resolvePatterns, type PatternsOverrides } from '../../src/shop/patterns.ts';
import { startShop, type ShopInstance } from '../../src/shop/shop-instance.ts';
import { within } from './deadline.ts';
import { call, freshDatabase, withClient } from './lab.ts';
import { sample } from './metrics.ts';

/** Short timeouts and no retries, so a failure costs one statement timeout at most; a breaker that stays open unless a test says otherwise. */
export const DEGRADING: PatternsOverrides = {
  preset: 'graceful',
  queryTimeoutMs: 300,
  retry: { delaysMs: [] },
  circuitBreaker: { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 60_000 },
  readCache: { mode: 'write-through', refreshMs: 60_000 },
};

/** One shop with its database and services store behind a fault proxy: listeners db, cache, queue, breaker. */
export interface Rig {
  shop: ShopInstance;
  proxy: FaultProxy;
  /** The shop's database, directly. */
  database: DatabaseEndpoint;
  /** The services store, directly (never through the proxy): what the test reads to check. */
  cache: PostgresProductCache;
  queue: PostgresQueue;
  close(): Promise<void>;
}

function url(endpoint: DatabaseEndpoint, port = endpoint.port): string {
  return `postgresql://${endpoint.user}:${encodeURIComponent(endpoint.password ?? '')}@${endpoint.host}:${port}/${endpoint.database}`;
}

/** Starts a rig as a lab instance is started: through the env reader, with the three ways into the store. */
export async function startRig(server: PostgresServer, overrides: PatternsOverrides): Promise<Rig> {
  const database = await within(30_000, 'the shop database', freshDatabase(server));
  const services = await within(30_000, 'the services database', freshDatabase(server));
  await withClient(services, async (client) => {
    await ensureBreakerSchema(client);
    await ensureQueueSchema(client);
    await createQueue(client, ORDER_QUEUE_NAME);
    await ensureCacheSchema(client);
  });
  const proxy = new FaultProxy();
  const listen = async (name: string, upstream: DatabaseEndpoint): Promise<number> => (await proxy.addProxy({ name, upstream: { host: upstream.host, port: upstream.port } })).listen.port;
  const cache = new PostgresProductCache({ connection: { ...services } });
  const queue = new PostgresQueue({ connection: { ...services }, name: ORDER_QUEUE_NAME });
  let shop: ShopInstance | undefined;
  try {
    const env = {
      DB_WRITER_URL: url(database, await listen('db', database)),
      SERVICES_STORE_URL: url(services, await listen('breaker', services)),
      READ_CACHE_URL: url(services, await listen('cache', services)),
      ORDER_QUEUE_URL: url(services, await listen('queue', services)),
      SHOP_PATTERNS: JSON.stringify(resolvePatterns(overrides)),
    };
    shop = await within(30_000, 'starting the shop', startShop({ ...shopOptionsFromEnv(env), instanceId: 'i-degrade', connectTimeoutMs: 300 }));
    await within(20_000, 'the schema', shop.whenInitialised());
    assert.ok(shop.initializer.ready, JSON.stringify(shop.initializer.state));
  } catch (error) {
    await Promise.allSettled([shop?.close(), proxy.close(), cache.close(), queue.close()]);
    throw error;
  }
  const started = shop;
  return {
    shop: started,
    proxy,
    database,
    cache,
    queue,
    async close() {
      // The shop first, then the proxy: the services store's clients (StorePool) have no 'error'
      // guard on a checked-out connection, so a proxy closing under an in-flight cache write would
      // crash the process (reported; not this file's to fix).
      await within(30_000, 'closing the shop', started.close());
      await within(30_000, 'closing the rest', Promise.allSettled([proxy.close(), cache.close(), queue.close()]));
    },
  };
}

export async function get(shop: ShopInstance, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return within(10_000, `GET ${path}`, call(shop.url, 'GET', path));
}

export async function order(shop: ShopInstance, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return within(10_000, 'POST /orders', call(shop.url, 'POST', '/orders', body, key === undefined ? {} : { 'idempotency-key': key }));
}

export async function metricsOf(shop: ShopInstance): Promise<string> {
  return within(10_000, 'GET /metrics', fetch(`${shop.url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()));
}

/** Polls `probe` until it returns a value (not undefined) and returns that value, bounded. Not deadline.ts's `until`, which polls a predicate. */
export async function untilValue<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return within(timeoutMs, what, (async () => {
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      await delay(25);
    }
  })());
}

/** Follows an order request until it reaches `status` (bounded); every answer on the way is 200 or 503 CIRCUIT_OPEN. */
export async function follow(shop: ShopInstance, key: string, status: string): Promise<Record<string, unknown>> {
  return untilValue(`${key} ${status}`, 10_000, async () => {
    const answer = await get(shop, `/orders/requests/${encodeURIComponent(key)}`);
    if (answer.status !== 200) assert.equal(answer.body['code'], 'CIRCUIT_OPEN', JSON.stringify(answer.body));
    return answer.body['status'] === status ? answer.body : undefined;
  });
}

/** The cache writes the shop started since watchCacheWrites, and a way to wait until none is in flight. */
export interface CacheWrites {
  started(): number;
  idle(): Promise<void>;
}

/**
 * Watches the writes the shop starts on its read cache, from now on: its cache client's two write
 * methods are wrapped (the real writes still run). The cached catalog's own writesIdle() is out of
 * a test's reach (a ShopInstance does not expose its ports), and the write counter moves only when
 * a write ends; a write is started synchronously by the read that offers its value, before the
 * read is answered, so once a read's answer is in, any write it caused is counted here.
 */
export function watchCacheWrites(shop: ShopInstance): CacheWrites {
  const cache = shop.cache;
  assert.ok(cache, 'the shop has a read cache');
  let started = 0;
  const inFlight = new Set<Promise<void>>();
  const track = (write: Promise<void>): Promise<void> => {
    started++;
    inFlight.add(write);
    const done = (): void => void inFlight.delete(write);
    write.then(done, done);
    return write;
  };
  const putProducts = cache.putProducts.bind(cache);
  const putProduct = cache.putProduct.bind(cache);
  cache.putProducts = (products) => track(putProducts(products));
  cache.putProduct = (product) => track(putProduct(product));
  return {
    started: () => started,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** Reads until the cache holds what the shop just read (the write-through is not awaited by the response). */
export async function warm(rig: Rig): Promise<void> {
  assert.equal((await get(rig.shop, '/products')).body['source'], 'database');
  assert.equal((await get(rig.shop, '/products/3')).status, 200);
  // Both writes done (the list's write fills product 3's entry too, so the entries alone do not tell).
  await untilValue('the two cache writes', 5000, async () => (sample(await metricsOf(rig.shop), 'chaos_shop_read_cache_writes_total', { result: 'ok' }) >= 2 ? true : undefined));
  assert.ok((await rig.cache.getProducts()) && (await rig.cache.getProduct(3)));
}
