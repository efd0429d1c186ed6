/** How the articles count a read: OK or FAIL (a timeout is status 0). */
export type ReadOutcome = 'ok' | 'fail';

/** How the articles count a write: a 409 is a correct business answer, not a failure. */
export type WriteOutcome = 'ok' | 'queued' | 'stockOut' | 'fail';

export function classifyRead(status: number): ReadOutcome {
  return status === 200 ? 'ok' : 'fail';
}

export function classifyWrite(status: number): WriteOutcome {
  if (status === 201) return 'ok';
  if (status === 202) return 'queued';
  if (status === 409) return 'stockOut';
  return 'fail';
}
