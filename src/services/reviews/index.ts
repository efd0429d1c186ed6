// Reviews (Article 7's DynamoDB table): per-product review items on the services store.
export type { ReviewItem, ReviewStore } from './review-store.ts';
export { PostgresReviewStore } from './postgres-review-store.ts';
export type { PostgresReviewStoreOptions } from './postgres-review-store.ts';
export { REVIEWS_SCHEMA_SQL, SEED_REVIEWS, ensureReviewsSchema, putReviewItem, seedReviews } from './reviews-schema.ts';
