// The shop's ports implemented over its database: the statements of Article 1's API.
import { randomUUID } from 'node:crypto';
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { CircuitOpenError } from '../resilience/circuit-breaker/index.ts';
import { Coalescer } from '../resilience/coalesce.ts';
import { isConnectionError } from './database/connection-errors.ts';
import type { EndpointRole } from './database/queryable.ts';
import type { ShopDatabase } from './database/shop-database.ts';
import { ORDER_REQUEST, orderRequestStatus, type OrderRequestRow } from './order-request.ts';
import { DatabaseFailure, type OrderRow, type ProductRow, type DatabasePorts } from './ports.ts';

/** How the database ports behave, as the patterns say. */
export interface DatabasePortsOptions {
  /** The instance placing orders, recorded on each order. */
  instanceId: string;
  /** Statements are retried: an order without a key gets one, so a retry cannot place it twice. */
  retriesStatements: boolean;
  /** Reads go to a reader that may lag: an order just placed and not found there is looked up on the writer. */
  readYourWrites: boolean;
}

// Named statements are prepared once per connection and reused: no parse and plan per request.
const LIST_PRODUCTS: QueryConfig = {
  name: 'list-products',
  text: 'SELECT id, name, price::float8 AS price, stock FROM products ORDER BY id',
};
const GET_PRODUCT = 'SELECT id, name, price::float8 AS price, stock FROM products WHERE id = $1';
const GET_ORDER = `
  SELECT o.id AS order_id, o.product_id, p.name AS product_name, o.quantity, o.total::float8 AS total, o.status,
         to_char(o.created_at, 'YYYY-MM-DD HH24:MI:SS.US') AS created_at
  FROM orders o JOIN products p ON p.id = o.product_id WHERE o.id = $1`;
const PLACE_ORDER = 'SELECT http_status, body, replayed FROM place_order($1, $2, $3, $4)';

// Prefix of the keys given to orders that came without one when statements are retried, so that
// the shop's own retries can never place an order twice.
const INTERNAL_KEY_PREFIX = 'chaos-lab-retry:';

/** The catalog, the orders and the health check over `database`. */
export function databasePorts(database: ShopDatabase, options: DatabasePortsOptions): DatabasePorts {
  /** Runs a statement; a failure becomes a DatabaseFailure naming the endpoint role and its kind. */
  async function run<R extends QueryResultRow>(role: EndpointRole, statement: QueryConfig): Promise<QueryResult<R>> {
    try {
      return await database.query<R>(role, statement);
    } catch (error) {
      throw failure(role, error);
    }
  }

  // Concurrent product listings share one query (never an older one than the request: see
  // Coalescer). Under load this halves the shop's CPU per listing; at the articles' few
  // requests per second every request still gets a query of its own.
  const productList = new Coalescer<QueryResult<ProductRow>>(() => database.query<ProductRow>('reader', LIST_PRODUCTS));

  return {
    catalog: {
      async listProducts() {
        try {
          return { value: (await productList.run()).rows, source: 'database' };
        } catch (error) {
          throw failure('reader', error);
        }
      },
      async getProduct(id) {
        return { value: (await run<ProductRow>('reader', { name: 'get-product', text: GET_PRODUCT, values: [id] })).rows[0], source: 'database' };
      },
    },
    orders: {
      async placeOrder(order) {
        const key = order.idempotencyKey ?? (options.retriesStatements ? `${INTERNAL_KEY_PREFIX}${randomUUID()}` : null);
        const { rows } = await run<{ http_status: number; body: string; replayed: boolean }>('writer', {
          name: 'place-order',
          text: PLACE_ORDER,
          values: [order.productId, order.quantity, key, options.instanceId],
        });
        const result = rows[0];
        if (!result) throw new DatabaseFailure('writer', 'statement', new Error('place_order returned no row'));
        return { httpStatus: result.http_status, body: result.body, replayed: result.replayed };
      },
      async getOrder(id) {
        const statement = { name: 'get-order', text: GET_ORDER, values: [id] };
        const found = (await run<OrderRow>('reader', statement)).rows[0];
        // Read your writes: an order just placed may not have reached the reader yet.
        if (found === undefined && options.readYourWrites) return (await run<OrderRow>('writer', statement)).rows[0];
        return found;
      },
      async orderRequest(key) {
        // On the writer: the answer was just recorded there, and a lagging reader would say "unknown".
        const row = (await run<OrderRequestRow>('writer', { name: 'order-request', text: ORDER_REQUEST, values: [key] })).rows[0];
        return row === undefined ? undefined : orderRequestStatus(row);
      },
    },
    health: {
      async ping() {
        try {
          await database.ping();
        } catch (error) {
          throw failure('writer', error);
        }
      },
    },
  };
}

/** The port's error for a failed statement: the breaker's refusal as it is (the database was not called), else a DatabaseFailure. */
function failure(role: EndpointRole, error: unknown): Error {
  if (error instanceof CircuitOpenError) return error;
  return new DatabaseFailure(role, isConnectionError(error) ? 'connection' : 'statement', error);
}
