// The read cache: the products as the database last answered them, and any other entry by key.
export { CacheError } from './product-cache.ts';
export type { CacheErrorCode, CachedValue, ProductCache } from './product-cache.ts';
export type { KeyValueCache } from './key-value-cache.ts';
export { PostgresProductCache } from './postgres-product-cache.ts';
export type { PostgresProductCacheOptions } from './postgres-product-cache.ts';
export { CACHE_SCHEMA_SQL, ensureCacheSchema } from './cache-schema.ts';
