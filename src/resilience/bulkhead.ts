// A bulkhead: a fixed number of workers and a bounded backlog of calls waiting for one. It stands
// for gunicorn's sync workers in Article 7: a worker is held for the whole call, so calls that
// hang on a dead dependency hold workers until none is left for anything else. Node itself would
// serve every request at once; this makes the limit explicit, and measurable.

/** How big a pool is. */
export interface BulkheadSettings {
  /** Calls served at once. */
  workers: number;
  /** Calls that may wait for a worker; the next one is refused at once (0: nobody waits). */
  backlog: number;
}

/** A call refused because every worker was busy and the backlog was full. */
export class WorkersBusyError extends Error {
  readonly code = 'WORKERS_BUSY';
  readonly pool: string;
  constructor(pool: string, settings: BulkheadSettings) {
    super(
      settings.backlog === 0
        ? `all ${settings.workers} workers of the ${pool} pool are busy`
        : `all ${settings.workers} workers of the ${pool} pool are busy and its backlog of ${settings.backlog} is full`,
    );
    this.name = 'WorkersBusyError';
    this.pool = pool;
  }
}

/** What a pool has done since it was made. */
export interface BulkheadStats {
  busy: number;
  waiting: number;
  /** Calls that got a worker. */
  served: number;
  /** Calls refused with WorkersBusyError. */
  refused: number;
  /** Calls whose signal aborted while they waited (the client went away): they never ran. */
  abandoned: number;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** A pool of workers with a backlog (first come, first served). */
export class Bulkhead {
  readonly name: string;
  readonly settings: Readonly<BulkheadSettings>;
  #busy = 0;
  readonly #waiting: Waiter[] = [];
  #served = 0;
  #refused = 0;
  #abandoned = 0;

  constructor(name: string, settings: BulkheadSettings) {
    if (!Number.isInteger(settings.workers) || settings.workers < 1) throw new RangeError(`workers must be an integer of at least 1, got ${settings.workers}`);
    if (!Number.isInteger(settings.backlog) || settings.backlog < 0) throw new RangeError(`backlog must be a non-negative integer, got ${settings.backlog}`);
    this.name = name;
    this.settings = Object.freeze({ ...settings });
  }

  /**
   * Runs `call` on a worker, held until the call settles: at once when a worker is free, after
   * waiting in the backlog otherwise. Rejects with WorkersBusyError when the backlog is full, and
   * with the signal's reason when `signal` aborts while the call waits (it then never runs).
   */
  async run<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await call();
    } finally {
      this.#release();
    }
  }

  stats(): BulkheadStats {
    return { busy: this.#busy, waiting: this.#waiting.length, served: this.#served, refused: this.#refused, abandoned: this.#abandoned };
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#busy < this.settings.workers) {
      this.#busy++;
      this.#served++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.settings.backlog) {
      this.#refused++;
      return Promise.reject(new WorkersBusyError(this.name, this.settings));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          // A caller that is gone frees its place in the backlog: nobody is waiting for its answer.
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          this.#abandoned++;
          reject(signal!.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (!next) {
      this.#busy--;
      return;
    }
    // The worker passes straight to the next waiter: busy stays the same.
    next.signal?.removeEventListener('abort', next.onAbort);
    this.#served++;
    next.resolve();
  }
}
