/**
 * Shares one run of an operation among concurrent callers, without ever answering a caller
 * with a result older than its call: a caller that arrives while a run is in flight waits for
 * the *next* run, which starts after it arrived and is shared by everyone who arrived
 * meanwhile. Under load, N concurrent reads of the same data cost about two queries, not N.
 */
export class Coalescer<T> {
  readonly #operation: () => Promise<T>;
  #running: Promise<T> | undefined;
  #next: Promise<T> | undefined;

  constructor(operation: () => Promise<T>) {
    this.#operation = operation;
  }

  run(): Promise<T> {
    if (!this.#running) {
      const running = this.#operation().finally(() => {
        if (this.#running === running) this.#running = undefined;
      });
      this.#running = running;
      return running;
    }
    this.#next ??= this.#running.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  #startNext(): Promise<T> {
    this.#next = undefined;
    return this.run();
  }
}
