// Article 7's secondary dependencies on a real PostgreSQL server: the reviews table and the
// promo bucket hold what they are given (the shop validates), the seeds are the same on every
// start, and a failed statement is reported, never retried.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ServicesStore } from '../src/lab/services-store/index.ts';
import {
  DependencyError,
  PROMO_BANNER_KEY,
  PROMO_BUCKET,
  PostgresBlobStore,
  PostgresReviewStore,
  SEED_BANNER,
  ensureBlobSchema,
  ensureReviewsSchema,
  putBlob,
  putReviewItem,
  seedPromo,
  seedReviews,
  type DependencyClientSettings,
} from '../src/services/index.ts';
import { SEED_PRODUCTS } from '../src/shop/schema.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();
const opened: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

const FAST: DependencyClientSettings = { connectTimeoutMs: 2000, readTimeoutMs: 2000, retries: 3 };

async function seededDatabase(): Promise<DatabaseEndpoint> {
  const endpoint = await freshDatabase(postgres());
  await withClient(endpoint, async (client) => {
    await ensureReviewsSchema(client);
    await seedReviews(client);
    await ensureBlobSchema(client);
    await seedPromo(client);
  });
  return endpoint;
}

function openReviews(connection: DatabaseEndpoint, client = FAST): PostgresReviewStore {
  const store = new PostgresReviewStore({ connection, client });
  opened.push(store);
  return store;
}

function openPromo(connection: DatabaseEndpoint, client = FAST): PostgresBlobStore {
  const store = new PostgresBlobStore({ connection, client });
  opened.push(store);
  return store;
}

async function countRows(endpoint: DatabaseEndpoint): Promise<{ reviews: number; blobs: number }> {
  return withClient(endpoint, async (client) => {
    const { rows } = await client.query<{ reviews: number; blobs: number }>(
      'SELECT (SELECT count(*)::int FROM reviews) AS reviews, (SELECT count(*)::int FROM blobs) AS blobs',
    );
    return rows[0]!;
  });
}

describe('PostgresReviewStore', () => {
  it('every seed product has 2 or 3 well-formed reviews, ordered by review_id', async () => {
    const reviews = openReviews(await seededDatabase());
    for (const product of SEED_PRODUCTS) {
      const items = (await reviews.reviewsOf(product.id)) as Array<Record<string, unknown>>;
      assert.equal(items.length, product.id % 2 === 1 ? 3 : 2, `product ${product.id}`);
      assert.deepEqual(items.map((item) => item.review_id), items.map((_, i) => `r-${product.id}-${i + 1}`));
      for (const item of items) {
        assert.deepEqual(Object.keys(item).sort(), ['author', 'created_at', 'rating', 'review_id', 'text']);
        assert.ok(Number.isInteger(item.rating) && (item.rating as number) >= 1 && (item.rating as number) <= 5, `rating ${String(item.rating)}`);
        assert.equal(new Date(item.created_at as string).toISOString().replace('.000', ''), item.created_at);
        assert.ok(typeof item.text === 'string' && item.text.includes(product.name), String(item.text));
      }
    }
  });

  it('a product without reviews, or an id beyond the table, has none', async () => {
    const reviews = openReviews(await seededDatabase());
    assert.deepEqual(await reviews.reviewsOf(11), []);
    assert.deepEqual(await reviews.reviewsOf(0), []);
    assert.deepEqual(await reviews.reviewsOf(2 ** 40), [], 'an id past the integer column is a miss, not a statement error');
    await assert.rejects(reviews.reviewsOf(1.5), RangeError);
  });

  it('returns a stored item that is not a review exactly as stored', async () => {
    const endpoint = await seededDatabase();
    await withClient(endpoint, async (client) => {
      await putReviewItem(client, 3, 'r-3-1', 'not an object');
      await putReviewItem(client, 3, 'r-3-2', { rating: 'five' });
      await putReviewItem(client, 3, 'r-3-9', null);
    });
    const items = await openReviews(endpoint).reviewsOf(3);
    assert.deepEqual(items.slice(0, 2), ['not an object', { rating: 'five' }]);
    assert.equal(items[3], null, 'a JSON null item is kept (the column is only NOT NULL in SQL terms)');
  });

  it('a statement error is DEPENDENCY_UNAVAILABLE after one attempt, never retried', async () => {
    // A missing table answers at once: retrying a statement the store refused only repeats it.
    const endpoint = await freshDatabase(postgres());
    const started = performance.now();
    await assert.rejects(openReviews(endpoint, { ...FAST, retries: 4 }).reviewsOf(1), (error: unknown) => {
      assert.ok(error instanceof DependencyError, String(error));
      assert.equal(error.code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal(error.dependency, 'reviews');
      assert.equal(error.attempts, 1);
      assert.match(error.message, /^reviews is unavailable after 1 attempt: relation "reviews" does not exist$/);
      return true;
    });
    assert.ok(performance.now() - started < 1000);
  });

  it('a closed store rejects with DEPENDENCY_CLOSED', async () => {
    const reviews = openReviews(await seededDatabase());
    await reviews.reviewsOf(1);
    await reviews.close();
    await reviews.close();
    await assert.rejects(reviews.reviewsOf(1), (error: unknown) => error instanceof DependencyError && error.code === 'DEPENDENCY_CLOSED' && error.attempts === 0);
  });
});

describe('PostgresBlobStore', () => {
  it('the seed banner is JSON at promo/banner.json', async () => {
    const promo = openPromo(await seededDatabase());
    const blob = await promo.get(PROMO_BUCKET, PROMO_BANNER_KEY);
    assert.ok(blob);
    assert.equal(blob.contentType, 'application/json');
    assert.ok(Buffer.isBuffer(blob.body));
    const banner = JSON.parse(blob.body.toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(banner, SEED_BANNER);
    assert.deepEqual(Object.keys(banner).sort(), ['discount_percent', 'text', 'title']);
    assert.equal(banner.discount_percent, 10);
    assert.ok(Math.abs(Date.parse(blob.updatedAt) - Date.now()) < 60_000, blob.updatedAt);
    assert.equal(new Date(blob.updatedAt).toISOString(), blob.updatedAt);
  });

  it('a missing object is undefined', async () => {
    const promo = openPromo(await seededDatabase());
    assert.equal(await promo.get(PROMO_BUCKET, 'nope.json'), undefined);
    assert.equal(await promo.get('other', PROMO_BANNER_KEY), undefined);
  });

  it('returns a body that is not JSON, byte for byte, with its content type', async () => {
    const endpoint = await seededDatabase();
    const bytes = Buffer.from([0x7b, 0x22, 0xff, 0x00, 0x0a]); // '{"', an invalid UTF-8 byte, a NUL
    await withClient(endpoint, (client) => putBlob(client, PROMO_BUCKET, PROMO_BANNER_KEY, bytes, 'text/plain'));
    const blob = await openPromo(endpoint).get(PROMO_BUCKET, PROMO_BANNER_KEY);
    assert.deepEqual(blob?.body, bytes);
    assert.equal(blob.contentType, 'text/plain');
  });

  it('a statement error is DEPENDENCY_UNAVAILABLE after one attempt, and close makes it DEPENDENCY_CLOSED', async () => {
    const promo = openPromo(await freshDatabase(postgres()), { ...FAST, retries: 2 });
    await assert.rejects(promo.get(PROMO_BUCKET, PROMO_BANNER_KEY), (error: unknown) =>
      error instanceof DependencyError && error.code === 'DEPENDENCY_UNAVAILABLE' && error.dependency === 'promo' && error.attempts === 1,
    );
    await promo.close();
    await assert.rejects(promo.get(PROMO_BUCKET, PROMO_BANNER_KEY), (error: unknown) => error instanceof DependencyError && error.code === 'DEPENDENCY_CLOSED');
  });
});

describe('seeds', () => {
  it('seeding twice neither fails nor duplicates, and keeps a value already there', async () => {
    const endpoint = await seededDatabase();
    const before = await countRows(endpoint);
    assert.deepEqual(before, { reviews: 25, blobs: 1 });
    await withClient(endpoint, async (client) => {
      await putReviewItem(client, 1, 'r-1-1', 'replaced');
      await ensureReviewsSchema(client);
      await seedReviews(client);
      await ensureBlobSchema(client);
      await seedPromo(client);
    });
    assert.deepEqual(await countRows(endpoint), before);
    assert.equal((await openReviews(endpoint).reviewsOf(1))[0], 'replaced');
  });
});

describe('ServicesStore', () => {
  it('seeds reviews and the banner, starts again over its data without duplicates, and the clients survive a restart', async () => {
    const base = await mkdtemp(join(tmpdir(), 'chaos-lab-services-test-'));
    await chmod(base, 0o711); // the server's unprivileged user must pass through to its data
    const dataDir = join(base, 'data');
    let store: ServicesStore | undefined;
    try {
      store = await within(30_000, 'the first start', ServicesStore.start({ dataDir }));
      const { password } = store.server;
      assert.deepEqual(await countRows(store.connectionConfig()), { reviews: 25, blobs: 1 });
      await store.close();
      store = undefined;

      store = await within(30_000, 'the start over the same data', ServicesStore.start({ dataDir, password }));
      assert.deepEqual(await countRows(store.connectionConfig()), { reviews: 25, blobs: 1 });
      const reviews = openReviews(store.connectionConfig(), { connectTimeoutMs: 1000, readTimeoutMs: 1000, retries: 2 });
      const promo = openPromo(store.connectionConfig(), { connectTimeoutMs: 1000, readTimeoutMs: 1000, retries: 0 });
      assert.equal((await reviews.reviewsOf(7)).length, 3);
      assert.ok(await promo.get(PROMO_BUCKET, PROMO_BANNER_KEY));

      // A stopped store refuses: every attempt fails at once (no timeout to wait out).
      await store.server.stop();
      const started = performance.now();
      await assert.rejects(reviews.reviewsOf(7), (error: unknown) => {
        assert.ok(error instanceof DependencyError && error.code === 'DEPENDENCY_UNAVAILABLE', String(error));
        assert.equal(error.attempts, 3);
        assert.ok(!error.message.includes(password), 'the message never carries the password');
        return true;
      });
      const refusedMs = performance.now() - started;
      assert.ok(refusedMs < 1000, `refused after ${refusedMs.toFixed(0)} ms`);
      await assert.rejects(promo.get(PROMO_BUCKET, PROMO_BANNER_KEY), (error: unknown) => error instanceof DependencyError && error.attempts === 1);

      // Started again: the pooled connections the stop broke are not reused.
      await within(30_000, 'the restart', store.server.start());
      assert.equal((await within(5000, 'reviews after the restart', reviews.reviewsOf(7))).length, 3);
      assert.ok(await within(5000, 'promo after the restart', promo.get(PROMO_BUCKET, PROMO_BANNER_KEY)));
    } finally {
      await Promise.all(opened.splice(0).map((opened) => opened.close()));
      await store?.close();
      await rm(base, { recursive: true, force: true });
    }
  });
});
