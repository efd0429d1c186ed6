// A bound on a wait that has none of its own, so that a test fails with a named cause (and its
// finally runs) before node:test's own timeout abandons it.

/** Thrown when a bounded wait outlives its bound. */
export class DeadlineError extends Error {
  readonly code = 'TEST_DEADLINE';
}

/** Resolves or rejects as `promise` does, or rejects with a DeadlineError naming `what` after `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `predicate` every `intervalMs` (default 50) until it holds; rejects with a DeadlineError
 * naming `what` once `timeoutMs` has passed without it. For a state with no event to await.
 */
export async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new DeadlineError(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
