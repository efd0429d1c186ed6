// One instance's part of a shared breaker's failure count: the failures it has seen in a CLOSED
// generation that the store has not acknowledged yet. The store counts what it has been sent; the
// instance adds what it has not, so that it fails fast once the two reach the threshold, however
// slow the write that will open the circuit in the store.
import type { BreakerRecord } from './breaker-store.ts';

/**
 * Failures of one CLOSED generation on their way to the store, one write at a time: `queued`
 * wait for the write in flight, which carries `sent` of them.
 */
export interface FailureTally {
  generation: number;
  /** Failures counted here since the last success and not yet in an acknowledged write (queued and sent). */
  unacked: number;
  queued: number;
  sent: number;
  /** A success came after the store's count: a reset waits for the write in flight. */
  resetQueued: boolean;
  /** The count reached the threshold: fail fast until the store answers a count write. */
  tripped: boolean;
}

/** A tally with nothing counted yet. */
export function newTally(generation: number): FailureTally {
  return { generation, unacked: 0, queued: 0, sent: 0, resetQueued: false, tripped: false };
}

/**
 * The consecutive failures of `record`'s generation as this instance knows them: the store's count
 * (none once a success has queued or sent a reset) plus those it has not acknowledged.
 */
export function localFailures(record: BreakerRecord, tally: FailureTally, resetInFlight: boolean): number {
  if (record.state !== 'CLOSED') return 0;
  if (tally.generation !== record.generation) return record.failures;
  return (tally.resetQueued || resetInFlight ? 0 : record.failures) + tally.unacked;
}
