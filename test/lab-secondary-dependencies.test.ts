// Article 7's secondary dependencies in a real lab: the reviews table and the promo bucket live in
// the services store (which every lab now runs), each reached through its own fault-proxy
// listener, so cutting one (the article's `scope = dynamodb` / `scope = s3`) leaves the catalog
// and the other answering. A lab started without the store has neither. `chaos-lab shop`'s
// standalone shop serves both too, straight from its own store.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resourcesOf } from '../src/chaos/actions.ts';
import { selectTargets } from '../src/chaos/target-selection.ts';
import { Lab } from '../src/lab/lab.ts';
import { startStandaloneShop } from '../src/lab/standalone-shop.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import { until, within } from './helpers/deadline.ts';
import { call, withClient } from './helpers/lab.ts';

/** The environment a running instance process was started with (this user's own process). */
function environmentOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/** A GET through `base`, bounded at 10 s, with how long it took. */
async function timedGet(base: string, path: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const answer = await call(base, 'GET', path);
  return { status: answer.status, body: answer.body, ms: performance.now() - started };
}

describe('a lab with the isolated patterns: reviews and promo, each behind its own listener', () => {
  let dir: string;
  let lab: Lab | undefined;
  let lb: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-secondary-'));
    lab = await within(90_000, 'starting the lab', Lab.start({ dir, instances: 2, patterns: resolvePatterns('isolated') }));
    lb = lab.loadBalancer.url;
    await until('the fleet serving reviews through the load balancer', async () => (await call(lb, 'GET', '/products/3/reviews').catch(() => ({ status: 0 }))).status === 200, 30_000, 100);
  });
  after(async () => {
    if (lab) await within(60_000, 'closing the lab', lab.close());
    await rm(dir, { recursive: true, force: true });
  });

  it('lists reviews and promo with their kind and role, and tells every instance their listeners', () => {
    const store = lab!.servicesStore!.endpoint;
    const secondary = lab!.dependencies.filter((d) => d.name === 'reviews' || d.name === 'promo');
    assert.deepEqual(
      secondary.map((d) => [d.name, d.kind, d.role, d.upstream, d.instanceEnv]),
      [
        ['reviews', 'key-value-store', 'reviews', store, 'REVIEWS_URL'],
        ['promo', 'object-store', 'promo', store, 'PROMO_URL'],
      ],
    );
    const [reviews, promo] = secondary;
    // Two listeners of their own, neither the store's own port nor another path's.
    const ports = lab!.dependencies.map((d) => d.listen.port);
    assert.equal(new Set(ports).size, ports.length);
    assert.ok(!ports.includes(store.port));
    for (const instance of lab!.group.instances()) {
      const env = environmentOf(instance.pid!);
      assert.equal(new URL(env['REVIEWS_URL']!).port, String(reviews!.listen.port), `${instance.id}'s REVIEWS_URL`);
      assert.equal(new URL(env['PROMO_URL']!).port, String(promo!.listen.port), `${instance.id}'s PROMO_URL`);
      assert.equal(new URL(env['REVIEWS_URL']!).pathname, '/services');
    }
  });

  it('a lab:dependency target picks exactly reviews by Role, and exactly promo by Kind', () => {
    const resources = resourcesOf(lab!, 'lab:dependency');
    assert.deepEqual(selectTargets({ resourceTags: { Role: 'reviews' }, selectionMode: 'ALL' }, resources, 1), ['reviews']);
    assert.deepEqual(selectTargets({ resourceTags: { Role: 'promo' }, selectionMode: 'ALL' }, resources, 1), ['promo']);
    assert.deepEqual(selectTargets({ resourceTags: { Kind: 'object-store' }, selectionMode: 'ALL' }, resources, 1), ['promo']);
  });

  for (const [cut, path, other] of [
    ['reviews', '/products/3/reviews', '/promo'],
    ['promo', '/promo', '/products/3/reviews'],
  ] as const) {
    it(`cutting ${cut} (blackhole) leaves /products and ${other} answering 200 while ${path} answers 503 within about the 2 s timeout`, async () => {
      const before = await timedGet(lb, path);
      assert.equal(before.status, 200, JSON.stringify(before.body));
      assert.equal(before.body['source'], 'store');
      const fault = await lab!.faultProxy.client.addFault(cut, { type: 'blackhole', durationMs: 60_000 });
      try {
        // Two rounds of three requests through a round-robin balancer over two instances: the cut
        // path lands on one instance, then on the other.
        for (let round = 0; round < 2; round++) {
          const failed = await timedGet(lb, path);
          assert.equal(failed.status, 503, JSON.stringify(failed.body));
          assert.equal(failed.body['error'], `${cut} temporarily unavailable`);
          // Fast: the 2 s timeout, not the probe's 5 s or a hang. The article's 2.5 s goal is the
          // experiment's to report (dependency-outage); a test on a loaded machine allows 1 s of lag.
          assert.ok(failed.ms < 3000, `${path} answered 503 after ${Math.round(failed.ms)} ms`);
          for (const unaffected of ['/products', other]) {
            const answer = await timedGet(lb, unaffected);
            assert.equal(answer.status, 200, `${unaffected} during the ${cut} cut: ${JSON.stringify(answer.body)}`);
          }
        }
      } finally {
        await lab!.faultProxy.client.removeFault(cut, fault.id);
      }
      // Back once the path is: the client opens new connections (bounded: a few read timeouts).
      await until(`${path} answering 200 again`, async () => (await timedGet(lb, path)).status === 200, 15_000, 100);
    });
  }
});

describe('a lab with the isolated-stale patterns', () => {
  it('runs the read cache for the stale fallback, and a reviews cut is answered from it, marked stale, within about the 2 s timeout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-stale-'));
    let lab: Lab | undefined;
    try {
      lab = await within(90_000, 'starting the lab', Lab.start({ dir, instances: 1, patterns: resolvePatterns('isolated-stale') }));
      // readCache is off in these patterns: only the fallback needs the cache, and its listener.
      assert.deepEqual(lab.dependencies.map((d) => d.name), ['db-writer', 'db-reader', 'services-store', 'read-cache', 'reviews', 'promo']);
      const lb = lab.loadBalancer.url;
      await until('reviews answered from the store', async () => (await call(lb, 'GET', '/products/3/reviews').catch(() => ({ status: 0 }))).status === 200, 30_000, 100);
      // The good answer is written through to the cache without being awaited: wait for it there.
      const store = lab.servicesStore!.connectionConfig();
      await until('the reviews of product 3 in the read cache', () => withClient(store, async (c) => (await c.query("SELECT 1 FROM cache_entries WHERE key = 'reviews:3'")).rowCount === 1), 10_000, 100);
      const fault = await lab.faultProxy.client.addFault('reviews', { type: 'blackhole', durationMs: 60_000 });
      try {
        const stale = await timedGet(lb, '/products/3/reviews');
        assert.equal(stale.status, 200, JSON.stringify(stale.body));
        assert.deepEqual([stale.body['source'], stale.body['stale']], ['cache', true]);
        assert.equal(typeof stale.body['cache_age_ms'], 'number');
        assert.ok(stale.ms < 3000, `answered from the cache after ${Math.round(stale.ms)} ms (the 2 s timeout, then the cache)`);
      } finally {
        await lab.faultProxy.client.removeFault('reviews', fault.id);
      }
    } finally {
      if (lab) await within(60_000, 'closing the lab', lab.close());
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a lab started without the services store', () => {
  it('has no reviews or promo: no listener, no variable, and the shop answers them 503 *_NOT_CONFIGURED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-no-store-'));
    let lab: Lab | undefined;
    try {
      lab = await within(90_000, 'starting the lab', Lab.start({ dir, instances: 1, servicesStore: false }));
      assert.equal(lab.servicesStore, undefined);
      assert.deepEqual(lab.dependencies.map((d) => d.name), ['db-writer', 'db-reader']);
      const env = environmentOf(lab.group.instances()[0]!.pid!);
      assert.deepEqual([env['REVIEWS_URL'], env['PROMO_URL']], [undefined, undefined]);
      const lb = lab.loadBalancer.url;
      await until('the fleet serving', async () => (await call(lb, 'GET', '/products').catch(() => ({ status: 0 }))).status === 200, 30_000, 100);
      const reviews = await call(lb, 'GET', '/products/3/reviews');
      assert.deepEqual([reviews.status, reviews.body['code']], [503, 'REVIEWS_NOT_CONFIGURED']);
      const promo = await call(lb, 'GET', '/promo');
      assert.deepEqual([promo.status, promo.body['code']], [503, 'PROMO_NOT_CONFIGURED']);
    } finally {
      if (lab) await within(60_000, 'closing the lab', lab.close());
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the standalone shop (chaos-lab shop)', () => {
  it('serves the seeded reviews and promo banner from the services store it starts beside its database', async () => {
    const started = await within(60_000, 'starting the standalone shop', startStandaloneShop({ instanceId: 'i-test-standalone' }));
    try {
      assert.ok(started.servicesStore, 'the store runs whatever the patterns (resilient here)');
      await within(20_000, 'the schema', started.shop.whenInitialised());
      const reviews = await call(started.shop.url, 'GET', '/products/3/reviews');
      assert.equal(reviews.status, 200, JSON.stringify(reviews.body));
      assert.deepEqual([reviews.body['product_id'], reviews.body['source']], [3, 'store']);
      assert.ok((reviews.body['reviews'] as unknown[]).length >= 2, 'seeded: a few reviews per product');
      const promo = await call(started.shop.url, 'GET', '/promo');
      assert.equal(promo.status, 200, JSON.stringify(promo.body));
      assert.equal(promo.body['source'], 'store');
      assert.equal(typeof (promo.body['banner'] as { title?: unknown }).title, 'string');
    } finally {
      await within(30_000, 'closing the standalone shop', started.close());
    }
  });

  it('started without the store, answers reviews and promo 503 *_NOT_CONFIGURED and the catalog 200', async () => {
    const started = await within(60_000, 'starting the standalone shop', startStandaloneShop({ instanceId: 'i-test-standalone', servicesStore: false }));
    try {
      assert.equal(started.servicesStore, undefined);
      await within(20_000, 'the schema', started.shop.whenInitialised());
      assert.equal((await call(started.shop.url, 'GET', '/products')).status, 200);
      const reviews = await call(started.shop.url, 'GET', '/products/3/reviews');
      assert.deepEqual([reviews.status, reviews.body['code']], [503, 'REVIEWS_NOT_CONFIGURED']);
      const promo = await call(started.shop.url, 'GET', '/promo');
      assert.deepEqual([promo.status, promo.body['code']], [503, 'PROMO_NOT_CONFIGURED']);
    } finally {
      await within(30_000, 'closing the standalone shop', started.close());
    }
  });
});
