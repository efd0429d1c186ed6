// Article 4's write buffer as a port wrapper: the (breaker-wrapped) orders in, the same orders
// out. The order's key is fixed before the database is tried (the client's Idempotency-Key, or
// one made here), so the database attempt and the queued message carry the same key: an order
// whose commit the shop never heard about (the connection died after COMMIT) and that was then
// queued is replayed by the worker, not placed twice. While the circuit is open, or when the
// call fails with a connection error or a timeout, the order goes to the queue and the customer
// gets 202 with where to follow it. A failed send acknowledges nothing: 503 QUEUE_UNAVAILABLE.
import { randomUUID } from 'node:crypto';
import type { MessageQueue } from '../services/queue/index.ts';
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

/** `orders` with the write buffer around it. */
export function ordersWithWriteBuffer(orders: Orders, queue: MessageQueue, options: WriteBufferOptions): Orders {
  const now = options.now ?? (() => new Date());

  async function enqueue(message: OrderMessage): Promise<OrderOutcome> {
    try {
      // Durable (committed in the store) when it resolves: only then is the customer told "accepted".
      await queue.send(orderMessageBody(message), { key: message.key });
    } catch (error) {
      options.onSend?.(error);
      throw new ShopError(503, 'QUEUE_UNAVAILABLE', 'database unavailable and queue failed', { queue_error: (error as Error).message });
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
