// Article 4's read cache as a port wrapper: the (breaker-wrapped) catalog in, the same catalog
// out. A database answer is written through to the cache (write-through.ts: only on change or
// refresh, never awaited by the response); while the circuit is open, or when the database call
// fails with a connection error or a timeout, the read is served from the cache with its age.
// A statement the database rejected is not an outage: it stays an error (500), never hidden.
import { CircuitOpenError } from '../resilience/circuit-breaker/index.ts';
import type { ProductCache } from '../services/cache/index.ts';
import { isDatabaseUnavailable } from './circuit-breaker-ports.ts';
import { ShopError } from './errors.ts';
import type { Catalog, ProductRow, Served } from './ports.ts';
import { WriteThrough } from './write-through.ts';

/** How the read cache behaves. */
export interface ReadCacheOptions {
  /** The longest a key goes without a rewrite while the database answers the same value. */
  refreshMs: number;
  /** Monotonic milliseconds, for the refresh decision; injected in tests. */
  now?: () => number;
  /** Called after each cache write (error set when it failed): metrics. */
  onWrite?: (error: unknown) => void;
  /** Called with the database's failure when a read falls back to the cache: metrics. */
  onFallback?: (error: unknown) => void;
}

/** The catalog with the read cache around it, and a way to wait for its background writes. */
export interface CachedCatalog extends Catalog {
  /** Resolves once no cache write is in flight. */
  writesIdle(): Promise<void>;
}

/** The list's key in the write-through's bookkeeping (the cache itself has its own layout). */
const LIST_KEY = 'products';

/** True when the read should be served from the cache: the circuit is open, or the database is not answering. */
export function isDegradable(error: unknown): boolean {
  return error instanceof CircuitOpenError || isDatabaseUnavailable(error);
}

/** `catalog` with the read cache around it: writes through on database answers, serves the cache while the database is away. */
export function catalogWithReadCache(catalog: Catalog, cache: ProductCache, options: ReadCacheOptions): CachedCatalog {
  const onWrite = (_key: string, error: unknown): void => options.onWrite?.(error);
  const lists = new WriteThrough<ProductRow[]>({ refreshMs: options.refreshMs, now: options.now, same: sameProducts, write: (_key, rows) => cache.putProducts(rows), onWrite });
  const products = new WriteThrough<ProductRow>({ refreshMs: options.refreshMs, now: options.now, same: sameProduct, write: (_key, row) => cache.putProduct(row), onWrite });

  /** Serves a read from the cache after the database failed with `databaseError`. */
  async function fromCache<T>(databaseError: unknown, read: () => Promise<{ value: T; ageMs: number } | undefined>, details: Record<string, unknown>): Promise<Served<T>> {
    options.onFallback?.(databaseError);
    let cached: { value: T; ageMs: number } | undefined;
    try {
      cached = await read();
    } catch (error) {
      throw new ShopError(503, 'CACHE_UNAVAILABLE', 'database unavailable and cache unreachable', { ...details, cache_error: (error as Error).message });
    }
    if (cached === undefined) throw new ShopError(503, 'CACHE_EMPTY', 'database unavailable, cache empty', details);
    return { value: cached.value, source: 'cache', ageMs: Math.max(0, Math.round(cached.ageMs)) };
  }

  return {
    async listProducts() {
      let served: Served<ProductRow[]>;
      try {
        served = await catalog.listProducts();
      } catch (error) {
        if (!isDegradable(error)) throw error;
        return fromCache(error, () => cache.getProducts(), {});
      }
      lists.offer(LIST_KEY, served.value);
      return served;
    },
    async getProduct(id) {
      let served: Served<ProductRow | undefined>;
      try {
        served = await catalog.getProduct(id);
      } catch (error) {
        if (!isDegradable(error)) throw error;
        // Not in the cache does not mean no such product: only that this instance's cache never saw it; so 503, not 404.
        return fromCache<ProductRow | undefined>(error, () => cache.getProduct(id), { product_id: id });
      }
      if (served.value !== undefined) products.offer(String(id), served.value);
      return served;
    },
    async writesIdle() {
      await Promise.all([lists.idle(), products.idle()]);
    },
  };
}

/** Field by field: cheaper than serialising both lists on every read, which is the point. */
function sameProducts(a: readonly ProductRow[], b: readonly ProductRow[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameProduct(a[i] as ProductRow, b[i] as ProductRow)) return false;
  return true;
}

/** Two product rows with the same values. */
function sameProduct(a: ProductRow, b: ProductRow): boolean {
  return a.id === b.id && a.stock === b.stock && a.price === b.price && a.name === b.name;
}
