// Bad input: every malformed request gets a 4xx JSON error naming the problem, never a 500,
// a hang or a partial write.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { ShopInstance } from '../src/shop/shop-instance.ts';
import { call, startTestShop, usePostgres, withClient } from './helpers/lab.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';

const postgres = usePostgres();

interface Case {
  name: string;
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  status: number;
  /** A fragment the error message must contain: it names the problem. */
  message: RegExp;
}

const json = { 'content-type': 'application/json' };

const CASES: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/orders', body: '{"product_id": 1,', headers: json, status: 400, message: /request body is not valid JSON: .+/ },
  { name: 'empty JSON body', method: 'POST', path: '/orders', body: '', headers: json, status: 400, message: /request body is empty/ },
  { name: 'no body at all', method: 'POST', path: '/orders', status: 400, message: /JSON object/ },
  { name: 'a JSON array', method: 'POST', path: '/orders', body: '[1, 2]', headers: json, status: 400, message: /JSON object/ },
  { name: 'JSON null', method: 'POST', path: '/orders', body: 'null', headers: json, status: 400, message: /JSON object/ },
  { name: 'a JSON string', method: 'POST', path: '/orders', body: '"order"', headers: json, status: 400, message: /JSON object/ },
  { name: 'missing product_id', method: 'POST', path: '/orders', body: '{"quantity": 1}', headers: json, status: 400, message: /product_id is required/ },
  { name: 'missing quantity', method: 'POST', path: '/orders', body: '{"product_id": 1}', headers: json, status: 400, message: /quantity is required/ },
  { name: 'product_id as a string', method: 'POST', path: '/orders', body: '{"product_id": "1", "quantity": 1}', headers: json, status: 400, message: /product_id must be an integer, got "1"/ },
  { name: 'quantity as a boolean', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": true}', headers: json, status: 400, message: /quantity must be an integer, got true/ },
  { name: 'quantity as an object', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": {"n": 1}}', headers: json, status: 400, message: /quantity must be an integer/ },
  { name: 'zero quantity', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 0}', headers: json, status: 400, message: /quantity must be between 1 and 1000, got 0/ },
  { name: 'negative quantity', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": -5}', headers: json, status: 400, message: /quantity must be between 1 and 1000, got -5/ },
  { name: 'fractional quantity', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 1.5}', headers: json, status: 400, message: /quantity must be an integer, got 1.5/ },
  { name: 'enormous quantity', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 99999999999999999999}', headers: json, status: 400, message: /quantity must be between 1 and 1000/ },
  { name: 'quantity beyond float range', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 1e400}', headers: json, status: 400, message: /quantity must be an integer/ },
  { name: 'zero product_id', method: 'POST', path: '/orders', body: '{"product_id": 0, "quantity": 1}', headers: json, status: 400, message: /product_id must be between 1/ },
  { name: 'product_id beyond INTEGER', method: 'POST', path: '/orders', body: '{"product_id": 2147483648, "quantity": 1}', headers: json, status: 400, message: /product_id must be between 1 and 2147483647/ },
  { name: 'SQL in product_id', method: 'POST', path: '/orders', body: '{"product_id": "1; DROP TABLE products; --", "quantity": 1}', headers: json, status: 400, message: /product_id must be an integer/ },
  { name: 'prototype pollution', method: 'POST', path: '/orders', body: '{"__proto__": {"x": 1}, "product_id": 1, "quantity": 1}', headers: json, status: 400, message: /forbidden __proto__ or constructor key/ },
  // The error message stringified the bad value, recursing once per level: 5,000 levels overflowed the stack (500).
  { name: 'a 5,000-deep array body', method: 'POST', path: '/orders', body: `${'['.repeat(5000)}${']'.repeat(5000)}`, headers: json, status: 400, message: /JSON object .*got an array/ },
  { name: 'a 5,000-deep array in product_id', method: 'POST', path: '/orders', body: `{"product_id":${'['.repeat(5000)}${']'.repeat(5000)},"quantity":1}`, headers: json, status: 400, message: /product_id must be an integer, got an array/ },
  { name: 'a 5,000-deep array inside an object in quantity', method: 'POST', path: '/orders', body: `{"product_id":1,"quantity":{"n":${'['.repeat(5000)}${']'.repeat(5000)}}}`, headers: json, status: 400, message: /quantity must be an integer, got an object/ },
  { name: 'text/plain body', method: 'POST', path: '/orders', body: 'product_id=1', headers: { 'content-type': 'text/plain' }, status: 415, message: /Unsupported Media Type/i },
  { name: 'oversized body', method: 'POST', path: '/orders', body: JSON.stringify({ product_id: 1, quantity: 1, pad: 'x'.repeat(64 * 1024) }), headers: json, status: 413, message: /too large/i },
  { name: 'empty Idempotency-Key', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 1}', headers: { ...json, 'idempotency-key': '' }, status: 400, message: /Idempotency-Key must be 1 to 255 visible ASCII characters/ },
  { name: 'overlong Idempotency-Key', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 1}', headers: { ...json, 'idempotency-key': 'k'.repeat(256) }, status: 400, message: /Idempotency-Key must be 1 to 255/ },
  { name: 'Idempotency-Key with spaces', method: 'POST', path: '/orders', body: '{"product_id": 1, "quantity": 1}', headers: { ...json, 'idempotency-key': "a' OR '1'='1" }, status: 400, message: /Idempotency-Key must be/ },
  { name: 'product id that is a word', method: 'GET', path: '/products/abc', status: 400, message: /product id must be a positive integer up to 2147483647, got "abc"/ },
  { name: 'product id zero', method: 'GET', path: '/products/0', status: 400, message: /product id must be a positive integer/ },
  { name: 'negative product id', method: 'GET', path: '/products/-1', status: 400, message: /product id must be a positive integer/ },
  { name: 'fractional product id', method: 'GET', path: '/products/1.5', status: 400, message: /product id must be a positive integer/ },
  { name: 'product id beyond INTEGER', method: 'GET', path: '/products/99999999999', status: 400, message: /product id must be a positive integer up to 2147483647/ },
  { name: 'SQL in product id', method: 'GET', path: "/products/1%20OR%201=1", status: 400, message: /product id must be a positive integer/ },
  { name: 'order id that is a word', method: 'GET', path: '/orders/latest', status: 400, message: /order id must be a positive integer/ },
  { name: 'unknown route', method: 'GET', path: '/admin', status: 404, message: /no route GET \/admin/ },
  { name: 'unknown method on a route', method: 'DELETE', path: '/products/1', status: 404, message: /no route DELETE \/products\/1/ },
];

function rawRequest(url: string, method: string, path: string, body: string | undefined, headers: Record<string, string>) {
  return new Promise<{ status: number; text: string; contentType: string }>((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, contentType: String(res.headers['content-type']) }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} hung`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

for (const preset of ['naive', 'resilient'] as const) {
  describe(`bad input (${preset} patterns)`, () => {
    let shop: ShopInstance;
    before(async () => {
      shop = await startTestShop(postgres(), { patterns: resolvePatterns(preset) });
    });
    after(async () => {
      await shop?.close();
    });

    for (const c of CASES) {
      it(`${c.name}: ${c.method} ${c.path} answers ${c.status} with a JSON error`, async () => {
        const response = await rawRequest(shop.url, c.method, c.path, c.body, c.headers ?? {});
        assert.equal(response.status, c.status, response.text);
        assert.match(response.contentType, /application\/json/);
        const body = JSON.parse(response.text) as { error?: unknown; code?: unknown };
        assert.equal(typeof body.error, 'string');
        assert.equal(typeof body.code, 'string');
        assert.match(String(body.error), c.message);
        assert.doesNotMatch(response.text, /\bat .*\.ts:\d+/, 'no stack trace');
      });
    }

    it('none of the bad requests changed stock or created an order', async () => {
      const state = await withClient(shop.config.writer, async (client) => ({
        orders: (await client.query('SELECT count(*)::int AS n FROM orders')).rows[0].n,
        stock: (await client.query('SELECT sum(stock)::int AS n FROM products')).rows[0].n,
      }));
      assert.deepEqual(state, { orders: 0, stock: 840 });
      const products = await call(shop.url, 'GET', '/products');
      assert.equal(products.body['count'], 10, 'the SQL-looking input dropped nothing');
    });
  });
}
