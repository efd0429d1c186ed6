// The read cache as plain entries (for the shop's stale fallback of Article 7's dependencies:
// keys 'reviews:<id>' and 'promo:banner'), beside the products' own entries in the same table.
import type { CachedValue } from './product-cache.ts';

/** Any JSON value by key, with its age by the store's clock. Failures of the store reject with CacheError CACHE_UNAVAILABLE. */
export interface KeyValueCache {
  /** Writes `value` (any JSON value) under `key`, replacing an older one and making the entry young again. */
  put(key: string, value: unknown): Promise<void>;
  /** The entry under `key`, or undefined when there is none. The value is as stored: the caller checks its shape. */
  get<T>(key: string): Promise<CachedValue<T> | undefined>;
  close(): Promise<void>;
}
