// The load balancer's view of one target, as a pure state machine: health check results go in,
// state changes come out. No timers, no I/O: time is a parameter (tests use a fake clock).

/** ALB target states (without draining). */
export type TargetState = 'initial' | 'healthy' | 'unhealthy';

/** Health check parameters; the defaults are Article 1's target group. */
export interface HealthCheckSettings {
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** Article 1: interval 10 s, timeout 5 s, healthy threshold 2, unhealthy threshold 3. */
export const ALB_HEALTH_CHECK_DEFAULTS: HealthCheckSettings = { intervalMs: 10_000, timeoutMs: 5000, healthyThreshold: 2, unhealthyThreshold: 3 };

/** Passive ejection: a target that fails this many requests in a row is taken out for a while. */
export interface EjectionSettings {
  consecutiveFailures: number;
  durationMs: number;
}

/** One target's health. */
export interface TargetHealth {
  state: TargetState;
  successes: number;
  failures: number;
  /** Consecutive failed requests (passive, from real traffic). */
  requestFailures: number;
  /** Until when passive ejection keeps it out of rotation (ms since epoch; 0: not ejected). */
  ejectedUntil: number;
  since: number;
}

/** A change of state, for the event log. */
export interface StateChange {
  from: TargetState;
  to: TargetState;
  at: number;
  reason: string;
}

/** A target that has just been registered. */
export function initialHealth(now: number): TargetHealth {
  return { state: 'initial', successes: 0, failures: 0, requestFailures: 0, ejectedUntil: 0, since: now };
}

/** Applies one active health check result. */
export function recordHealthCheck(
  health: TargetHealth,
  ok: boolean,
  settings: HealthCheckSettings,
  now: number,
): { health: TargetHealth; change?: StateChange } {
  const successes = ok ? health.successes + 1 : 0;
  const failures = ok ? 0 : health.failures + 1;
  let state = health.state;
  if (ok && state !== 'healthy' && successes >= settings.healthyThreshold) state = 'healthy';
  if (!ok && state !== 'unhealthy' && failures >= settings.unhealthyThreshold) state = 'unhealthy';
  // A passing health check ends a passive ejection early.
  const next: TargetHealth = { ...health, successes, failures, state, since: state === health.state ? health.since : now };
  if (ok && state === 'healthy') {
    next.ejectedUntil = 0;
    next.requestFailures = 0;
  }
  if (state === health.state) return { health: next };
  const reason = ok ? `${successes} consecutive health checks passed` : `${failures} consecutive health checks failed`;
  return { health: next, change: { from: health.state, to: state, at: now, reason } };
}

/** Applies the outcome of one proxied request (passive health). */
export function recordRequest(health: TargetHealth, ok: boolean, ejection: EjectionSettings | undefined, now: number): TargetHealth {
  if (ok) return health.requestFailures === 0 ? health : { ...health, requestFailures: 0 };
  const requestFailures = health.requestFailures + 1;
  const eject = ejection !== undefined && requestFailures >= ejection.consecutiveFailures;
  return { ...health, requestFailures, ejectedUntil: eject ? now + ejection.durationMs : health.ejectedUntil };
}

/** True when the target may receive traffic: healthy and not ejected. */
export function inRotation(health: TargetHealth, now: number): boolean {
  return health.state === 'healthy' && health.ejectedUntil <= now;
}
