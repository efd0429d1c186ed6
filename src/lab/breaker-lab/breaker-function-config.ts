import type { CircuitBreakerSettings } from '../../resilience/circuit-breaker/index.ts';
import type { PostgresConnectionConfig } from '../postgres/index.ts';

/** The shared breaker's key in the services store. */
export const BREAKER_NAME = 'backend';

/** Where the breaker function's breaker lives. */
export type BreakerMode = 'local' | 'shared';

/** The breaker function's configuration (its "environment variables"), resolved by the lab. */
export type BreakerFunctionConfig = {
  backendUrl: string;
  clientTimeoutMs: number;
  breaker: CircuitBreakerSettings;
  refreshIntervalMs: number;
  storeTimeoutMs: number;
} & ({ mode: 'local' } | { mode: 'shared'; store: PostgresConnectionConfig });
