export { startShop, createShopDatabase } from './shop-instance.ts';
export type { ShopInstance, ShopEvents } from './shop-instance.ts';
export { buildShopApp } from './app.ts';
export { resolveShopConfig, parseDatabaseUrl, shopOptionsFromEnv, SHOP_DEFAULTS } from './config.ts';
export type { ShopConfig, ShopOptions, InitMode } from './config.ts';
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
  RESERVED_PATTERNS,
  PATTERNS_SCHEMA,
  applyRecoveryTimeoutEnv,
} from './patterns.ts';
export type { Patterns, PatternsInput, PatternsOverrides, PresetName, ConnectionPattern, CircuitBreakerPattern, BreakerPatternSettings } from './patterns.ts';
export { composeDatabase, composePorts, composeCircuitBreaker, withStatementRetry, SHOP_BREAKER_NAME } from './compose.ts';
export type { DatabaseTarget, BreakerTarget } from './compose.ts';
export { catalogWithBreaker, ordersWithBreaker, isDatabaseUnavailable } from './circuit-breaker-ports.ts';
export { databasePorts } from './database-ports.ts';
export { DatabaseFailure } from './ports.ts';
export type { Catalog, Orders, DatabaseHealth, ShopPorts, ProductRow, OrderRow, PlaceOrder, OrderOutcome } from './ports.ts';
export type { DatabaseEndpoint, EndpointRole } from './database/queryable.ts';
export { isConnectionError } from './database/connection-errors.ts';
export { SEED_PRODUCTS, initSchema } from './schema.ts';
export { ShopError } from './errors.ts';
export { MAX_QUANTITY } from './validation.ts';
