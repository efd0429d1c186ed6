import type { CircuitTransition } from './circuit-breaker.ts';
import type { MachineChange } from './machine.ts';

/** A breaker's transition listeners and counts. Listeners cannot break the breaker: their errors are dropped. */
export class TransitionLog {
  readonly counts: Record<string, number> = {};
  readonly #listeners = new Set<(transition: CircuitTransition) => void>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (transition: CircuitTransition) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Counts the change and tells every listener. */
  record(change: MachineChange, generation: number, at: number): void {
    const key = `${change.from}->${change.to}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    if (this.#listeners.size === 0) return;
    const transition: CircuitTransition = { from: change.from, to: change.to, at, reason: change.reason, generation };
    for (const listener of this.#listeners) {
      try {
        listener(transition);
      } catch {
        // An observer (metrics, logs) must not change what the breaker does.
      }
    }
  }
}
