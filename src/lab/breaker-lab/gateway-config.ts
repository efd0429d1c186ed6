import type { PoolSettings } from './environment-pool.ts';

/** What a gateway process runs: its pool's settings and the function every environment imports. */
export interface GatewayConfig extends PoolSettings {
  /** Absolute path of the function module. */
  functionModule: string;
  /** The function's environment variables. */
  functionEnv: Record<string, string>;
}

/** A gateway setting out of range; `field` and `value` name it. */
export class GatewayConfigError extends Error {
  readonly code = 'INVALID_GATEWAY_CONFIG';
  readonly status = 400;
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string) {
    super(`${field} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
    this.name = 'GatewayConfigError';
    this.field = field;
    this.value = value;
  }
}

/** Validates every pool setting (the lab's edge and the gateway process both call it). */
export function validatePoolSettings(settings: PoolSettings, prefix = ''): PoolSettings {
  const integer = (field: keyof PoolSettings, min: number): void => {
    const value = settings[field];
    if (!Number.isInteger(value) || value < min) throw new GatewayConfigError(`${prefix}${field}`, value, `an integer of ${min} or more`);
  };
  const ms = (field: keyof PoolSettings): void => {
    const value = settings[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new GatewayConfigError(`${prefix}${field}`, value, 'a number of milliseconds above 0');
  };
  integer('concurrency', 1);
  integer('maxInvocations', 1);
  integer('queueSize', 0);
  ms('idleMs');
  ms('functionTimeoutMs');
  return settings;
}
