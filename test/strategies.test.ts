// Article 3's connection strategies and Article 4's initialisation lesson, against a real
// PostgreSQL server that is restarted, stopped and started late under the shop.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { freePort } from '../src/lab/net/free-port.ts';
import { PostgresServer } from '../src/lab/postgres/postgres-server.ts';
import { startShop } from '../src/shop/shop-instance.ts';
import { call, startTestShop, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the time it took. */
async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now() - started;
    await delay(50);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('naive strategy (Article 3 BEFORE)', () => {
  it('breaks when the database restarts and stays broken, while /health still answers', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { strategy: 'naive' });
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      await server.restart('fast');
      // The database is back and accepts new connections, but the instance's one connection is dead.
      await withClient(shop.config.writer, (c) => c.query('SELECT 1'));
      for (let i = 0; i < 5; i++) {
        const products = await call(shop.url, 'GET', '/products');
        assert.equal(products.status, 500);
        assert.equal(products.body['code'], 'DB_ERROR');
        await delay(200);
      }
      const order = await call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 1 });
      assert.equal(order.status, 500);
      const deep = await call(shop.url, 'GET', '/health/deep');
      assert.equal(deep.status, 500);
      assert.equal(deep.body['status'], 'unhealthy');
      assert.equal(deep.body['database'], 'error');
      assert.equal(typeof deep.body['error'], 'string');
      assert.equal((await call(shop.url, 'GET', '/health')).status, 200, 'the shallow check never touches the database');
    } finally {
      await shop.close();
    }
  });
});

describe('resilient strategy (Article 3 AFTER)', () => {
  it('recovers by itself after the database restarts', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { strategy: 'resilient' });
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      await server.restart('fast');
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      assert.equal((await call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 1 })).status, 201);
      assert.equal((await call(shop.url, 'GET', '/health/deep')).status, 200);
    } finally {
      await shop.close();
    }
  });

  it('rides through a short outage within its retry budget (0.5 s + 1 s + 2 s), placing each order once', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { strategy: 'resilient' });
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      // fast, not immediate: no crash recovery at the next start, so the timing below holds on a busy machine.
      await server.stop('fast');
      const started = Date.now();
      const read = call(shop.url, 'GET', '/products');
      const write = call(shop.url, 'POST', '/orders', { product_id: 2, quantity: 3 });
      await delay(1000);
      await server.start();
      const [readResult, writeResult] = await Promise.all([read, write]);
      assert.equal(readResult.status, 200);
      assert.equal(writeResult.status, 201);
      assert.ok(Date.now() - started < 3500 + 1000, 'answered within the retry budget');
      const orders = await withClient(shop.config.writer, async (c) => (await c.query('SELECT count(*)::int AS n FROM orders WHERE product_id = 2')).rows[0].n);
      assert.equal(orders, 1);
      const metrics = await (await fetch(`${shop.url}/metrics`)).text();
      assert.match(metrics, /chaos_shop_database_retries_total\{[^}]*role="writer"[^}]*\} [1-9]/);
    } finally {
      await shop.close();
    }
  });

  it('gives up after three retries when the database stays away, with a JSON 500', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { strategy: 'resilient', retryDelaysMs: [50, 100, 200] });
    try {
      await server.stop('fast');
      const started = Date.now();
      const products = await call(shop.url, 'GET', '/products');
      assert.equal(products.status, 500);
      assert.equal(products.body['code'], 'DB_ERROR');
      assert.ok(Date.now() - started >= 350, 'waited through the three backoffs');
      const metrics = await (await fetch(`${shop.url}/metrics`)).text();
      assert.match(metrics, /chaos_shop_database_retries_total\{[^}]*role="reader"[^}]*\} 3/);
    } finally {
      await shop.close();
      await server.start();
    }
  });
});

describe('initialisation (Article 4)', () => {
  for (const strategy of ['naive', 'resilient'] as const) {
    it(`serves /health at once and picks up a database that comes up late, without a restart (${strategy})`, async () => {
      const port = await freePort();
      const late = await PostgresServer.create({ port });
      const shop = await startShop({
        strategy,
        writer: late.connectionConfig(),
        initInitialDelayMs: 100,
        initMaxDelayMs: 400,
      });
      try {
        assert.equal((await call(shop.url, 'GET', '/health')).status, 200);
        const early = await call(shop.url, 'GET', '/products');
        assert.equal(early.status, 503);
        assert.equal(early.body['code'], 'DB_NOT_READY');
        await delay(500);
        await late.start();
        await waitFor(async () => (await call(shop.url, 'GET', '/products')).status === 200, 5000);
        assert.ok(shop.initializer.state.attempts > 1, 'initialisation was retried');
      } finally {
        await shop.close();
        await late.destroy();
      }
    });
  }

  it('with initMode once, a database that comes up late is never initialised (the trap)', async () => {
    const port = await freePort();
    const late = await PostgresServer.create({ port });
    const shop = await startShop({ writer: late.connectionConfig(), initMode: 'once' });
    try {
      await shop.whenInitialised();
      assert.equal(shop.initializer.state.status, 'failed');
      await late.start();
      const products = await call(shop.url, 'GET', '/products');
      assert.equal(products.status, 503);
      assert.equal(products.body['code'], 'DB_NOT_READY');
    } finally {
      await shop.close();
      await late.destroy();
    }
  });
});
