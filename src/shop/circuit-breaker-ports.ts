// The circuit breaker pattern as a port wrapper (Article 4): a port in, the same port out, every
// call to the database through one breaker. One breaker per instance guards the database, reads
// and writes alike, as in the article's app: a dead database fails both, so either may trip it.
import type { CircuitBreaker } from '../resilience/circuit-breaker/index.ts';
import { DatabaseFailure, type Catalog, type Orders } from './ports.ts';

// SQLSTATE 57014 query_canceled: a server-side statement_timeout. The shop's own timeout
// (pg's query_timeout) already arrives as a connection failure.
const STATEMENT_TIMEOUT = '57014';

/**
 * What counts against the breaker: the database not answering (a refused, reset or lost
 * connection, a statement timeout). Never a business answer: a product or order not found, out
 * of stock, a reused key come back as values (404, 409, 422) and prove the database answered;
 * nor a statement the database rejected, which retrying later would not fix either.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof DatabaseFailure)) return false;
  if (error.kind === 'connection') return true;
  return (error.cause as { code?: unknown } | undefined)?.code === STATEMENT_TIMEOUT;
}

/** The catalog, each call through `breaker` (rejected with CircuitOpenError while it is open). */
export function catalogWithBreaker(catalog: Catalog, breaker: CircuitBreaker): Catalog {
  return {
    listProducts: () => breaker.execute(() => catalog.listProducts()),
    getProduct: (id) => breaker.execute(() => catalog.getProduct(id)),
  };
}

/** The orders, each call through `breaker` (rejected with CircuitOpenError while it is open). */
export function ordersWithBreaker(orders: Orders, breaker: CircuitBreaker): Orders {
  return {
    placeOrder: (order) => breaker.execute(() => orders.placeOrder(order)),
    getOrder: (id) => breaker.execute(() => orders.getOrder(id)),
    orderRequest: (key) => breaker.execute(() => orders.orderRequest(key)),
  };
}
