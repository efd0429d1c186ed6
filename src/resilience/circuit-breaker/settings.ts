/** What a circuit breaker decides with: when it trips, how long it stays open, how long a trial may take. */
export interface CircuitBreakerSettings {
  /** Consecutive failures that open the circuit (Article 4: 3). */
  failureThreshold: number;
  /** How long the circuit stays OPEN before one trial call may go through (Article 4: 30 s). */
  recoveryTimeoutMs: number;
  /**
   * How long the trial call of HALF_OPEN holds its lease. A trial that reports nothing by then
   * (it hangs, or its caller crashed) is presumed lost: the next call becomes the trial, and the
   * lost one's late result is ignored. It should exceed the dependency's own call timeout.
   */
  trialLeaseMs: number;
}

/** Article 4's values: 3 consecutive failures, 30 s open; a trial holds its lease for 10 s. */
export const DEFAULT_BREAKER_SETTINGS: Readonly<CircuitBreakerSettings> = Object.freeze({
  failureThreshold: 3,
  recoveryTimeoutMs: 30_000,
  trialLeaseMs: 10_000,
});

/** A setting out of range; `field` and `value` name it. */
export class BreakerSettingsError extends Error {
  readonly code = 'INVALID_BREAKER_SETTINGS';
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string) {
    super(`${field} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
    this.name = 'BreakerSettingsError';
    this.field = field;
    this.value = value;
  }
}

/** Fills in the defaults and validates every field once, at the edge. */
export function resolveBreakerSettings(input: Partial<CircuitBreakerSettings> = {}): CircuitBreakerSettings {
  const settings = { ...DEFAULT_BREAKER_SETTINGS, ...dropUndefined(input) };
  if (!Number.isInteger(settings.failureThreshold) || settings.failureThreshold < 1) {
    throw new BreakerSettingsError('failureThreshold', settings.failureThreshold, 'an integer of 1 or more');
  }
  positiveMs('recoveryTimeoutMs', settings.recoveryTimeoutMs);
  positiveMs('trialLeaseMs', settings.trialLeaseMs);
  return settings;
}

/** Validates a duration in milliseconds: finite and above zero. */
export function positiveMs(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new BreakerSettingsError(field, value, 'a number of milliseconds above 0');
  }
  return value;
}

function dropUndefined<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<T>;
}
