// The reviews dependency's small interface (the DynamoDB table of Article 7): a product's review
// items as the table holds them. The shop validates them; a store only fetches.

/** A stored review item as the seeds write it (what the shop expects; the store does not enforce it). */
export interface ReviewItem {
  review_id: string;
  author: string;
  /** 1 to 5. */
  rating: number;
  text: string;
  /** ISO. */
  created_at: string;
}

/** The reviews table. Failures reject with DependencyError (dependency 'reviews'). */
export interface ReviewStore {
  /** The product's review items as stored (raw JSON values, unvalidated: the shop validates). [] when none. */
  reviewsOf(productId: number): Promise<unknown[]>;
  close(): Promise<void>;
}
