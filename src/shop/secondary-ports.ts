// Article 7's secondary dependencies as the shop's ports: the reviews table and the promo bucket,
// each through its own client (timeouts and retries as patterns.dependencyClient says), each value
// checked before it is served. A dependency that does not answer is a DependencyUnavailable, which
// the route answers 503 "reviews temporarily unavailable" (the article's fast 503), or which the
// stale fallback (stale-fallback.ts) answers from the read cache instead.
import { DependencyError } from '../services/dependency-client.ts';
import { PROMO_BANNER_KEY, PROMO_BUCKET, type BlobStore } from '../services/promo/index.ts';
import type { ReviewStore } from '../services/reviews/index.ts';
import { WorkersBusyError, type Bulkhead } from '../resilience/bulkhead.ts';
import { ShopError } from './errors.ts';
import type { PromoPort, ReviewsPort, Served } from './ports.ts';
import { parseBanner, parseReviews } from './secondary-data.ts';

/** The secondary dependencies, by the name their routes, pools and metrics use. */
export type SecondaryDependency = 'reviews' | 'promo';

/**
 * A secondary dependency did not answer: its client failed or timed out, its worker pool refused
 * the call (its worker pool was full), or this shop was given no address for it (configured false).
 * `reason` says which.
 */
export class DependencyUnavailable extends Error {
  readonly dependency: SecondaryDependency;
  readonly configured: boolean;
  readonly reason: string;
  constructor(dependency: SecondaryDependency, reason: string, options: { configured?: boolean; cause?: unknown } = {}) {
    super(`${dependency} temporarily unavailable: ${reason}`, { cause: options.cause });
    this.name = 'DependencyUnavailable';
    this.dependency = dependency;
    this.configured = options.configured ?? true;
    this.reason = reason;
  }
}

/** The reviews port over the reviews table (undefined: this shop has none, REVIEWS_URL unset). */
export function reviewsFromStore(store: ReviewStore | undefined): ReviewsPort {
  return {
    reviewsOf: async (productId) => {
      if (!store) throw notConfigured('reviews', 'REVIEWS_URL');
      const items = await call('reviews', () => store.reviewsOf(productId));
      return { value: parseReviews(items, productId), source: 'store' };
    },
  };
}

/** The promo port over the promo bucket (undefined: this shop has none, PROMO_URL unset). */
export function promoFromStore(store: BlobStore | undefined): PromoPort {
  return {
    banner: async () => {
      if (!store) throw notConfigured('promo', 'PROMO_URL');
      const blob = await call('promo', () => store.get(PROMO_BUCKET, PROMO_BANNER_KEY));
      // The store answered: there is no banner. Not an outage, so never answered from the stale cache.
      if (!blob) throw new ShopError(404, 'PROMO_NOT_FOUND', `no promo banner: the promo bucket holds no ${PROMO_BANNER_KEY}`);
      return { value: parseBanner(blob.body), source: 'store' };
    },
  };
}

/**
 * Runs a dependency call on the dependency's own worker pool (workerPools per-dependency): a call
 * past the pool and its backlog is a DependencyUnavailable at once, so the route answers its fast
 * 503 (or the stale fallback its cached value) instead of waiting behind calls that hang.
 */
export function onPool<T>(dependency: SecondaryDependency, pool: Bulkhead, served: () => Promise<Served<T>>): Promise<Served<T>> {
  return pool.run(served).catch((error: unknown) => {
    if (error instanceof WorkersBusyError) throw new DependencyUnavailable(dependency, error.message, { cause: error });
    throw error;
  });
}

async function call<T>(dependency: SecondaryDependency, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof DependencyError) throw new DependencyUnavailable(dependency, error.message, { cause: error });
    throw error;
  }
}

function notConfigured(dependency: SecondaryDependency, variable: string): DependencyUnavailable {
  return new DependencyUnavailable(dependency, `this shop was given no ${dependency} store (${variable})`, { configured: false });
}
