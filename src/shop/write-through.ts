// The read cache's write side, kept off the read path's cost. Article 4 writes the cache on every
// successful read; at this shop's rates (~17,000 listings/s) a store round trip per read would
// halve GET /products. The meaning is kept (the cache holds what the database last answered) at
// the cost of a comparison per read: a key is rewritten only when its value changed or refreshMs
// passed, at most one write per key is in flight, and a value offered meanwhile waits as the
// latest pending one (older pending values are dropped: only the newest matters). Nothing here is
// awaited by a response.

/** How the write-through decides and writes. */
export interface WriteThroughOptions<T> {
  /** The longest a key goes without a rewrite while its value does not change. */
  refreshMs: number;
  /** True when two values are the same (no rewrite needed). */
  same: (a: T, b: T) => boolean;
  /** Writes one key's value to the cache. */
  write: (key: string, value: T) => Promise<void>;
  /** Monotonic milliseconds; injected so a test can move time. */
  now?: () => number;
  /** Called after each write, with its error when it failed. */
  onWrite?: (key: string, error: unknown) => void;
}

interface Entry<T> {
  /** The value the cache holds for the key, as far as this instance knows (undefined: none written yet). */
  written: T | undefined;
  writtenAt: number;
  /** When the last write failed: the next try waits refreshMs, so a store that is down costs one write per key per refreshMs. */
  failedAt: number | undefined;
  inFlight: Promise<void> | undefined;
  pending: T | undefined;
}

/** Writes values through to a cache, per key, only when they changed or are due for a refresh. */
export class WriteThrough<T> {
  readonly #options: WriteThroughOptions<T>;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<T>>();

  constructor(options: WriteThroughOptions<T>) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Offers the value the database just answered for `key`; writes it in the background if it is due. */
  offer(key: string, value: T): void {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { written: undefined, writtenAt: -Infinity, failedAt: undefined, inFlight: undefined, pending: undefined };
      this.#entries.set(key, entry);
    }
    if (entry.inFlight) {
      entry.pending = value;
      return;
    }
    if (this.#due(entry, value)) this.#start(key, entry, value);
  }

  /** Resolves once no write is in flight (for tests and for a clean close). */
  async idle(): Promise<void> {
    for (;;) {
      const inFlight = [...this.#entries.values()].flatMap((entry) => (entry.inFlight ? [entry.inFlight] : []));
      if (inFlight.length === 0) return;
      await Promise.all(inFlight);
    }
  }

  #due(entry: Entry<T>, value: T): boolean {
    const now = this.#now();
    const { refreshMs, same } = this.#options;
    if (entry.failedAt !== undefined && now - entry.failedAt < refreshMs) return false;
    if (entry.written === undefined) return true;
    return now - entry.writtenAt >= refreshMs || !same(entry.written, value);
  }

  #start(key: string, entry: Entry<T>, value: T): void {
    const startedAt = this.#now();
    entry.inFlight = this.#options.write(key, value).then(
      () => {
        // The value as of the write's start: a refresh is due refreshMs after that.
        entry.written = value;
        entry.writtenAt = startedAt;
        entry.failedAt = undefined;
        this.#options.onWrite?.(key, undefined);
      },
      (error: unknown) => {
        entry.failedAt = this.#now();
        this.#options.onWrite?.(key, error);
      },
    );
    void entry.inFlight.finally(() => {
      entry.inFlight = undefined;
      const next = entry.pending;
      entry.pending = undefined;
      if (next !== undefined && this.#due(entry, next)) this.#start(key, entry, next);
    });
  }
}
