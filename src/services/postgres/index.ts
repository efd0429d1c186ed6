// Bounded connections to the services store, shared by the queue and the cache.
export { StoreClosedError, StorePool, StoreTimeoutError, storeClientConfig } from './store-pool.ts';
export type { StatementRunner, StorePoolOptions } from './store-pool.ts';
