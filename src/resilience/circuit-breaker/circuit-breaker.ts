import type { CircuitState } from './machine.ts';

/** Milliseconds from a monotonic source; injected so that tests drive time. */
export interface Clock {
  now(): number;
}

/** performance.now(): monotonic, so a wall-clock step cannot open or close a circuit. */
export const MONOTONIC_CLOCK: Clock = { now: () => performance.now() };

/** One change of state, as observed by this breaker. */
export interface CircuitTransition {
  from: CircuitState;
  to: CircuitState;
  /** The clock's reading when this breaker saw the change. */
  at: number;
  reason: string;
  /** The generation the change started (every transition starts one). */
  generation: number;
}

/** Counts since the breaker was made. */
export interface CircuitBreakerStats {
  state: CircuitState;
  /** The generation of `state`, numbered by `generationSource`. */
  generation: number;
  /**
   * Who numbers `generation`: the shared store (one numbering for the fleet), or this process's
   * own breaker (a local breaker, or a shared one fallen back while its store is out of reach).
   * Local numbers are not the store's: never group a fleet's events by them.
   */
  generationSource: 'store' | 'local';
  /** Transitions seen, by "FROM->TO". */
  transitions: Record<string, number>;
  /** Calls that went through to the dependency (trials included). */
  calls: number;
  /** Calls rejected with CircuitOpenError, without calling the dependency. */
  rejected: number;
  /** HALF_OPEN trial calls this breaker ran. */
  trialCalls: number;
  /** Calls that failed in the sense of `isFailure`. */
  failures: number;
  /** Results that arrived after their generation ended, and changed nothing. */
  staleResults: number;
  /** Whether the shared store answers; null for a local breaker (it has none). */
  storeAvailable: boolean | null;
  /** Times the shared breaker lost its store and fell back to local state. */
  storeFallbacks: number;
  /** Calls decided by the local fallback while the store was out of reach. */
  fallbackCalls: number;
  /** Store round trips: reads, and writes (a write is any statement that may change the store). */
  storeReads: number;
  storeWrites: number;
  /** Store calls that failed or timed out. */
  storeErrors: number;
}

/** A circuit breaker around one dependency. */
export interface CircuitBreaker {
  /** Runs `fn` if the circuit admits the call; otherwise rejects with CircuitOpenError without calling it. */
  execute<T>(fn: () => Promise<T>): Promise<T>;
  /** The state as this breaker knows it now. */
  readonly state: CircuitState;
  /** Transition counts by "FROM->TO", calls rejected, trial calls, and (shared) store fallbacks. */
  stats(): CircuitBreakerStats;
  /** Calls `listener` on every transition this breaker sees; returns the unsubscribe function. */
  onTransition(listener: (transition: CircuitTransition) => void): () => void;
  /** Waits for store writes in flight and releases what the breaker holds. */
  close(): Promise<void>;
}

/** Options shared by both breakers. */
export interface BreakerCallOptions {
  /** Monotonic milliseconds; default performance.now(). */
  clock?: Clock;
  /**
   * Which rejections of `fn` count as failures of the dependency (default: every one). Others
   * (a business answer such as 404 or 409) prove the dependency answered: they count as success.
   */
  isFailure?: (error: unknown) => boolean;
  /** Named in the CircuitOpenError's message (default "circuit"). */
  name?: string;
}

/** Every rejection counts. */
export const EVERY_ERROR_IS_A_FAILURE = (): boolean => true;

/** The stats of a breaker that has not run anything yet. */
export function emptyStats(storeAvailable: boolean | null): CircuitBreakerStats {
  return {
    state: 'CLOSED',
    generation: 0,
    generationSource: storeAvailable === null ? 'local' : 'store',
    transitions: {},
    calls: 0,
    rejected: 0,
    trialCalls: 0,
    failures: 0,
    staleResults: 0,
    storeAvailable,
    storeFallbacks: 0,
    fallbackCalls: 0,
    storeReads: 0,
    storeWrites: 0,
    storeErrors: 0,
  };
}
