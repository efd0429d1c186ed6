/** Delays of an exponential backoff: `initialMs`, doubled each time, capped at `maxMs`. */
export function exponentialDelays(initialMs: number, maxMs: number, count: number): number[] {
  const delays: number[] = [];
  for (let i = 0, delay = initialMs; i < count; i++, delay = Math.min(delay * 2, maxMs)) delays.push(delay);
  return delays;
}

/** Waits `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Options of `retry`. */
export interface RetryOptions {
  /** Waits between attempts; their count is the number of retries. */
  delaysMs: readonly number[];
  /** Which errors are worth another attempt. */
  shouldRetry: (error: unknown) => boolean;
  /** Called before each wait, e.g. to drop a broken connection. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs `operation`, retrying retryable failures after each delay in turn. */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const delayMs = options.delaysMs[attempt];
      if (delayMs === undefined || !options.shouldRetry(error)) throw error;
      options.onRetry?.(error, attempt + 1, delayMs);
      await wait(delayMs);
    }
  }
}
