// Article 7 at the shop: the reviews table and the promo bucket, each reached through its own
// fault-proxy listener, cut one at a time with a blackhole (connections accepted, no byte through:
// the network ACL drop of the article). The shop's patterns decide what that costs: one feature
// (isolated), the whole shop (coupled: the workers all wait on the dead dependency), or nothing
// the customer sees but a stale mark (isolated-stale).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FaultProxy } from '../src/lab/fault-proxy/fault-proxy.ts';
import { ensureCacheSchema, PostgresProductCache } from '../src/services/cache/index.ts';
import { ensureBlobSchema, putBlob, seedPromo } from '../src/services/promo/index.ts';
import { ensureReviewsSchema, putReviewItem, seedReviews } from '../src/services/reviews/index.ts';
import { shopOptionsFromEnv } from '../src/shop/config.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { resolvePatterns, type PatternsInput } from '../src/shop/patterns.ts';
import { startShop, type ShopInstance } from '../src/shop/shop-instance.ts';
import { until, within } from './helpers/deadline.ts';
import { call, freshDatabase, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();

interface Rig {
  shop: ShopInstance;
  proxy: FaultProxy;
  services: DatabaseEndpoint;
  close(): Promise<void>;
}

function url(endpoint: DatabaseEndpoint, port: number): string {
  return `postgresql://${endpoint.user}:${encodeURIComponent(endpoint.password ?? '')}@${endpoint.host}:${port}/${endpoint.database}`;
}

const rigs: Rig[] = [];
after(async () => {
  await Promise.allSettled(rigs.map((rig) => rig.close()));
});

/** A shop as a lab starts one (through the env reader), its database and each service through a listener of its own. */
async function startRig(patterns: PatternsInput, options: { withStores?: boolean } = {}): Promise<Rig> {
  const server = postgres();
  const database = await within(30_000, 'the shop database', freshDatabase(server));
  const services = await within(30_000, 'the services database', freshDatabase(server));
  await withClient(services, async (client) => {
    await ensureReviewsSchema(client);
    await seedReviews(client);
    await ensureBlobSchema(client);
    await seedPromo(client);
    await ensureCacheSchema(client);
  });
  const proxy = new FaultProxy();
  const listen = async (name: string, upstream: DatabaseEndpoint): Promise<number> => (await proxy.addProxy({ name, upstream: { host: upstream.host, port: upstream.port } })).listen.port;
  const env: Record<string, string> = {
    DB_WRITER_URL: url(database, await listen('db', database)),
    READ_CACHE_URL: url(services, await listen('cache', services)),
    SHOP_PATTERNS: JSON.stringify(resolvePatterns(patterns)),
  };
  if (options.withStores ?? true) {
    env['REVIEWS_URL'] = url(services, await listen('reviews', services));
    env['PROMO_URL'] = url(services, await listen('promo', services));
  }
  let shop: ShopInstance | undefined;
  try {
    shop = await within(30_000, 'starting the shop', startShop({ ...shopOptionsFromEnv(env), instanceId: 'i-article7' }));
    await within(20_000, 'the schema', shop.whenInitialised());
  } catch (error) {
    await Promise.allSettled([shop?.close(), proxy.close()]);
    throw error;
  }
  const started = shop;
  let closed: Promise<void> | undefined;
  const rig: Rig = {
    shop: started,
    proxy,
    services,
    close() {
      // Faults off first: a blackholed call releases its connection, and the shop closes at once.
      closed ??= (async () => {
        await proxy.clearFaults();
        await within(30_000, 'closing the shop', started.close());
        await proxy.close();
      })();
      return closed;
    },
  };
  rigs.push(rig);
  return rig;
}

/** A GET with its own client timeout; status 0 when it timed out (curl's 000). */
async function timedGet(base: string, path: string, timeoutMs = 10_000): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  try {
    const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, body, ms: performance.now() - started };
  } catch {
    return { status: 0, body: {}, ms: performance.now() - started };
  }
}

describe('the secondary dependencies (Article 7)', () => {
  it('serves the seeded reviews and the promo banner from their stores, and refuses bad ids as the products do', async () => {
    const { shop } = await startRig('resilient');
    const reviews = await call(shop.url, 'GET', '/products/3/reviews');
    assert.equal(reviews.status, 200, JSON.stringify(reviews.body));
    assert.equal(reviews.body['product_id'], 3);
    assert.equal(reviews.body['source'], 'store');
    const items = reviews.body['reviews'] as Array<Record<string, unknown>>;
    assert.ok(items.length >= 2, JSON.stringify(items));
    for (const item of items) {
      assert.equal(typeof item['author'], 'string');
      assert.ok(Number.isInteger(item['rating']) && (item['rating'] as number) >= 1 && (item['rating'] as number) <= 5);
    }
    const promo = await call(shop.url, 'GET', '/promo');
    assert.equal(promo.status, 200, JSON.stringify(promo.body));
    assert.equal(promo.body['source'], 'store');
    assert.equal(typeof (promo.body['banner'] as Record<string, unknown>)['title'], 'string');

    const unknown = await call(shop.url, 'GET', '/products/99/reviews');
    assert.deepEqual([unknown.status, unknown.body['code'], unknown.body['product_id']], [404, 'PRODUCT_NOT_FOUND', 99]);
    const malformed = await call(shop.url, 'GET', '/products/abc/reviews');
    assert.deepEqual([malformed.status, malformed.body['code']], [400, 'INVALID_ID']);
  });

  it('answers 502 naming the problem when a stored review or the banner is not what the shop expects, and keeps serving', async () => {
    const { shop, services } = await startRig('resilient');
    await withClient(services, async (client) => {
      await putReviewItem(client, 5, 'r-5-9', { review_id: 'r-5-9', author: 'Bot', rating: 'five', text: 'x', created_at: '2026-11-30T00:00:00Z' });
      await putBlob(client, 'promo', 'banner.json', 'not json {', 'application/json');
    });
    const review = await call(shop.url, 'GET', '/products/5/reviews');
    assert.equal(review.status, 502, JSON.stringify(review.body));
    assert.equal(review.body['code'], 'REVIEWS_INVALID');
    assert.match(String(review.body['error']), /product 5 that is not a review.*rating must be an integer from 1 to 5, got "five"/);
    const promo = await call(shop.url, 'GET', '/promo');
    assert.equal(promo.status, 502, JSON.stringify(promo.body));
    assert.equal(promo.body['code'], 'PROMO_INVALID');
    assert.match(String(promo.body['error']), /not JSON/);
    // Nothing crashed: the other products' reviews and the catalog still answer.
    assert.equal((await call(shop.url, 'GET', '/products/3/reviews')).status, 200);
    assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
  });

  it('answers 503 *_NOT_CONFIGURED when the shop was given no store for them', async () => {
    const { shop } = await startRig('resilient', { withStores: false });
    const reviews = await call(shop.url, 'GET', '/products/3/reviews');
    assert.deepEqual([reviews.status, reviews.body['error'], reviews.body['code']], [503, 'reviews temporarily unavailable', 'REVIEWS_NOT_CONFIGURED']);
    const promo = await call(shop.url, 'GET', '/promo');
    assert.deepEqual([promo.status, promo.body['error'], promo.body['code']], [503, 'promo temporarily unavailable', 'PROMO_NOT_CONFIGURED']);
  });

  for (const [cut, other, cutPath, otherPath] of [
    ['reviews', 'promo', '/products/3/reviews', '/promo'],
    ['promo', 'reviews', '/promo', '/products/3/reviews'],
  ] as const) {
    it(`isolated: ${cut} cut off answers a fast 503 while the catalog and ${other} keep answering`, async () => {
      // Article 7's AFTER with 1 s timeouts instead of 2 s: the same shape, and room for a loaded machine's lag.
      const { shop, proxy } = await startRig({ preset: 'isolated', dependencyClient: { connectTimeoutMs: 1000, readTimeoutMs: 1000 } });
      assert.equal((await timedGet(shop.url, cutPath)).status, 200, 'before the cut');
      await proxy.addFault(cut, { type: 'blackhole' });
      // Three at once on a pool of two: two wait out the 1 s timeout, the third is refused at once.
      const answers = await Promise.all([timedGet(shop.url, cutPath), timedGet(shop.url, cutPath), timedGet(shop.url, cutPath), timedGet(shop.url, '/products'), timedGet(shop.url, otherPath)]);
      const [a, b, c, products, otherAnswer] = answers;
      for (const answer of [a!, b!, c!]) {
        assert.equal(answer.status, 503, JSON.stringify(answer.body));
        assert.equal(answer.body['error'], `${cut} temporarily unavailable`);
        assert.equal(answer.body['code'], `${cut.toUpperCase()}_UNAVAILABLE`);
        assert.ok(answer.ms < 2500, `the 503 took ${Math.round(answer.ms)} ms`);
      }
      assert.ok([a!, b!, c!].some((answer) => /workers of the .* pool are busy/.test(String(answer.body['reason']))), 'one call was refused by the dependency pool');
      assert.ok([a!, b!, c!].some((answer) => answer.ms >= 900), 'the others waited out the 1 s timeout');
      assert.ok([a!, b!, c!].some((answer) => answer.ms < 500), 'the refused one was answered at once');
      assert.equal(products!.status, 200);
      assert.ok(products!.ms < 900, `the catalog took ${Math.round(products!.ms)} ms: it waited on the cut dependency`);
      assert.equal(otherAnswer!.status, 200, JSON.stringify(otherAnswer!.body));
      await proxy.clearFaults();
      await until(`${cutPath} answers again`, async () => (await timedGet(shop.url, cutPath)).status === 200, 10_000);
    });
  }

  it('coupled: a blackholed dependency holds every shared worker, the catalog waits behind it and a full backlog is refused; all recover when the dependency returns', async () => {
    // A small pool (2 workers, 1 waiting) and the SDK's 60 s timeouts: the cascade in a few requests.
    const { shop, proxy } = await startRig({ preset: 'coupled', workerPools: { mode: 'shared', workers: 2, backlog: 1 } });
    assert.equal((await timedGet(shop.url, '/products/3/reviews')).status, 200);
    await proxy.addFault('reviews', { type: 'blackhole' });
    const hanging = [timedGet(shop.url, '/products/3/reviews', 20_000), timedGet(shop.url, '/products/4/reviews', 20_000)];
    await until('both workers held by the dead dependency', async () => shopPool(shop).busy === 2, 5000);
    // A scrape is served beside the workers: it sees the exhaustion instead of waiting in it.
    assert.match(await metricsText(shop), /chaos_shop_worker_pool_busy\{[^}]*pool="main"[^}]*\} 2/);
    // The catalog never touches reviews, yet it waits for a worker until its client gives up.
    const products = await timedGet(shop.url, '/products', 1000);
    assert.equal(products.status, 0, `the catalog answered ${products.status} while every worker was held`);
    // The client that gave up left the backlog; fill it again, and the next request is refused at once.
    const queued = timedGet(shop.url, '/products', 20_000);
    await until('one request waiting', async () => shopPool(shop).waiting === 1, 5000);
    const refused = await timedGet(shop.url, '/health', 5000);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body['code'], 'WORKERS_BUSY');
    assert.match(String(refused.body['error']), /all 2 workers of the main pool are busy and its backlog of 1 is full/);
    // The dependency returns: what it held flows on, the workers are freed, everything answers.
    await proxy.clearFaults();
    const released = await Promise.all(hanging);
    assert.deepEqual(released.map((r) => r.status), [200, 200]);
    assert.equal((await queued).status, 200);
    assert.equal((await timedGet(shop.url, '/products')).status, 200);
  });

  it('isolated-stale: a cut dependency answers its last good value from the cache, marked stale with its age; with nothing cached, the 503', async () => {
    const { shop, proxy, services } = await startRig({ preset: 'isolated-stale', dependencyClient: { connectTimeoutMs: 1000, readTimeoutMs: 1000 } });
    const goodReviews = await timedGet(shop.url, '/products/3/reviews');
    const goodPromo = await timedGet(shop.url, '/promo');
    assert.deepEqual([goodReviews.status, goodPromo.status], [200, 200]);
    const cache = new PostgresProductCache({ connection: { ...services } });
    try {
      await until('both answers written through to the cache', async () => (await cache.get('reviews:3')) !== undefined && (await cache.get('promo:banner')) !== undefined, 5000);
    } finally {
      await cache.close();
    }
    await proxy.addFault('reviews', { type: 'blackhole' });
    await proxy.addFault('promo', { type: 'blackhole' });
    const reviews = await timedGet(shop.url, '/products/3/reviews');
    assert.equal(reviews.status, 200, JSON.stringify(reviews.body));
    // The last good answer, as it was, marked stale.
    assert.deepEqual(reviews.body, { ...goodReviews.body, source: 'cache', stale: true, cache_age_ms: reviews.body['cache_age_ms'] });
    const promo = await timedGet(shop.url, '/promo');
    assert.equal(promo.status, 200, JSON.stringify(promo.body));
    assert.deepEqual(promo.body, { ...goodPromo.body, source: 'cache', stale: true, cache_age_ms: promo.body['cache_age_ms'] });
    // Its age is the entry's, and grows: the second answer came at least a timeout after the first.
    const firstAge = reviews.body['cache_age_ms'] as number;
    const again = await timedGet(shop.url, '/products/3/reviews');
    assert.ok(typeof firstAge === 'number' && firstAge >= 0, JSON.stringify(reviews.body));
    assert.ok((again.body['cache_age_ms'] as number) >= firstAge + 900, `ages ${firstAge} then ${String(again.body['cache_age_ms'])}`);
    const neverRead = await timedGet(shop.url, '/products/7/reviews');
    assert.equal(neverRead.status, 503, JSON.stringify(neverRead.body));
    assert.match(String(neverRead.body['reason']), /the read cache holds no earlier answer/);
    assert.match(await metricsText(shop), /chaos_shop_dependency_stale_answers_total\{[^}]*dependency="reviews"[^}]*\} 2/);
  });

  it('a missing banner is a 404, not an outage: the stale fallback does not answer for it', async () => {
    const { shop, services } = await startRig('isolated-stale');
    assert.equal((await timedGet(shop.url, '/promo')).status, 200);
    await withClient(services, (client) => client.query("DELETE FROM blobs WHERE bucket = 'promo'"));
    const missing = await timedGet(shop.url, '/promo');
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
    assert.equal(missing.body['code'], 'PROMO_NOT_FOUND');
  });

  it('closes at once while a request hangs on a blackholed dependency with the SDK defaults', async () => {
    // Regression: the shop's close waited for the request, and the request for the reviews client's
    // 60 s timeouts (and 4 retries): a test or a standalone shop closing during a cut hung.
    const { shop, proxy } = await startRig('coupled');
    assert.equal((await timedGet(shop.url, '/products/3/reviews')).status, 200);
    await proxy.addFault('reviews', { type: 'blackhole' });
    const hanging = timedGet(shop.url, '/products/3/reviews', 20_000);
    await until('the request holds a worker', async () => shopPool(shop).busy === 1, 5000);
    const started = performance.now();
    await within(10_000, 'closing the shop under the cut', shop.close());
    assert.ok(performance.now() - started < 3000, `closed after ${Math.round(performance.now() - started)} ms`);
    const answer = await hanging;
    assert.ok(answer.status === 503 || answer.status === 0, `the hanging request got ${answer.status}`);
  });
});

async function metricsText(shop: ShopInstance): Promise<string> {
  return within(5000, 'GET /metrics', fetch(`${shop.url}/metrics`, { signal: AbortSignal.timeout(4000) }).then((r) => r.text()));
}

/** The main pool's occupancy, as the instance holds it. */
function shopPool(shop: ShopInstance): { busy: number; waiting: number } {
  const main = shop.workerPools.all().find((pool) => pool.name === 'main');
  assert.ok(main, 'the shop has a main pool');
  return main.stats();
}
