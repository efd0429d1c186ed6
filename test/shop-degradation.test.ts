// Article 4's graceful degradation in one shop instance: the read cache and the write buffer around
// the circuit breaker, in front of a real database the fault proxy takes away (refused, or
// blackholed under a short statement timeout), with the services store (cache, queue) on a
// second database reached through listeners of its own, so that it can be cut too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { FaultProxy } from '../src/lab/fault-proxy/fault-proxy.ts';
import { ensureBreakerSchema } from '../src/resilience/circuit-breaker/index.ts';
import { ensureCacheSchema, PostgresProductCache } from '../src/services/cache/index.ts';
import { createQueue, ensureQueueSchema, ORDER_QUEUE_NAME, PostgresQueue } from '../src/services/queue/index.ts';
import { composeDatabase } from '../src/shop/compose.ts';
import { shopOptionsFromEnv } from '../src/shop/config.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { databasePorts } from '../src/shop/database-ports.ts';
import { parseOrderMessage } from '../src/shop/order-message.ts';
import { resolvePatterns, type PatternsOverrides } from '../src/shop/patterns.ts';
import { startShop, type ShopInstance } from '../src/shop/shop-instance.ts';
import { within } from './helpers/deadline.ts';
import { call, freshDatabase, usePostgres, withClient } from './helpers/lab.ts';
import { sample } from './helpers/metrics.ts';

const postgres = usePostgres();

/** Short timeouts and no retries, so a failure costs one statement timeout at most; a breaker that stays open unless a test says otherwise. */
const DEGRADING: PatternsOverrides = {
  preset: 'graceful',
  queryTimeoutMs: 300,
  retry: { delaysMs: [] },
  circuitBreaker: { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 60_000 },
  readCache: { mode: 'write-through', refreshMs: 60_000 },
};

/** One shop with its database and services store behind a fault proxy: listeners db, cache, queue, breaker. */
interface Rig {
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
async function startRig(overrides: PatternsOverrides): Promise<Rig> {
  const database = await within(30_000, 'the shop database', freshDatabase(postgres()));
  const services = await within(30_000, 'the services database', freshDatabase(postgres()));
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

async function get(shop: ShopInstance, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return within(10_000, `GET ${path}`, call(shop.url, 'GET', path));
}

async function order(shop: ShopInstance, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return within(10_000, 'POST /orders', call(shop.url, 'POST', '/orders', body, key === undefined ? {} : { 'idempotency-key': key }));
}

async function metricsOf(shop: ShopInstance): Promise<string> {
  return within(10_000, 'GET /metrics', fetch(`${shop.url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()));
}

/** Polls `probe` until it returns a value, bounded. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return within(timeoutMs, what, (async () => {
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      await delay(25);
    }
  })());
}

/** Follows an order request until it reaches `status` (bounded); every answer on the way is 200 or 503 CIRCUIT_OPEN. */
async function follow(shop: ShopInstance, key: string, status: string): Promise<Record<string, unknown>> {
  return until(`${key} ${status}`, 10_000, async () => {
    const answer = await get(shop, `/orders/requests/${encodeURIComponent(key)}`);
    if (answer.status !== 200) assert.equal(answer.body['code'], 'CIRCUIT_OPEN', JSON.stringify(answer.body));
    return answer.body['status'] === status ? answer.body : undefined;
  });
}

/** Reads until the cache holds what the shop just read (the write-through is not awaited by the response). */
async function warm(rig: Rig): Promise<void> {
  assert.equal((await get(rig.shop, '/products')).body['source'], 'database');
  assert.equal((await get(rig.shop, '/products/3')).status, 200);
  // Both writes done (the list's write fills product 3's entry too, so the entries alone do not tell).
  await until('the two cache writes', 5000, async () => (sample(await metricsOf(rig.shop), 'chaos_shop_read_cache_writes_total', { result: 'ok' }) >= 2 ? true : undefined));
  assert.ok((await rig.cache.getProducts()) && (await rig.cache.getProduct(3)));
}

describe('the shop degrading gracefully (Article 4)', () => {
  it('serves reads from the cache with source and cache_age_ms while the database is refused: the requests that trip the breaker too, zero 5xx', async () => {
    const rig = await startRig(DEGRADING);
    try {
      await warm(rig);
      // The write-through is not a write per read: 50 more reads of unchanged data write nothing.
      const warmed = await metricsOf(rig.shop);
      const writesWhenWarm = sample(warmed, 'chaos_shop_read_cache_writes_total', { result: 'ok' });
      assert.equal(writesWhenWarm, 2, 'the list and product 3, once each');
      for (let i = 0; i < 25; i++) {
        assert.equal((await get(rig.shop, '/products')).status, 200);
        assert.equal((await get(rig.shop, '/products/3')).status, 200);
      }
      assert.equal(sample(await metricsOf(rig.shop), 'chaos_shop_read_cache_writes_total', { result: 'ok' }), writesWhenWarm);
      // A changed value is written at once: an order changes product 1's stock, and the next listing rewrites the list.
      assert.equal((await order(rig.shop, { product_id: 1, quantity: 1 })).status, 201);
      const list = await get(rig.shop, '/products');
      const stockNow = (list.body['products'] as Array<{ id: number; stock: number }>).find((p) => p.id === 1)?.stock;
      await until('the cache to hold the new stock', 5000, async () => ((await rig.cache.getProducts())?.value.find((p) => p.id === 1)?.stock === stockNow ? true : undefined));

      await rig.proxy.addFault('db', { type: 'refuse' });
      // Six reads: the first three fail on the database (and trip the breaker), the rest are refused by
      // the open circuit; every one is answered from the cache.
      for (let i = 0; i < 6; i++) {
        const products = await get(rig.shop, '/products');
        assert.equal(products.status, 200, JSON.stringify(products.body));
        assert.equal(products.body['source'], 'cache');
        assert.equal(typeof products.body['cache_age_ms'], 'number');
        assert.ok((products.body['cache_age_ms'] as number) >= 0);
        assert.equal(products.body['count'], 10);
        assert.equal((products.body['products'] as Array<{ id: number; stock: number }>).find((p) => p.id === 1)?.stock, stockNow, 'the database\'s last answer');
      }
      assert.equal(rig.shop.breaker?.state, 'OPEN', 'the fallback reads counted against the breaker');
      const product = await get(rig.shop, '/products/3');
      assert.equal(product.status, 200);
      assert.equal(product.body['id'], 3);
      assert.equal(product.body['source'], 'cache');
      assert.equal(typeof product.body['cache_age_ms'], 'number');

      const metrics = await metricsOf(rig.shop);
      assert.equal(sample(metrics, 'chaos_shop_http_requests_total', { route: '/products', source: 'cache', status: '200' }), 6);
      assert.equal(sample(metrics, 'chaos_shop_http_requests_total', { status: '500' }), 0);
      assert.equal(sample(metrics, 'chaos_shop_http_requests_total', { status: '503' }), 0);
      assert.equal(sample(metrics, 'chaos_shop_database_errors_total', { kind: 'connection' }), 3, 'the failures a fallback answered are still counted');
    } finally {
      await rig.close();
    }
  });

  it('a blackholed database (a statement timeout) falls back to the cache as well', async () => {
    const rig = await startRig(DEGRADING);
    try {
      await warm(rig);
      await rig.proxy.addFault('db', { type: 'blackhole' });
      const products = await get(rig.shop, '/products');
      assert.equal(products.status, 200, JSON.stringify(products.body));
      assert.equal(products.body['source'], 'cache');
    } finally {
      await rig.close();
    }
  });

  it('with the database away and the cache empty answers 503 CACHE_EMPTY; with the cache store cut too, 503 CACHE_UNAVAILABLE', async () => {
    const rig = await startRig(DEGRADING);
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      for (const path of ['/products', '/products/3']) {
        const empty = await get(rig.shop, path);
        assert.equal(empty.status, 503, JSON.stringify(empty.body));
        assert.equal(empty.body['code'], 'CACHE_EMPTY');
        assert.equal(empty.body['error'], 'database unavailable, cache empty');
      }
      await rig.proxy.addFault('cache', { type: 'refuse' });
      const cut = await get(rig.shop, '/products');
      assert.equal(cut.status, 503, JSON.stringify(cut.body));
      assert.equal(cut.body['code'], 'CACHE_UNAVAILABLE');
    } finally {
      await rig.close();
    }
  });

  it('answers orders 202 with a key that GET /orders/requests/:key follows: pending while queued, confirmed once applied, rejected with a reason', async () => {
    // The graceful preset as it is (a shared breaker in the services store), with short timeouts.
    const rig = await startRig({ preset: 'graceful', queryTimeoutMs: 300, retry: { delaysMs: [] }, circuitBreaker: { recoveryTimeoutMs: 500 } });
    try {
      const unknown = await get(rig.shop, '/orders/requests/never-sent');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body['code'], 'ORDER_REQUEST_NOT_FOUND');
      const bad = await get(rig.shop, '/orders/requests/has%20space');
      assert.equal(bad.status, 400);
      assert.equal(bad.body['code'], 'INVALID_KEY');
      assert.match(String(bad.body['error']), /order request key must be an Idempotency-Key: 1 to 255 visible ASCII characters, got "has space"/);

      await rig.proxy.addFault('db', { type: 'refuse' });
      // Four orders: the first three trip the breaker on the refused database, the fourth is refused by it; all four are queued.
      const keys = ['order-a', undefined, 'order-c', 'order-unknown-product'];
      const bodies = [{ product_id: 1, quantity: 2 }, { product_id: 2, quantity: 1 }, { product_id: 3, quantity: 1 }, { product_id: 999, quantity: 1 }];
      const accepted: Array<Record<string, unknown>> = [];
      for (const [i, key] of keys.entries()) {
        const answer = await order(rig.shop, bodies[i], key);
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        accepted.push(answer.body);
      }
      assert.deepEqual(accepted[0], {
        status: 'accepted',
        message: 'order queued for processing',
        product_id: 1,
        quantity: 2,
        served_by: 'i-degrade',
        idempotency_key: 'order-a',
        status_url: '/orders/requests/order-a',
      });
      assert.match(String(accepted[1]?.['idempotency_key']), /^chaos-lab-queued:[0-9a-f-]{36}$/, 'a key made for an order that came without one');
      assert.equal(rig.shop.breaker?.state, 'OPEN');
      const stats = await rig.queue.stats();
      assert.equal(stats.depth, 4);

      const pending = await get(rig.shop, '/orders/requests/order-a');
      assert.deepEqual(pending.body, { idempotency_key: 'order-a', status: 'pending' });
      const generated = await get(rig.shop, String(accepted[1]?.['status_url']));
      assert.equal(generated.body['status'], 'pending');

      // The recovery worker's job, by hand: receive each message, apply it with the shop's own order
      // transaction and the message's key, delete it. (The database is back for the worker.)
      await rig.proxy.clearFaults('db');
      const shopDatabase = composeDatabase(resolvePatterns('resilient'), { writer: rig.database, reader: rig.database, connectTimeoutMs: 2000 });
      try {
        const orders = databasePorts(shopDatabase, { instanceId: 'worker', retriesStatements: true, readYourWrites: false }).orders;
        const applied: number[] = [];
        for (let i = 0; i < 4; i++) {
          const [message] = await within(10_000, 'a receive', rig.queue.receive({ waitTimeMs: 1000 }));
          assert.ok(message, `message ${i + 1} of 4`);
          const parsed = parseOrderMessage(message.body);
          assert.equal(message.key, parsed.key);
          assert.equal(parsed.served_by, 'i-degrade');
          if (parsed.key === 'order-a') {
            // Received (in flight), not applied yet: still pending.
            assert.deepEqual((await get(rig.shop, '/orders/requests/order-a')).body, { idempotency_key: 'order-a', status: 'pending' });
          }
          const outcome = await orders.placeOrder({ productId: parsed.product_id, quantity: parsed.quantity, idempotencyKey: parsed.key });
          applied.push(outcome.httpStatus);
          await rig.queue.deleteMessage(message.receipt);
        }
        assert.deepEqual(applied.sort(), [201, 201, 201, 404]);
      } finally {
        await shopDatabase.close();
      }
      assert.equal((await rig.queue.stats()).depth, 0);

      // The shop's breaker decides when the database is asked again (a follow-up refused meanwhile is a 503 CIRCUIT_OPEN).
      const confirmed = await follow(rig.shop, 'order-a', 'confirmed');
      const placed = confirmed['order'] as Record<string, unknown>;
      assert.equal(placed['product_id'], 1);
      assert.equal(placed['quantity'], 2);
      await follow(rig.shop, String(accepted[1]?.['idempotency_key']), 'confirmed');
      const rejected = await follow(rig.shop, 'order-unknown-product', 'rejected');
      assert.equal(rejected['reason'], 'product not found');
      assert.equal(rejected['http_status'], 404);
      // Applied exactly once: the stock went down by the three orders, once each.
      const stock = await withClient(rig.database, async (client) => (await client.query<{ id: number; stock: number }>('SELECT id, stock FROM products WHERE id IN (1, 2, 3) ORDER BY id')).rows);
      assert.deepEqual(stock.map((row) => row.stock), [100 - 2, 150 - 1, 50 - 1], JSON.stringify(stock));
      const metrics = await metricsOf(rig.shop);
      assert.equal(sample(metrics, 'chaos_shop_write_buffer_sends_total', { result: 'ok' }), 4);
      assert.equal(sample(metrics, 'chaos_shop_http_requests_total', { route: '/orders', status: '202', source: 'queue' }), 4);
    } finally {
      await rig.close();
    }
  });

  it('a dead-lettered order is still pending, and says so', async () => {
    const rig = await startRig(DEGRADING);
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      assert.equal((await order(rig.shop, { product_id: 1, quantity: 1 }, 'to-the-dlq')).status, 202);
      const [message] = await within(10_000, 'a receive', rig.queue.receive({ waitTimeMs: 1000 }));
      assert.ok(message);
      await rig.queue.deadLetter(message.receipt, 'test: moved by hand');
      assert.deepEqual((await get(rig.shop, '/orders/requests/to-the-dlq')).body, { idempotency_key: 'to-the-dlq', status: 'pending', dead_lettered: true });
    } finally {
      await rig.close();
    }
  });

  it('with the queue cut too answers 503 QUEUE_UNAVAILABLE and queues nothing: no order acknowledged that is not durable', async () => {
    const rig = await startRig(DEGRADING);
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      await rig.proxy.addFault('queue', { type: 'refuse' });
      for (let i = 0; i < 4; i++) {
        const refused = await order(rig.shop, { product_id: 1, quantity: 1 }, `cut-${i}`);
        assert.equal(refused.status, 503, JSON.stringify(refused.body));
        assert.equal(refused.body['code'], 'QUEUE_UNAVAILABLE');
        assert.equal(refused.body['error'], 'database unavailable and queue failed');
      }
      const stats = await rig.queue.stats();
      assert.equal(stats.depth + stats.inFlight + stats.sent, 0, JSON.stringify(stats));
      assert.equal(sample(await metricsOf(rig.shop), 'chaos_shop_write_buffer_sends_total', { result: 'failed' }), 4);
    } finally {
      await rig.close();
    }
  });

  it('a statement the database rejects stays a 500: not an outage, never served from the cache nor queued', async () => {
    const rig = await startRig(DEGRADING);
    try {
      await warm(rig);
      // The database answers, but the statements fail: a broken schema, not a missing database.
      await withClient(rig.database, (client) => client.query('ALTER TABLE products RENAME TO products_gone; ALTER FUNCTION place_order(integer, integer, text, text) RENAME TO place_order_gone'));
      const read = await get(rig.shop, '/products');
      assert.equal(read.status, 500, JSON.stringify(read.body));
      assert.equal(read.body['code'], 'DB_ERROR');
      const write = await order(rig.shop, { product_id: 1, quantity: 1 }, 'statement-error');
      assert.equal(write.status, 500, JSON.stringify(write.body));
      assert.equal(write.body['code'], 'DB_ERROR');
      assert.equal((await rig.queue.stats()).sent, 0);
      assert.equal(rig.shop.breaker?.state, 'CLOSED', 'a statement error is not a database failure for the breaker either');
    } finally {
      await rig.close();
    }
  });

  it("with initialisation once, the failed attempt lets requests through: the database's return brings 500s on the missing tables, forever (Article 4's trap)", async () => {
    const database = await within(30_000, 'a database', freshDatabase(postgres()));
    const proxy = new FaultProxy();
    try {
      const listener = (await proxy.addProxy({ name: 'db', upstream: { host: database.host, port: database.port } })).listen.port;
      await proxy.addFault('db', { type: 'refuse' });
      const services = await freshDatabase(postgres());
      await withClient(services, async (client) => {
        await ensureQueueSchema(client);
        await ensureCacheSchema(client);
      });
      const shop = await startShop({
        writer: { ...database, port: listener },
        readCacheStore: services,
        orderQueueStore: services,
        connectTimeoutMs: 300,
        patterns: resolvePatterns({ ...DEGRADING, initialisation: { mode: 'once' } }),
      });
      try {
        await within(10_000, 'the one attempt', shop.whenInitialised());
        assert.equal(shop.initializer.state.status, 'failed');
        // Let through to a database that is still away: the fallbacks answer (an empty cache, a queue).
        assert.equal((await get(shop, '/products')).body['code'], 'CACHE_EMPTY');
        await proxy.clearFaults('db');
        for (let i = 0; i < 3; i++) {
          const products = await get(shop, '/products');
          assert.equal(products.status, 500, JSON.stringify(products.body));
          assert.match(String(products.body['error']), /relation "products" does not exist/);
        }
        assert.equal(shop.initializer.state.attempts, 1, 'never tried again');
      } finally {
        await shop.close();
      }
    } finally {
      await proxy.close();
    }
  });

  it('while the schema is not initialised answers 503 DB_NOT_READY, neither from the cache nor into the queue', async () => {
    const database = await within(30_000, 'a database', freshDatabase(postgres()));
    const proxy = new FaultProxy();
    try {
      const listener = (await proxy.addProxy({ name: 'db', upstream: { host: database.host, port: database.port } })).listen.port;
      await proxy.addFault('db', { type: 'refuse' });
      const services = await freshDatabase(postgres());
      await withClient(services, async (client) => {
        await ensureQueueSchema(client);
        await ensureCacheSchema(client);
      });
      const shop = await startShop({
        writer: { ...database, port: listener },
        readCacheStore: services,
        orderQueueStore: services,
        connectTimeoutMs: 300,
        patterns: resolvePatterns({ ...DEGRADING, initialisation: { mode: 'background', initialDelayMs: 100, maxDelayMs: 200 } }),
      });
      try {
        for (const answer of [await get(shop, '/products'), await order(shop, { product_id: 1, quantity: 1 })]) {
          assert.equal(answer.status, 503);
          assert.equal(answer.body['code'], 'DB_NOT_READY');
        }
        await proxy.clearFaults('db');
        await until('the background initialisation', 10_000, async () => ((await get(shop, '/products')).status === 200 ? true : undefined));
      } finally {
        await shop.close();
      }
    } finally {
      await proxy.close();
    }
  });
});
