// The reviews table on the services store, reached as the shop's dependency client settings say
// (timeouts, retries): a blackholed store rejects in bounded time with DEPENDENCY_UNAVAILABLE.
import type pg from 'pg';
import { DependencyClient, type DependencyStoreOptions } from '../dependency-client.ts';
import type { ReviewStore } from './review-store.ts';

/** Options of PostgresReviewStore. */
export type PostgresReviewStoreOptions = DependencyStoreOptions;

// bigint: any safe integer the caller passes is a valid comparison (an id beyond the integer
// column's range simply has no reviews) rather than a statement error. int4 = int8 still uses
// the primary key's index (both are in btree's integer_ops family).
const REVIEWS_OF: pg.QueryConfig = {
  name: 'reviews-of',
  text: 'SELECT item FROM reviews WHERE product_id = $1::bigint ORDER BY review_id',
};

/** A ReviewStore on PostgreSQL. */
export class PostgresReviewStore implements ReviewStore {
  readonly #client: DependencyClient;

  constructor(options: PostgresReviewStoreOptions) {
    this.#client = new DependencyClient('reviews', options);
  }

  async reviewsOf(productId: number): Promise<unknown[]> {
    if (!Number.isSafeInteger(productId)) throw new RangeError(`product id must be an integer, got ${String(productId)}`);
    const { rows } = await this.#client.query<{ item: unknown }>(REVIEWS_OF, [productId]);
    return rows.map((row) => row.item);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
