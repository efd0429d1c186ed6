// The reviews table on the services store (the DynamoDB table of Article 7: partition key
// product_id, sort key review_id) and its seed: a few friendly reviews for each seed product.
import { SEED_PRODUCTS } from '../../shop/schema.ts';
import type { StatementRunner } from '../postgres/index.ts';
import type { ReviewItem } from './review-store.ts';

/** The reviews table. `item` is any JSON value: the store keeps what it is given, the shop validates. */
export const REVIEWS_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS reviews (
  product_id integer NOT NULL,
  review_id  text NOT NULL,
  item       jsonb NOT NULL,
  PRIMARY KEY (product_id, review_id)
);
`;

const AUTHORS = ['Dana', 'Kofi', 'Mei', 'Lars', 'Priya', 'Tomás', 'Aiko'];
// Mostly happy customers, one lukewarm and one unhappy among them, so a rating is not always 5.
const OPINIONS: ReadonlyArray<{ rating: number; text: (name: string) => string }> = [
  { rating: 5, text: (name) => `Does exactly what I hoped. The ${name} has been on my desk every day since.` },
  { rating: 4, text: (name) => `Solid ${name} for the price; delivery was quick too.` },
  { rating: 5, text: (name) => `Bought a second ${name} for a friend. Great value.` },
  { rating: 3, text: (name) => `The ${name} is fine, nothing special. Does the job.` },
  { rating: 4, text: (name) => `Happy with the ${name}. Setup took two minutes.` },
  { rating: 2, text: (name) => `My ${name} arrived with a scuffed box, but it works.` },
  { rating: 1, text: (name) => `Not for me: I sent the ${name} back. Support was kind about it.` },
];

/** The seed reviews: 2 for each even product id, 3 for each odd one (deterministic). */
export const SEED_REVIEWS: ReadonlyArray<{ productId: number; item: ReviewItem }> = SEED_PRODUCTS.flatMap((product) =>
  Array.from({ length: product.id % 2 === 1 ? 3 : 2 }, (_, i) => {
    const n = product.id * 3 + i;
    const opinion = OPINIONS[n % OPINIONS.length]!;
    const day = String(1 + ((product.id * 7 + i * 5) % 28)).padStart(2, '0');
    const item: ReviewItem = {
      review_id: `r-${product.id}-${i + 1}`,
      author: AUTHORS[n % AUTHORS.length]!,
      rating: opinion.rating,
      text: opinion.text(product.name),
      created_at: `2026-10-${day}T09:${String(10 + i * 15).padStart(2, '0')}:00Z`,
    };
    return { productId: product.id, item };
  }),
);

// Rows from one JSON parameter, so the seed is one statement whatever its size.
const PUT_ITEMS = `INSERT INTO reviews (product_id, review_id, item)
  SELECT r.product_id, r.review_id, r.item FROM jsonb_to_recordset($1::jsonb) AS r(product_id integer, review_id text, item jsonb)`;

/** Creates the reviews table (idempotent; run it once, from one process: concurrent CREATEs can collide). */
export async function ensureReviewsSchema(client: StatementRunner): Promise<void> {
  await client.query(REVIEWS_SCHEMA_SQL);
}

/** Seeds 2-3 reviews for each of the ten seed products (SEED_PRODUCTS), idempotent (ON CONFLICT DO NOTHING). */
export async function seedReviews(client: StatementRunner): Promise<void> {
  // DO NOTHING: a store restarted over its data keeps what it holds, including a review a test
  // replaced with a bad value on purpose.
  const rows = SEED_REVIEWS.map(({ productId, item }) => ({ product_id: productId, review_id: item.review_id, item }));
  await client.query(`${PUT_ITEMS} ON CONFLICT (product_id, review_id) DO NOTHING`, [JSON.stringify(rows)]);
}

/**
 * Stores `item` (any JSON value, valid review or not) as the product's review `reviewId`,
 * replacing one there: for tests and experiments that need a particular, or a bad, value.
 */
export async function putReviewItem(client: StatementRunner, productId: number, reviewId: string, item: unknown): Promise<void> {
  const json = JSON.stringify(item);
  if (json === undefined) throw new TypeError(`a review item must be a JSON value, got ${typeof item}`);
  await client.query(
    `INSERT INTO reviews (product_id, review_id, item) VALUES ($1, $2, $3::jsonb)
      ON CONFLICT (product_id, review_id) DO UPDATE SET item = excluded.item`,
    [productId, reviewId, json],
  );
}
