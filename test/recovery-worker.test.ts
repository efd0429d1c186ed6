// The recovery worker (Article 4's Lambda) over a real queue and a real database: every message
// applied exactly once in effect (redelivered, duplicated, or its worker SIGKILLed mid-message),
// business rejections final, bodies that are not orders dead-lettered, and no receive burnt while
// the fleet's circuit is open.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { RecoveryWorker, type RecoveryWorkerOptions } from '../src/lab/recovery-worker/recovery-worker.ts';
import { RecoveryWorkerProcess } from '../src/lab/recovery-worker/worker-process.ts';
import { DatabaseProxy } from '../src/lab/db-proxy/database-proxy.ts';
import type { PostgresServer } from '../src/lab/postgres/postgres-server.ts';
import {
  PostgresBreakerStore,
  ensureBreakerSchema,
  sharedCircuitBreaker,
  type CircuitBreaker,
} from '../src/resilience/circuit-breaker/index.ts';
import { createQueue, ensureQueueSchema, ORDER_QUEUE_NAME, PostgresQueue, type QueueSettings } from '../src/services/queue/index.ts';
import { isDatabaseUnavailable } from '../src/shop/circuit-breaker-ports.ts';
import { composeCircuitBreaker, composeDatabase, SHOP_BREAKER_NAME } from '../src/shop/compose.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import type { ShopDatabase } from '../src/shop/database/shop-database.ts';
import { databasePorts } from '../src/shop/database-ports.ts';
import { resolvePatterns, type Patterns } from '../src/shop/patterns.ts';
import { DatabaseFailure } from '../src/shop/ports.ts';
import { initSchema } from '../src/shop/schema.ts';
import { until, within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';
import { killAll } from './helpers/processes.ts';

const server = usePostgres();

// Scaled SQS timings: a visibility timeout that expires within a test, a short long poll.
const FAST_QUEUE: QueueSettings = { visibilityTimeoutMs: 400, receiveWaitTimeMs: 300, maxReceiveCount: 10 };

/** The worker's database access, as worker-main builds it: the shop's patterns without statement retries. */
function workerPatterns(base: Patterns): Patterns {
  return { ...base, retry: { delaysMs: [] }, readWriteSplit: false };
}

interface Setup {
  shop: DatabaseEndpoint;
  services: DatabaseEndpoint;
  database: ShopDatabase;
  queue: PostgresQueue;
  close(): Promise<void>;
}

/** A fresh shop database (schema, seeded products) and a fresh services database (queue and breaker tables). */
async function setup(db: PostgresServer): Promise<Setup> {
  const shop = await freshDatabase(db);
  await withClient(shop, (client) => initSchema(client));
  const services = await freshDatabase(db);
  await withClient(services, async (client) => {
    await ensureBreakerSchema(client);
    await ensureQueueSchema(client);
    await createQueue(client, ORDER_QUEUE_NAME);
  });
  const database = composeDatabase(workerPatterns(resolvePatterns('resilient')), { writer: shop, reader: shop, connectTimeoutMs: 2000 });
  const queue = new PostgresQueue({ connection: { ...services }, name: ORDER_QUEUE_NAME, settings: FAST_QUEUE });
  return {
    shop,
    services,
    database,
    queue,
    async close() {
      await queue.close();
      await database.close();
    },
  };
}

/** A worker loop over `s`, the shop's order transaction as the apply. */
function worker(s: Setup, options: Partial<RecoveryWorkerOptions> = {}): RecoveryWorker {
  const ports = (servedBy: string) => databasePorts(s.database, { instanceId: servedBy, retriesStatements: false, readYourWrites: false });
  return new RecoveryWorker({
    queue: options.queue ?? new PostgresQueue({ connection: { ...s.services }, name: ORDER_QUEUE_NAME, settings: FAST_QUEUE }),
    applyOrder: (order, servedBy) => ports(servedBy).orders.placeOrder(order),
    ping: () => ports('ping').health.ping(),
    receiveWaitTimeMs: FAST_QUEUE.receiveWaitTimeMs,
    ...options,
  });
}

const orderBody = (key: string, productId: number, quantity: number): string =>
  JSON.stringify({ key, product_id: productId, quantity, served_by: 'i-test', accepted_at: new Date().toISOString() });

async function ordersWithKey(endpoint: DatabaseEndpoint, key: string): Promise<number> {
  return withClient(endpoint, async (client) => Number((await client.query('SELECT count(*) FROM orders WHERE idempotency_key = $1', [key])).rows[0].count));
}

async function stockOf(endpoint: DatabaseEndpoint, productId: number): Promise<number> {
  return withClient(endpoint, async (client) => (await client.query('SELECT stock FROM products WHERE id = $1', [productId])).rows[0].stock as number);
}

describe('the recovery worker', () => {
  let s: Setup;
  before(async () => {
    s = await setup(server());
  });
  after(async () => {
    await s?.close();
  });

  it('applies a message once when its visibility expires during a slow apply, and a duplicate of it as a replay', async () => {
    const key = 'redelivery-1';
    const stockBefore = await stockOf(s.shop, 3);
    await s.queue.send(orderBody(key, 3, 2), { key });
    // Worker A holds the message past its visibility timeout before it applies it: B receives the
    // same message meanwhile (receive count 2) and applies it first. Only A's first apply waits,
    // and on B's commit rather than a fixed time: a duplicate A received later would otherwise be
    // held past its visibility too, and which worker got it was chance (staleReceipts 2).
    let aHasIt!: () => void;
    const aReceived = new Promise<void>((resolve) => (aHasIt = resolve));
    let bCommitted!: () => void;
    const bSettled = new Promise<void>((resolve) => (bCommitted = resolve));
    const ports = databasePorts(s.database, { instanceId: 'i-test', retriesStatements: false, readYourWrites: false });
    let applies = 0;
    const slow = worker(s, {
      applyOrder: async (order) => {
        if (applies++ === 0) {
          aHasIt();
          await within(10_000, 'worker B committing the redelivered message', bSettled);
        }
        return ports.orders.placeOrder(order);
      },
    });
    const fast = worker(s, {
      onEvent: (event) => {
        if (event.type === 'settled' && event.outcome === 'committed') bCommitted();
      },
    });
    const abort = new AbortController();
    const runs: Promise<void>[] = [slow.run(abort.signal)];
    try {
      await within(5000, 'worker A receiving the message', aReceived);
      runs.push(fast.run(abort.signal));
      await until('A settling the message after B', () => slow.counters.replayed === 1, 10_000);
      // A duplicate message with the same key (a shop that queued it twice): a replay, deleted.
      await s.queue.send(orderBody(key, 3, 2), { key });
      await until('the duplicate settled', () => slow.counters.replayed + fast.counters.replayed === 2, 10_000);
    } finally {
      abort.abort();
      await within(10_000, 'the workers stopping', Promise.all(runs));
    }
    assert.equal(fast.counters.committed, 1);
    assert.equal(slow.counters.committed, 0);
    // A's receipt was replaced by B's delivery: its delete was refused, and B's settled the message.
    assert.equal(slow.counters.staleReceipts, 1);
    assert.equal(await ordersWithKey(s.shop, key), 1);
    assert.equal(await stockOf(s.shop, 3), stockBefore - 2);
    const stats = await s.queue.stats();
    assert.deepEqual([stats.depth, stats.inFlight, stats.deadLetters], [0, 0, 0]);
  });

  it('deletes a business rejection (unknown product, not enough stock), records it, and never dead-letters it', async () => {
    const w = worker(s);
    const abort = new AbortController();
    const run = w.run(abort.signal);
    try {
      await s.queue.send(orderBody('reject-404', 999, 1), { key: 'reject-404' });
      await s.queue.send(orderBody('reject-409', 4, 1000), { key: 'reject-409' });
      await until('both rejections settled', () => w.counters.rejected === 2, 10_000);
    } finally {
      abort.abort();
      await within(10_000, 'the worker stopping', run);
    }
    const stats = await s.queue.stats();
    assert.deepEqual([stats.depth, stats.inFlight, stats.deadLetters], [0, 0, 0]);
    assert.equal(await s.queue.stateOfKey('reject-409'), undefined);
    // Final, with its reason, where the follow-up endpoint and the audit find it.
    const recorded = await withClient(s.shop, async (client) =>
      (await client.query("SELECT key, http_status, body->>'error' AS error FROM idempotency_keys WHERE key LIKE 'reject-%' ORDER BY key")).rows,
    );
    assert.deepEqual(recorded, [
      { key: 'reject-404', http_status: 404, error: 'product not found' },
      { key: 'reject-409', http_status: 409, error: 'insufficient stock' },
    ]);
    assert.equal(w.counters.deadLettered, 0);
  });

  it('dead-letters a body that is not an order, with the reason, and carries on', async () => {
    const w = worker(s);
    const abort = new AbortController();
    const run = w.run(abort.signal);
    try {
      await s.queue.send('{"product_id": 1', { key: 'not-json' });
      await s.queue.send(JSON.stringify({ key: 'bad-quantity', product_id: 1, quantity: 0, served_by: 'i-test', accepted_at: new Date().toISOString() }), { key: 'bad-quantity' });
      await s.queue.send(orderBody('after-garbage', 1, 1), { key: 'after-garbage' });
      await until('two dead letters and the good order', () => w.counters.deadLettered === 2 && w.counters.committed === 1, 10_000);
    } finally {
      abort.abort();
      await within(10_000, 'the worker stopping', run);
    }
    const dead = await s.queue.deadLetters();
    assert.deepEqual(dead.map((d) => d.key).sort(), ['bad-quantity', 'not-json']);
    assert.match(dead.find((d) => d.key === 'not-json')!.reason, /message body is not JSON/);
    assert.match(dead.find((d) => d.key === 'bad-quantity')!.reason, /quantity must be an integer between 1 and/);
    // Dead-lettered on its first receive: no redelivery would make it an order.
    assert.ok(dead.every((d) => d.receiveCount === 1));
    assert.equal(await ordersWithKey(s.shop, 'after-garbage'), 1);
    // Leave the file's queue clean for the next test.
    await withClient(s.services, (client) => client.query('DELETE FROM queue_messages'));
  });

  it('leaves a message to redelivery while the database is away at the cost of one receive per outage, pinging rather than receiving until the database is back, then applies it', async () => {
    // The database behind a proxy the test can empty (Article 4's deregistered target).
    const proxy = new DatabaseProxy({ writerAddress: () => ({ host: s.shop.host, port: s.shop.port }), readerAddress: () => undefined }, { borrowTimeoutMs: 1000 });
    await proxy.listen();
    const endpoint = { ...s.shop, host: proxy.writerEndpoint.host, port: proxy.writerEndpoint.port };
    const database = composeDatabase(workerPatterns(resolvePatterns('resilient')), { writer: endpoint, reader: endpoint, connectTimeoutMs: 1000 });
    const patterns = resolvePatterns({ preset: 'resilient', circuitBreaker: { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 300 } });
    const breaker = composeCircuitBreaker(workerPatterns(patterns), { connectTimeoutMs: 1000 })!;
    const ports = databasePorts(database, { instanceId: 'i-test', retriesStatements: false, readYourWrites: false });
    const w = worker(s, { breaker, breakerPollMs: 50, applyOrder: (order) => ports.orders.placeOrder(order), ping: () => ports.health.ping() });
    const abort = new AbortController();
    const run = w.run(abort.signal);
    try {
      // A first order applied: the worker is past its first look at the circuit, receiving.
      await s.queue.send(orderBody('before-outage', 6, 1), { key: 'before-outage' });
      await until('the first order applied', () => w.counters.committed === 1, 5000);
      proxy.deregister();
      await s.queue.send(orderBody('through-outage', 6, 1), { key: 'through-outage' });
      await until('the breaker open', () => breaker.state !== 'CLOSED' && breaker.stats().rejected >= 3, 10_000);
      // One receive for the outage: after the failure the worker pings (the pings open the
      // breaker), it does not receive. Receiving again while the circuit was still CLOSED once
      // cost one receive per failure the breaker needed (its threshold), and a flapping database
      // could push a good order to maxReceiveCount and the dead-letter queue.
      assert.equal(w.counters.received, 1 + 1);
      assert.equal(w.counters.transientFailures, 1);
      const receiveCount = async (key: string): Promise<{ receive_count: number; last_error: string | null }> =>
        withClient(s.services, async (client) => (await client.query('SELECT receive_count, last_error FROM queue_messages WHERE key = $1', [key])).rows[0]);
      const row = await receiveCount('through-outage');
      assert.equal(row.receive_count, 1);
      assert.ok(typeof row.last_error === 'string' && row.last_error.length > 0, `last error recorded: ${row.last_error}`);
      assert.equal(await s.queue.stateOfKey('through-outage'), 'queued');
      proxy.register();
      await until('the order applied once the database is back', () => w.counters.committed === 2, 10_000);
      assert.equal(w.counters.received, 3);
      assert.equal(await ordersWithKey(s.shop, 'through-outage'), 1);

      // A second outage (the database flapping): one more receive for it, not another threshold's worth.
      proxy.deregister();
      await s.queue.send(orderBody('second-outage', 6, 1), { key: 'second-outage' });
      await until('the second order left for redelivery', () => w.counters.transientFailures === 2, 10_000);
      const rejectedBefore = breaker.stats().rejected;
      await until('the breaker open again', () => breaker.state !== 'CLOSED' && breaker.stats().rejected >= rejectedBefore + 3, 10_000);
      assert.equal(w.counters.received, 4);
      assert.equal((await receiveCount('second-outage')).receive_count, 1);
      proxy.register();
      await until('the second order applied', () => w.counters.committed === 3, 10_000);
      assert.equal(w.counters.received, 5);
      assert.equal(w.counters.transientFailures, 2);
    } finally {
      abort.abort();
      await within(10_000, 'the worker stopping', run);
      await database.close();
      await proxy.close();
    }
  });

  it('receives nothing while the fleet\'s circuit is open, and drains as soon as its own trial closes it', async () => {
    // The recovery timeout is far above what reaching the refusals below needs (the waits before
    // them are bound at 3 s + 4 s, for three polls 100 ms apart): at 1.5 s a loaded machine's worker
    // could reach its first poll after it ran out, be the trial at once, and never be refused.
    const recoveryTimeoutMs = 8000;
    const patterns = resolvePatterns({ preset: 'resilient', circuitBreaker: { mode: 'shared', failureThreshold: 3, recoveryTimeoutMs } });
    const stores = [new PostgresBreakerStore({ ...s.services }, { timeoutMs: 2000 }), new PostgresBreakerStore({ ...s.services }, { timeoutMs: 2000 })];
    const breakers: CircuitBreaker[] = [];
    const abort = new AbortController();
    let run: Promise<void> | undefined;
    try {
      // An instance of the fleet sees the database fail three times: the shared circuit opens.
      const fleet = sharedCircuitBreaker({ name: SHOP_BREAKER_NAME, store: stores[0]!, settings: { failureThreshold: 3, recoveryTimeoutMs }, isFailure: isDatabaseUnavailable, storeTimeoutMs: 2000 });
      breakers.push(fleet);
      for (let i = 0; i < 3; i++) {
        await fleet.execute(() => Promise.reject(new DatabaseFailure('writer', 'connection', new Error('connect ECONNREFUSED')))).catch(() => {});
      }
      await until('the circuit open in the store', async () => (await stores[1]!.read(SHOP_BREAKER_NAME)).state === 'OPEN', 3000);
      await s.queue.send(orderBody('after-outage', 2, 1), { key: 'after-outage' });

      const breaker = composeCircuitBreaker(workerPatterns(patterns), { store: stores[1], connectTimeoutMs: 2000 })!;
      breakers.push(breaker);
      const w = worker(s, { breaker, breakerPollMs: 100 });
      run = w.run(abort.signal);
      // The worker has looked at the circuit (and been refused) several times…
      await until('the worker refused by the open circuit', () => breaker.stats().rejected >= 3, 4000);
      // …and burnt no receive meanwhile: the message was never handed out.
      assert.equal(w.counters.received, 0);
      const waiting = await s.queue.stats();
      assert.deepEqual([waiting.depth, waiting.inFlight], [1, 0]);
      // The recovery timeout runs out: the worker's ping is the trial, the circuit closes, the queue drains.
      await until('the order applied', () => w.counters.committed === 1, recoveryTimeoutMs + 10_000);
      assert.equal(w.counters.received, 1);
      assert.equal(w.counters.transientFailures, 0);
      assert.equal((await stores[1]!.read(SHOP_BREAKER_NAME)).state, 'CLOSED');
      assert.equal(await ordersWithKey(s.shop, 'after-outage'), 1);
    } finally {
      abort.abort();
      if (run) await within(10_000, 'the worker stopping', run);
      for (const b of breakers) await b.close();
      for (const store of stores) await store.close();
    }
  });
});

describe('the recovery worker process', () => {
  it('is started again after a SIGKILL mid-message, and the redelivered message is applied once', async () => {
    const s = await setup(server());
    const url = (e: DatabaseEndpoint): string => `postgresql://${e.user}:${encodeURIComponent(e.password ?? '')}@${e.host}:${e.port}/${e.database}`;
    const key = 'killed-mid-message';
    const stockBefore = await stockOf(s.shop, 5);
    // The product's row locked by a transaction of the test's: the worker's order transaction
    // waits on it, in flight, until the test lets go.
    const locker = new pg.Client(s.shop);
    locker.on('error', () => {});
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT stock FROM products WHERE id = 5 FOR UPDATE');
    let launcher: RecoveryWorkerProcess | undefined;
    const pids: number[] = [];
    try {
      await s.queue.send(orderBody(key, 5, 3), { key });
      launcher = await RecoveryWorkerProcess.start({
        env: {
          DB_WRITER_URL: url(s.shop),
          ORDER_QUEUE_URL: url(s.services),
          SERVICES_STORE_URL: url(s.services),
          SHOP_PATTERNS: JSON.stringify(resolvePatterns('graceful')),
          QUEUE_SETTINGS: JSON.stringify({ visibilityTimeoutMs: 1500, receiveWaitTimeMs: 500 }),
        },
        restartDelayMs: 100,
      });
      const first = launcher.pid!;
      pids.push(first);
      await until('the order transaction waiting on the row lock', async () =>
        withClient(s.shop, async (client) => {
          const { rows } = await client.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%place_order%' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
          return rows.length > 0;
        }), 15_000);
      launcher.kill();
      await until('a new worker process', () => launcher!.pid !== undefined && launcher!.pid !== first, 10_000);
      pids.push(launcher.pid!);
      await locker.query('ROLLBACK');
      // The redelivery (after the 1.5 s visibility timeout) settles the message: the killed
      // worker's statement may have committed on its own once the lock went (the server had not
      // noticed its client was gone), and the key makes the second application a replay.
      await until('the message settled by the new worker', async () => {
        const stats = await s.queue.stats();
        return stats.depth === 0 && stats.inFlight === 0 && stats.deleted >= 1;
      }, 15_000);
      assert.equal(await ordersWithKey(s.shop, key), 1);
      assert.equal(await stockOf(s.shop, 5), stockBefore - 3);
      const status = launcher.status();
      assert.equal(status.restarts, 1);
      assert.equal(status.lastExit?.signal, 'SIGKILL');
      assert.equal((await s.queue.stats()).deadLetters, 0);
      await until('the new worker reporting the message', () => launcher!.counters.committed + launcher!.counters.replayed === 1, 5000);
      // SIGTERM: the worker leaves its long poll and exits promptly, by itself.
      const stopping = performance.now();
      await launcher.stop();
      assert.ok(performance.now() - stopping < 3000, `stopped in ${Math.round(performance.now() - stopping)} ms`);
      assert.deepEqual(launcher.status().lastExit, { code: 0, signal: null });
      assert.equal(launcher.status().restarts, 1, 'a stopped worker is not started again');
    } finally {
      await locker.end().catch(() => {});
      await launcher?.stop().catch(() => {});
      killAll(pids);
      await s.close();
    }
  });
});
