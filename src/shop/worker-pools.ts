// Article 7's worker pools, from the pattern: which pool a request takes its worker from, and which
// pool a secondary dependency's calls run on. shared: one pool for every request (gunicorn's sync
// workers: a request waiting on a dead dependency holds one of them, /health included, so the
// load balancer sees the instance die too). per-dependency: the reviews and promo routes leave
// the main pool alone; their dependency calls run on a small pool of their own.
import { Bulkhead } from '../resilience/bulkhead.ts';
import type { WorkerPoolsPattern } from './patterns.ts';
import type { SecondaryDependency } from './secondary-ports.ts';

/** The routes that call a secondary dependency, and which. */
export const DEPENDENCY_ROUTES: Readonly<Record<string, SecondaryDependency>> = {
  '/products/:id/reviews': 'reviews',
  '/promo': 'promo',
};

/**
 * Routes served beside the workers: a scrape must see the pools' exhaustion, not wait in it (as a
 * gunicorn app exports its metrics from a thread or port of its own).
 */
const UNPOOLED_ROUTES: ReadonlySet<string> = new Set(['/metrics']);

/** The pools of one shop instance. */
export interface WorkerPools {
  /** The pool a request to `route` (its URL pattern) takes its worker from for its whole handling; undefined: served at once. */
  forRoute(route: string): Bulkhead | undefined;
  /** The pool a secondary dependency's calls run on (per-dependency only). */
  forDependency(dependency: SecondaryDependency): Bulkhead | undefined;
  /** Every pool, for metrics. */
  all(): Bulkhead[];
}

/** The pools `pattern` asks for (none when it is off). */
export function composeWorkerPools(pattern: WorkerPoolsPattern): WorkerPools {
  if (pattern.mode === 'off') return { forRoute: () => undefined, forDependency: () => undefined, all: () => [] };
  const main = new Bulkhead('main', { workers: pattern.workers, backlog: pattern.backlog });
  if (pattern.mode === 'shared') return { forRoute: (route) => (UNPOOLED_ROUTES.has(route) ? undefined : main), forDependency: () => undefined, all: () => [main] };
  const own = { workers: pattern.dependencyWorkers, backlog: pattern.dependencyBacklog };
  const dependencyPools: Record<SecondaryDependency, Bulkhead> = { reviews: new Bulkhead('reviews', own), promo: new Bulkhead('promo', own) };
  return {
    forRoute: (route) => (Object.hasOwn(DEPENDENCY_ROUTES, route) || UNPOOLED_ROUTES.has(route) ? undefined : main),
    forDependency: (dependency) => dependencyPools[dependency],
    all: () => [main, dependencyPools.reviews, dependencyPools.promo],
  };
}
