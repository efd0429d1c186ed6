export { startShop, createShopDatabase } from './shop-instance.ts';
export type { ShopInstance, ShopEvents } from './shop-instance.ts';
export { buildShopApp } from './app.ts';
export { resolveShopConfig, parseDatabaseUrl, shopOptionsFromEnv, SHOP_DEFAULTS } from './config.ts';
export type { ShopConfig, ShopOptions } from './config.ts';
export type { ShopDatabase, EndpointConnection } from './database/shop-database.ts';
export {
  resolvePatterns,
  checkResolvedPatterns,
  mergePatternsInputs,
  patternsName,
  isPatternsInput,
  PatternsError,
  PATTERN_PRESETS,
  PRESET_NAMES,
  DEFAULT_PRESET,
  CIRCUIT_BREAKER_DEFAULTS,
  READ_CACHE_DEFAULTS,
  INITIALISATION_DEFAULTS,
  PATTERNS_SCHEMA,
  applyRecoveryTimeoutEnv,
  SDK_DEFAULT_DEPENDENCY_CLIENT,
  SHORT_DEPENDENCY_CLIENT,
  WORKER_POOL_DEFAULTS,
  DEPENDENCY_POOL_DEFAULTS,
} from './patterns.ts';
export type {
  Patterns,
  PatternsInput,
  PatternsOverrides,
  PresetName,
  ConnectionPattern,
  CircuitBreakerPattern,
  BreakerPatternSettings,
  ReadCachePattern,
  WriteBufferPattern,
  InitialisationPattern,
  DependencyClientPattern,
  WorkerPoolsPattern,
} from './patterns.ts';
export { composeDatabase, composePorts, composeCircuitBreaker, withStatementRetry, SHOP_BREAKER_NAME } from './compose.ts';
export type { DatabaseTarget, BreakerTarget, PortsTarget } from './compose.ts';
export { catalogWithReadCache, isDegradable } from './read-cache-ports.ts';
export type { ReadCacheOptions, CachedCatalog } from './read-cache-ports.ts';
export { ordersWithWriteBuffer, requestStatusUrl, QUEUED_KEY_PREFIX } from './write-buffer-ports.ts';
export type { WriteBufferOptions } from './write-buffer-ports.ts';
export { parseOrderMessage, orderMessageBody, OrderMessageError } from './order-message.ts';
export type { OrderMessage } from './order-message.ts';
export { withCircuitBreaker, isDatabaseUnavailable } from './circuit-breaker-ports.ts';
export { databasePorts } from './database-ports.ts';
export { composeSecondaryPorts } from './compose.ts';
export { reviewsFromStore, promoFromStore, onPool, DependencyUnavailable } from './secondary-ports.ts';
export type { SecondaryDependency } from './secondary-ports.ts';
export { withStaleFallback } from './stale-fallback.ts';
export { parseReviews, parseBanner } from './secondary-data.ts';
export { composeWorkerPools, DEPENDENCY_ROUTES } from './worker-pools.ts';
export type { WorkerPools } from './worker-pools.ts';
export { DatabaseFailure } from './ports.ts';
export type { Catalog, Orders, DatabaseHealth, ShopPorts, DatabasePorts, ProductRow, OrderRow, PlaceOrder, OrderOutcome, Served, OrderRequestStatus, Review, Banner, ReviewsPort, PromoPort } from './ports.ts';
export type { DatabaseEndpoint, EndpointRole } from './database/queryable.ts';
export { isConnectionError } from './database/connection-errors.ts';
export { SEED_PRODUCTS, initSchema } from './schema.ts';
export { ShopError } from './errors.ts';
export { MAX_QUANTITY } from './validation.ts';
