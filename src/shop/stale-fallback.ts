// Beyond Article 7: instead of its fast 503, a secondary dependency that does not answer is served
// from the read cache with the last good answer, marked stale with its age, so that even the cut
// feature shows the customer something. Good answers are written through to the cache as the
// product reads are (write-through.ts: only when changed or due for a refresh, never awaited).
import { isDeepStrictEqual } from 'node:util';
import type { KeyValueCache } from '../services/cache/index.ts';
import type { Banner, PromoPort, Review, ReviewsPort, Served } from './ports.ts';
import { parseBanner, parseReviews } from './secondary-data.ts';
import { DependencyUnavailable, type SecondaryDependency } from './secondary-ports.ts';
import { WriteThrough } from './write-through.ts';

/** Options of withStaleFallback. */
export interface StaleFallbackOptions {
  cache: KeyValueCache;
  /** The longest a cached answer goes without a rewrite while it does not change. */
  refreshMs: number;
  /** After each cache write; `error` set when it failed. */
  onWrite?: (error: unknown) => void;
  /** A failure the cache answered for. */
  onFallback?: (error: DependencyUnavailable) => void;
}

/** The cache keys of the secondary dependencies' answers. */
export const reviewsKey = (productId: number): string => `reviews:${productId}`;
export const PROMO_CACHE_KEY = 'promo:banner';

/** The reviews and promo ports with the stale fallback around each. */
export function withStaleFallback(ports: { reviews: ReviewsPort; promo: PromoPort }, options: StaleFallbackOptions): { reviews: ReviewsPort; promo: PromoPort } {
  const writeThrough = new WriteThrough<unknown>({
    refreshMs: options.refreshMs,
    same: isDeepStrictEqual,
    write: (key, value) => options.cache.put(key, value),
    onWrite: (_key, error) => options.onWrite?.(error),
  });
  const served = async <T>(dependency: SecondaryDependency, key: string, check: (value: unknown) => T, call: () => Promise<Served<T>>): Promise<Served<T>> => {
    try {
      const answer = await call();
      // Only answers worth keeping: an empty review list is also what any unknown product id gets,
      // and caching those would let a walk over ids grow this instance's memory and the cache
      // table without bound (the product reads likewise cache only what was found).
      if (!(Array.isArray(answer.value) && answer.value.length === 0)) writeThrough.offer(key, answer.value);
      return answer;
    } catch (error) {
      // A shop with no store has nothing to have cached; a value the store holds that is not what
      // the shop expects (502) is not an outage: both are answered as they are.
      if (!(error instanceof DependencyUnavailable) || !error.configured) throw error;
      const cached = await options.cache.get<unknown>(key).catch((cacheError: unknown) => {
        throw new DependencyUnavailable(dependency, `${error.reason}; and the read cache did not answer either (${(cacheError as Error).message})`, { cause: error });
      });
      const value = cached && checked(check, cached.value);
      if (!cached || value === undefined) throw new DependencyUnavailable(dependency, `${error.reason}; and the read cache holds no earlier answer`, { cause: error });
      options.onFallback?.(error);
      return { value, source: 'cache', ageMs: cached.ageMs };
    }
  };
  return {
    reviews: { reviewsOf: (productId) => served<Review[]>('reviews', reviewsKey(productId), (v) => parseReviews(asArray(v), productId), () => ports.reviews.reviewsOf(productId)) },
    promo: { banner: () => served<Banner>('promo', PROMO_CACHE_KEY, (v) => parseBanner(Buffer.from(JSON.stringify(v))), () => ports.promo.banner()) },
  };
}

/** The cached value in the shape the shop serves, or undefined when it is not (someone else wrote the key): no earlier answer. */
function checked<T>(check: (value: unknown) => T, value: unknown): T | undefined {
  try {
    return check(value);
  } catch {
    return undefined;
  }
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new TypeError('not an array');
  return value;
}
