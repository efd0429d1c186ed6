// The shop's domain ports: what the HTTP routes ask for, in the shop's own words. The database
// implements them (database-ports.ts); patterns wrap them (compose.ts): a circuit breaker
// around the catalog and the orders, a read cache around the catalog (read-cache-ports.ts), a
// write buffer around the orders (write-buffer-ports.ts). Article 7's secondary dependencies, the
// reviews and the promo banner, are ports of their own (secondary-ports.ts), wrapped by a worker
// pool and the stale fallback (compose.ts).
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
  /** True when the database could not take the order and it went to the queue (202): the write buffer. */
  queued?: boolean;
}

/**
 * A read's answer and where it came from: the database (or, for a secondary dependency, its
 * store), or the read cache while that is away (with the entry's age).
 */
export interface Served<T> {
  value: T;
  source: 'database' | 'store' | 'cache';
  /** How long ago the cache entry was written (source cache only). */
  ageMs?: number;
}

/**
 * Where an order request (an idempotency key) stands: confirmed (committed, with the order),
 * rejected (a business answer: 404 unknown product, 409 not enough stock, with its reason), or
 * pending (in the order queue; dead-lettered when it failed maxReceiveCount times and waits for
 * a redrive).
 */
export type OrderRequestStatus =
  | { status: 'confirmed'; order: Record<string, unknown> }
  | { status: 'rejected'; httpStatus: number; reason: string; answer: Record<string, unknown> }
  | { status: 'pending'; deadLettered: boolean };

/** The products. */
export interface Catalog {
  listProducts(): Promise<Served<ProductRow[]>>;
  getProduct(id: number): Promise<Served<ProductRow | undefined>>;
}

/** The orders. */
export interface Orders {
  placeOrder(order: PlaceOrder): Promise<OrderOutcome>;
  getOrder(id: number): Promise<OrderRow | undefined>;
  /** Where the order with this idempotency key stands, or undefined when nobody knows the key. */
  orderRequest(key: string): Promise<OrderRequestStatus | undefined>;
}

/** A product review, as the reviews table holds it and GET /products/:id/reviews shows it. */
export interface Review {
  review_id: string;
  author: string;
  /** 1 to 5. */
  rating: number;
  text: string;
  created_at: string;
}

/** The promo banner, as the promo bucket holds it (JSON) and GET /promo shows it. */
export interface Banner {
  title: string;
  text: string;
  discount_percent?: number;
}

/** Article 7's reviews (DynamoDB there): a secondary dependency. */
export interface ReviewsPort {
  reviewsOf(productId: number): Promise<Served<Review[]>>;
}

/** Article 7's promo banner (S3 there): a secondary dependency. */
export interface PromoPort {
  banner(): Promise<Served<Banner>>;
}

/** Whether the database answers: /health/deep. */
export interface DatabaseHealth {
  ping(): Promise<void>;
}

/** The ports the database implements (database-ports.ts). */
export type DatabasePorts = Pick<ShopPorts, 'catalog' | 'orders' | 'health'>;

/** Every port the routes use. */
export interface ShopPorts {
  catalog: Catalog;
  orders: Orders;
  health: DatabaseHealth;
  reviews: ReviewsPort;
  promo: PromoPort;
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
