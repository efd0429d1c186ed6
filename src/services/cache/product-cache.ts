// The read cache's small interface (the DynamoDB table of Article 4): the product list and each
// product's own entry, with the time the database last answered them.
import type { ProductRow } from '../../shop/ports.ts';

/** A cached value and how old it is (the store's clock). */
export interface CachedValue<T> {
  value: T;
  /** When it was written (ISO). */
  cachedAt: string;
  ageMs: number;
}

/** The products as the database last answered them. Failures of the store reject with CacheError CACHE_UNAVAILABLE. */
export interface ProductCache {
  /** The list, and each product's own entry, in one statement. */
  putProducts(products: ProductRow[]): Promise<void>;
  putProduct(product: ProductRow): Promise<void>;
  getProducts(): Promise<CachedValue<ProductRow[]> | undefined>;
  getProduct(id: number): Promise<CachedValue<ProductRow> | undefined>;
  close(): Promise<void>;
}

/** Stable codes of CacheError. */
export type CacheErrorCode =
  /** The store did not answer in time, refused the connection, or failed the statement. */
  | 'CACHE_UNAVAILABLE'
  /** close() was called. */
  | 'CACHE_CLOSED';

/** A cache operation failed; `code` says how. */
export class CacheError extends Error {
  readonly code: CacheErrorCode;
  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheError';
    this.code = code;
  }
}
