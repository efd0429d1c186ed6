// The shop with Article 4's circuit breaker around its database ports, in front of a database
// the fault proxy cuts: refused, then blackholed under a short statement timeout.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { FaultProxy } from '../src/lab/fault-proxy/fault-proxy.ts';
import { shopOptionsFromEnv } from '../src/shop/config.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { resolvePatterns, type PatternsInput } from '../src/shop/patterns.ts';
import { startShop, type ShopInstance } from '../src/shop/shop-instance.ts';
import { within } from './helpers/deadline.ts';
import { call, freshDatabase, startTestShop, usePostgres } from './helpers/lab.ts';
import { sample } from './helpers/metrics.ts';

const postgres = usePostgres();

/** Short timeouts and no retries, so that a failure takes one statement timeout at most. */
const breakerPatterns = (breaker: { failureThreshold?: number; recoveryTimeoutMs?: number }, queryTimeoutMs = 300): PatternsInput => ({
  preset: 'resilient',
  queryTimeoutMs,
  retry: { delaysMs: [] },
  circuitBreaker: { mode: 'local', ...breaker },
});

/** A request and how long its answer took. */
async function timed(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const answer = await within(10_000, `${method} ${path}`, call(url, method, path, body));
  return { ...answer, ms: performance.now() - started };
}

async function metricsOf(shop: ShopInstance): Promise<string> {
  return within(10_000, 'GET /metrics', fetch(`${shop.url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()));
}

describe('the shop with a local circuit breaker', () => {
  let proxy: FaultProxy;
  let viaProxy: DatabaseEndpoint;
  before(async () => {
    const direct = await within(30_000, 'creating a database', freshDatabase(postgres()));
    proxy = new FaultProxy();
    const status = await proxy.addProxy({ name: 'db', upstream: { host: direct.host, port: direct.port } });
    viaProxy = { ...direct, port: status.listen.port };
  });
  afterEach(async () => {
    await proxy.clearFaults();
  });
  after(async () => {
    if (proxy) await within(30_000, 'closing the fault proxy', proxy.close());
  });

  it('opens after 3 refused calls, then answers 503 CIRCUIT_OPEN at once without the database; CB_RECOVERY_TIMEOUT sets when one trial closes it', async () => {
    // Through the instance's env reader, as a lab instance gets it: SHOP_PATTERNS says 30 s,
    // CB_RECOVERY_TIMEOUT says 1 s, and the shop recovers after 1 s.
    const url = `postgresql://${viaProxy.user}:${encodeURIComponent(viaProxy.password ?? '')}@${viaProxy.host}:${viaProxy.port}/${viaProxy.database}`;
    const patterns = resolvePatterns(breakerPatterns({ recoveryTimeoutMs: 30_000 }));
    const options = shopOptionsFromEnv({ DB_WRITER_URL: url, SHOP_PATTERNS: JSON.stringify(patterns), CB_RECOVERY_TIMEOUT: '1' });
    const shop = await within(30_000, 'starting the shop', startShop({ ...options, instanceId: 'i-breaker', connectTimeoutMs: 300 }));
    try {
      await within(20_000, 'the schema', shop.whenInitialised());
      assert.deepEqual(shop.config.patterns.circuitBreaker, { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 1000 });
      assert.equal((await timed(shop.url, 'GET', '/products')).status, 200);

      await proxy.addFault('db', { type: 'refuse' });
      // Reads and writes alike count against the one breaker that guards the database.
      for (const [method, path, body] of [['GET', '/products'], ['POST', '/orders', { product_id: 1, quantity: 1 }], ['GET', '/orders/1']] as const) {
        const failed = await timed(shop.url, method, path, body);
        assert.equal(failed.status, 500, `${method} ${path}: ${JSON.stringify(failed.body)}`);
        assert.equal(failed.body['code'], 'DB_ERROR');
      }
      const errorsWhenOpened = sample(await metricsOf(shop), 'chaos_shop_database_errors_total', { kind: 'connection' });
      assert.ok(errorsWhenOpened >= 3, `three connection failures counted, got ${errorsWhenOpened}`);
      for (const [method, path, body] of [['GET', '/products'], ['GET', '/products/3'], ['POST', '/orders', { product_id: 1, quantity: 1 }], ['GET', '/orders/1']] as const) {
        const rejected = await timed(shop.url, method, path, body);
        assert.equal(rejected.status, 503, `${method} ${path}: ${JSON.stringify(rejected.body)}`);
        assert.equal(rejected.body['code'], 'CIRCUIT_OPEN');
        assert.match(String(rejected.body['error']), /circuit breaker is open/);
        assert.ok(rejected.ms < 100, `${method} ${path} answered in ${rejected.ms.toFixed(1)} ms`);
      }
      // /health/deep is not behind the breaker: it reports the database itself.
      const deep = await timed(shop.url, 'GET', '/health/deep');
      assert.equal(deep.status, 500);
      assert.equal(deep.body['database'], 'error');

      const open = await metricsOf(shop);
      assert.equal(sample(open, 'chaos_shop_circuit_breaker_state', { state: 'OPEN', mode: 'local' }), 1);
      assert.equal(sample(open, 'chaos_shop_circuit_breaker_state', { state: 'CLOSED' }), 0);
      assert.equal(sample(open, 'chaos_shop_circuit_breaker_transitions_total', { from: 'CLOSED', to: 'OPEN' }), 1);
      assert.equal(sample(open, 'chaos_shop_circuit_breaker_rejected_total'), 4);
      assert.equal(sample(open, 'chaos_shop_circuit_breaker_failures_total'), 3);
      assert.equal(sample(open, 'chaos_shop_http_requests_total', { route: '/products', status: '503', source: 'none' }), 1);
      // The rejected calls never reached the database: no new database error beyond the /health/deep ping's.
      assert.equal(sample(open, 'chaos_shop_database_errors_total', { kind: 'connection' }), errorsWhenOpened + 1);

      await proxy.clearFaults();
      // Still open until the recovery timeout (1 s from CB_RECOVERY_TIMEOUT, not SHOP_PATTERNS' 30 s).
      const recovered = await within(8000, 'the circuit closing', (async () => {
        for (;;) {
          const answer = await timed(shop.url, 'GET', '/products');
          if (answer.status === 200) return answer;
          assert.equal(answer.body['code'], 'CIRCUIT_OPEN');
          await delay(100);
        }
      })());
      assert.equal(recovered.status, 200);
      const closed = await metricsOf(shop);
      assert.equal(sample(closed, 'chaos_shop_circuit_breaker_state', { state: 'CLOSED' }), 1);
      assert.equal(sample(closed, 'chaos_shop_circuit_breaker_transitions_total', { from: 'OPEN', to: 'HALF_OPEN' }), 1);
      assert.equal(sample(closed, 'chaos_shop_circuit_breaker_transitions_total', { from: 'HALF_OPEN', to: 'CLOSED' }), 1);
      assert.equal(sample(closed, 'chaos_shop_circuit_breaker_trial_calls_total'), 1);
    } finally {
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('blackholed: opens after 3 statement timeouts, fails fast far under the timeout, and in HALF_OPEN lets exactly one trial through', async () => {
    const queryTimeoutMs = 600;
    const shop = await within(
      30_000,
      'starting the shop',
      startTestShop(postgres(), { patterns: resolvePatterns(breakerPatterns({ recoveryTimeoutMs: 1500 }, queryTimeoutMs)), writer: viaProxy, connectTimeoutMs: queryTimeoutMs }),
    );
    try {
      assert.equal((await timed(shop.url, 'GET', '/products')).status, 200);
      await proxy.addFault('db', { type: 'blackhole' });
      for (let i = 0; i < 3; i++) {
        const failed = await timed(shop.url, 'GET', '/products/2');
        assert.equal(failed.status, 500, JSON.stringify(failed.body));
        assert.ok(failed.ms >= queryTimeoutMs * 0.9, `the failure waited for the timeout: ${failed.ms.toFixed(0)} ms`);
      }
      const fast: number[] = [];
      for (let i = 0; i < 10; i++) {
        const rejected = await timed(shop.url, 'GET', '/products/2');
        assert.equal(rejected.body['code'], 'CIRCUIT_OPEN');
        fast.push(rejected.ms);
      }
      assert.ok(Math.max(...fast) < queryTimeoutMs / 6, `503 in at most ${Math.max(...fast).toFixed(1)} ms, against a ${queryTimeoutMs} ms timeout`);

      // Past the recovery timeout, with the database still blackholed: of 6 concurrent requests one
      // is the trial (it waits for the timeout and fails), the others are refused while it is in flight.
      await delay(1600);
      const burst = await Promise.all(Array.from({ length: 6 }, () => timed(shop.url, 'GET', '/products/2')));
      const trials = burst.filter((answer) => answer.status === 500);
      const refused = burst.filter((answer) => answer.body['code'] === 'CIRCUIT_OPEN');
      assert.equal(trials.length, 1, JSON.stringify(burst.map((b) => [b.status, Math.round(b.ms)])));
      assert.equal(refused.length, 5);
      assert.ok(refused.every((answer) => answer.ms < queryTimeoutMs / 2), 'the others did not wait for the trial');
      const metrics = await metricsOf(shop);
      assert.equal(sample(metrics, 'chaos_shop_circuit_breaker_transitions_total', { from: 'HALF_OPEN', to: 'OPEN' }), 1, 'the failed trial opened it again');
      assert.equal(sample(metrics, 'chaos_shop_circuit_breaker_state', { state: 'OPEN' }), 1);
    } finally {
      await proxy.clearFaults();
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('business answers (404, 409, 422) never trip it, even at a threshold of 1', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres(), { patterns: resolvePatterns(breakerPatterns({ failureThreshold: 1 })) }));
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal((await timed(shop.url, 'GET', '/products/999')).status, 404);
        assert.equal((await timed(shop.url, 'GET', '/orders/999999')).status, 404);
        assert.equal((await timed(shop.url, 'POST', '/orders', { product_id: 999, quantity: 1 })).status, 404);
        assert.equal((await timed(shop.url, 'POST', '/orders', { product_id: 4, quantity: 1000 })).status, 409);
      }
      const key = { 'idempotency-key': 'breaker-test-key-1' };
      const first = await within(10_000, 'an order with a key', call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 1 }, key));
      assert.equal(first.status, 201);
      const reused = await within(10_000, 'the key reused', call(shop.url, 'POST', '/orders', { product_id: 2, quantity: 1 }, key));
      assert.equal(reused.status, 422);
      assert.equal((await timed(shop.url, 'GET', '/products')).status, 200);
      const metrics = await metricsOf(shop);
      assert.equal(sample(metrics, 'chaos_shop_circuit_breaker_state', { state: 'CLOSED' }), 1);
      assert.equal(sample(metrics, 'chaos_shop_circuit_breaker_failures_total'), 0);
      assert.ok(!metrics.includes('chaos_shop_circuit_breaker_transitions_total{'), 'no transition at all');
    } finally {
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('a shared breaker given no services store is refused, naming the field', async () => {
    await assert.rejects(
      startShop({ writer: viaProxy, patterns: resolvePatterns({ circuitBreaker: { mode: 'shared' } }) }),
      /patterns\.circuitBreaker\.mode: shared keeps the breaker's state in the lab's services store, and this shop was given none/,
    );
  });

  it('with the breaker off, /metrics has no breaker series', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres(), { patterns: resolvePatterns('resilient') }));
    try {
      assert.equal(shop.breaker, undefined);
      assert.ok(!(await metricsOf(shop)).includes('chaos_shop_circuit_breaker'));
    } finally {
      await within(30_000, 'closing the shop', shop.close());
    }
  });
});
