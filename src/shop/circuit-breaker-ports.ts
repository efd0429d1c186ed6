// The circuit breaker pattern (Article 4) around the database's statements: one breaker per
// instance (or one shared by the fleet) guards the database, reads and writes alike, as in the
// article's app: a dead database fails both, so either may trip it.
//
// It sits inside the statement retry, as Polly and resilience4j compose them (fallback → retry →
// breaker → timeout): every failed attempt counts, so an outage trips the circuit within the
// first few attempts, and a retry that meets the open circuit stops at once (CircuitOpenError is
// not a connection error) and falls back, instead of waiting out the whole retry schedule. Put
// around the retry, the breaker counted a failure only after 3.5 s of retries, and the calls
// already retrying kept retrying after it tripped: the reads that met the trip timed out.
import type { CircuitBreaker } from '../resilience/circuit-breaker/index.ts';
import { isConnectionError } from './database/connection-errors.ts';
import type { ShopDatabase } from './database/shop-database.ts';
import { DatabaseFailure } from './ports.ts';

// SQLSTATE 57014 query_canceled: a server-side statement_timeout. The shop's own timeout
// (pg's query_timeout) already arrives as a connection failure.
const STATEMENT_TIMEOUT = '57014';

/**
 * What counts against the breaker: the database not answering (a refused, reset or lost
 * connection, a statement timeout), as the driver's error or as the port's DatabaseFailure.
 * Never a business answer: a product or order not found, out of stock, a reused key come back
 * as values (404, 409, 422) and prove the database answered; nor a statement the database
 * rejected, which retrying later would not fix either.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseFailure) return error.kind === 'connection' || codeOf(error.cause) === STATEMENT_TIMEOUT;
  return isConnectionError(error) || codeOf(error) === STATEMENT_TIMEOUT;
}

/** `database` with every statement through `breaker` (rejected with CircuitOpenError while it is open). */
export function withCircuitBreaker(database: ShopDatabase, breaker: CircuitBreaker): ShopDatabase {
  return {
    query: (role, statement) => breaker.execute(() => database.query(role, statement)),
    // /health/deep reports the database as it is this moment, not the breaker's opinion of it (a
    // probe answered 503 CIRCUIT_OPEN would hide that the database is back), and its pings are not
    // customer calls, so they neither trip the breaker nor take its one trial call.
    ping: () => database.ping(),
    close: () => database.close(),
  };
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null | undefined)?.code;
}
