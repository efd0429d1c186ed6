// What the shop expects of the values its secondary dependencies hold. The reviews table and the
// promo bucket enforce no shape (DynamoDB items and S3 objects do not either), so the shop checks
// each value it serves: a value that is not what it expects is answered 502 with what was wrong,
// never passed on to the customer and never a crash.
import { ShopError } from './errors.ts';
import type { Banner, Review } from './ports.ts';
import { describeValue } from './validation.ts';

const MAX_TEXT = 10_000;

/** A stored value the shop cannot serve: 502, naming the value and the problem. */
export function badValue(code: 'REVIEWS_INVALID' | 'PROMO_INVALID', message: string): ShopError {
  return new ShopError(502, code, message);
}

/** The product's stored review items as reviews; 502 REVIEWS_INVALID naming the first item that is not one. */
export function parseReviews(items: readonly unknown[], productId: number): Review[] {
  return items.map((item, index) => {
    const problem = reviewProblem(item);
    if (problem) throw badValue('REVIEWS_INVALID', `the reviews table holds an item for product ${productId} that is not a review (item ${index + 1}): ${problem}`);
    const { review_id, author, rating, text, created_at } = item as Review;
    return { review_id, author, rating, text, created_at };
  });
}

function reviewProblem(item: unknown): string | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return `expected an object, got ${describeValue(item)}`;
  const review = item as Record<string, unknown>;
  for (const field of ['review_id', 'author', 'text', 'created_at']) {
    const value = review[field];
    if (typeof value !== 'string' || value.length > MAX_TEXT) return `${field} must be a string of at most ${MAX_TEXT} characters, got ${describeValue(value)}`;
  }
  const rating = review['rating'];
  if (!Number.isInteger(rating) || (rating as number) < 1 || (rating as number) > 5) return `rating must be an integer from 1 to 5, got ${describeValue(rating)}`;
  return undefined;
}

/** The banner object's body as a banner; 502 PROMO_INVALID when it is not JSON or not a banner. */
export function parseBanner(body: Buffer): Banner {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badValue('PROMO_INVALID', `the promo banner in the bucket is not JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badValue('PROMO_INVALID', `the promo banner must be a JSON object, got ${describeValue(value)}`);
  const banner = value as Record<string, unknown>;
  for (const field of ['title', 'text']) {
    const text = banner[field];
    if (typeof text !== 'string' || text.length > MAX_TEXT) throw badValue('PROMO_INVALID', `the promo banner's ${field} must be a string of at most ${MAX_TEXT} characters, got ${describeValue(text)}`);
  }
  const discount = banner['discount_percent'];
  if (discount !== undefined && (typeof discount !== 'number' || !(discount >= 0 && discount <= 100))) {
    throw badValue('PROMO_INVALID', `the promo banner's discount_percent must be a number from 0 to 100, got ${describeValue(discount)}`);
  }
  return { title: banner['title'] as string, text: banner['text'] as string, ...(discount !== undefined ? { discount_percent: discount as number } : {}) };
}
