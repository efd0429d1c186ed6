// The Chaos Shop API contract of Article 1, endpoint by endpoint, on real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SEED_PRODUCTS } from '../src/shop/schema.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import type { ShopInstance } from '../src/shop/shop-instance.ts';
import { call, startTestShop, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();

for (const preset of ['naive', 'resilient'] as const) {
  describe(`the shop API (${preset} patterns)`, () => {
    let shop: ShopInstance;
    before(async () => {
      shop = await startTestShop(postgres(), { patterns: resolvePatterns(preset), instanceId: 'i-0abc', availabilityZone: 'local-b', privateIp: '127.0.0.9' });
    });
    after(async () => {
      await shop?.close();
    });

    it('GET / tells which instance answered', async () => {
      const { status, body } = await call(shop.url, 'GET', '/');
      assert.equal(status, 200);
      assert.deepEqual(body, {
        service: 'chaos-shop',
        instance_id: 'i-0abc',
        availability_zone: 'local-b',
        private_ip: '127.0.0.9',
        status: 'running',
        patterns: preset,
      });
    });

    it('GET /health answers healthy without touching the database', async () => {
      const { status, body } = await call(shop.url, 'GET', '/health');
      assert.equal(status, 200);
      assert.deepEqual(body, { status: 'healthy' });
    });

    it('GET /health/deep reports the database connected with its latency', async () => {
      const { status, body } = await call(shop.url, 'GET', '/health/deep');
      assert.equal(status, 200);
      assert.equal(body['status'], 'healthy');
      assert.equal(body['database'], 'connected');
      assert.equal(typeof body['latency_ms'], 'number');
    });

    it('GET /products lists the ten seeded products by id with prices as numbers', async () => {
      const { status, body } = await call(shop.url, 'GET', '/products');
      assert.equal(status, 200);
      assert.deepEqual(body['products'], SEED_PRODUCTS);
      assert.equal(body['count'], 10);
      assert.equal(body['served_by'], 'i-0abc');
      assert.equal(body['source'], 'database');
      assert.equal(typeof body['db_latency_ms'], 'number');
    });

    it('GET /products/:id returns one product, or 404', async () => {
      const found = await call(shop.url, 'GET', '/products/3');
      assert.equal(found.status, 200);
      assert.deepEqual(found.body, { id: 3, name: 'Mechanical Keyboard', price: 129.99, stock: 50, source: 'database' });
      const missing = await call(shop.url, 'GET', '/products/11');
      assert.equal(missing.status, 404);
      assert.equal(missing.body['error'], 'product not found');
    });

    it('POST /orders confirms an order, decrements stock and records the order in one transaction', async () => {
      const placed = await call(shop.url, 'POST', '/orders', { product_id: 3, quantity: 2 });
      assert.equal(placed.status, 201);
      const order = placed.body;
      assert.equal(typeof order['order_id'], 'number');
      assert.deepEqual(
        { ...order, order_id: 0, created_at: '' },
        {
          order_id: 0,
          product_id: 3,
          product_name: 'Mechanical Keyboard',
          quantity: 2,
          total: 259.98,
          status: 'confirmed',
          created_at: '',
          served_by: 'i-0abc',
        },
      );
      assert.match(String(order['created_at']), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);

      const product = await call(shop.url, 'GET', '/products/3');
      assert.equal(product.body['stock'], 48);

      const fetched = await call(shop.url, 'GET', `/orders/${order['order_id']}`);
      assert.equal(fetched.status, 200);
      assert.deepEqual(fetched.body, {
        order_id: order['order_id'],
        product_id: 3,
        product_name: 'Mechanical Keyboard',
        quantity: 2,
        total: 259.98,
        status: 'confirmed',
        created_at: order['created_at'],
      });
    });

    it('POST /orders answers 409 with available and requested when stock is short, and changes nothing', async () => {
      const before = await call(shop.url, 'GET', '/products/4');
      const refused = await call(shop.url, 'POST', '/orders', { product_id: 4, quantity: 999 });
      assert.equal(refused.status, 409);
      assert.deepEqual(refused.body, { error: 'insufficient stock', available: before.body['stock'], requested: 999 });
      const after = await call(shop.url, 'GET', '/products/4');
      assert.equal(after.body['stock'], before.body['stock']);
    });

    it('POST /orders answers 404 for a product that does not exist, and writes nothing', async () => {
      const writer = shop.config.writer;
      const countBefore = await withClient(writer, async (c) => (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n);
      const missing = await call(shop.url, 'POST', '/orders', { product_id: 999, quantity: 1 });
      assert.equal(missing.status, 404);
      assert.equal(missing.body['error'], 'product not found');
      const countAfter = await withClient(writer, async (c) => (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n);
      assert.equal(countAfter, countBefore);
    });

    it('GET /orders/:id answers 404 for an order that does not exist', async () => {
      const missing = await call(shop.url, 'GET', '/orders/424242');
      assert.equal(missing.status, 404);
      assert.equal(missing.body['error'], 'order not found');
    });

    it('GET /metrics exposes requests by route, status and source, and a latency histogram', async () => {
      await call(shop.url, 'GET', '/products');
      const response = await fetch(`${shop.url}/metrics`);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /chaos_shop_http_requests_total\{[^}]*route="\/products"[^}]*status="200"[^}]*source="database"[^}]*\} \d+/);
      assert.match(text, /chaos_shop_http_request_duration_seconds_bucket\{/);
      assert.match(text, /# TYPE chaos_shop_database_errors_total counter/);
    });
  });
}

describe('schema initialisation', () => {
  it('is idempotent and safe when several instances start at once on the same database', async () => {
    const first = await startTestShop(postgres());
    const writer = first.config.writer;
    // Reset the catalogue, then start five more instances at the same moment.
    await withClient(writer, (c) => c.query('DROP TABLE idempotency_keys, orders, products CASCADE'));
    await first.close();
    const shops = await Promise.all(Array.from({ length: 5 }, (_, i) => startTestShop(postgres(), { writer, instanceId: `i-${i}` })));
    try {
      const rows = await withClient(writer, async (c) => (await c.query('SELECT id, name FROM products ORDER BY id')).rows);
      assert.deepEqual(
        rows,
        SEED_PRODUCTS.map(({ id, name }) => ({ id, name })),
      );
      const next = await withClient(writer, async (c) => (await c.query(`SELECT nextval('products_id_seq')::int AS n`)).rows[0].n);
      assert.equal(next, 11, 'the id sequence continues after the explicit seed ids');
    } finally {
      await Promise.all(shops.map((s) => s.close()));
    }
  });
});
