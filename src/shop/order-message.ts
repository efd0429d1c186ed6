// The order the write buffer puts on the queue while the database is away, and the strict parser the recovery
// worker (and the shop's own tests) read it back with. A message that does not parse is not an order: the worker
// dead-letters it with the parser's message as the reason, so the message must name the problem precisely.
import { MAX_INT4, MAX_KEY_LENGTH, MAX_QUANTITY, describeValue } from './validation.ts';

/** The queued order: the same key the database attempt carried, so applying it later is exactly-once in effect. */
export interface OrderMessage {
  /** The order's idempotency key: the client's Idempotency-Key, or `chaos-lab-queued:<uuid>` the shop generated. */
  key: string;
  product_id: number;
  quantity: number;
  /** The instance that accepted the order (answered 202). */
  served_by: string;
  /** When the shop accepted it, ISO 8601. */
  accepted_at: string;
}

/** A queue message that is not an order; `message` names the field and the bad value. */
export class OrderMessageError extends Error {
  readonly code = 'INVALID_ORDER_MESSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'OrderMessageError';
  }
}

// The same rule as the Idempotency-Key header (validation.ts): a key the shop accepted must parse here, or the
// worker would dead-letter an order the customer was told is queued.
const KEY_PATTERN = /^[\x21-\x7e]+$/;
const MAX_SERVED_BY_LENGTH = 200;
// Date.toISOString()'s shape; Date.parse alone would accept "1" or "Tue, 1 Dec".
const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const FIELDS = new Set(['key', 'product_id', 'quantity', 'served_by', 'accepted_at']);
// A body this long is not one of ours; parsing it would only cost the worker time.
const MAX_BODY_LENGTH = 4096;

function integer(fields: Record<string, unknown>, name: string, max: number): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new OrderMessageError(`${name} must be an integer between 1 and ${max}, got ${describeValue(value)}`);
  }
  return value;
}

function text(fields: Record<string, unknown>, name: string, max: number): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new OrderMessageError(`${name} must be a string of 1 to ${max} characters, got ${describeValue(value)}`);
  }
  return value;
}

/** Parses a queue message body into an order, or throws OrderMessageError naming the problem. */
export function parseOrderMessage(body: string): OrderMessage {
  if (body.length > MAX_BODY_LENGTH) throw new OrderMessageError(`message body is ${body.length} characters, more than ${MAX_BODY_LENGTH}: not an order`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new OrderMessageError(`message body is not JSON: ${describeValue(body)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OrderMessageError(`message body must be a JSON object, got ${describeValue(parsed)}`);
  }
  const fields = parsed as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!FIELDS.has(name)) throw new OrderMessageError(`message has an unknown field ${describeValue(name)}`);
  }
  const key = text(fields, 'key', MAX_KEY_LENGTH);
  if (!KEY_PATTERN.test(key)) throw new OrderMessageError(`key must be visible ASCII characters, got ${describeValue(key)}`);
  const acceptedAt = text(fields, 'accepted_at', 40);
  if (!ISO_PATTERN.test(acceptedAt) || Number.isNaN(Date.parse(acceptedAt))) {
    throw new OrderMessageError(`accepted_at must be an ISO 8601 time, got ${describeValue(acceptedAt)}`);
  }
  return {
    key,
    product_id: integer(fields, 'product_id', MAX_INT4),
    quantity: integer(fields, 'quantity', MAX_QUANTITY),
    served_by: text(fields, 'served_by', MAX_SERVED_BY_LENGTH),
    accepted_at: acceptedAt,
  };
}

/** The message body for an order the shop accepted into the queue. */
export function orderMessageBody(message: OrderMessage): string {
  return JSON.stringify(message);
}
