// Article 4's graceful degradation in one shop instance, the reads: the read cache answers while the
// database is refused or blackholed (with source and cache_age_ms), 503 CACHE_EMPTY / CACHE_UNAVAILABLE
// when it cannot; a statement error is not an outage; and the initialisation modes. The rig (a fault
// proxy in front of the database and of the services store) is test/helpers/degradation-rig.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultProxy } from '../src/lab/fault-proxy/fault-proxy.ts';
import { ensureCacheSchema } from '../src/services/cache/index.ts';
import { ensureQueueSchema } from '../src/services/queue/index.ts';
import { resolvePatterns, type Patterns } from '../src/shop/patterns.ts';
import { startShop, type ShopInstance } from '../src/shop/shop-instance.ts';
import { DEGRADING, get, metricsOf, order, startRig, untilValue, warm, watchCacheWrites } from './helpers/degradation-rig.ts';
import { within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';
import { sample } from './helpers/metrics.ts';

const postgres = usePostgres();

/**
 * A degrading shop whose database is refused by a fault proxy from the start (no schema yet),
 * with the cache and the queue on a services database of their own: initialisation as given.
 */
async function startBehindRefusedDatabase(initialisation: Patterns['initialisation']): Promise<{ shop: ShopInstance; proxy: FaultProxy }> {
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
      patterns: resolvePatterns({ ...DEGRADING, initialisation }),
    });
    return { shop, proxy };
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

describe('the shop degrading gracefully (Article 4): reads, statement errors, initialisation', () => {
  it('serves reads from the cache with source and cache_age_ms while the database is refused: the requests that trip the breaker too, zero 5xx', async () => {
    const rig = await startRig(postgres(), DEGRADING);
    try {
      await warm(rig);
      // The write-through is not a write per read: 50 more reads of unchanged data write nothing.
      const warmed = await metricsOf(rig.shop);
      const writesWhenWarm = sample(warmed, 'chaos_shop_read_cache_writes_total', { result: 'ok' });
      assert.equal(writesWhenWarm, 2, 'the list and product 3, once each');
      const writes = watchCacheWrites(rig.shop);
      for (let i = 0; i < 25; i++) {
        assert.equal((await get(rig.shop, '/products')).status, 200);
        assert.equal((await get(rig.shop, '/products/3')).status, 200);
      }
      // Counted as they start: the write counter alone would miss one still in flight.
      assert.equal(writes.started(), 0, 'no cache write started by the 50 reads');
      await within(5000, 'the cache writes in flight', writes.idle());
      assert.equal(sample(await metricsOf(rig.shop), 'chaos_shop_read_cache_writes_total', { result: 'ok' }), writesWhenWarm);
      // A changed value is written at once: an order changes product 1's stock, and the next listing rewrites the list.
      assert.equal((await order(rig.shop, { product_id: 1, quantity: 1 })).status, 201);
      const list = await get(rig.shop, '/products');
      const stockNow = (list.body['products'] as Array<{ id: number; stock: number }>).find((p) => p.id === 1)?.stock;
      await untilValue('the cache to hold the new stock', 5000, async () => ((await rig.cache.getProducts())?.value.find((p) => p.id === 1)?.stock === stockNow ? true : undefined));
      assert.ok(writes.started() >= 1, 'the watch sees the writes the shop makes (its 0 above is not blind)');

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
    const rig = await startRig(postgres(), DEGRADING);
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
    const rig = await startRig(postgres(), DEGRADING);
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

  it('a statement the database rejects stays a 500: not an outage, never served from the cache nor queued', async () => {
    const rig = await startRig(postgres(), DEGRADING);
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
    const { shop, proxy } = await startBehindRefusedDatabase({ mode: 'once' });
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
      await proxy.close();
    }
  });

  it('while the schema is not initialised answers 503 DB_NOT_READY, neither from the cache nor into the queue', async () => {
    const { shop, proxy } = await startBehindRefusedDatabase({ mode: 'background', initialDelayMs: 100, maxDelayMs: 200 });
    try {
      for (const answer of [await get(shop, '/products'), await order(shop, { product_id: 1, quantity: 1 })]) {
        assert.equal(answer.status, 503);
        assert.equal(answer.body['code'], 'DB_NOT_READY');
      }
      await proxy.clearFaults('db');
      await untilValue('the background initialisation', 10_000, async () => ((await get(shop, '/products')).status === 200 ? true : undefined));
    } finally {
      await shop.close();
      await proxy.close();
    }
  });
});
