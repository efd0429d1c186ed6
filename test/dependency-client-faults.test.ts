// The dependency clients (reviews, promo) behind a real fault proxy in front of a real
// PostgreSQL server: a blackholed store fails a call within the settings' timeout per attempt
// (never hangs), a refused one at once, retries are counted, and the client works again once
// the fault is gone.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { FaultProxy } from '../src/lab/fault-proxy/index.ts';
import {
  DependencyError,
  PROMO_BANNER_KEY,
  PROMO_BUCKET,
  PostgresBlobStore,
  PostgresReviewStore,
  ensureBlobSchema,
  ensureReviewsSchema,
  seedPromo,
  seedReviews,
  type DependencyClientSettings,
} from '../src/services/index.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();
const PROXY = 'services-store';
// Distinct, so a time says which bound ended the attempt.
const CONNECT_MS = 500;
const READ_MS = 300;
const SLACK_MS = 1000;

let proxy: FaultProxy;
let viaProxy: DatabaseEndpoint;
const opened: Array<{ close(): Promise<void> }> = [];

describe('dependency clients behind a fault proxy', () => {
  before(async () => {
    const direct = await freshDatabase(postgres());
    await withClient(direct, async (client) => {
      await ensureReviewsSchema(client);
      await seedReviews(client);
      await ensureBlobSchema(client);
      await seedPromo(client);
    });
    proxy = new FaultProxy();
    const listener = await proxy.addProxy({ name: PROXY, upstream: { host: direct.host, port: direct.port } });
    viaProxy = { ...direct, port: listener.listen.port };
  });

  after(async () => {
    await proxy.close();
  });

  afterEach(async () => {
    await proxy.clearFaults(PROXY);
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

function reviewsClient(client: Partial<DependencyClientSettings> = {}, random?: () => number): PostgresReviewStore {
  const store = new PostgresReviewStore({ connection: viaProxy, client: { connectTimeoutMs: CONNECT_MS, readTimeoutMs: READ_MS, retries: 0, ...client }, random });
  opened.push(store);
  return store;
}

/** Runs `call`, which must reject with a DependencyError; returns it and how long the rejection took. */
async function failure(call: () => Promise<unknown>): Promise<{ error: DependencyError; tookMs: number }> {
  const started = performance.now();
  const error = await within(15_000, 'the failing call', call().then(
    () => assert.fail('the call answered'),
    (error: unknown) => error,
  ));
  const tookMs = performance.now() - started;
  assert.ok(error instanceof DependencyError, `a DependencyError, got ${String(error)}`);
  return { error, tookMs };
}

function assertWithin(tookMs: number, fromMs: number, what: string): void {
  assert.ok(tookMs >= fromMs - 5 && tookMs <= fromMs + SLACK_MS, `${what}: rejected after ${tookMs.toFixed(0)} ms, expected ${fromMs}..${fromMs + SLACK_MS} ms`);
}

  describe('a blackholed store', () => {
    it('fails a call on a pooled connection within the read timeout', async () => {
      const reviews = reviewsClient();
      assert.equal((await reviews.reviewsOf(3)).length, 3); // leaves one idle pooled connection
      await proxy.addFault(PROXY, { type: 'blackhole' });
      const { error, tookMs } = await failure(() => reviews.reviewsOf(3));
      assert.equal(error.code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal(error.dependency, 'reviews');
      assert.equal(error.attempts, 1);
      assert.match(error.message, /^reviews is unavailable after 1 attempt: the services store did not answer within 300 ms$/);
      assertWithin(tookMs, READ_MS, 'pooled connection');
    });

    it('fails a call on a new connection within the connect timeout', async () => {
      await proxy.addFault(PROXY, { type: 'blackhole' });
      const { error, tookMs } = await failure(() => reviewsClient().reviewsOf(3));
      assert.equal(error.code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal(error.attempts, 1);
      assert.match(error.message, /connection timeout|timeout exceeded when trying to connect|timeout expired/);
      assertWithin(tookMs, CONNECT_MS, 'new connection');
    });

    it('with retries: 2 makes 3 attempts, each bounded, with the jittered backoff between them', async () => {
      // random() = 1: the waits are the jitter's ceiling, 50 then 100 ms.
      const reviews = reviewsClient({ retries: 2 }, () => 1);
      await reviews.reviewsOf(3);
      await proxy.addFault(PROXY, { type: 'blackhole' });
      const { error, tookMs } = await failure(() => reviews.reviewsOf(3));
      assert.equal(error.attempts, 3);
      assert.match(error.message, /^reviews is unavailable after 3 attempts: /);
      // The first attempt times out on the pooled connection; that connection is destroyed, so the
      // two retries each open a new one and wait out the connect timeout.
      assertWithin(tookMs, READ_MS + 50 + CONNECT_MS + 100 + CONNECT_MS, 'three attempts');
    });

    it('fails a promo get within the timeout too', async () => {
      const promo = new PostgresBlobStore({ connection: viaProxy, client: { connectTimeoutMs: CONNECT_MS, readTimeoutMs: READ_MS, retries: 1 }, random: () => 0 });
      opened.push(promo);
      assert.ok(await promo.get(PROMO_BUCKET, PROMO_BANNER_KEY));
      await proxy.addFault(PROXY, { type: 'blackhole' });
      const { error, tookMs } = await failure(() => promo.get(PROMO_BUCKET, PROMO_BANNER_KEY));
      assert.equal(error.dependency, 'promo');
      assert.equal(error.attempts, 2);
      assertWithin(tookMs, READ_MS + CONNECT_MS, 'promo, two attempts');
    });

    it('once the fault is removed, the same client answers again (no poisoned pooled connection)', async () => {
      const reviews = reviewsClient({ retries: 0 });
      const promo = new PostgresBlobStore({ connection: viaProxy, client: { connectTimeoutMs: CONNECT_MS, readTimeoutMs: READ_MS, retries: 0 } });
      opened.push(promo);
      // Several pooled connections, all cut by the blackhole.
      await Promise.all([1, 2, 3, 4].map((id) => reviews.reviewsOf(id)));
      await promo.get(PROMO_BUCKET, PROMO_BANNER_KEY);
      await proxy.addFault(PROXY, { type: 'blackhole' });
      const cut = await Promise.allSettled([1, 2, 3, 4].map((id) => reviews.reviewsOf(id)));
      assert.ok(cut.every((outcome) => outcome.status === 'rejected'));
      await failure(() => promo.get(PROMO_BUCKET, PROMO_BANNER_KEY));
      await proxy.clearFaults(PROXY);
      for (let i = 0; i < 6; i++) {
        assert.equal((await within(5000, `reviews call ${i} after the cut`, reviews.reviewsOf(5))).length, 3);
      }
      assert.ok(await within(5000, 'promo after the cut', promo.get(PROMO_BUCKET, PROMO_BANNER_KEY)));
    });
  });

  describe('a refusing store', () => {
    it('fails every attempt at once: the time is the backoff alone', async () => {
      await proxy.addFault(PROXY, { type: 'refuse' });
      // random() = 1: waits of 50, 100 and 200 ms between the four attempts.
      const { error, tookMs } = await failure(() => reviewsClient({ retries: 3 }, () => 1).reviewsOf(3));
      assert.equal(error.code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal(error.attempts, 4);
      assert.match(error.message, /ECONNREFUSED/);
      assert.ok(tookMs >= 350 - 5 && tookMs < 350 + SLACK_MS, `refused after ${tookMs.toFixed(0)} ms`);
      await proxy.clearFaults(PROXY);
      assert.equal((await within(5000, 'a call after the refusal', reviewsClient().reviewsOf(3))).length, 3);
    });

    it('close() ends a call waiting to retry with DEPENDENCY_CLOSED', async () => {
      await proxy.addFault(PROXY, { type: 'refuse' });
      // Waits of 50, 100, …, 1600 ms: 3.15 s of backoff that close() must cut short.
      const reviews = new PostgresReviewStore({ connection: viaProxy, client: { connectTimeoutMs: CONNECT_MS, readTimeoutMs: READ_MS, retries: 6 }, random: () => 1 });
      const started = performance.now();
      const call = reviews.reviewsOf(3).then(() => assert.fail('the call answered'), (error: unknown) => error);
      await delay(200);
      await within(5000, 'close', reviews.close());
      const error = await within(5000, 'the closed call', call);
      const tookMs = performance.now() - started;
      assert.ok(error instanceof DependencyError && error.code === 'DEPENDENCY_CLOSED', String(error));
      assert.ok(error.attempts >= 1 && error.attempts < 7, `attempts ${error.attempts}`);
      assert.ok(tookMs < 1500, `ended after ${tookMs.toFixed(0)} ms`);
    });
  });

  describe('close() under a blackhole with the SDK defaults', () => {
    it('ends a held statement and a held connection start at once, instead of after the 60 s timeouts', async () => {
      // Regression: pg's Pool.end() waited for the checked-out connection (its statement held by the
      // blackhole) and for the one still starting up, each up to its 60 s timeout, so a shop closing
      // during an Article 7 cut hung for a minute.
      const reviews = new PostgresReviewStore({ connection: viaProxy, client: { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4 }, maxConnections: 2 });
      assert.equal((await within(5000, 'a first call', reviews.reviewsOf(3))).length, 3); // one idle pooled connection
      await proxy.addFault(PROXY, { type: 'blackhole' });
      // The first call takes the pooled connection (its statement is held), the second opens a new one (its start-up is held).
      const calls = [reviews.reviewsOf(3), reviews.reviewsOf(4)].map((call) => call.then(() => assert.fail('the call answered'), (error: unknown) => error));
      await delay(300);
      const started = performance.now();
      await within(5000, 'close under a blackhole', reviews.close());
      const errors = await within(5000, 'the held calls', Promise.all(calls));
      const tookMs = performance.now() - started;
      for (const error of errors) assert.ok(error instanceof DependencyError && error.code === 'DEPENDENCY_CLOSED', String(error));
      assert.ok(tookMs < 2000, `closed after ${tookMs.toFixed(0)} ms`);
    });
  });
});
