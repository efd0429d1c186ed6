import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BreakerRecord } from './breaker-store.ts';
import { localFailures, newTally } from './failure-tally.ts';

const closed = (generation: number, failures: number): BreakerRecord => ({ state: 'CLOSED', generation, failures, openForMs: null, trialLeaseLeftMs: null });

describe('failure tally', () => {
  it("adds the failures the store has not acknowledged to the store's count", () => {
    const tally = { ...newTally(4), unacked: 2, queued: 1, sent: 1 };
    assert.equal(localFailures(closed(4, 1), tally, false), 3);
  });

  it("counts none of the store's failures once a success has queued or sent a reset", () => {
    assert.equal(localFailures(closed(4, 2), { ...newTally(4), resetQueued: true, unacked: 1 }, false), 1);
    assert.equal(localFailures(closed(4, 2), { ...newTally(4), unacked: 1 }, true), 1);
  });

  it("a tally of another generation counts nothing: the store's record alone", () => {
    assert.equal(localFailures(closed(5, 1), { ...newTally(4), unacked: 9 }, false), 1);
    assert.equal(localFailures({ state: 'OPEN', generation: 4, failures: 0, openForMs: 0, trialLeaseLeftMs: null }, { ...newTally(4), unacked: 9 }, false), 0);
  });
});
