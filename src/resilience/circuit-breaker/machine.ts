// The circuit breaker's state machine, pure: no I/O, no timers, no clock of its own. Every
// change goes through `transition`, which the local breaker calls with its clock's readings
// and which the tests drive with a fake one. The shared breaker keeps the same states in a
// store and uses this machine, unchanged, when the store is out of reach.
import type { CircuitBreakerSettings } from './settings.ts';

/** The three states of Article 4. */
export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/**
 * The machine's state. Every transition starts a new `generation`; a call is admitted in a
 * generation and its result counts only while that generation lasts, so the result of a call
 * from before a trip, or of a trial whose lease expired, is ignored.
 */
export type MachineState =
  | { readonly kind: 'CLOSED'; readonly generation: number; readonly failures: number }
  | { readonly kind: 'OPEN'; readonly generation: number; readonly openedAt: number }
  /** One trial call is in flight, holding its lease until `trialUntil`. */
  | { readonly kind: 'HALF_OPEN'; readonly generation: number; readonly trialUntil: number };

/** What happens to the machine: a call asks to go through, or an admitted call reports. */
export type MachineInput =
  | { readonly type: 'acquire'; readonly now: number }
  | { readonly type: 'success'; readonly generation: number }
  | { readonly type: 'failure'; readonly generation: number; readonly now: number };

/** A change of state, for events and counts. */
export interface MachineChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
}

/** What `transition` decided. */
export interface MachineStep {
  readonly state: MachineState;
  /** For 'acquire': whether the call may go through. */
  readonly admitted: boolean;
  /** For an admitted 'acquire': whether the call is HALF_OPEN's trial. */
  readonly trial: boolean;
  /** For a result: true when it belonged to an older generation and changed nothing. */
  readonly stale: boolean;
  readonly change: MachineChange | undefined;
}

/** The state a breaker starts in. */
export const INITIAL_STATE: MachineState = Object.freeze({ kind: 'CLOSED', generation: 0, failures: 0 });

const ADMIT_CLOSED = (state: MachineState): MachineStep => ({ state, admitted: true, trial: false, stale: false, change: undefined });
const REJECT = (state: MachineState): MachineStep => ({ state, admitted: false, trial: false, stale: false, change: undefined });
const STALE = (state: MachineState): MachineStep => ({ state, admitted: false, trial: false, stale: true, change: undefined });
const SAME = (state: MachineState): MachineStep => ({ state, admitted: false, trial: false, stale: false, change: undefined });

function changed(state: MachineState, from: CircuitState, reason: string, admitted = false, trial = false): MachineStep {
  return { state, admitted, trial, stale: false, change: { from, to: state.kind, reason } };
}

/** The one transition function: the next state, and what it means for the call. */
export function transition(state: MachineState, input: MachineInput, settings: CircuitBreakerSettings): MachineStep {
  if (input.type === 'acquire') return acquire(state, input.now, settings);
  // A result from another generation (before a trip, or a trial whose lease ran out) is ignored.
  if (input.generation !== state.generation) return STALE(state);
  if (input.type === 'success') {
    if (state.kind === 'CLOSED') return state.failures === 0 ? SAME(state) : SAME({ ...state, failures: 0 });
    if (state.kind === 'HALF_OPEN') {
      return changed({ kind: 'CLOSED', generation: state.generation + 1, failures: 0 }, 'HALF_OPEN', 'trial call succeeded');
    }
    return STALE(state); // OPEN admits nothing, so no result can belong to it
  }
  if (state.kind === 'CLOSED') {
    const failures = state.failures + 1;
    if (failures < settings.failureThreshold) return SAME({ ...state, failures });
    return changed(
      { kind: 'OPEN', generation: state.generation + 1, openedAt: input.now },
      'CLOSED',
      `${failures} consecutive failures`,
    );
  }
  if (state.kind === 'HALF_OPEN') {
    return changed({ kind: 'OPEN', generation: state.generation + 1, openedAt: input.now }, 'HALF_OPEN', 'trial call failed');
  }
  return STALE(state);
}

function acquire(state: MachineState, now: number, settings: CircuitBreakerSettings): MachineStep {
  if (state.kind === 'CLOSED') return ADMIT_CLOSED(state);
  if (state.kind === 'OPEN') {
    if (now - state.openedAt < settings.recoveryTimeoutMs) return REJECT(state);
    // The call that finds the recovery timeout over is the trial: HALF_OPEN never exists without one.
    const next: MachineState = { kind: 'HALF_OPEN', generation: state.generation + 1, trialUntil: now + settings.trialLeaseMs };
    return changed(next, 'OPEN', 'recovery timeout elapsed', true, true);
  }
  // Article 4's circuit_breaker_allow() returns True for every call in HALF_OPEN, so a whole
  // burst reaches the dependency it was protecting; here the trial's lease admits exactly one.
  if (now < state.trialUntil) return REJECT(state);
  const next: MachineState = { kind: 'HALF_OPEN', generation: state.generation + 1, trialUntil: now + settings.trialLeaseMs };
  return changed(next, 'HALF_OPEN', 'trial lease expired', true, true);
}
