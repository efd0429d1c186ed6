/**
 * Errors the shop answers with, each with a stable code and an HTTP status.
 *
 * | code                   | status | when |
 * |------------------------|--------|------|
 * | INVALID_JSON           | 400    | the body is empty, not JSON, or has a __proto__ key |
 * | INVALID_BODY           | 400    | the body is not a JSON object |
 * | INVALID_FIELD          | 400    | a field is missing, of the wrong type or out of range |
 * | INVALID_ID             | 400    | a path id is not a positive 32-bit integer |
 * | INVALID_HEADER         | 400    | the Idempotency-Key header is malformed |
 * | INVALID_KEY            | 400    | the key of GET /orders/requests/:key is not an Idempotency-Key (also one past the router's 1024 characters) |
 * | INVALID_URL            | 400    | the path is not valid percent-encoding (or a segment is too long for the router) |
 * | PRODUCT_NOT_FOUND      | 404    | no product with that id |
 * | PROMO_NOT_FOUND        | 404    | the promo bucket holds no banner (an answer, not an outage: never served stale) |
 * | ORDER_NOT_FOUND        | 404    | no order with that id |
 * | ORDER_REQUEST_NOT_FOUND | 404   | neither the database nor the order queue knows that key |
 * | ROUTE_NOT_FOUND        | 404    | no such route |
 * | IDEMPOTENCY_KEY_REUSED | 422    | the key was used before for a different order |
 * | DB_NOT_READY           | 503    | the schema is not initialised yet |
 * | CIRCUIT_OPEN           | 503    | the circuit breaker is open (or half-open, its trial in flight): the database was not called (and no fallback is on) |
 * | CACHE_EMPTY            | 503    | the database is away and the read cache has no entry: "database unavailable, cache empty" |
 * | CACHE_UNAVAILABLE      | 503    | the database is away and the read cache's store does not answer either |
 * | QUEUE_UNAVAILABLE      | 503    | the database is away and the order could not be queued: "database unavailable and queue failed"; nothing acknowledged |
 * | QUEUE_UNCERTAIN        | 503    | as QUEUE_UNAVAILABLE, but the send got no answer (a timeout): it may have been queued; `outcome: "unknown"` with the idempotency_key and status_url to follow it or resend it |
 * | REVIEWS_UNAVAILABLE    | 503    | "reviews temporarily unavailable" (Article 7's fast 503): the reviews table did not answer within the dependency client's timeouts, or the reviews pool refused the call; `reason` says which (with the stale fallback: and the read cache had no earlier answer) |
 * | PROMO_UNAVAILABLE      | 503    | "promo temporarily unavailable", as REVIEWS_UNAVAILABLE for the promo bucket |
 * | REVIEWS_NOT_CONFIGURED, PROMO_NOT_CONFIGURED | 503 | the shop was given no address for the store (REVIEWS_URL, PROMO_URL) |
 * | WORKERS_BUSY           | 503    | every worker of the request's pool is busy and its backlog is full (patterns.workerPools) |
 * | REVIEWS_INVALID        | 502    | the reviews table holds an item that is not a review; the message names the item and the field |
 * | PROMO_INVALID          | 502    | the promo banner is not JSON, or not a banner; the message says what is wrong |
 * | DB_ERROR               | 500    | the database failed; the message is the driver's, never a stack |
 * | INTERNAL_ERROR         | 500    | anything else |
 *
 * Fastify's own errors (FST_ERR_CTP_INVALID_MEDIA_TYPE 415, FST_ERR_CTP_BODY_TOO_LARGE 413, …) keep their codes
 * and 4xx statuses; the router's (FST_ERR_MAX_PARAM_LENGTH, FST_ERR_BAD_URL) become INVALID_KEY, INVALID_ID or INVALID_URL.
 */
export class ShopError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details: Record<string, unknown>;

  constructor(statusCode: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ShopError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
  }
}

/** A request the shop cannot accept: 400 with a message naming the field and the value. */
export function invalid(code: string, message: string, details: Record<string, unknown> = {}): ShopError {
  return new ShopError(400, code, message, details);
}

/** The JSON body of every error answer. */
export function errorBody(error: ShopError): Record<string, unknown> {
  return { error: error.message, code: error.code, ...error.details };
}
