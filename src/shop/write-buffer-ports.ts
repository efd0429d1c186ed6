// Article 4's write buffer as a port wrapper: the (breaker-wrapped) orders in, the same orders
// out. The order's key is fixed before the database is tried (the client's Idempotency-Key, or
// one made here), so the database attempt and the queued message carry the same key: an order
// whose commit the shop never heard about (the connection died after COMMIT) and that was then
// queued is replayed by the worker, not placed twice. While the circuit is open, or when the
// call fails with a connection error or a timeout, the order goes to the queue and the customer
// gets 202 with where to follow it. A failed send acknowledges nothing: 503 QUEUE_UNAVAILABLE.
// A send that failed without an answer (it timed out, or its connection died mid-statement) may
// still have committed, and the worker would then place the order: that 503 says the outcome is
// unknown (QUEUE_UNCERTAIN) and gives the key, so the customer can follow the order or send it
// again with the same key (a replay, never a second order) even when they sent no key of their own.
import { randomUUID } from 'node:crypto';
import { QueueError, type MessageQueue } from '../services/queue/index.ts';
import { ShopError } from './errors.ts';
import { orderMessageBody, type OrderMessage } from './order-message.ts';
import type { OrderOutcome, Orders } from './ports.ts';
import { isDegradable } from './read-cache-ports.ts';

/** Prefix of the keys the write buffer gives orders that came without an Idempotency-Key. */
export const QUEUED_KEY_PREFIX = 'chaos-lab-queued:';

/** How the write buffer behaves. */
export interface WriteBufferOptions {
  /** The instance accepting orders: the message's served_by. */
  instanceId: string;
  /** Wall clock for accepted_at; injected in tests. */
  now?: () => Date;
  /** Called after each send, with its error when it failed: metrics. */
  onSend?: (error: unknown) => void;
  /** Called with the database's failure when an order falls back to the queue: metrics. */
  onFallback?: (error: unknown) => void;
}

/** Where a queued order's status is answered. */
export function requestStatusUrl(key: string): string {
  return `/orders/requests/${encodeURIComponent(key)}`;
}

/**
 * Whether a failed send can have committed. 'not-sent' only when the error proves the statement
 * never ran to a commit: no connection was made (refused, unresolvable, the connect timed out), the
 * store answered with an error (the statement rolled back), or the queue refused before sending.
 * Anything else, above all a statement that got no answer in time (StoreTimeoutError: a
 * blackholed store, or a latency past the statement timeout, where the INSERT runs and only its
 * answer is late) or a connection lost mid-statement, is 'unknown': telling that customer "not
 * queued" would be a lie whenever the worker later places the order.
 */
export function sendOutcome(error: unknown): 'not-sent' | 'unknown' {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as Error & { code?: unknown }).code;
    if (cause instanceof QueueError && (code === 'QUEUE_CLOSED' || code === 'INVALID_ARGUMENT')) return 'not-sent';
    if (code === 'STORE_TIMEOUT') return 'unknown';
    if (typeof code === 'string' && NOT_CONNECTED_CODES.has(code)) return 'not-sent';
    if (NOT_CONNECTED_MESSAGES.some((fragment) => cause instanceof Error && cause.message.includes(fragment))) return 'not-sent';
    // The server's own error answer (pg's DatabaseError: a SQLSTATE and a severity): the statement failed and rolled back.
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof (cause as Error & { severity?: unknown }).severity === 'string') return 'not-sent';
  }
  return 'unknown';
}

// Failures to connect at all: nothing was sent.
const NOT_CONNECTED_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// pg-pool's and pg's connect timeouts: the startup handshake never finished, so no statement went out.
const NOT_CONNECTED_MESSAGES = ['timeout exceeded when trying to connect', 'Connection terminated due to connection timeout'];

/** `orders` with the write buffer around it. */
export function ordersWithWriteBuffer(orders: Orders, queue: MessageQueue, options: WriteBufferOptions): Orders {
  const now = options.now ?? (() => new Date());

  async function enqueue(message: OrderMessage): Promise<OrderOutcome> {
    try {
      // Durable (committed in the store) when it resolves: only then is the customer told "accepted".
      await queue.send(orderMessageBody(message), { key: message.key });
    } catch (error) {
      options.onSend?.(error);
      const queueError = error instanceof Error ? error.message : String(error);
      if (sendOutcome(error) === 'not-sent') throw new ShopError(503, 'QUEUE_UNAVAILABLE', 'database unavailable and queue failed', { queue_error: queueError });
      throw new ShopError(503, 'QUEUE_UNCERTAIN', 'database unavailable and queue failed', {
        outcome: 'unknown',
        detail:
          'the queue did not answer: the order may still have been queued and then be placed. Follow status_url, or send the same order again with this Idempotency-Key (a replay, never a second order)',
        product_id: message.product_id,
        quantity: message.quantity,
        idempotency_key: message.key,
        status_url: requestStatusUrl(message.key),
        queue_error: queueError,
      });
    }
    options.onSend?.(undefined);
    const accepted = {
      status: 'accepted',
      message: 'order queued for processing',
      product_id: message.product_id,
      quantity: message.quantity,
      served_by: message.served_by,
      idempotency_key: message.key,
      status_url: requestStatusUrl(message.key),
    };
    return { httpStatus: 202, body: JSON.stringify(accepted), replayed: false, queued: true };
  }

  return {
    async placeOrder(order) {
      const key = order.idempotencyKey ?? `${QUEUED_KEY_PREFIX}${randomUUID()}`;
      try {
        return await orders.placeOrder({ ...order, idempotencyKey: key });
      } catch (error) {
        if (!isDegradable(error)) throw error;
        options.onFallback?.(error);
        return enqueue({ key, product_id: order.productId, quantity: order.quantity, served_by: options.instanceId, accepted_at: now().toISOString() });
      }
    },
    getOrder: (id) => orders.getOrder(id),
    async orderRequest(key) {
      let databaseError: unknown;
      try {
        const known = await orders.orderRequest(key);
        if (known !== undefined) return known;
      } catch (error) {
        if (!isDegradable(error)) throw error;
        databaseError = error;
      }
      let state;
      try {
        state = await queue.stateOfKey(key);
      } catch (error) {
        const what = databaseError === undefined ? 'the database does not know this key and the queue failed' : 'database unavailable and queue failed';
        throw new ShopError(503, 'QUEUE_UNAVAILABLE', what, { queue_error: (error as Error).message });
      }
      if (state !== undefined) return { status: 'pending', deadLettered: state === 'dead-letter' };
      // Neither answers: whether it was committed cannot be told while the database is away.
      if (databaseError !== undefined) throw databaseError;
      // The worker may have committed it and deleted the message between the two looks: ask the database again.
      return orders.orderRequest(key);
    },
  };
}
