// The read cache on a real PostgreSQL server: what goes in comes out with its age by the
// store's clock, concurrent writers of the same keys never deadlock, and a store that stops
// answering fails a read in bounded time.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { FaultProxy } from '../src/lab/fault-proxy/index.ts';
import { CacheError, PostgresProductCache, ensureCacheSchema, type PostgresProductCacheOptions } from '../src/services/index.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import type { ProductRow } from '../src/shop/ports.ts';
import { within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();
const opened: PostgresProductCache[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((cache) => cache.close()));
});

async function freshCacheDatabase(): Promise<DatabaseEndpoint> {
  const endpoint = await freshDatabase(postgres());
  await withClient(endpoint, (client) => ensureCacheSchema(client));
  return endpoint;
}

function openCache(connection: DatabaseEndpoint, options: Partial<PostgresProductCacheOptions> = {}): PostgresProductCache {
  const cache = new PostgresProductCache({ connection, ...options });
  opened.push(cache);
  return cache;
}

const PRODUCTS: ProductRow[] = [
  { id: 1, name: 'Widget', price: 9.99, stock: 100 },
  { id: 2, name: 'Gadget "Pro"', price: 24.5, stock: 0 },
  { id: 3, name: 'Gizmo', price: 5, stock: 7 },
];

describe('PostgresProductCache', () => {
  it('an empty cache has no list and no product', async () => {
    const cache = openCache(await freshCacheDatabase());
    assert.equal(await cache.getProducts(), undefined);
    assert.equal(await cache.getProduct(1), undefined);
  });

  it('puts and gets the list and each product, with the age by the store clock', async () => {
    const cache = openCache(await freshCacheDatabase());
    await cache.putProducts(PRODUCTS);
    const list = await cache.getProducts();
    assert.deepEqual(list?.value, PRODUCTS);
    assert.ok(list.ageMs >= 0 && list.ageMs < 5000, `ageMs ${list.ageMs}`);
    assert.ok(Math.abs(Date.parse(list.cachedAt) - Date.now()) < 5000, `cachedAt ${list.cachedAt}`);
    for (const product of PRODUCTS) assert.deepEqual((await cache.getProduct(product.id))?.value, product, 'the list writes each product too');
    assert.equal(await cache.getProduct(4), undefined);

    await delay(120); // lets the entry age: the age is what a reader reports, so it must grow
    const older = await cache.getProduct(2);
    assert.ok(older && older.ageMs >= 100, `ageMs ${older?.ageMs} after 120 ms`);

    await cache.putProduct({ ...PRODUCTS[1]!, stock: 3 });
    const rewritten = await cache.getProduct(2);
    assert.deepEqual(rewritten?.value, { ...PRODUCTS[1], stock: 3 });
    assert.ok(rewritten.ageMs < older.ageMs, 'a rewrite makes the entry young again');
    assert.equal((await cache.getProducts())?.value[1]?.stock, 0, 'a product write leaves the list as the database answered it');
  });

  it('a list naming a product twice is written (each product once)', async () => {
    const cache = openCache(await freshCacheDatabase());
    await cache.putProducts([PRODUCTS[0]!, PRODUCTS[0]!]);
    assert.deepEqual((await cache.getProduct(1))?.value, PRODUCTS[0]);
  });

  it('many instances writing the same keys at once never deadlock', async () => {
    const connection = await freshCacheDatabase();
    const caches = Array.from({ length: 6 }, () => openCache(connection));
    // Lists in different orders: the upsert writes its rows in key order, so two writers never
    // lock the same rows in opposite orders (PostgreSQL would abort one of them as a deadlock).
    const many = Array.from({ length: 40 }, (_, i) => ({ id: i + 1, name: `p${i + 1}`, price: 1, stock: i }));
    await within(20_000, 'concurrent writes', Promise.all(
      Array.from({ length: 30 }, (_, i) => caches[i % caches.length]!.putProducts(i % 2 ? many : [...many].reverse())),
    ));
    assert.equal((await caches[0]!.getProducts())?.value.length, 40);
  });

  it('puts and gets any JSON value by key, with its age, beside the products', async () => {
    const cache = openCache(await freshCacheDatabase());
    assert.equal(await cache.get('reviews:3'), undefined);
    const reviews = [{ review_id: 'r-3-1', rating: 5 }, 'a stored string'];
    await cache.put('reviews:3', reviews);
    await cache.put('promo:banner', { title: 'Sale', text: 'Now', discount_percent: 10 });
    await cache.putProducts(PRODUCTS);
    const entry = await cache.get<unknown[]>('reviews:3');
    assert.deepEqual(entry?.value, reviews);
    assert.ok(entry.ageMs >= 0 && entry.ageMs < 5000, `ageMs ${entry.ageMs}`);
    assert.ok(Math.abs(Date.parse(entry.cachedAt) - Date.now()) < 5000, `cachedAt ${entry.cachedAt}`);
    assert.deepEqual((await cache.get('promo:banner'))?.value, { title: 'Sale', text: 'Now', discount_percent: 10 });
    assert.deepEqual((await cache.get('products'))?.value, PRODUCTS, 'one table: the products are entries too');

    await delay(120); // lets the entry age, as for the products
    const older = await cache.get('reviews:3');
    assert.ok(older && older.ageMs >= 100, `ageMs ${older?.ageMs} after 120 ms`);
    await cache.put('reviews:3', []);
    const rewritten = await cache.get('reviews:3');
    assert.deepEqual(rewritten?.value, []);
    assert.ok(rewritten.ageMs < older.ageMs, 'a rewrite makes the entry young again');

    for (const value of ['text', 42, null, true]) {
      await cache.put('scalar', value);
      assert.deepEqual((await cache.get('scalar'))?.value, value);
    }
  });

  it('put refuses a value JSON cannot hold and an empty key, naming them', async () => {
    const cache = openCache(await freshCacheDatabase());
    await assert.rejects(cache.put('k', undefined), /cache entry k: the value must be a JSON value, got undefined/);
    await assert.rejects(cache.put('', 1), /a cache key must be a non-empty string, got ""/);
    await assert.rejects(cache.get(''), RangeError);
  });

  it('a closed cache refuses get and put with CACHE_CLOSED', async () => {
    const cache = openCache(await freshCacheDatabase());
    await cache.close();
    const closed = (error: unknown): boolean => error instanceof CacheError && error.code === 'CACHE_CLOSED';
    await assert.rejects(cache.put('k', 1), closed);
    await assert.rejects(cache.get('k'), closed);
  });

  it('a blackholed store fails a read with CACHE_UNAVAILABLE in bounded time', async () => {
    const connection = await freshCacheDatabase();
    const proxy = new FaultProxy();
    try {
      const listener = await proxy.addProxy({ name: 'read-cache', upstream: { host: connection.host, port: connection.port } });
      const cache = openCache({ ...connection, port: listener.listen.port }, { connectTimeoutMs: 300, statementTimeoutMs: 300 });
      await cache.putProducts(PRODUCTS);
      await proxy.addFault('read-cache', { type: 'blackhole', durationMs: 60_000 });
      for (const which of ['pooled connection', 'new connection']) {
        const started = performance.now();
        await within(5000, `read on a ${which}`, assert.rejects(cache.getProducts(), (error: unknown) => error instanceof CacheError && error.code === 'CACHE_UNAVAILABLE'));
        const tookMs = performance.now() - started;
        assert.ok(tookMs < 1500, `${which}: the read failed after ${tookMs.toFixed(0)} ms`);
      }
      const started = performance.now();
      await within(5000, 'a key-value read', assert.rejects(cache.get('reviews:3'), (error: unknown) => error instanceof CacheError && error.code === 'CACHE_UNAVAILABLE'));
      assert.ok(performance.now() - started < 1500, 'a key-value read is bounded too');
      await proxy.clearFaults('read-cache');
      assert.deepEqual((await within(5000, 'a read after the cut', cache.getProducts()))?.value, PRODUCTS);
    } finally {
      await proxy.close();
    }
  });
});
