// The circuit-breaker lab's settings in a template (lab.breakerLab, merged per mode) resolved
// for one profile. What a profile scales and what it does not:
// - scaled, as every duration of a template: the breaker's recoveryTimeout (how many half-open
//   windows fit in the outage is part of the experiment's story), the environments' idle
//   recycle, the shared breaker's refresh interval, and the healthy backend's latency (with the
//   traffic's rate divided by the same scale, rate × latency, the environments kept busy, stays
//   the same under every profile);
// - not scaled, as every client timeout in this project: the function's timeout on its backend
//   call (clientTimeout), the gateway's function timeout, the store's call timeout and the trial
//   call's lease. They stand for the physics of a call, which a profile does not change; so the
//   hang of the outage is beyond the caller's timeout under every profile.
import { BREAKER_LAB_DEFAULTS, resolveBreakerLabOptions, type BreakerMode } from '../lab/breaker-lab/index.ts';
import { DEFAULT_BREAKER_SETTINGS, type CircuitBreakerSettings } from '../resilience/circuit-breaker/index.ts';
import { parseDurationMs } from './duration.ts';
import type { Profile } from './profiles.ts';

/** The circuit-breaker lab's settings as a template writes them (schema: definitions.breakerLab). */
export interface BreakerLabSettings {
  /** BEFORE: local (the breaker in each environment's module memory); AFTER: shared (in the services store). */
  mode?: BreakerMode;
  concurrency?: number;
  maxInvocations?: number;
  idle?: string;
  queueSize?: number;
  functionTimeout?: string;
  clientTimeout?: string;
  /** The healthy backend's latency (default none). */
  backendLatency?: string;
  refreshInterval?: string;
  storeTimeout?: string;
  breaker?: { failureThreshold?: number; recoveryTimeout?: string; trialLease?: string };
}

/** The circuit-breaker lab a run starts, in milliseconds, every default applied. */
export interface PlannedBreakerLab {
  kind: 'breaker-lab';
  mode: BreakerMode;
  concurrency: number;
  maxInvocations: number;
  idleMs: number;
  queueSize: number;
  functionTimeoutMs: number;
  clientTimeoutMs: number;
  /** The healthy backend's latency: set when the lab starts, and restored when a behaviour is undone. */
  backendLatencyMs: number;
  refreshIntervalMs: number;
  storeTimeoutMs: number;
  breaker: CircuitBreakerSettings;
}

// The smallest a scaled timing gets: below it, the timer measures the machine, not the breaker.
const MIN_SCALED_MS = 50;

/** The template's settings, the mode's merged over them, for `profile`; validated once more by the lab's own resolver. */
export function planBreakerLab(base: BreakerLabSettings = {}, over: BreakerLabSettings = {}, profile: Profile): PlannedBreakerLab {
  const merged: BreakerLabSettings = { ...base, ...over, breaker: { ...base.breaker, ...over.breaker } };
  const scaled = (text: string | undefined, fallbackMs: number): number => Math.max(MIN_SCALED_MS, Math.round((text ? parseDurationMs(text) : fallbackMs) * profile.timeScale));
  const unscaled = (text: string | undefined, fallbackMs: number): number => (text ? parseDurationMs(text) : fallbackMs);
  const options = resolveBreakerLabOptions({
    mode: merged.mode as BreakerMode,
    concurrency: merged.concurrency ?? BREAKER_LAB_DEFAULTS.concurrency,
    maxInvocations: merged.maxInvocations ?? BREAKER_LAB_DEFAULTS.maxInvocations,
    idleMs: scaled(merged.idle, BREAKER_LAB_DEFAULTS.idleMs),
    queueSize: merged.queueSize ?? BREAKER_LAB_DEFAULTS.queueSize,
    functionTimeoutMs: unscaled(merged.functionTimeout, BREAKER_LAB_DEFAULTS.functionTimeoutMs),
    clientTimeoutMs: unscaled(merged.clientTimeout, BREAKER_LAB_DEFAULTS.clientTimeoutMs),
    refreshIntervalMs: scaled(merged.refreshInterval, BREAKER_LAB_DEFAULTS.refreshIntervalMs),
    storeTimeoutMs: unscaled(merged.storeTimeout, BREAKER_LAB_DEFAULTS.storeTimeoutMs),
    breaker: {
      failureThreshold: merged.breaker?.failureThreshold ?? DEFAULT_BREAKER_SETTINGS.failureThreshold,
      recoveryTimeoutMs: scaled(merged.breaker?.recoveryTimeout, DEFAULT_BREAKER_SETTINGS.recoveryTimeoutMs),
      trialLeaseMs: unscaled(merged.breaker?.trialLease, DEFAULT_BREAKER_SETTINGS.trialLeaseMs),
    },
  });
  return {
    kind: 'breaker-lab',
    mode: options.mode,
    concurrency: options.concurrency,
    maxInvocations: options.maxInvocations,
    idleMs: options.idleMs,
    queueSize: options.queueSize,
    functionTimeoutMs: options.functionTimeoutMs,
    clientTimeoutMs: options.clientTimeoutMs,
    backendLatencyMs: merged.backendLatency ? Math.round(parseDurationMs(merged.backendLatency) * profile.timeScale) : 0,
    refreshIntervalMs: options.refreshIntervalMs,
    storeTimeoutMs: options.storeTimeoutMs,
    breaker: options.breaker,
  };
}

/**
 * What the schema cannot say about a mode's merged settings, each naming the field and the value:
 * a mode must say where the breaker lives, and a timeout must leave the backend call room.
 */
export function breakerLabProblems(base: BreakerLabSettings | undefined, over: BreakerLabSettings | undefined, at: string): string[] {
  const merged: BreakerLabSettings = { ...base, ...over, breaker: { ...base?.breaker, ...over?.breaker } };
  const problems: string[] = [];
  if (merged.mode === undefined) problems.push(`${at}.mode: is required (local: the breaker in each environment's module memory; shared: in the services store)`);
  const ms = (text: string | undefined, fallback: number): number => {
    try {
      return text ? parseDurationMs(text) : fallback;
    } catch {
      return Number.NaN; // the schema says so
    }
  };
  const client = ms(merged.clientTimeout, BREAKER_LAB_DEFAULTS.clientTimeoutMs);
  const fn = ms(merged.functionTimeout, BREAKER_LAB_DEFAULTS.functionTimeoutMs);
  const lease = ms(merged.breaker?.trialLease, DEFAULT_BREAKER_SETTINGS.trialLeaseMs);
  const shown = (text: string | undefined, fallback: number): string => (text !== undefined ? JSON.stringify(text) : `${fallback} ms (the default)`);
  // The gateway would kill the environment before the breaker ever saw the backend time out.
  if (fn <= client) problems.push(`${at}.functionTimeout: must be longer than clientTimeout (${shown(merged.clientTimeout, client)}), got ${shown(merged.functionTimeout, fn)}`);
  // A trial that outlives its lease is presumed lost while it is still running: a second trial would go through.
  if (lease <= client) problems.push(`${at}.breaker.trialLease: must be longer than clientTimeout (${shown(merged.clientTimeout, client)}), got ${shown(merged.breaker?.trialLease, lease)}`);
  return problems;
}
