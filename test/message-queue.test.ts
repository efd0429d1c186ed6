// The order queue's SQS semantics on a real PostgreSQL server, with scaled timings (visibility
// timeouts of a few hundred ms): redelivery, long polling, the dead-letter queue, redrive,
// receipts, metrics, and a store that stops answering.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import pg from 'pg';
import { FaultProxy } from '../src/lab/fault-proxy/index.ts';
import { ServicesStore } from '../src/lab/services-store/index.ts';
import {
  DEAD_LETTER_PREVIEW_CHARS,
  MAX_MESSAGE_BYTES,
  MAX_REASON_CHARS,
  ORDER_QUEUE_NAME,
  PostgresQueue,
  QueueError,
  createQueue,
  ensureQueueSchema,
  type PostgresQueueOptions,
  type QueueErrorCode,
  type ReceivedMessage,
} from '../src/services/index.ts';
import type { DatabaseEndpoint } from '../src/shop/database/queryable.ts';
import { until, within } from './helpers/deadline.ts';
import { freshDatabase, usePostgres, withClient } from './helpers/lab.ts';

const postgres = usePostgres();
const opened: PostgresQueue[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((queue) => queue.close()));
});

async function freshQueueDatabase(): Promise<DatabaseEndpoint> {
  const endpoint = await freshDatabase(postgres());
  await withClient(endpoint, (client) => ensureQueueSchema(client));
  return endpoint;
}

function openQueue(connection: DatabaseEndpoint, options: Partial<PostgresQueueOptions> = {}): PostgresQueue {
  const queue = new PostgresQueue({ connection, name: 'orders-test', ...options });
  opened.push(queue);
  return queue;
}

async function newQueue(options: Partial<PostgresQueueOptions> = {}): Promise<PostgresQueue> {
  return openQueue(await freshQueueDatabase(), options);
}

function isQueueError(code: QueueErrorCode): (error: unknown) => boolean {
  return (error) => error instanceof QueueError && error.code === code;
}

async function receiveOne(queue: PostgresQueue, options: Parameters<PostgresQueue['receive']>[0] = {}): Promise<ReceivedMessage> {
  const [message, ...rest] = await queue.receive({ waitTimeMs: 0, ...options });
  assert.ok(message, 'a message was received');
  assert.equal(rest.length, 0);
  return message;
}

/** Resolves once the queue's LISTEN connection is in place (its last statement was the LISTEN). */
async function listening(connection: DatabaseEndpoint, queueName: string): Promise<void> {
  await withClient(connection, async (client) => {
    for (;;) {
      const { rowCount } = await client.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
        [`chaos-lab queue ${queueName}`],
      );
      if (rowCount) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
}

describe('PostgresQueue', () => {
  it('a message whose visibility timeout expires is delivered again with receiveCount + 1, and the first receipt goes stale', async () => {
    // A 30 s re-check: only the wake at the message's visible_at can answer within seconds.
    const queue = await newQueue({ settings: { visibilityTimeoutMs: 300 }, recheckMs: 30_000 });
    const { messageId } = await queue.send('{"order":1}', { key: 'key-1' });
    const first = await receiveOne(queue);
    assert.deepEqual([first.messageId, first.body, first.key, first.receiveCount], [messageId, '{"order":1}', 'key-1', 1]);
    assert.deepEqual(await queue.receive({ waitTimeMs: 0 }), [], 'hidden while in flight');

    const started = performance.now();
    const second = await within(40_000, 'redelivery', receiveOne(queue, { waitTimeMs: 20_000 }));
    const waitedMs = performance.now() - started;
    assert.equal(second.messageId, messageId);
    assert.equal(second.receiveCount, 2);
    assert.notEqual(second.receipt, first.receipt);
    // The long poll wakes at the message's visible_at (an expiry notifies nobody), not at its
    // 30 s re-check or the end of its 20 s wait.
    assert.ok(waitedMs < 10_000, `redelivered after ${waitedMs.toFixed(0)} ms of a 300 ms visibility timeout`);

    await assert.rejects(queue.deleteMessage(first.receipt), isQueueError('RECEIPT_STALE'));
    await queue.deleteMessage(second.receipt);
    assert.equal(await queue.stateOfKey('key-1'), undefined);
  });

  it('a long poll wakes on a new message well before its wait ends', async () => {
    const connection = await freshQueueDatabase();
    const receiver = openQueue(connection, { recheckMs: 30_000 });
    const sender = openQueue(connection);
    for (let round = 1; round <= 3; round++) {
      const polled = receiver.receive({ waitTimeMs: 60_000 });
      await within(10_000, 'the LISTEN connection', listening(connection, receiver.name));
      const { messageId } = await sender.send(`message ${round}`);
      const sentAt = performance.now();
      const [message] = await within(40_000, 'the long poll', polled);
      const latencyMs = performance.now() - sentAt;
      assert.equal(message?.messageId, messageId);
      // The poll's own re-check is every 30 s here and its wait 60 s: this fast, it was the NOTIFY that woke it.
      assert.ok(latencyMs < 10_000, `round ${round}: the long poll answered ${latencyMs.toFixed(0)} ms after the send`);
      await receiver.deleteMessage(message.receipt);
    }
  });

  it('a long poll with nothing to receive answers empty after its wait, and an abort ends it at once', async () => {
    const connection = await freshQueueDatabase();
    const queue = openQueue(connection, { recheckMs: 30_000 });
    let started = performance.now();
    assert.deepEqual(await within(20_000, 'an empty long poll', queue.receive({ waitTimeMs: 300 })), []);
    assert.ok(performance.now() - started >= 290, 'it waited its wait time');

    const controller = new AbortController();
    const polled = queue.receive({ waitTimeMs: 60_000, signal: controller.signal });
    await within(10_000, 'the LISTEN connection', listening(connection, queue.name));
    started = performance.now();
    controller.abort();
    assert.deepEqual(await within(20_000, 'the aborted long poll', polled), []);
    // The wait was 60 s and the re-check 30 s: only the abort ends it this soon.
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 10_000, `the abort ended the wait after ${tookMs.toFixed(0)} ms`);
  });

  it('closing the queue ends a long poll empty, and a receive after close is refused', async () => {
    const connection = await freshQueueDatabase();
    const queue = openQueue(connection, { recheckMs: 30_000 });
    const polled = queue.receive({ waitTimeMs: 60_000 });
    await within(10_000, 'the LISTEN connection', listening(connection, queue.name));
    await within(20_000, 'closing the queue', queue.close());
    assert.deepEqual(await within(20_000, 'the long poll after close', polled), []);
    await assert.rejects(queue.receive(), isQueueError('QUEUE_CLOSED'));
  });

  it('closing the queue while a long poll\'s statement is running ends that poll empty', async () => {
    // Regression: the closed check ran only at the top of the poll's loop, so a close() that
    // landed during its receive statement made the next statement (the look for the next
    // visible_at) reject with QUEUE_CLOSED instead of the poll ending empty.
    const connection = await freshQueueDatabase();
    const queue = openQueue(connection, { recheckMs: 30_000, statementTimeoutMs: 30_000 });
    await withClient(connection, async (locker) => {
      // Hold the receive statement where it is: it waits for this lock.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE queue_messages IN ACCESS EXCLUSIVE MODE');
      const polled = queue.receive({ waitTimeMs: 60_000 });
      let closing: Promise<void> | undefined;
      try {
        // From another connection: pg_stat_activity stays one snapshot within the locker's transaction.
        await withClient(connection, (watcher) => until('the receive statement waiting for the lock', async () => {
          const { rowCount } = await watcher.query(
            `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [`chaos-lab queue ${queue.name}`],
          );
          return rowCount === 1;
        }, 10_000, 20));
        closing = queue.close();
      } finally {
        await locker.query('COMMIT');
      }
      assert.deepEqual(await within(20_000, 'the long poll closed mid-statement', polled), []);
      await within(20_000, 'closing the queue', closing);
    });
    await assert.rejects(queue.receive({ waitTimeMs: 0 }), isQueueError('QUEUE_CLOSED'), 'a receive started after close is refused');
  });

  it('10 receives, then the 11th moves the message to the dead-letter queue with its last recorded error', async () => {
    const queue = await newQueue({ settings: { maxReceiveCount: 10 } });
    await queue.send('{"order":2}', { key: 'key-2' });
    let receipt = '';
    for (let count = 1; count <= 10; count++) {
      const message = await receiveOne(queue, { visibilityTimeoutMs: 0 });
      assert.equal(message.receiveCount, count);
      await queue.recordError(message.receipt, `attempt ${count}: connection refused`);
      receipt = message.receipt;
    }
    assert.deepEqual(await queue.receive({ waitTimeMs: 0 }), [], 'the 11th receive delivers nothing');
    const stats = await queue.stats();
    assert.deepEqual([stats.depth, stats.inFlight, stats.deadLetters], [0, 0, 1]);
    const [dead] = await queue.deadLetters();
    assert.equal(dead?.body, '{"order":2}');
    assert.equal(dead.key, 'key-2');
    assert.equal(dead.receiveCount, 10);
    assert.equal(dead.reason, 'attempt 10: connection refused');
    assert.equal(dead.lastError, 'attempt 10: connection refused');
    assert.equal(await queue.stateOfKey('key-2'), 'dead-letter');
    await assert.rejects(queue.deleteMessage(receipt), isQueueError('RECEIPT_STALE'), 'a dead letter cannot be deleted by its old receipt');
  });

  it('a message dead-lettered on purpose keeps the reason given, and redrive puts it back with a fresh receive count', async () => {
    const queue = await newQueue();
    await queue.send('not an order', { key: 'key-3' });
    await queue.send('{"order":4}');
    const bad = await receiveOne(queue);
    await queue.deadLetter(bad.receipt, 'body is not JSON');
    const [dead] = await queue.deadLetters();
    assert.deepEqual([dead?.reason, dead?.lastError, dead?.receiveCount], ['body is not JSON', null, 1]);
    assert.deepEqual([dead?.body, dead?.bodyBytes, dead?.bodyTruncated], ['not an order', 12, false]);

    assert.deepEqual(await queue.redrive(), { moved: 1 });
    assert.deepEqual(await queue.redrive(), { moved: 0 });
    assert.equal((await queue.stats()).deadLetters, 0);
    const bodies = (await queue.receive({ waitTimeMs: 0, maxMessages: 10 })).map((m) => [m.body, m.receiveCount]);
    assert.deepEqual(bodies.sort(), [['not an order', 1], ['{"order":4}', 1]].sort());
  });

  it('redrive clears the last error, so a message dead-lettered again shows why it failed after the redrive', async () => {
    // Regression: redrive kept last_error, and a dead-lettering by receive count takes its
    // reason from last_error, so the second dead letter showed the reason from before the redrive.
    const queue = await newQueue({ settings: { maxReceiveCount: 2 } });
    await queue.send('m', { key: 'key-6' });
    for (let count = 1; count <= 2; count++) {
      const message = await receiveOne(queue, { visibilityTimeoutMs: 0 });
      await queue.recordError(message.receipt, 'before the redrive: connection refused');
    }
    assert.deepEqual(await queue.receive({ waitTimeMs: 0 }), []);
    assert.equal((await queue.deadLetters())[0]?.reason, 'before the redrive: connection refused');

    assert.deepEqual(await queue.redrive(), { moved: 1 });
    for (let count = 1; count <= 2; count++) assert.equal((await receiveOne(queue, { visibilityTimeoutMs: 0 })).receiveCount, count);
    assert.deepEqual(await queue.receive({ waitTimeMs: 0 }), []);
    const [dead] = await queue.deadLetters();
    assert.deepEqual([dead?.reason, dead?.lastError], ['received 2 times without being deleted (maxReceiveCount 2)', null]);
  });

  it('keeps at most 1000 characters of a reason or a recorded error, so the dead-letter listing stays bounded', async () => {
    const queue = await newQueue({ settings: { maxReceiveCount: 1 } });
    await queue.send('a');
    await queue.send('b');
    const [first, second] = await queue.receive({ waitTimeMs: 0, maxMessages: 2, visibilityTimeoutMs: 0 });
    await queue.deadLetter(first!.receipt, 'r'.repeat(5000));
    await queue.recordError(second!.receipt, 'e'.repeat(5000));
    assert.deepEqual(await queue.receive({ waitTimeMs: 0 }), [], 'the second is dead-lettered by receive count');
    const dead = await queue.deadLetters();
    assert.deepEqual(dead.map((d) => [d.reason.length, d.lastError?.length ?? null]), [[MAX_REASON_CHARS, null], [MAX_REASON_CHARS, MAX_REASON_CHARS]]);
  });

  it('send refuses a body over 256 KiB (counted in bytes), naming its size, and takes one of exactly 256 KiB', async () => {
    const queue = await newQueue();
    await assert.rejects(
      queue.send('x'.repeat(MAX_MESSAGE_BYTES + 1)),
      (error: unknown) => isQueueError('INVALID_ARGUMENT')(error) && /262145 bytes, over the queue's limit of 262144 bytes/.test((error as Error).message),
    );
    // 131,073 characters, but 262,146 bytes in UTF-8.
    await assert.rejects(queue.send('é'.repeat(MAX_MESSAGE_BYTES / 2 + 1)), /262146 bytes/);
    const body = 'y'.repeat(MAX_MESSAGE_BYTES);
    await queue.send(body);
    assert.equal((await receiveOne(queue)).body, body);
    assert.equal((await queue.stats()).sent, 1, 'the refused ones were not sent');
  });

  it('a body over the limit put on the queue by hand is dead-lettered by the receive that finds it, and listed as a preview', async () => {
    // Regression: the receive statement delivered any body, so a huge one (300 MB) made every
    // receive ship it, time out and roll back: it never reached the dead-letter queue and
    // blocked the head of the queue.
    const connection = await freshQueueDatabase();
    const queue = openQueue(connection);
    await withClient(connection, async (client) => {
      const insert = `INSERT INTO queue_messages (queue, message_id, body, key) VALUES ($1, gen_random_uuid(), repeat('z', $2), $3)`;
      await client.query(insert, [queue.name, MAX_MESSAGE_BYTES + 1, 'just-over']);
      await client.query(insert, [queue.name, 64 * 1024 * 1024, 'huge']);
    });
    await queue.send('{"order":7}', { key: 'after-them' });
    const message = await within(20_000, 'the receive past the big bodies', receiveOne(queue));
    assert.equal(message.key, 'after-them', 'the big bodies were not delivered, and did not block the one behind them');
    assert.deepEqual([(await queue.stats()).deadLetters, await queue.stateOfKey('huge')], [2, 'dead-letter']);
    const dead = new Map((await queue.deadLetters()).map((d) => [d.key, d]));
    assert.equal(dead.get('just-over')?.reason, `message body is ${MAX_MESSAGE_BYTES + 1} bytes, over the queue's limit of ${MAX_MESSAGE_BYTES} bytes: never delivered`);
    const huge = dead.get('huge');
    assert.equal(huge?.reason, `message body is ${64 * 1024 * 1024} bytes, over the queue's limit of ${MAX_MESSAGE_BYTES} bytes: never delivered`);
    assert.deepEqual([huge.body, huge.bodyBytes, huge.bodyTruncated], ['z'.repeat(DEAD_LETTER_PREVIEW_CHARS), 64 * 1024 * 1024, true]);
  });

  it('a send does not wait for a lock on the queue\'s row', async () => {
    // Regression: every send (and delete) updated one counter row of the queue, a row lock that
    // every shop instance took in turn; a transaction holding it stalled every send.
    const connection = await freshQueueDatabase();
    const queue = openQueue(connection, { statementTimeoutMs: 5000 });
    await withClient(connection, async (locker) => {
      await createQueue(locker, queue.name);
      await locker.query('BEGIN');
      try {
        await locker.query('SELECT 1 FROM queues WHERE name = $1 FOR UPDATE', [queue.name]);
        await within(20_000, 'a send while the queue row is locked', queue.send('m'));
      } finally {
        await locker.query('COMMIT');
      }
    });
    assert.equal((await queue.stats()).sent, 1);
  });

  it('a stale receipt is refused for delete, change visibility, record error and dead-letter', async () => {
    const queue = await newQueue();
    await queue.send('m');
    const first = await receiveOne(queue, { visibilityTimeoutMs: 0 });
    const second = await receiveOne(queue);
    for (const call of [
      () => queue.deleteMessage(first.receipt),
      () => queue.changeVisibility(first.receipt, 0),
      () => queue.recordError(first.receipt, 'x'),
      () => queue.deadLetter(first.receipt, 'x'),
      () => queue.deleteMessage('no-such-receipt'),
    ]) {
      await assert.rejects(call(), isQueueError('RECEIPT_STALE'));
    }
    await queue.deleteMessage(second.receipt);
    await assert.rejects(queue.deleteMessage(second.receipt), isQueueError('RECEIPT_STALE'), 'deleted: gone');
    await assert.rejects(queue.changeVisibility(second.receipt, -1), isQueueError('INVALID_ARGUMENT'));
  });

  it('stats count depth, in flight, dead letters, the oldest age, sent and deleted', async () => {
    const queue = await newQueue();
    assert.deepEqual(await queue.stats(), { depth: 0, inFlight: 0, deadLetters: 0, oldestAgeMs: null, sent: 0, deleted: 0 });
    for (const body of ['a', 'b', 'c', 'd']) await queue.send(body);
    const [toDelete, toKeep, toDeadLetter] = await queue.receive({ waitTimeMs: 0, maxMessages: 3, visibilityTimeoutMs: 60_000 });
    await queue.deleteMessage(toDelete!.receipt);
    await queue.deadLetter(toDeadLetter!.receipt, 'bad');
    const stats = await queue.stats();
    assert.deepEqual({ ...stats, oldestAgeMs: undefined }, { depth: 1, inFlight: 1, deadLetters: 1, oldestAgeMs: undefined, sent: 4, deleted: 1 });
    assert.ok(stats.oldestAgeMs !== null && stats.oldestAgeMs >= 0 && stats.oldestAgeMs < 10_000, `oldestAgeMs ${stats.oldestAgeMs}`);
    await queue.changeVisibility(toKeep!.receipt, 0);
    assert.deepEqual([(await queue.stats()).depth, (await queue.stats()).inFlight], [2, 0], 'visible again at once');
  });

  it('stateOfKey follows a message from queued to in flight and back, and to gone once deleted', async () => {
    const queue = await newQueue();
    assert.equal(await queue.stateOfKey('key-5'), undefined, 'never sent');
    await queue.send('m', { key: 'key-5' });
    assert.equal(await queue.stateOfKey('key-5'), 'queued');
    const message = await receiveOne(queue, { visibilityTimeoutMs: 60_000 });
    assert.equal(await queue.stateOfKey('key-5'), 'in-flight');
    await queue.changeVisibility(message.receipt, 0);
    assert.equal(await queue.stateOfKey('key-5'), 'queued');
    await queue.deleteMessage(message.receipt);
    assert.equal(await queue.stateOfKey('key-5'), undefined);
  });

  it('concurrent receivers never get the same message', async () => {
    const connection = await freshQueueDatabase();
    const sender = openQueue(connection);
    const total = 60;
    await Promise.all(Array.from({ length: total }, (_, i) => sender.send(`message ${i}`)));
    const receivers = Array.from({ length: 6 }, () => openQueue(connection));
    const got = await within(20_000, 'draining the queue', Promise.all(receivers.map(async (receiver) => {
      const ids: string[] = [];
      for (;;) {
        const batch = await receiver.receive({ waitTimeMs: 0, maxMessages: 3, visibilityTimeoutMs: 60_000 });
        if (batch.length === 0 && (await receiver.stats()).depth === 0) return ids;
        ids.push(...batch.map((m) => m.messageId));
      }
    })));
    const all = got.flat();
    assert.equal(all.length, total, 'every message received once');
    assert.equal(new Set(all).size, total, 'no message received twice');
    assert.ok(got.filter((ids) => ids.length > 0).length > 1, 'the receivers shared the work');
  });

  it('a blackholed store makes send reject with QUEUE_UNAVAILABLE in bounded time, on a pooled and on a new connection', async () => {
    const connection = await freshQueueDatabase();
    const proxy = new FaultProxy();
    try {
      const listener = await proxy.addProxy({ name: 'order-queue', upstream: { host: connection.host, port: connection.port } });
      const queue = openQueue({ ...connection, port: listener.listen.port }, { connectTimeoutMs: 300, statementTimeoutMs: 300 });
      await queue.send('before the cut');
      await queue.receive({ waitTimeMs: 1 }); // the long poll's LISTEN connection is open, too
      // The blackhole holds every byte for 60 s: a call that ends within seconds was ended by its own bound.
      await proxy.addFault('order-queue', { type: 'blackhole', durationMs: 60_000 });
      for (const which of ['pooled connection', 'new connection']) {
        const started = performance.now();
        await within(20_000, `send on a ${which}`, assert.rejects(queue.send('during the cut'), isQueueError('QUEUE_UNAVAILABLE')));
        const tookMs = performance.now() - started;
        assert.ok(tookMs < 10_000, `${which}: send rejected after ${tookMs.toFixed(0)} ms`);
      }
      const polled = performance.now();
      await within(20_000, 'a long poll on the cut store', assert.rejects(queue.receive({ waitTimeMs: 60_000 }), isQueueError('QUEUE_UNAVAILABLE')));
      const pollMs = performance.now() - polled;
      assert.ok(pollMs < 10_000, `a long poll (60 s) on a blackholed store failed after ${pollMs.toFixed(0)} ms`);
      await within(20_000, 'closing a queue whose store is cut', queue.close());
      // A timed-out send is ambiguous, not undone: the blackhole holds the INSERT and lets it
      // through when it heals (as TCP retransmission would), so it may still commit. The shop
      // answers 503 for it and the audit counts it as ambiguous, never as acknowledged.
      await proxy.clearFaults('order-queue');
      const again = openQueue({ ...connection, port: listener.listen.port });
      await within(5000, 'a send after the cut', again.send('after the cut'));
    } finally {
      await proxy.close();
    }
  });

  it('a refused store makes send reject with QUEUE_UNAVAILABLE at once and sends nothing', async () => {
    const connection = await freshQueueDatabase();
    const proxy = new FaultProxy();
    try {
      const listener = await proxy.addProxy({ name: 'order-queue', upstream: { host: connection.host, port: connection.port } });
      // Bounds of 30 s: a send that fails within seconds was refused, not timed out.
      const queue = openQueue({ ...connection, port: listener.listen.port }, { connectTimeoutMs: 30_000, statementTimeoutMs: 30_000 });
      await proxy.addFault('order-queue', { type: 'refuse', durationMs: 60_000 });
      const started = performance.now();
      await within(40_000, 'send to a refused store', assert.rejects(queue.send('during the cut'), isQueueError('QUEUE_UNAVAILABLE')));
      const tookMs = performance.now() - started;
      assert.ok(tookMs < 10_000, `refused after ${tookMs.toFixed(0)} ms`);
      await proxy.clearFaults('order-queue');
      assert.equal((await openQueue(connection).stats()).sent, 0, 'nothing sent during the cut');
    } finally {
      await proxy.close();
    }
  });

  it('refuses a bad queue name and bad settings, naming them', () => {
    const connection = { host: '127.0.0.1', port: 1, user: 'x', password: 'x', database: 'x' };
    assert.throws(() => new PostgresQueue({ connection, name: 'no spaces' }), /queue name .*"no spaces"/);
    assert.throws(() => new PostgresQueue({ connection, name: 'q', settings: { visibilityTimeoutMs: -5 } }), /visibilityTimeoutMs .*-5/);
    assert.throws(() => new PostgresQueue({ connection, name: 'q', settings: { maxReceiveCount: 0 } }), /maxReceiveCount .*0/);
    assert.throws(() => new PostgresQueue({ connection, name: 'q', recheckMs: 0 }), /recheckMs .*0/);
  });
});

describe('the services store', () => {
  it('holds the queue and cache tables and the order queue when it starts', async () => {
    const store = await ServicesStore.start();
    try {
      const tables = await withPg(store.connectionConfig(), async (client) => {
        const { rows } = await client.query<{ relname: string }>(
          `SELECT relname FROM pg_class WHERE relname IN ('queues', 'queue_messages', 'cache_entries', 'circuit_breakers') ORDER BY relname`,
        );
        const queues = await client.query('SELECT 1 FROM queues WHERE name = $1', [ORDER_QUEUE_NAME]);
        return [...rows.map((row) => row.relname), queues.rowCount === 1 ? 'order queue' : 'no order queue'];
      });
      assert.deepEqual(tables, ['cache_entries', 'circuit_breakers', 'queue_messages', 'queues', 'order queue']);
      const queue = new PostgresQueue({ connection: store.connectionConfig(), name: ORDER_QUEUE_NAME });
      try {
        await queue.send('{}');
        assert.equal((await queue.stats()).depth, 1);
      } finally {
        await queue.close();
      }
    } finally {
      await store.close();
    }
  });
});

async function withPg<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
