import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BreakerRecord, BreakerStore, BreakerWrite } from './breaker-store.ts';
import { sharedCircuitBreaker } from './shared-breaker.ts';

/** A store in memory that can be cut (every call rejects): a pure unit, the real one is tested on PostgreSQL. */
class CuttableStore implements BreakerStore {
  record: BreakerRecord;
  cut = false;
  constructor(record: BreakerRecord) {
    this.record = record;
  }
  async read(): Promise<BreakerRecord> {
    this.#reachable();
    return { ...this.record };
  }
  async acquireTrial(_name: string, generation: number): Promise<BreakerWrite> {
    this.#reachable();
    if (generation !== this.record.generation) return { applied: false, record: { ...this.record } };
    this.record = { state: 'HALF_OPEN', generation: generation + 1, failures: 0, openForMs: null, trialLeaseLeftMs: 10_000 };
    return { applied: true, record: { ...this.record } };
  }
  async completeTrial(_name: string, generation: number, success: boolean): Promise<BreakerWrite> {
    this.#reachable();
    if (generation !== this.record.generation) return { applied: false, record: { ...this.record } };
    this.record = success
      ? { state: 'CLOSED', generation: generation + 1, failures: 0, openForMs: null, trialLeaseLeftMs: null }
      : { state: 'OPEN', generation: generation + 1, failures: 0, openForMs: 0, trialLeaseLeftMs: null };
    return { applied: true, record: { ...this.record } };
  }
  async recordFailure(): Promise<BreakerWrite> {
    this.#reachable();
    return { applied: false, record: { ...this.record } };
  }
  async resetFailures(): Promise<BreakerWrite> {
    this.#reachable();
    return { applied: false, record: { ...this.record } };
  }
  async close(): Promise<void> {}
  #reachable(): void {
    if (this.cut) throw new Error('ECONNREFUSED (the store is cut)');
  }
}

describe('sharedCircuitBreaker, store out of reach', () => {
  it('a trial that succeeded while the store was being cut leaves the instance closed, not failing fast', async () => {
    // Regression: the trial's "close" write was lost to the cut store, and the fallback was seeded
    // OPEN from the HALF_OPEN view: every request failed fast for a whole recovery timeout while
    // the dependency was healthy.
    const store = new CuttableStore({ state: 'OPEN', generation: 1, failures: 0, openForMs: 60_000, trialLeaseLeftMs: null });
    const breaker = sharedCircuitBreaker({ name: 'db', store, settings: { failureThreshold: 3, recoveryTimeoutMs: 30_000 } });
    const trial = await breaker.execute(async () => {
      store.cut = true; // the store goes away while the trial runs
      return 'ok';
    });
    assert.equal(trial, 'ok');
    await breaker.close(); // the lost write has settled: the breaker has fallen back
    assert.equal(breaker.stats().storeAvailable, false);
    assert.equal(breaker.state, 'CLOSED');
    let called = 0;
    assert.equal(await breaker.execute(async () => ++called), 1, 'the next call reaches the dependency');
  });

  it('a fleet trial out of reach does not make the instance wait a whole recovery timeout', async () => {
    // The store said HALF_OPEN (someone else's trial) and then went away: locally the next call is a trial.
    const store = new CuttableStore({ state: 'HALF_OPEN', generation: 4, failures: 0, openForMs: null, trialLeaseLeftMs: 10_000 });
    let now = 1_000;
    const clock = { now: () => now };
    const breaker = sharedCircuitBreaker({ name: 'db', store, clock, refreshIntervalMs: 1_000, settings: { failureThreshold: 3, recoveryTimeoutMs: 30_000 } });
    await assert.rejects(breaker.execute(async () => 'never'), { code: 'CIRCUIT_OPEN' }); // reads HALF_OPEN, lease held
    store.cut = true;
    await assert.rejects(breaker.execute(async () => 'never'), { code: 'CIRCUIT_OPEN' }); // still on the view
    now += 2_100; // the view ages past two refresh intervals: the next call reads, fails, and falls back
    assert.equal(await breaker.execute(async () => 'trial'), 'trial', 'a local trial, not 30 s of fast failures');
    assert.equal(breaker.state, 'CLOSED');
    await breaker.close();
  });
});
