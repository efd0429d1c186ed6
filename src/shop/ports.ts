// The shop's domain ports: what the HTTP routes ask for, in the shop's own words. The database
// implements them today (database-ports.ts); patterns wrap them (compose.ts); the next issues
// add reviews and promo beside them, and a read cache around the catalog, a write buffer
// around orders.
import type { EndpointRole } from './database/queryable.ts';

/** A product as the API shows it. */
export interface ProductRow {
  id: number;
  name: string;
  price: number;
  stock: number;
}

/** An order as the API shows it. */
export interface OrderRow {
  order_id: number;
  product_id: number;
  product_name: string;
  quantity: number;
  total: number;
  status: string;
  created_at: string;
}

/** An order to place: validated, with the client's Idempotency-Key if it sent one. */
export interface PlaceOrder {
  productId: number;
  quantity: number;
  idempotencyKey: string | undefined;
}

/** What placing an order answered: the HTTP status and JSON body the order transaction decided (201, 404, 409, 422). */
export interface OrderOutcome {
  httpStatus: number;
  /** The JSON text of the answer. */
  body: string;
  /** True when the key had been used before and this is the first answer again. */
  replayed: boolean;
}

/** The products. */
export interface Catalog {
  listProducts(): Promise<ProductRow[]>;
  getProduct(id: number): Promise<ProductRow | undefined>;
}

/** The orders. */
export interface Orders {
  placeOrder(order: PlaceOrder): Promise<OrderOutcome>;
  getOrder(id: number): Promise<OrderRow | undefined>;
}

/** Whether the database answers: /health/deep. */
export interface DatabaseHealth {
  ping(): Promise<void>;
}

/** Every port the routes use. */
export interface ShopPorts {
  catalog: Catalog;
  orders: Orders;
  health: DatabaseHealth;
}

/**
 * A port's database call failed: the routes answer 500 DB_ERROR with the driver's message (as
 * the article's app does) and count it by role and kind. `cause` is the driver's error, for
 * whoever decides what counts as a dependency failure (a circuit breaker).
 */
export class DatabaseFailure extends Error {
  readonly code = 'DB_ERROR';
  readonly role: EndpointRole;
  /** connection: the connection or the server went away (or timed out); statement: the statement failed. */
  readonly kind: 'connection' | 'statement';
  constructor(role: EndpointRole, kind: 'connection' | 'statement', cause: unknown) {
    super(cause instanceof Error && cause.message ? cause.message : 'database error', { cause });
    this.name = 'DatabaseFailure';
    this.role = role;
    this.kind = kind;
  }
}
