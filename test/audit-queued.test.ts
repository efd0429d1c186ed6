// The audit of acknowledged-before-committed orders (the write buffer's 202s) on real parts: a
// real PostgreSQL database with the shop's schema and place_order, the real queue, the real
// traffic generator. A 202 must end committed, rejected with a reason, dead-lettered or still
// queued; one that ended nowhere is lost.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import pg from 'pg';
import { OrderLedger, type LedgerEntry } from '../src/audit/ledger.ts';
import { auditBaseline, auditOrders } from '../src/audit/order-audit.ts';
import { QueueSampler } from '../src/chaos/degradation.ts';
import { ensureQueueSchema } from '../src/services/queue/queue-schema.ts';
import { ORDER_QUEUE_NAME, PostgresQueue } from '../src/services/queue/postgres-queue.ts';
import { initSchema } from '../src/shop/schema.ts';
import { runTraffic } from '../src/traffic/traffic-generator.ts';
import { within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres } from './helpers/lab.ts';

const postgres = usePostgres();

/** A fresh database with the shop's tables and place_order, and the queue's tables beside them. */
async function shopDatabase(): Promise<{ db: pg.Client; queue: PostgresQueue }> {
  const endpoint = await freshDatabase(postgres());
  const db = new pg.Client({ ...endpoint, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
  db.on('error', () => {});
  await db.connect();
  await initSchema(db);
  await ensureQueueSchema(db);
  const queue = new PostgresQueue({ connection: endpoint, name: ORDER_QUEUE_NAME, settings: { visibilityTimeoutMs: 60_000, receiveWaitTimeMs: 0, maxReceiveCount: 10 } });
  return { db, queue };
}

const entry = (key: string, status: number, productId = 1, quantity = 1): LedgerEntry => ({ key, productId, quantity, sentAt: 0, answeredAt: 0, status, orderId: null });

/** Applies an order as the recovery worker does: place_order with the message's key. */
async function placeOrder(db: pg.Client, key: string, productId: number, quantity: number): Promise<number> {
  const { rows } = await db.query<{ http_status: number }>('SELECT http_status FROM place_order($1, $2, $3, $4)', [productId, quantity, key, 'recovery-worker']);
  return rows[0]!.http_status;
}

describe('the audit of queued (202) orders', () => {
  it('finds every 202 lost when a shop acknowledges orders into a queue it never writes to', async () => {
    // The audit used to skip every 202 ("may not be in the database yet"), so a write buffer that
    // dropped its messages passed a clean audit.
    const { db, queue } = await within(30_000, 'preparing the database', shopDatabase());
    // A write buffer that drops everything: 202 with the follow-up, and no message sent.
    const dropping = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        if (request.method !== 'POST') {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{"products":[],"source":"cache"}');
          return;
        }
        const key = String(request.headers['idempotency-key'] ?? '');
        response
          .writeHead(202, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'accepted', message: 'order queued for processing', idempotency_key: key, status_url: `/orders/requests/${key}` }));
      });
    });
    try {
      dropping.listen(0, '127.0.0.1');
      await once(dropping, 'listening', { signal: AbortSignal.timeout(5000) });
      const address = dropping.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const baseline = await auditBaseline(db);
      const ledger = new OrderLedger();
      const result = await runTraffic({ url, durationMs: 1000, readsPerSecond: 5, writesPerSecond: 12, productId: 1, ledger });
      assert.ok(result.writes.queued >= 8, `the generator counts 202s as queued: ${JSON.stringify(result.writes)}`);
      assert.equal(result.writes.fail, 0, 'the client saw nothing wrong');
      assert.equal(result.reads.bySource['cache'], result.reads.ok, 'reads counted by their source');
      const audit = await auditOrders(db, ledger.entries, baseline, queue);
      assert.equal(audit.queued, result.writes.queued);
      assert.equal(audit.acknowledged, result.writes.queued);
      assert.equal(audit.lost, result.writes.queued, 'every acknowledged order that is neither in the database nor in the queue is lost');
      assert.deepEqual([...audit.details.lost].sort(), ledger.entries.map((e) => e.key).sort());
      assert.equal(audit.committedFromQueue + audit.rejectedAfterAcceptance + audit.deadLettered + audit.stillQueued, 0);
      assert.equal(audit.stockConserved, true, 'nothing was taken, nothing was ordered');
    } finally {
      dropping.closeAllConnections();
      dropping.close();
      await within(10_000, 'closing the queue', queue.close()).catch(() => {});
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });

  it('a 202 ends committed, rejected with its reason, dead-lettered or still queued, and only one that ended nowhere is lost', async () => {
    const { db, queue } = await within(30_000, 'preparing the database', shopDatabase());
    try {
      const baseline = await auditBaseline(db);
      // Committed by the worker, and a 201 the shop committed itself.
      assert.equal(await placeOrder(db, 'queued-committed', 1, 2), 201);
      assert.equal(await placeOrder(db, 'direct-201', 2, 1), 201);
      // Business rejections place_order records with their answer: final, never lost.
      assert.equal(await placeOrder(db, 'queued-stock-out', 3, 1000), 409);
      assert.equal(await placeOrder(db, 'queued-no-product', 999, 1), 404);
      // A message that was not an order: dead-lettered with its reason.
      await queue.send('{"not":"an order"}', { key: 'queued-dead' });
      const [message] = await queue.receive({ waitTimeMs: 0 });
      assert.equal(message?.key, 'queued-dead');
      await queue.deadLetter(message.receipt, 'not an order: product_id is missing');
      // Still waiting for the worker.
      await queue.send('{"key":"queued-waiting","product_id":1,"quantity":1}', { key: 'queued-waiting' });
      const ledger = [
        entry('queued-committed', 202, 1, 2),
        entry('direct-201', 201, 2, 1),
        entry('queued-stock-out', 202, 3, 1000),
        entry('queued-no-product', 202, 999, 1),
        entry('queued-dead', 202),
        entry('queued-waiting', 202),
        entry('queued-nowhere', 202),
        entry('refused-503', 503),
      ];
      const audit = await auditOrders(db, ledger, baseline, queue);
      assert.equal(audit.acknowledged, 7);
      assert.equal(audit.queued, 6);
      assert.equal(audit.committedFromQueue, 1);
      assert.equal(audit.rejectedAfterAcceptance, 2);
      assert.deepEqual(audit.rejectedReasons, { 'insufficient stock': 1, 'product not found': 1 });
      assert.deepEqual(
        audit.details.rejectedAfterAcceptance.map((r) => [r.key, r.status, r.reason]),
        [
          ['queued-stock-out', 409, 'insufficient stock'],
          ['queued-no-product', 404, 'product not found'],
        ],
      );
      assert.equal(audit.deadLettered, 1);
      assert.deepEqual(audit.details.deadLettered, [{ key: 'queued-dead', reason: 'not an order: product_id is missing' }]);
      assert.equal(audit.stillQueued, 1);
      assert.deepEqual(audit.details.stillQueued, ['queued-waiting']);
      assert.equal(audit.lost, 1);
      assert.deepEqual(audit.details.lost, ['queued-nowhere']);
      assert.equal(audit.phantom, 0, 'a rejection is not an order');
      assert.equal(audit.duplicated, 0);
      assert.deepEqual(audit.ambiguous, { committed: 0, notCommitted: 1, stillQueued: 0, deadLettered: 0 });
      assert.equal(audit.stockConserved, true, JSON.stringify(audit.details.stockMismatch));
      // Without the queue to ask, the dead-lettered and the waiting ones cannot be told from lost.
      const blind = await auditOrders(db, ledger, baseline);
      assert.equal(blind.lost, 3);
    } finally {
      await within(10_000, 'closing the queue', queue.close()).catch(() => {});
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });

  it('a second order queued under a key already used for a different order ends rejected after acceptance, not committed', async () => {
    // The audit counted the orders under a 202's key without looking at what they were: the worker's
    // 422 for a key reused by a different order left the key's first order in place, and the second
    // 202 passed as committed (and a 4xx or 5xx sent with the key as a phantom or a commit).
    const { db, queue } = await within(30_000, 'preparing the database', shopDatabase());
    try {
      const baseline = await auditBaseline(db);
      // Two orders queued under one key (both answered 202); the worker applies the first, then is refused the second.
      assert.equal(await placeOrder(db, 'shared-key', 1, 2), 201);
      assert.equal(await placeOrder(db, 'shared-key', 3, 1), 422);
      // A redelivery of the refused message is refused again and recorded once.
      assert.equal(await placeOrder(db, 'shared-key', 3, 1), 422);
      const { rows } = await db.query<{ product_id: number; quantity: number }>("SELECT product_id, quantity FROM key_conflicts WHERE key = 'shared-key'");
      assert.deepEqual(rows, [{ product_id: 3, quantity: 1 }]);
      // A third order under another used key, still waiting for the worker: not settled, and not committed either.
      assert.equal(await placeOrder(db, 'other-key', 2, 1), 201);
      await queue.send('{"key":"other-key","product_id":4,"quantity":1}', { key: 'other-key' });
      const ledger = [
        entry('shared-key', 202, 1, 2),
        entry('shared-key', 202, 3, 1),
        entry('other-key', 202, 2, 1),
        entry('other-key', 202, 4, 1),
        // Told 422 at once, and a timeout, under a key whose order is another one: neither placed anything.
        entry('shared-key', 422, 5, 1),
        entry('shared-key', 0, 6, 1),
      ];
      const audit = await auditOrders(db, ledger, baseline, queue);
      assert.equal(audit.queued, 4);
      assert.equal(audit.committedFromQueue, 2, 'the first order of each key');
      assert.equal(audit.rejectedAfterAcceptance, 1);
      assert.deepEqual(audit.details.rejectedAfterAcceptance, [{ key: 'shared-key', status: 422, reason: 'Idempotency-Key was already used for a different order' }]);
      assert.deepEqual(audit.rejectedReasons, { 'Idempotency-Key was already used for a different order': 1 });
      assert.deepEqual(audit.details.stillQueued, ['other-key']);
      assert.equal(audit.lost, 0);
      assert.equal(audit.phantom, 0, "the key's order is not the 422's");
      assert.deepEqual(audit.ambiguous, { committed: 0, notCommitted: 1, stillQueued: 0, deadLettered: 0 });
      assert.equal(audit.duplicated, 0);
      assert.equal(audit.stockConserved, true, JSON.stringify(audit.details.stockMismatch));
      // The waiting one, dropped instead of applied: lost, not committed.
      const [message] = await queue.receive({ waitTimeMs: 0 });
      await queue.deleteMessage(message!.receipt);
      const dropped = await auditOrders(db, ledger, baseline, queue);
      assert.deepEqual(dropped.details.lost, ['other-key']);
      assert.equal(dropped.committedFromQueue, 2);
    } finally {
      await within(10_000, 'closing the queue', queue.close()).catch(() => {});
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });

  it("the audit's wait for the queue gives up at its bound, and says so, when a message is never applied", async () => {
    const { db, queue } = await within(30_000, 'preparing the database', shopDatabase());
    const sampler = new QueueSampler(queue, 50);
    try {
      await queue.send('{"key":"k","product_id":1,"quantity":1}', { key: 'k' });
      const gaveUp = await within(10_000, 'the bounded wait', sampler.waitUntilIdle(300));
      assert.equal(gaveUp.idle, false);
      // It kept looking until its limit, then gave up (within() bounds "never returned" generously).
      assert.ok(gaveUp.waitedMs >= 300, `waited ${gaveUp.waitedMs} ms, at least its limit`);
      assert.ok(sampler.samples.length >= 2, `sampled more than once before giving up: ${sampler.samples.length}`);
      const [message] = await queue.receive({ waitTimeMs: 0 });
      assert.equal((await within(10_000, 'the bounded wait', sampler.waitUntilIdle(300))).idle, false, 'in flight is not idle');
      await queue.deleteMessage(message!.receipt);
      const before = sampler.samples.length;
      const idle = await within(10_000, 'the bounded wait', sampler.waitUntilIdle(5000));
      assert.equal(idle.idle, true);
      // Idle at once: its first sample showed nothing queued or in flight, so it never slept.
      assert.equal(sampler.samples.length, before + 1, `one sample: ${idle.waitedMs} ms`);
      assert.ok(sampler.samples.length >= 3 && sampler.failedSamples === 0);
    } finally {
      await sampler.stop();
      await within(10_000, 'closing the queue', queue.close()).catch(() => {});
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });

  it('finds an order filed under a key the client never sent (an order applied twice under a second key), although its stock balances', async () => {
    // orders.idempotency_key is UNIQUE, so "duplicated" (more than one order under a ledger key)
    // can never exceed 0, and an order applied a second time under another key took its own stock:
    // stock conservation balanced and the audit, which only looked up the ledger's keys, passed.
    const { db, queue } = await within(30_000, 'preparing the database', shopDatabase());
    // A shop that places every order with the client's key, and the third one a second time under a key of its own.
    let placed = 0;
    const doubling = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        void (async () => {
          if (request.method !== 'POST') {
            response.writeHead(200, { 'content-type': 'application/json' }).end('{"products":[],"source":"database"}');
            return;
          }
          const key = String(request.headers['idempotency-key'] ?? '');
          const status = await placeOrder(db, key, 1, 1);
          if (++placed === 3) await placeOrder(db, 'second-key-for-the-same-order', 1, 1);
          response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ idempotency_key: key }));
        })().catch(() => response.writeHead(500).end('{"error":"test shop failed"}'));
      });
    });
    try {
      doubling.listen(0, '127.0.0.1');
      await once(doubling, 'listening', { signal: AbortSignal.timeout(5000) });
      const address = doubling.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const baseline = await auditBaseline(db);
      const ledger = new OrderLedger();
      const result = await runTraffic({ url, durationMs: 1000, readsPerSecond: 2, writesPerSecond: 8, productId: 1, ledger });
      assert.ok(result.writes.ok >= 3, `the shop confirmed the orders: ${JSON.stringify(result.writes)}`);
      const audit = await auditOrders(db, ledger.entries, baseline, queue);
      assert.deepEqual([audit.lost, audit.duplicated, audit.phantom], [0, 0, 0], 'every acknowledged order is there once under its own key');
      assert.equal(audit.stockConserved, true, 'the second application took its own stock: conservation cannot see it');
      assert.equal(audit.unexplained, 1);
      assert.deepEqual(
        audit.details.unexplained.map((u) => [u.key, u.productId, u.quantity]),
        [['second-key-for-the-same-order', 1, 1]],
      );
    } finally {
      doubling.closeAllConnections();
      doubling.close();
      await within(10_000, 'closing the queue', queue.close()).catch(() => {});
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });

  it('an ambiguous answer whose message is still in the queue is counted as still queued or dead-lettered, not as not committed', async () => {
    // An ambiguous answer (a 5xx, a timeout) with no order under its key counted as not committed,
    // although the shop's send may have gone through with the answer lost: the order may yet be applied.
    const { db, queue } = await within(30_000, 'preparing the database', shopDatabase());
    try {
      const baseline = await auditBaseline(db);
      await queue.send('{"key":"uncertain-queued","product_id":1,"quantity":1}', { key: 'uncertain-queued' });
      await queue.send('{"key":"uncertain-dead","product_id":1,"quantity":1}', { key: 'uncertain-dead' });
      const received = await queue.receive({ maxMessages: 10, waitTimeMs: 0 });
      const dead = received.find((m) => m.key === 'uncertain-dead')!;
      await queue.deadLetter(dead.receipt, 'test');
      const queued = received.find((m) => m.key === 'uncertain-queued')!;
      await queue.changeVisibility(queued.receipt, 0);
      const ledger = [entry('uncertain-queued', 503), entry('uncertain-dead', 0), entry('uncertain-nowhere', 504)];
      const audit = await auditOrders(db, ledger, baseline, queue);
      assert.deepEqual(audit.ambiguous, { committed: 0, notCommitted: 1, stillQueued: 1, deadLettered: 1 });
      assert.deepEqual(
        [...audit.details.ambiguousInQueue].sort((a, b) => a.key.localeCompare(b.key)),
        [
          { key: 'uncertain-dead', state: 'dead-letter' },
          { key: 'uncertain-queued', state: 'queued' },
        ],
      );
      assert.equal(audit.acknowledged, 0, 'an ambiguous answer is never an acknowledgement');
    } finally {
      await within(10_000, 'closing the queue', queue.close()).catch(() => {});
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });

  it("audits a database the instances never created (init-race's BEFORE): nothing committed, stock untouched", async () => {
    const endpoint = await freshDatabase(postgres());
    const db = new pg.Client({ ...endpoint, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
    db.on('error', () => {});
    try {
      await db.connect();
      const baseline = await auditBaseline(db);
      assert.equal(baseline.maxOrderId, 0);
      assert.equal(baseline.stock.get(1), 100, 'the stock the instances will seed');
      const audit = await auditOrders(db, [entry('refused', 500), entry('told-201', 201)], baseline);
      assert.deepEqual({ lost: audit.lost, notCommitted: audit.ambiguous.notCommitted, stockConserved: audit.stockConserved }, { lost: 1, notCommitted: 1, stockConserved: true });
    } finally {
      await within(10_000, 'closing the database connection', db.end()).catch(() => {});
    }
  });
});
