export { transition, INITIAL_STATE } from './machine.ts';
export type { CircuitState, MachineState, MachineInput, MachineStep, MachineChange } from './machine.ts';
export {
  DEFAULT_BREAKER_SETTINGS,
  BreakerSettingsError,
  resolveBreakerSettings,
} from './settings.ts';
export type { CircuitBreakerSettings } from './settings.ts';
export { CircuitOpenError } from './circuit-open-error.ts';
export { MONOTONIC_CLOCK } from './circuit-breaker.ts';
export type { BreakerCallOptions, CircuitBreaker, CircuitBreakerStats, CircuitTransition, Clock } from './circuit-breaker.ts';
export { localCircuitBreaker } from './local-breaker.ts';
export { sharedCircuitBreaker, SHARED_BREAKER_DEFAULTS } from './shared-breaker.ts';
export type { SharedCircuitBreakerOptions } from './shared-breaker.ts';
export { BreakerStoreTimeoutError } from './breaker-store.ts';
export type { BreakerRecord, BreakerStore, BreakerWrite } from './breaker-store.ts';
export {
  PostgresBreakerStore,
  BREAKER_CALLS_IN_FLIGHT,
  BREAKER_SCHEMA_SQL,
  ensureBreakerSchema,
} from './postgres-breaker-store.ts';
export type { PostgresBreakerStoreOptions, StoredTransition } from './postgres-breaker-store.ts';
