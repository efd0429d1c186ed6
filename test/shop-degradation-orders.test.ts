// Article 4's graceful degradation in one shop instance, the orders: the write buffer answers 202 with a
// key that GET /orders/requests/:key follows (pending, confirmed, rejected, dead-lettered, and the later
// orders refused for reusing the key); a queue that refuses too acknowledges nothing, and one that does not
// answer says the outcome is unknown. The rig is test/helpers/degradation-rig.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeDatabase } from '../src/shop/compose.ts';
import { databasePorts } from '../src/shop/database-ports.ts';
import { parseOrderMessage } from '../src/shop/order-message.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import { DEGRADING, follow, get, metricsOf, order, startRig } from './helpers/degradation-rig.ts';
import { within } from './helpers/deadline.ts';
import { call, startTestShop, usePostgres, withClient } from './helpers/lab.ts';
import { sample } from './helpers/metrics.ts';

const postgres = usePostgres();

describe('the shop degrading gracefully (Article 4): orders, the queue, the follow-up', () => {
  it('answers orders 202 with a key that GET /orders/requests/:key follows: pending while queued, confirmed once applied, rejected with a reason', async () => {
    // The graceful preset as it is (a shared breaker in the services store), with short timeouts.
    const rig = await startRig(postgres(), { preset: 'graceful', queryTimeoutMs: 300, retry: { delaysMs: [] }, circuitBreaker: { recoveryTimeoutMs: 500 } });
    try {
      const unknown = await get(rig.shop, '/orders/requests/never-sent');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body['code'], 'ORDER_REQUEST_NOT_FOUND');
      const bad = await get(rig.shop, '/orders/requests/has%20space');
      assert.equal(bad.status, 400);
      assert.equal(bad.body['code'], 'INVALID_KEY');
      assert.match(String(bad.body['error']), /order request key must be an Idempotency-Key: 1 to 255 visible ASCII characters, got "has space"/);

      await rig.proxy.addFault('db', { type: 'refuse' });
      // Four orders: the first three trip the breaker on the refused database, the fourth is refused by it; all four are queued.
      const keys = ['order-a', undefined, 'order-c', 'order-unknown-product'];
      const bodies = [{ product_id: 1, quantity: 2 }, { product_id: 2, quantity: 1 }, { product_id: 3, quantity: 1 }, { product_id: 999, quantity: 1 }];
      const accepted: Array<Record<string, unknown>> = [];
      for (const [i, key] of keys.entries()) {
        const answer = await order(rig.shop, bodies[i], key);
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        accepted.push(answer.body);
      }
      assert.deepEqual(accepted[0], {
        status: 'accepted',
        message: 'order queued for processing',
        product_id: 1,
        quantity: 2,
        served_by: 'i-degrade',
        idempotency_key: 'order-a',
        status_url: '/orders/requests/order-a',
      });
      assert.match(String(accepted[1]?.['idempotency_key']), /^chaos-lab-queued:[0-9a-f-]{36}$/, 'a key made for an order that came without one');
      assert.equal(rig.shop.breaker?.state, 'OPEN');
      const stats = await rig.queue.stats();
      assert.equal(stats.depth, 4);

      const pending = await get(rig.shop, '/orders/requests/order-a');
      assert.deepEqual(pending.body, { idempotency_key: 'order-a', status: 'pending' });
      const generated = await get(rig.shop, String(accepted[1]?.['status_url']));
      assert.equal(generated.body['status'], 'pending');

      // The recovery worker's job, by hand: receive each message, apply it with the shop's own order
      // transaction and the message's key, delete it. (The database is back for the worker.)
      await rig.proxy.clearFaults('db');
      const shopDatabase = composeDatabase(resolvePatterns('resilient'), { writer: rig.database, reader: rig.database, connectTimeoutMs: 2000 });
      try {
        const orders = databasePorts(shopDatabase, { instanceId: 'worker', retriesStatements: true, readYourWrites: false }).orders;
        const applied: number[] = [];
        for (let i = 0; i < 4; i++) {
          const [message] = await within(10_000, 'a receive', rig.queue.receive({ waitTimeMs: 1000 }));
          assert.ok(message, `message ${i + 1} of 4`);
          const parsed = parseOrderMessage(message.body);
          assert.equal(message.key, parsed.key);
          assert.equal(parsed.served_by, 'i-degrade');
          if (parsed.key === 'order-a') {
            // Received (in flight), not applied yet: still pending.
            assert.deepEqual((await get(rig.shop, '/orders/requests/order-a')).body, { idempotency_key: 'order-a', status: 'pending' });
          }
          const outcome = await orders.placeOrder({ productId: parsed.product_id, quantity: parsed.quantity, idempotencyKey: parsed.key });
          applied.push(outcome.httpStatus);
          await rig.queue.deleteMessage(message.receipt);
        }
        assert.deepEqual(applied.sort(), [201, 201, 201, 404]);
      } finally {
        await shopDatabase.close();
      }
      assert.equal((await rig.queue.stats()).depth, 0);

      // The shop's breaker decides when the database is asked again (a follow-up refused meanwhile is a 503 CIRCUIT_OPEN).
      const confirmed = await follow(rig.shop, 'order-a', 'confirmed');
      const placed = confirmed['order'] as Record<string, unknown>;
      assert.equal(placed['product_id'], 1);
      assert.equal(placed['quantity'], 2);
      await follow(rig.shop, String(accepted[1]?.['idempotency_key']), 'confirmed');
      const rejected = await follow(rig.shop, 'order-unknown-product', 'rejected');
      assert.equal(rejected['reason'], 'product not found');
      assert.equal(rejected['http_status'], 404);
      // Applied exactly once: the stock went down by the three orders, once each.
      const stock = await withClient(rig.database, async (client) => (await client.query<{ id: number; stock: number }>('SELECT id, stock FROM products WHERE id IN (1, 2, 3) ORDER BY id')).rows);
      assert.deepEqual(stock.map((row) => row.stock), [100 - 2, 150 - 1, 50 - 1], JSON.stringify(stock));
      const metrics = await metricsOf(rig.shop);
      assert.equal(sample(metrics, 'chaos_shop_write_buffer_sends_total', { result: 'ok' }), 4);
      assert.equal(sample(metrics, 'chaos_shop_http_requests_total', { route: '/orders', status: '202', source: 'queue' }), 4);
    } finally {
      await rig.close();
    }
  });

  it('a dead-lettered order is still pending, and says so', async () => {
    const rig = await startRig(postgres(), DEGRADING);
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      assert.equal((await order(rig.shop, { product_id: 1, quantity: 1 }, 'to-the-dlq')).status, 202);
      const [message] = await within(10_000, 'a receive', rig.queue.receive({ waitTimeMs: 1000 }));
      assert.ok(message);
      await rig.queue.deadLetter(message.receipt, 'test: moved by hand');
      assert.deepEqual((await get(rig.shop, '/orders/requests/to-the-dlq')).body, { idempotency_key: 'to-the-dlq', status: 'pending', dead_lettered: true });
    } finally {
      await rig.close();
    }
  });

  it('with the queue cut too answers 503 QUEUE_UNAVAILABLE and queues nothing: no order acknowledged that is not durable', async () => {
    const rig = await startRig(postgres(), DEGRADING);
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      await rig.proxy.addFault('queue', { type: 'refuse' });
      for (let i = 0; i < 4; i++) {
        const refused = await order(rig.shop, { product_id: 1, quantity: 1 }, `cut-${i}`);
        assert.equal(refused.status, 503, JSON.stringify(refused.body));
        assert.equal(refused.body['code'], 'QUEUE_UNAVAILABLE');
        assert.equal(refused.body['error'], 'database unavailable and queue failed');
      }
      const stats = await rig.queue.stats();
      assert.equal(stats.depth + stats.inFlight + stats.sent, 0, JSON.stringify(stats));
      assert.equal(sample(await metricsOf(rig.shop), 'chaos_shop_write_buffer_sends_total', { result: 'failed' }), 4);
    } finally {
      await rig.close();
    }
  });

  it('a second order queued under a key already used for a different order shows on the follow-up as rejected, beside the first one confirmed', async () => {
    // place_order's 422 for a key reused by a different order recorded nothing (idempotency_keys keeps
    // the first answer only), so the follow-up showed the key's first order, confirmed, and the second
    // 202 ended without a trace for the customer or the audit.
    const rig = await startRig(postgres(), { preset: 'graceful', queryTimeoutMs: 300, retry: { delaysMs: [] }, circuitBreaker: { recoveryTimeoutMs: 500 } });
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      for (const body of [{ product_id: 1, quantity: 2 }, { product_id: 3, quantity: 1 }]) {
        const answer = await order(rig.shop, body, 'one-key');
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
      }
      // The recovery worker's job, by hand, in the order the queue gives the messages.
      await rig.proxy.clearFaults('db');
      const shopDatabase = composeDatabase(resolvePatterns('resilient'), { writer: rig.database, reader: rig.database, connectTimeoutMs: 2000 });
      const applied: Array<{ product_id: number; quantity: number; status: number }> = [];
      try {
        const orders = databasePorts(shopDatabase, { instanceId: 'worker', retriesStatements: true, readYourWrites: false }).orders;
        for (let i = 0; i < 2; i++) {
          const [message] = await within(10_000, 'a receive', rig.queue.receive({ waitTimeMs: 1000 }));
          assert.ok(message, `message ${i + 1} of 2`);
          const parsed = parseOrderMessage(message.body);
          const outcome = await orders.placeOrder({ productId: parsed.product_id, quantity: parsed.quantity, idempotencyKey: parsed.key });
          applied.push({ product_id: parsed.product_id, quantity: parsed.quantity, status: outcome.httpStatus });
          await rig.queue.deleteMessage(message.receipt);
        }
      } finally {
        await shopDatabase.close();
      }
      const [first, second] = applied;
      assert.deepEqual([first?.status, second?.status], [201, 422]);
      const followed = await follow(rig.shop, 'one-key', 'confirmed');
      const placed = followed['order'] as Record<string, unknown>;
      assert.deepEqual([placed['product_id'], placed['quantity']], [first?.product_id, first?.quantity]);
      const conflicts = followed['conflicts'] as Array<Record<string, unknown>>;
      assert.ok(Array.isArray(conflicts), JSON.stringify(followed));
      assert.match(String(conflicts[0]?.['created_at']), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
      assert.deepEqual(
        conflicts.map(({ created_at: _, ...conflict }) => conflict),
        [{ product_id: second?.product_id, quantity: second?.quantity, status: 'rejected', reason: 'Idempotency-Key was already used for a different order', http_status: 422, code: 'IDEMPOTENCY_KEY_REUSED' }],
      );
    } finally {
      await rig.close();
    }
  });

  it('a send that got no answer (a blackholed queue, an answer later than its statement timeout) answers 503 QUEUE_UNCERTAIN with the key to follow; one that never connected stays a plain 503', async () => {
    // A send that timed out was answered like a refused one ("nothing acknowledged") although its
    // INSERT may have run: the worker then placed an order whose customer had been told 503 and,
    // without an Idempotency-Key of their own, had no key to follow it or to send it again safely.
    const rig = await startRig(postgres(), DEGRADING);
    try {
      await rig.proxy.addFault('db', { type: 'refuse' });
      // One order queued: the shop's queue client now holds a connection, which the cut catches mid-statement.
      assert.equal((await order(rig.shop, { product_id: 1, quantity: 1 }, 'before-the-cut')).status, 202);
      await rig.proxy.addFault('queue', { type: 'blackhole' });
      const uncertain = await order(rig.shop, { product_id: 2, quantity: 1 });
      assert.equal(uncertain.status, 503, JSON.stringify(uncertain.body));
      assert.equal(uncertain.body['code'], 'QUEUE_UNCERTAIN');
      assert.equal(uncertain.body['error'], 'database unavailable and queue failed');
      assert.equal(uncertain.body['outcome'], 'unknown');
      const key = String(uncertain.body['idempotency_key']);
      assert.match(key, /^chaos-lab-queued:[0-9a-f-]{36}$/, 'a key made for an order that came without one');
      assert.equal(uncertain.body['status_url'], `/orders/requests/${encodeURIComponent(key)}`);
      // The timed-out connection was destroyed; a new one never finishes its handshake through the
      // blackhole, so no statement went out: a plain 503, nothing to follow.
      const notSent = await order(rig.shop, { product_id: 2, quantity: 1 }, 'never-connected');
      assert.equal(notSent.status, 503, JSON.stringify(notSent.body));
      assert.equal(notSent.body['code'], 'QUEUE_UNAVAILABLE');
      assert.equal(notSent.body['idempotency_key'], undefined);
      await rig.proxy.clearFaults('queue');

      // Every answer of the store 3 s late, past the 2 s statement timeout: the INSERT runs and commits, its answer comes too late.
      assert.equal((await order(rig.shop, { product_id: 1, quantity: 1 }, 'after-the-cut')).status, 202, 'a pooled connection again');
      await rig.proxy.addFault('queue', { type: 'latency', params: { latencyMs: 3000 } });
      const late = await order(rig.shop, { product_id: 4, quantity: 1 }, 'late-answer');
      assert.equal(late.status, 503, JSON.stringify(late.body));
      assert.equal(late.body['code'], 'QUEUE_UNCERTAIN');
      assert.equal(late.body['idempotency_key'], 'late-answer');
      await rig.proxy.clearFaults('queue');
      // It was queued after all: the 503 was right not to say "not queued", and the key follows it.
      assert.equal(await within(10_000, 'stateOfKey', rig.queue.stateOfKey('late-answer')), 'queued');
      assert.deepEqual((await get(rig.shop, '/orders/requests/late-answer')).body, { idempotency_key: 'late-answer', status: 'pending' });
      assert.equal(await within(10_000, 'stateOfKey', rig.queue.stateOfKey('never-connected')), undefined);
    } finally {
      await rig.close();
    }
  });

  it('a key too long for the router gets the shop\'s 400 INVALID_KEY naming its length, not the router\'s own 414 body', async () => {
    // Past maxParamLength (1024) the router answered before any route ran, with Fastify's own body
    // ({error: "Bad Request", code: FST_ERR_MAX_PARAM_LENGTH, statusCode: 414}): setErrorHandler never sees it.
    const shop = await within(30_000, 'starting a shop', startTestShop(postgres()));
    try {
      const key = await within(10_000, 'GET', call(shop.url, 'GET', `/orders/requests/${'k'.repeat(2000)}`));
      assert.equal(key.status, 400, JSON.stringify(key.body));
      assert.deepEqual(key.body, { error: 'order request key must be an Idempotency-Key: 1 to 255 visible ASCII characters, got 2000 characters', code: 'INVALID_KEY', length: 2000 });
      // Just past the key's own limit, the route's validation says the same.
      const long = await within(10_000, 'GET', call(shop.url, 'GET', `/orders/requests/${'k'.repeat(256)}`));
      assert.equal(long.body['code'], 'INVALID_KEY');
      const id = await within(10_000, 'GET', call(shop.url, 'GET', `/products/${'9'.repeat(1500)}`));
      assert.equal(id.status, 400, JSON.stringify(id.body));
      assert.equal(id.body['code'], 'INVALID_ID');
      assert.match(String(id.body['error']), /^product id must be a positive integer up to 2147483647, got 1500 characters$/);
      const badUrl = await within(10_000, 'GET', call(shop.url, 'GET', '/orders/requests/%E0%A4%A'));
      assert.equal(badUrl.status, 400, JSON.stringify(badUrl.body));
      assert.equal(badUrl.body['code'], 'INVALID_URL');
      // Still counted, and the shop still answers.
      const metrics = await within(10_000, 'GET /metrics', fetch(`${shop.url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()));
      assert.equal(sample(metrics, 'chaos_shop_http_requests_total', { status: '400' }), 4, 'three refused by the router, once each, and one by the route');
      assert.equal((await within(10_000, 'GET', call(shop.url, 'GET', '/health'))).status, 200);
    } finally {
      await shop.close();
    }
  });
});
