import type { CircuitState } from './machine.ts';

/**
 * A breaker's state as the shared store holds it. Durations are measured by the store's clock
 * and handed out as ages, so that no instance ever compares its clock with another's.
 */
export interface BreakerRecord {
  state: CircuitState;
  /** Starts at 0; every transition adds one. Writes are guarded on it. */
  generation: number;
  /** Consecutive failures counted so far (CLOSED only). */
  failures: number;
  /** OPEN: how long ago it opened; otherwise null. */
  openForMs: number | null;
  /** HALF_OPEN: how long the trial's lease has left (0 or less once expired); otherwise null. */
  trialLeaseLeftMs: number | null;
}

/** What a guarded write did. */
export interface BreakerWrite {
  /** False when its guard (generation, state, time) no longer held: someone else got there first. */
  applied: boolean;
  /** The record after the write, or as it is now when the write did not apply. */
  record: BreakerRecord;
}

/**
 * Where a shared breaker keeps its state. Every write is atomic and guarded on the generation
 * the caller saw, and every decision about time uses the store's clock, so that many instances
 * racing produce one transition, and a caller's late result changes nothing.
 */
export interface BreakerStore {
  /** The breaker's record; a breaker never seen is CLOSED, generation 0. */
  read(name: string): Promise<BreakerRecord>;
  /**
   * Counts `count` failures seen in `generation` (CLOSED) in one guarded write; the write that
   * brings the count to `failureThreshold` opens the circuit.
   */
  recordFailure(name: string, generation: number, failureThreshold: number, count: number): Promise<BreakerWrite>;
  /** A success in CLOSED after failures: the consecutive count starts again. */
  resetFailures(name: string, generation: number): Promise<BreakerWrite>;
  /**
   * Takes the one trial call, fleet-wide: OPEN past `recoveryTimeoutMs`, or HALF_OPEN whose trial
   * lease has expired, becomes HALF_OPEN with a new lease of `trialLeaseMs`.
   */
  acquireTrial(name: string, generation: number, from: 'OPEN' | 'HALF_OPEN', recoveryTimeoutMs: number, trialLeaseMs: number): Promise<BreakerWrite>;
  /** The trial of `generation` reports: success closes the circuit, failure opens it again. */
  completeTrial(name: string, generation: number, success: boolean): Promise<BreakerWrite>;
  /** Releases connections the store opened. */
  close(): Promise<void>;
}

/** The store timed out: it may be blackholed. */
export class BreakerStoreTimeoutError extends Error {
  readonly code = 'BREAKER_STORE_TIMEOUT';
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`the breaker store did not answer within ${timeoutMs} ms`);
    this.name = 'BreakerStoreTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}
