import {
  EVERY_ERROR_IS_A_FAILURE,
  MONOTONIC_CLOCK,
  emptyStats,
  type BreakerCallOptions,
  type CircuitBreaker,
  type CircuitBreakerStats,
  type CircuitTransition,
  type Clock,
} from './circuit-breaker.ts';
import { rejectLater, rejectionsFor, type Rejections } from './circuit-open-error.ts';
import { INITIAL_STATE, transition, type CircuitState, type MachineState, type MachineStep } from './machine.ts';
import { resolveBreakerSettings, type CircuitBreakerSettings } from './settings.ts';
import { TransitionLog } from './transition-log.ts';

/** A breaker whose state lives in this process's memory: each process, each environment, has its own. */
export function localCircuitBreaker(settings: Partial<CircuitBreakerSettings> = {}, options: BreakerCallOptions = {}): CircuitBreaker {
  return new LocalCircuitBreaker(resolveBreakerSettings(settings), options);
}

/**
 * The state machine driven by a clock, in memory. Also the shared breaker's fallback while its
 * store is out of reach: it then shares the shared breaker's log and counts, and starts from the
 * state the store last said.
 */
export class LocalCircuitBreaker implements CircuitBreaker {
  readonly #settings: CircuitBreakerSettings;
  readonly #clock: Clock;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #rejections: Rejections;
  readonly #log: TransitionLog;
  readonly #stats: CircuitBreakerStats;
  #state: MachineState;

  constructor(
    settings: CircuitBreakerSettings,
    options: BreakerCallOptions,
    shared?: { log: TransitionLog; stats: CircuitBreakerStats; initial: MachineState; rejections: Rejections },
  ) {
    this.#settings = settings;
    this.#clock = options.clock ?? MONOTONIC_CLOCK;
    this.#isFailure = options.isFailure ?? EVERY_ERROR_IS_A_FAILURE;
    this.#rejections = shared?.rejections ?? rejectionsFor(options.name ?? 'circuit');
    this.#log = shared?.log ?? new TransitionLog();
    this.#stats = shared?.stats ?? emptyStats(null);
    this.#state = shared?.initial ?? INITIAL_STATE;
  }

  get state(): CircuitState {
    return this.#state.kind;
  }

  /** The machine's state, generation included. */
  get machineState(): MachineState {
    return this.#state;
  }

  execute<T>(fn: () => Promise<T>): Promise<T> {
    // CLOSED admits whatever the time, so the hot path skips the clock read (~75 ns for performance.now()).
    const now = this.#state.kind === 'CLOSED' ? 0 : this.#clock.now();
    const step = transition(this.#state, { type: 'acquire', now }, this.#settings);
    if (!step.admitted) {
      this.#stats.rejected++;
      // The same instance every time (see CircuitOpenError): no stack is captured per rejection.
      return rejectLater(this.#rejections[step.state.kind === 'HALF_OPEN' ? 'HALF_OPEN' : 'OPEN']);
    }
    this.#apply(step);
    this.#stats.calls++;
    if (step.trial) this.#stats.trialCalls++;
    return this.#run(fn, step.state.generation);
  }

  async #run<T>(fn: () => Promise<T>, generation: number): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      const failure = this.#isFailure(error);
      if (failure) this.#stats.failures++;
      this.#report(failure, generation);
      throw error;
    }
    this.#report(false, generation);
    return result;
  }

  #report(failure: boolean, generation: number): void {
    const input = failure ? { type: 'failure' as const, generation, now: this.#clock.now() } : { type: 'success' as const, generation };
    const step = transition(this.#state, input, this.#settings);
    if (step.stale) this.#stats.staleResults++;
    this.#apply(step);
  }

  #apply(step: MachineStep): void {
    this.#state = step.state;
    if (step.change) this.#log.record(step.change, step.state.generation, this.#clock.now());
  }

  stats(): CircuitBreakerStats {
    return { ...this.#stats, transitions: { ...this.#log.counts }, state: this.#state.kind, generation: this.#state.generation, generationSource: 'local' };
  }

  onTransition(listener: (transition: CircuitTransition) => void): () => void {
    return this.#log.subscribe(listener);
  }

  async close(): Promise<void> {}
}
