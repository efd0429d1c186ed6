// The shop behind the fault proxy: what each set of patterns does when its database connection
// hangs (a blackhole, the failure that exhausts worker pools).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { FaultProxy } from '../src/lab/fault-proxy/fault-proxy.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import { within } from './helpers/deadline.ts';
import { call, freshDatabase, startTestShop, usePostgres } from './helpers/lab.ts';

const postgres = usePostgres();

describe('a blackholed database', () => {
  let proxy: FaultProxy;
  let direct: DatabaseEndpoint;
  let viaProxy: DatabaseEndpoint;
  before(async () => {
    direct = await within(30_000, 'creating a database', freshDatabase(postgres()));
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

  it('resilient: statements time out and fail with a JSON 500 instead of hanging; the shop recovers when the fault ends', async () => {
    const shop = await within(
      30_000,
      'starting the shop',
      startTestShop(postgres(), { patterns: resolvePatterns({ preset: 'resilient', queryTimeoutMs: 300, retry: { delaysMs: [50, 50, 50] } }), writer: viaProxy, connectTimeoutMs: 300 }),
    );
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      const fault = await proxy.addFault('db', { type: 'blackhole' });
      const started = Date.now();
      const products = await call(shop.url, 'GET', '/products');
      const elapsed = Date.now() - started;
      assert.equal(products.status, 500);
      assert.match(String(products.body['error']), /timeout/i);
      assert.ok(elapsed < 5000, `answered in ${elapsed} ms, not hung`);
      await proxy.removeFault('db', fault.id);
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
    } finally {
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('resilient: connections reset under queries in flight fail those queries, not the process', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres(), { patterns: resolvePatterns({ preset: 'resilient', retry: { delaysMs: [100, 200] } }), writer: viaProxy }));
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      // Hold the answers (far longer than the test needs) so that queries are in flight on
      // checked-out connections when the reset lands; removing the hold releases nothing, the
      // connections being reset by then.
      const hold = await proxy.addFault('db', { type: 'latency', params: { latencyMs: 5000 } });
      const inFlight = Array.from({ length: 8 }, () => call(shop.url, 'GET', '/orders/1').catch((error: Error) => error));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const reset = await proxy.addFault('db', { type: 'reset' });
      await proxy.removeFault('db', hold.id);
      await proxy.clearFaults();
      assert.ok(reset.affectedConnections > 0, `the reset reached the shop's connections: ${JSON.stringify(reset)}`);
      // Every request got an answer (retried on a new connection, or a JSON error): the shop is alive.
      for (const answer of await Promise.all(inFlight)) assert.ok(!(answer instanceof Error) && [200, 404, 500].includes(answer.status), String(answer));
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      // The reset hit queries in flight, not only idle connections: the shop retried statements
      // that lost their connection (it retries only those).
      const metrics = await within(15_000, 'GET /metrics', fetch(`${shop.url}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text()));
      const retries = [...metrics.matchAll(/^chaos_shop_database_retries_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
      assert.ok(retries > 0, `statements retried after the reset: ${retries}`);
    } finally {
      await within(30_000, 'closing the shop', shop.close());
    }
  });

  it('naive: a request hangs for as long as the blackhole lasts (the client gives up first)', async () => {
    const shop = await within(30_000, 'starting the shop', startTestShop(postgres(), { patterns: resolvePatterns('naive'), writer: viaProxy }));
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      const fault = await proxy.addFault('db', { type: 'blackhole' });
      const response = await fetch(`${shop.url}/products`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.status,
        (error: Error) => error.name,
      );
      assert.equal(response, 'TimeoutError');
      await proxy.removeFault('db', fault.id);
    } finally {
      await within(30_000, 'closing the shop', shop.close());
    }
  });
});
