// Two parts of a lab started at once (each a server that takes a moment to boot), so the start
// costs the slower one, not both. Both are awaited together: a part that fails while the other
// is still starting is an error of the whole start once both have settled, never an unhandled
// rejection, and the part that did start is stopped before the error is thrown.

/** One part to start: its start (already under way) and how to stop it once started. */
export interface StartingPart<T> {
  started: Promise<T>;
  stop: (part: T) => Promise<void>;
}

/** Both parts, started side by side; when one fails, the other is stopped and the first failure (a's before b's) is thrown. */
export async function startSideBySide<A, B>(a: StartingPart<A>, b: StartingPart<B>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a.started, b.started]);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  if (first.status === 'fulfilled') await a.stop(first.value).catch(() => {});
  if (second.status === 'fulfilled') await b.stop(second.value).catch(() => {});
  throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason;
}
