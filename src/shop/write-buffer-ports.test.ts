// The write buffer's decisions, over stand-in ports (the flows against a real database, queue and
// fault proxy are in test/shop-degradation-orders.test.ts): which failures queue an order, and that the
// database attempt and the queued message carry the same key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitOpenError } from '../resilience/circuit-breaker/index.ts';
import { StoreTimeoutError } from '../services/postgres/index.ts';
import { QueueError, type MessageQueue, type MessageState } from '../services/queue/index.ts';
import { ShopError } from './errors.ts';
import { parseOrderMessage } from './order-message.ts';
import { DatabaseFailure, type OrderRequestStatus, type Orders, type PlaceOrder } from './ports.ts';
import { ordersWithWriteBuffer, QUEUED_KEY_PREFIX, sendOutcome } from './write-buffer-ports.ts';

/** Orders whose every call fails with `error` (or answers), recording the keys it was given. */
function ordersFailingWith(error: unknown, requests: Array<OrderRequestStatus | undefined> = []): Orders & { keys: Array<string | undefined> } {
  const keys: Array<string | undefined> = [];
  return {
    keys,
    async placeOrder(order: PlaceOrder) {
      keys.push(order.idempotencyKey);
      throw error;
    },
    async getOrder() {
      throw error;
    },
    async orderRequest() {
      if (requests.length > 0) return requests.shift();
      throw error;
    },
  };
}

/** A queue that records what is sent, or fails every send. */
function queueStandIn(options: { failSend?: boolean; state?: MessageState } = {}): MessageQueue & { sent: Array<{ body: string; key: string | undefined }> } {
  const sent: Array<{ body: string; key: string | undefined }> = [];
  const unused = async (): Promise<never> => {
    throw new Error('not used');
  };
  return {
    sent,
    async send(body, sendOptions) {
      if (options.failSend) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      sent.push({ body, key: sendOptions?.key });
      return { messageId: `m-${sent.length}` };
    },
    async stateOfKey() {
      return options.state;
    },
    receive: unused,
    deleteMessage: unused,
    changeVisibility: unused,
    deadLetter: unused,
    recordError: unused,
    redrive: unused,
    stats: unused,
    deadLetters: unused,
    close: async () => {},
  };
}

const now = (): Date => new Date('2026-11-30T18:00:00.000Z');
const refused = new DatabaseFailure('writer', 'connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

describe('ordersWithWriteBuffer', () => {
  it('fixes the key before the database call, so the attempt and the queued message carry the same one', async () => {
    const orders = ordersFailingWith(refused);
    const queue = queueStandIn();
    const buffered = ordersWithWriteBuffer(orders, queue, { instanceId: 'i-1', now });
    const outcome = await buffered.placeOrder({ productId: 2, quantity: 3, idempotencyKey: undefined });
    assert.equal(outcome.httpStatus, 202);
    assert.equal(outcome.queued, true);
    const key = orders.keys[0];
    assert.ok(key?.startsWith(QUEUED_KEY_PREFIX), key);
    assert.equal(queue.sent[0]?.key, key);
    assert.deepEqual(parseOrderMessage(queue.sent[0]?.body ?? ''), { key, product_id: 2, quantity: 3, served_by: 'i-1', accepted_at: '2026-11-30T18:00:00.000Z' });
    assert.equal(JSON.parse(outcome.body).status_url, `/orders/requests/${encodeURIComponent(key ?? '')}`);
    // The client's own key is kept as it is.
    await buffered.placeOrder({ productId: 2, quantity: 3, idempotencyKey: 'client-key' });
    assert.equal(orders.keys[1], 'client-key');
    assert.equal(queue.sent[1]?.key, 'client-key');
  });

  it('queues on an open circuit and on a statement timeout, never on a statement error', async () => {
    const timeout = new DatabaseFailure('writer', 'statement', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }));
    for (const error of [new CircuitOpenError('shop-database', 'OPEN'), timeout]) {
      const queue = queueStandIn();
      assert.equal((await ordersWithWriteBuffer(ordersFailingWith(error), queue, { instanceId: 'i-1' }).placeOrder({ productId: 1, quantity: 1, idempotencyKey: undefined })).httpStatus, 202);
      assert.equal(queue.sent.length, 1);
    }
    const statement = new DatabaseFailure('writer', 'statement', new Error('function place_order does not exist'));
    const queue = queueStandIn();
    await assert.rejects(ordersWithWriteBuffer(ordersFailingWith(statement), queue, { instanceId: 'i-1' }).placeOrder({ productId: 1, quantity: 1, idempotencyKey: undefined }), statement);
    assert.equal(queue.sent.length, 0);
  });

  it('acknowledges nothing when the send fails: 503 QUEUE_UNAVAILABLE', async () => {
    const sends: unknown[] = [];
    const buffered = ordersWithWriteBuffer(ordersFailingWith(refused), queueStandIn({ failSend: true }), { instanceId: 'i-1', onSend: (error) => sends.push(error) });
    await assert.rejects(buffered.placeOrder({ productId: 1, quantity: 1, idempotencyKey: 'k' }), (error: unknown) => {
      assert.ok(error instanceof ShopError);
      assert.equal(error.statusCode, 503);
      assert.equal(error.code, 'QUEUE_UNAVAILABLE');
      assert.equal(error.message, 'database unavailable and queue failed');
      return true;
    });
    assert.equal((sends[0] as Error).message, 'connect ECONNREFUSED');
  });

  it('answers 503 QUEUE_UNCERTAIN with the key to follow when the send got no answer: it may have committed', async () => {
    // A send that timed out was answered like a refused one, "nothing acknowledged", although its
    // INSERT may have run: the worker then placed an order whose customer had been told 503 and,
    // without an Idempotency-Key of their own, had no key to follow it or to retry it safely.
    const timedOut = new QueueError('QUEUE_UNAVAILABLE', 'queue order-buffer is unavailable: the services store did not answer within 2000 ms', { cause: new StoreTimeoutError(2000) });
    const queue = queueStandIn();
    queue.send = async () => {
      throw timedOut;
    };
    const orders = ordersFailingWith(refused);
    const buffered = ordersWithWriteBuffer(orders, queue, { instanceId: 'i-1' });
    await assert.rejects(buffered.placeOrder({ productId: 4, quantity: 2, idempotencyKey: undefined }), (error: unknown) => {
      assert.ok(error instanceof ShopError);
      assert.equal(error.statusCode, 503);
      assert.equal(error.code, 'QUEUE_UNCERTAIN');
      assert.equal(error.message, 'database unavailable and queue failed');
      const key = orders.keys[0] ?? '';
      assert.ok(key.startsWith(QUEUED_KEY_PREFIX));
      assert.equal(error.details['outcome'], 'unknown');
      assert.equal(error.details['idempotency_key'], key);
      assert.equal(error.details['status_url'], `/orders/requests/${encodeURIComponent(key)}`);
      return true;
    });
  });

  it('tells a send that never left (refused, connect timeout, a server error, a closed queue) from one whose outcome is unknown', () => {
    const wrapped = (cause: unknown): QueueError => new QueueError('QUEUE_UNAVAILABLE', `queue order-buffer is unavailable: ${(cause as Error).message}`, { cause });
    const notSent = [
      wrapped(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
      wrapped(new Error('timeout exceeded when trying to connect')),
      wrapped(new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated unexpectedly') })),
      wrapped(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014', severity: 'ERROR' })),
      new QueueError('QUEUE_CLOSED', 'queue order-buffer is closed'),
    ];
    for (const error of notSent) assert.equal(sendOutcome(error), 'not-sent', error.message);
    const unknown = [
      wrapped(new StoreTimeoutError(2000)),
      wrapped(new Error('Connection terminated unexpectedly')),
      wrapped(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
      new Error('something else'),
    ];
    for (const error of unknown) assert.equal(sendOutcome(error), 'unknown', error.message);
  });

  it('follows a key: the database first, then the queue, then the database again (the worker may have committed it in between)', async () => {
    const confirmed: OrderRequestStatus = { status: 'confirmed', order: { order_id: 7 } };
    // Not in the database, not in the queue any more, then committed: the second look finds it.
    const raced = ordersWithWriteBuffer(ordersFailingWith(refused, [undefined, confirmed]), queueStandIn(), { instanceId: 'i-1' });
    assert.deepEqual(await raced.orderRequest('k'), confirmed);
    const queued = ordersWithWriteBuffer(ordersFailingWith(refused), queueStandIn({ state: 'in-flight' }), { instanceId: 'i-1' });
    assert.deepEqual(await queued.orderRequest('k'), { status: 'pending', deadLettered: false });
    const dead = ordersWithWriteBuffer(ordersFailingWith(refused), queueStandIn({ state: 'dead-letter' }), { instanceId: 'i-1' });
    assert.deepEqual(await dead.orderRequest('k'), { status: 'pending', deadLettered: true });
    // The database away and the queue without the key: whether it was committed cannot be told.
    const unknown = ordersWithWriteBuffer(ordersFailingWith(refused), queueStandIn(), { instanceId: 'i-1' });
    await assert.rejects(unknown.orderRequest('k'), refused);
  });
});
