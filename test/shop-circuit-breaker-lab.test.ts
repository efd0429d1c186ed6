// A lab of two shop instances sharing one circuit breaker through the services store, reached
// through its own fault-proxy listener: the database cut opens the breaker once for the fleet;
// the store cut fails no request (each instance carries on on local state and says so).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Lab } from '../src/lab/lab.ts';
import { PostgresBreakerStore } from '../src/resilience/circuit-breaker/index.ts';
import { SHOP_BREAKER_NAME } from '../src/shop/compose.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import { within } from './helpers/deadline.ts';
import { call } from './helpers/lab.ts';
import { sample } from './helpers/metrics.ts';

describe('a lab with a shared circuit breaker', () => {
  let dir: string;
  let lab: Lab | undefined;
  let urls: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-shared-breaker-'));
    const patterns = resolvePatterns({ preset: 'resilient', queryTimeoutMs: 500, retry: { delaysMs: [] }, circuitBreaker: { mode: 'shared', recoveryTimeoutMs: 2000 } });
    lab = await within(90_000, 'starting the lab', Lab.start({ dir, instances: 2, patterns }));
    urls = lab.group.instances().map((i) => `http://${i.address!.host}:${i.address!.port}`);
    for (const url of urls) {
      await within(20_000, 'the instance serving', (async () => {
        while ((await call(url, 'GET', '/products')).status !== 200) await delay(100);
      })());
    }
  });
  after(async () => {
    if (lab) await within(60_000, 'closing the lab', lab.close());
    await rm(dir, { recursive: true, force: true });
  });

  const metricsOf = (url: string): Promise<string> =>
    within(10_000, 'GET /metrics', fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()));

  it('runs the services store behind its own fault-proxy listener and tells each instance through SERVICES_STORE_URL', async () => {
    assert.ok(lab!.servicesStore, 'a shared breaker starts the services store');
    const published = await lab!.publish('http://127.0.0.1:1', 'token');
    assert.deepEqual(published.endpoints.servicesStore, lab!.servicesStore.endpoint);
    // The patterns recorded (lab.json, journals) carry no address and no password.
    assert.ok(!JSON.stringify(published.patterns).includes(String(lab!.servicesStore.endpoint.port)));
    const status = await lab!.status();
    const store = status.dependencies.find((d) => d.name === 'services-store');
    assert.deepEqual(store && [store.kind, store.role, store.upstream, store.instanceEnv], ['key-value-store', 'breaker-state', lab!.servicesStore.endpoint, 'SERVICES_STORE_URL']);
    assert.notEqual(store!.listen.port, lab!.servicesStore.endpoint.port);
  });

  it('the database cut: the breaker opens once in the store, and both instances fail fast', async () => {
    const client = lab!.faultProxy.client;
    await client.addFault('db-writer', { type: 'refuse' });
    await client.addFault('db-reader', { type: 'refuse' });
    const store = new PostgresBreakerStore({ ...lab!.servicesStore!.connectionConfig() }, { timeoutMs: 2000 });
    try {
      const [a, b] = urls as [string, string];
      // Instance A meets the outage: at most 3 failures, then the circuit is open.
      const statuses: number[] = [];
      while (statuses.at(-1) !== 503 && statuses.length < 10) statuses.push((await within(10_000, 'GET /products on A', call(a, 'GET', '/products'))).status);
      // Exactly 3: the failure writes run off the request's path, and A counts the failures the
      // store has not acknowledged yet. Regression: A failed fast only once the tripping write
      // returned, and requests failing in ~5 ms meanwhile reached the dead database (500 ×8).
      assert.deepEqual(statuses, [500, 500, 500, 503], `A answered ${statuses.join(', ')}`);
      // Instance B has not called the database once: it learns from the store (its view is at most
      // one refresh interval old) and fails fast too.
      const fromB = await within(5000, 'B failing fast', (async () => {
        for (;;) {
          const started = performance.now();
          const answer = await call(b, 'GET', '/products/1');
          if (answer.body['code'] === 'CIRCUIT_OPEN') return performance.now() - started;
          await delay(100);
        }
      })());
      assert.ok(fromB < 300, `B answered 503 in ${fromB.toFixed(0)} ms`);
      const transitions = await store.transitions(SHOP_BREAKER_NAME);
      assert.deepEqual(transitions.map((t) => `${t.from}->${t.to}`), ['CLOSED->OPEN'], 'opened once, fleet-wide');
      const metricsB = await metricsOf(b);
      assert.equal(sample(metricsB, 'chaos_shop_circuit_breaker_state', { state: 'OPEN', mode: 'shared' }), 1);
      assert.equal(sample(metricsB, 'chaos_shop_circuit_breaker_store_available'), 1);

      // The database back: after the recovery timeout one trial, fleet-wide, closes it.
      await client.clearFaults();
      await within(10_000, 'the circuit closing', (async () => {
        for (;;) {
          const answers = await Promise.all(urls.map((url) => call(url, 'GET', '/products')));
          if (answers.every((answer) => answer.status === 200)) return;
          for (const answer of answers) assert.ok(answer.status === 200 || answer.body['code'] === 'CIRCUIT_OPEN', JSON.stringify(answer.body));
          await delay(200);
        }
      })());
      const after = await store.transitions(SHOP_BREAKER_NAME);
      assert.deepEqual(after.map((t) => `${t.from}->${t.to}`), ['CLOSED->OPEN', 'OPEN->HALF_OPEN', 'HALF_OPEN->CLOSED']);
    } finally {
      await client.clearFaults();
      await store.close();
    }
  });

  it('the services store cut: no request fails; each instance falls back to local state and says so in /metrics', async () => {
    const client = lab!.faultProxy.client;
    // From a known state: both instances see the store, and the circuit CLOSED (the previous
    // test's trial result may still be on its way to an instance).
    await within(10_000, 'both instances CLOSED with their store', (async () => {
      for (;;) {
        for (const url of urls) await call(url, 'GET', '/products');
        const metrics = await Promise.all(urls.map(metricsOf));
        if (metrics.every((m) => sample(m, 'chaos_shop_circuit_breaker_state', { state: 'CLOSED' }) === 1 && sample(m, 'chaos_shop_circuit_breaker_store_available') === 1)) return;
        await delay(200);
      }
    })());
    await client.addFault('services-store', { type: 'blackhole' });
    try {
      const failures: string[] = [];
      let requests = 0;
      await within(15_000, 'both instances falling back', (async () => {
        for (;;) {
          for (const url of urls) {
            for (const path of ['/products', '/products/2']) {
              requests++;
              const answer = await call(url, 'GET', path);
              if (answer.status !== 200) failures.push(`${url}${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
            }
          }
          const metrics = await Promise.all(urls.map(metricsOf));
          if (metrics.every((m) => sample(m, 'chaos_shop_circuit_breaker_store_available') === 0 && sample(m, 'chaos_shop_circuit_breaker_store_fallbacks_total') >= 1)) return;
          await delay(100);
        }
      })());
      assert.deepEqual(failures, [], `of ${requests} requests`);
      const order = await within(10_000, 'an order during the store cut', call(urls[0]!, 'POST', '/orders', { product_id: 1, quantity: 1 }));
      assert.equal(order.status, 201);
      const metrics = await metricsOf(urls[0]!);
      assert.ok(sample(metrics, 'chaos_shop_circuit_breaker_fallback_calls_total') >= 1);
      assert.equal(sample(metrics, 'chaos_shop_circuit_breaker_state', { state: 'CLOSED' }), 1);
    } finally {
      await client.clearFaults();
    }
  });
});
