// The pure state machine on a fake clock: time is whatever number the test passes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INITIAL_STATE, transition, type MachineState, type MachineStep } from './machine.ts';
import { resolveBreakerSettings } from './settings.ts';

const settings = resolveBreakerSettings({ failureThreshold: 3, recoveryTimeoutMs: 30_000, trialLeaseMs: 5_000 });

const acquire = (state: MachineState, now: number): MachineStep => transition(state, { type: 'acquire', now }, settings);
const fail = (state: MachineState, generation: number, now: number): MachineStep => transition(state, { type: 'failure', generation, now }, settings);
const succeed = (state: MachineState, generation: number, _now: number): MachineStep => transition(state, { type: 'success', generation }, settings);

/** Drives a CLOSED machine to OPEN at `now` with `failureThreshold` failures. */
function tripped(now = 0): MachineState {
  let state = INITIAL_STATE;
  for (let i = 0; i < settings.failureThreshold; i++) state = fail(state, state.generation, now).state;
  assert.equal(state.kind, 'OPEN');
  return state;
}

describe('circuit breaker state machine', () => {
  it('stays CLOSED below the threshold and opens on the threshold-th consecutive failure', () => {
    let state = INITIAL_STATE;
    for (let i = 1; i < settings.failureThreshold; i++) {
      const step = fail(state, 0, i);
      assert.equal(step.state.kind, 'CLOSED');
      assert.equal(step.change, undefined);
      state = step.state;
    }
    const step = fail(state, 0, 10);
    assert.deepEqual(step.state, { kind: 'OPEN', generation: 1, openedAt: 10 });
    assert.deepEqual(step.change, { from: 'CLOSED', to: 'OPEN', reason: '3 consecutive failures' });
  });

  it('a success in CLOSED resets the consecutive count', () => {
    let state = fail(fail(INITIAL_STATE, 0, 0).state, 0, 1).state;
    state = succeed(state, 0, 2).state;
    assert.deepEqual(state, { kind: 'CLOSED', generation: 0, failures: 0 });
    state = fail(fail(state, 0, 3).state, 0, 4).state;
    assert.equal(state.kind, 'CLOSED', 'two failures after the success are not three consecutive ones');
  });

  it('admits every call while CLOSED, and rejects every call while OPEN before the recovery timeout', () => {
    assert.equal(acquire(INITIAL_STATE, 0).admitted, true);
    const open = tripped(1000);
    for (const now of [1000, 15_000, 30_999]) {
      const step = acquire(open, now);
      assert.equal(step.admitted, false);
      assert.equal(step.state, open, 'a rejection changes nothing');
    }
  });

  it('after the recovery timeout the next call is the one trial; every other call is rejected while it runs', () => {
    const open = tripped(1000);
    const trial = acquire(open, 31_000);
    assert.equal(trial.admitted, true);
    assert.equal(trial.trial, true);
    assert.deepEqual(trial.state, { kind: 'HALF_OPEN', generation: 2, trialUntil: 36_000 });
    assert.deepEqual(trial.change, { from: 'OPEN', to: 'HALF_OPEN', reason: 'recovery timeout elapsed' });
    // Article 4's circuit_breaker_allow() returns True for every call in HALF_OPEN, so a burst
    // after the timeout all reached the database: the lease must admit exactly one.
    for (let now = 31_000; now < 36_000; now += 500) assert.equal(acquire(trial.state, now).admitted, false);
  });

  it("the trial's success closes the circuit", () => {
    const half = acquire(tripped(0), 30_000).state;
    const step = succeed(half, half.generation, 30_100);
    assert.deepEqual(step.state, { kind: 'CLOSED', generation: 3, failures: 0 });
    assert.deepEqual(step.change, { from: 'HALF_OPEN', to: 'CLOSED', reason: 'trial call succeeded' });
  });

  it("the trial's failure opens the circuit again, for a whole new recovery timeout", () => {
    const half = acquire(tripped(0), 30_000).state;
    const step = fail(half, half.generation, 30_100);
    assert.deepEqual(step.state, { kind: 'OPEN', generation: 3, openedAt: 30_100 });
    assert.deepEqual(step.change, { from: 'HALF_OPEN', to: 'OPEN', reason: 'trial call failed' });
    assert.equal(acquire(step.state, 60_000).admitted, false);
    assert.equal(acquire(step.state, 60_100).admitted, true);
  });

  it('a trial that outlives its lease is presumed lost: the next call becomes the trial and the lost one is ignored', () => {
    const first = acquire(tripped(0), 30_000).state;
    assert.equal(acquire(first, 34_999).admitted, false);
    const second = acquire(first, 35_000);
    assert.equal(second.admitted, true);
    assert.equal(second.trial, true);
    assert.deepEqual(second.change, { from: 'HALF_OPEN', to: 'HALF_OPEN', reason: 'trial lease expired' });
    const late = fail(second.state, first.generation, 35_500);
    assert.equal(late.stale, true);
    assert.equal(late.state, second.state, 'the lost trial cannot reopen the circuit');
    assert.equal(succeed(second.state, second.state.generation, 35_600).state.kind, 'CLOSED');
  });

  it('a late result of an older generation is ignored', () => {
    // Calls admitted while CLOSED (generation 0) that fail after the circuit opened and closed again.
    const half = acquire(tripped(0), 30_000).state;
    const closed = succeed(half, half.generation, 30_001).state;
    let state = closed;
    for (let i = 0; i < 5; i++) {
      const step = fail(state, 0, 30_002 + i);
      assert.equal(step.stale, true);
      state = step.state;
    }
    assert.deepEqual(state, closed);
    const lateSuccess = succeed(tripped(0), 0, 1);
    assert.equal(lateSuccess.stale, true, 'a success from before the trip does not close an OPEN circuit');
    assert.equal(lateSuccess.state.kind, 'OPEN');
  });

  it('every transition starts a new generation', () => {
    const generations: number[] = [];
    let state: MachineState = INITIAL_STATE;
    const record = (step: MachineStep): void => {
      if (step.change) generations.push(step.state.generation);
      state = step.state;
    };
    for (let i = 0; i < 3; i++) record(fail(state, state.generation, 0));
    record(acquire(state, 30_000));
    record(fail(state, state.generation, 30_001));
    record(acquire(state, 60_001));
    record(succeed(state, state.generation, 60_002));
    assert.deepEqual(generations, [1, 2, 3, 4, 5]);
  });
});
