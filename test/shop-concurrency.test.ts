// Concurrent orders and the Idempotency-Key contract, on real PostgreSQL.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { call, freshDatabase, startTestShop, usePostgres, withClient } from './helpers/lab.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';

const postgres = usePostgres();

for (const preset of ['naive', 'resilient'] as const) {
  describe(`concurrent orders (${preset} patterns)`, () => {
    it('100 concurrent orders of 1 for a product with stock 50 give exactly 50 × 201 and 50 × 409', async () => {
      const shop = await startTestShop(postgres(), { patterns: resolvePatterns(preset) });
      try {
        // Mechanical Keyboard (id 3) is seeded with stock 50.
        const results = await Promise.all(
          Array.from({ length: 100 }, () => call(shop.url, 'POST', '/orders', { product_id: 3, quantity: 1 })),
        );
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 201).length, 50);
        assert.equal(statuses.filter((s) => s === 409).length, 50);
        const ids = new Set(results.filter((r) => r.status === 201).map((r) => r.body['order_id']));
        assert.equal(ids.size, 50, 'every confirmed order has its own id');

        const state = await withClient(shop.config.writer, async (client) => ({
          stock: (await client.query('SELECT stock FROM products WHERE id = 3')).rows[0].stock,
          orders: (await client.query('SELECT count(*)::int AS n FROM orders WHERE product_id = 3')).rows[0].n,
        }));
        assert.deepEqual(state, { stock: 0, orders: 50 });
      } finally {
        await shop.close();
      }
    });
  });
}

describe('Idempotency-Key', () => {
  it('a repeated key returns the first answer and creates no second order', async () => {
    const shop = await startTestShop(postgres());
    try {
      const key = randomUUID();
      const first = await call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 2 }, { 'idempotency-key': key });
      const second = await call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 2 }, { 'idempotency-key': key });
      assert.equal(first.status, 201);
      assert.equal(second.status, 201);
      assert.deepEqual(second.body, first.body);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      const stock = await call(shop.url, 'GET', '/products/1');
      assert.equal(stock.body['stock'], 98);
    } finally {
      await shop.close();
    }
  });

  it('a repeated key replays a 409 too, even after stock was added', async () => {
    const shop = await startTestShop(postgres());
    try {
      const key = randomUUID();
      const first = await call(shop.url, 'POST', '/orders', { product_id: 4, quantity: 31 }, { 'idempotency-key': key });
      assert.equal(first.status, 409);
      await withClient(shop.config.writer, (c) => c.query('UPDATE products SET stock = 100 WHERE id = 4'));
      const second = await call(shop.url, 'POST', '/orders', { product_id: 4, quantity: 31 }, { 'idempotency-key': key });
      assert.equal(second.status, 409);
      assert.deepEqual(second.body, first.body);
    } finally {
      await shop.close();
    }
  });

  it('a key reused for a different order is refused with 422 and changes nothing', async () => {
    const shop = await startTestShop(postgres());
    try {
      const key = randomUUID();
      await call(shop.url, 'POST', '/orders', { product_id: 2, quantity: 1 }, { 'idempotency-key': key });
      const reused = await call(shop.url, 'POST', '/orders', { product_id: 2, quantity: 5 }, { 'idempotency-key': key });
      assert.equal(reused.status, 422);
      assert.equal(reused.body['code'], 'IDEMPOTENCY_KEY_REUSED');
      assert.match(String(reused.body['error']), /different order/);
      const stock = await call(shop.url, 'GET', '/products/2');
      assert.equal(stock.body['stock'], 149);
    } finally {
      await shop.close();
    }
  });

  it('concurrent duplicates on two instances create exactly one order per key', async () => {
    const server = postgres();
    const writer = await freshDatabase(server);
    const a = await startTestShop(server, { writer, instanceId: 'i-a', patterns: resolvePatterns('resilient') });
    const b = await startTestShop(server, { writer, instanceId: 'i-b', patterns: resolvePatterns('naive') });
    try {
      const keys = Array.from({ length: 10 }, () => randomUUID());
      // Each key sent 10 times at once, alternating between the two instances.
      const requests = keys.flatMap((key, k) =>
        Array.from({ length: 10 }, (_, i) =>
          call(i % 2 === 0 ? a.url : b.url, 'POST', '/orders', { product_id: (k % 10) + 1, quantity: 1 }, { 'idempotency-key': key }).then(
            (response) => ({ key, response }),
          ),
        ),
      );
      const results = await Promise.all(requests);
      for (const key of keys) {
        const answers = results.filter((r) => r.key === key).map((r) => r.response);
        assert.ok(answers.every((r) => r.status === 201), `all duplicates of ${key} answered 201`);
        const orderIds = new Set(answers.map((r) => r.body['order_id']));
        assert.equal(orderIds.size, 1, `all duplicates of ${key} got the same order`);
        assert.equal(answers.filter((r) => r.headers.get('idempotent-replayed') === null).length, 1, 'exactly one original answer');
      }
      const counts = await withClient(writer, async (client) => ({
        orders: (await client.query('SELECT count(*)::int AS n FROM orders')).rows[0].n,
        stockTaken: 840 - (await client.query('SELECT sum(stock)::int AS n FROM products')).rows[0].n,
      }));
      assert.deepEqual(counts, { orders: 10, stockTaken: 10 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
