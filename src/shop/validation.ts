import { invalid } from './errors.ts';

/** The largest quantity one order may ask for; more is a typo or an attack, not a purchase. */
export const MAX_QUANTITY = 1000;
/** PostgreSQL INTEGER's largest value: the largest product id. */
export const MAX_INT4 = 2_147_483_647;
/** The longest Idempotency-Key (and queued order key) the shop accepts. */
export const MAX_KEY_LENGTH = 255;

/** A validated order request. */
export interface OrderRequest {
  productId: number;
  quantity: number;
}

const PREVIEW_LENGTH = 60;

/**
 * Names a bad value for an error message: a primitive by a bounded preview, an array or object by its type only.
 * Never JSON.stringify a container: its depth is the attacker's, and a 5,000-deep array overflows the stack.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  // Cut before quoting, so a 16 kB string costs no more than a short one.
  const text = typeof value === 'string' ? JSON.stringify(value.slice(0, PREVIEW_LENGTH)) : String(value);
  return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH - 3)}...` : text;
}

/** Parses a path id: a positive integer that fits PostgreSQL's INTEGER. */
export function parseId(raw: string, what: string): number {
  if (!/^[1-9]\d{0,9}$/.test(raw) || Number(raw) > MAX_INT4) {
    throw invalid('INVALID_ID', `${what} id must be a positive integer up to ${MAX_INT4}, got ${describeValue(raw)}`, { value: raw.slice(0, 60) });
  }
  return Number(raw);
}

function integerField(body: Record<string, unknown>, name: string, max: number): number {
  const value = body[name];
  if (value === undefined || value === null) throw invalid('INVALID_FIELD', `${name} is required`, { field: name });
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalid('INVALID_FIELD', `${name} must be an integer, got ${describeValue(value)}`, { field: name });
  }
  if (value < 1 || value > max) {
    throw invalid('INVALID_FIELD', `${name} must be between 1 and ${max}, got ${describeValue(value)}`, { field: name });
  }
  return value;
}

/** Parses the body of POST /orders: `{"product_id": int, "quantity": int}`. */
export function parseOrderRequest(body: unknown): OrderRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('INVALID_BODY', `request body must be a JSON object with product_id and quantity, got ${describeValue(body)}`);
  }
  const fields = body as Record<string, unknown>;
  return {
    productId: integerField(fields, 'product_id', MAX_INT4),
    quantity: integerField(fields, 'quantity', MAX_QUANTITY),
  };
}

/** Parses the Idempotency-Key header: 1 to 255 visible ASCII characters, or absent. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw invalid('INVALID_HEADER', 'Idempotency-Key must be given once');
  if (header.length === 0 || header.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(header)) {
    throw invalid('INVALID_HEADER', `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters, got ${describeValue(header)}`);
  }
  return header;
}

/** Parses the key of GET /orders/requests/:key: an Idempotency-Key (1 to 255 visible ASCII characters). */
export function parseRequestKey(raw: string): string {
  if (raw.length === 0 || raw.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(raw)) {
    throw invalid('INVALID_KEY', `order request key must be an Idempotency-Key: 1 to ${MAX_KEY_LENGTH} visible ASCII characters, got ${describeValue(raw)}`);
  }
  return raw;
}
