import { resolveBreakerSettings, type CircuitBreakerSettings } from '../../resilience/circuit-breaker/index.ts';
import type { BreakerMode } from './breaker-function-config.ts';
import { GatewayConfigError, validatePoolSettings } from './gateway-config.ts';
import type { PoolSettings } from './environment-pool.ts';

/** What BreakerLab.start takes; every field but `mode` has a default. */
export interface BreakerLabOptions extends Partial<PoolSettings> {
  /** BEFORE: "local" (the breaker in each environment's module memory); AFTER: "shared" (in the services store). */
  mode: BreakerMode;
  /** The function's timeout on its backend call (default 1000 ms). */
  clientTimeoutMs?: number;
  /** The breaker's settings (defaults: Article 4's, see DEFAULT_BREAKER_SETTINGS). */
  breaker?: Partial<CircuitBreakerSettings>;
  /** Shared mode: how stale an environment's view of the store may get (default 1000 ms). */
  refreshIntervalMs?: number;
  /** Shared mode: bound on each store call (default 250 ms). */
  storeTimeoutMs?: number;
  /** Told of each step of start and close (library code never prints). */
  onProgress?: (message: string) => void;
}

/** BreakerLabOptions with every default applied. */
export interface ResolvedBreakerLabOptions extends PoolSettings {
  mode: BreakerMode;
  clientTimeoutMs: number;
  breaker: CircuitBreakerSettings;
  refreshIntervalMs: number;
  storeTimeoutMs: number;
}

/** Lambda-like defaults, small enough for a laptop. */
export const BREAKER_LAB_DEFAULTS = Object.freeze({
  concurrency: 4,
  maxInvocations: 100,
  idleMs: 10_000,
  queueSize: 32,
  functionTimeoutMs: 10_000,
  clientTimeoutMs: 1000,
  refreshIntervalMs: 1000,
  storeTimeoutMs: 250,
});

/** Validates and fills in the options once, at the edge; messages name the field and the value. */
export function resolveBreakerLabOptions(options: BreakerLabOptions): ResolvedBreakerLabOptions {
  if (options.mode !== 'local' && options.mode !== 'shared') throw new GatewayConfigError('mode', options.mode, '"local" or "shared"');
  const pick = <K extends keyof typeof BREAKER_LAB_DEFAULTS>(key: K): number => (options[key] as number | undefined) ?? BREAKER_LAB_DEFAULTS[key];
  const pool = validatePoolSettings({
    concurrency: pick('concurrency'),
    maxInvocations: pick('maxInvocations'),
    idleMs: pick('idleMs'),
    queueSize: pick('queueSize'),
    functionTimeoutMs: pick('functionTimeoutMs'),
  });
  const ms = (field: 'clientTimeoutMs' | 'refreshIntervalMs' | 'storeTimeoutMs'): number => {
    const value = pick(field);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new GatewayConfigError(field, value, 'a number of milliseconds above 0');
    return value;
  };
  const clientTimeoutMs = ms('clientTimeoutMs');
  // The gateway would kill the environment before the breaker ever saw the backend time out.
  if (pool.functionTimeoutMs <= clientTimeoutMs) {
    throw new GatewayConfigError('functionTimeoutMs', pool.functionTimeoutMs, `above clientTimeoutMs (${clientTimeoutMs})`);
  }
  let breaker: CircuitBreakerSettings;
  try {
    breaker = resolveBreakerSettings(options.breaker ?? {});
  } catch (error) {
    const e = error as { field?: string; value?: unknown; message: string };
    throw new GatewayConfigError(`breaker.${e.field ?? '?'}`, e.value, e.message.replace(/^\S+ must be (.*), got .*$/, '$1'));
  }
  return { ...pool, mode: options.mode, clientTimeoutMs, breaker, refreshIntervalMs: ms('refreshIntervalMs'), storeTimeoutMs: ms('storeTimeoutMs') };
}
