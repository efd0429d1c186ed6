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

/** A store in memory whose answers the test releases one by one: crossing answers, slow writes. */
class GatedStore implements BreakerStore {
  record: BreakerRecord = { state: 'CLOSED', generation: 0, failures: 0, openForMs: null, trialLeaseLeftMs: null };
  /** While set, reads (and failure writes, unless `readsOnly`) wait until the test releases them. */
  gate: Promise<void> | undefined;
  readsOnly = false;
  readonly failureWrites: number[] = [];
  trials = 0;
  async read(): Promise<BreakerRecord> {
    const seen = { ...this.record }; // the snapshot is taken when the read is sent
    await this.gate;
    return seen;
  }
  async recordFailure(_name: string, generation: number, threshold: number, count: number): Promise<BreakerWrite> {
    this.failureWrites.push(count);
    if (!this.readsOnly) await this.gate;
    if (generation !== this.record.generation || this.record.state !== 'CLOSED') return { applied: false, record: { ...this.record } };
    const failures = this.record.failures + count;
    this.record =
      failures >= threshold
        ? { state: 'OPEN', generation: generation + 1, failures: 0, openForMs: 0, trialLeaseLeftMs: null }
        : { ...this.record, failures };
    return { applied: true, record: { ...this.record } };
  }
  async resetFailures(): Promise<BreakerWrite> {
    return { applied: false, record: { ...this.record } };
  }
  async acquireTrial(_name: string, generation: number): Promise<BreakerWrite> {
    this.trials++;
    if (generation !== this.record.generation) return { applied: false, record: { ...this.record } };
    this.record = { state: 'HALF_OPEN', generation: generation + 1, failures: 0, openForMs: null, trialLeaseLeftMs: 10_000 };
    return { applied: true, record: { ...this.record } };
  }
  async completeTrial(): Promise<BreakerWrite> {
    return { applied: false, record: { ...this.record } };
  }
  async close(): Promise<void> {}
  /** Holds every gated call until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }
}

const failing = async (): Promise<never> => {
  throw new Error('ECONNREFUSED');
};
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('sharedCircuitBreaker, counting failures', () => {
  it('fails fast once its unacknowledged failures reach the threshold, before the store answers', async () => {
    // Regression: the instance failed fast only once the tripping write returned; requests that
    // failed faster than the write kept reaching the dead dependency (8 × 500 where 3 trip it).
    const store = new GatedStore();
    const breaker = sharedCircuitBreaker({ name: 'db', store, settings: { failureThreshold: 3, recoveryTimeoutMs: 30_000 } });
    assert.equal(await breaker.execute(async () => 'ok'), 'ok');
    const release = store.hold(); // the store is slow: no write answers for now
    let called = 0;
    const dependency = (): Promise<never> => {
      called++;
      return failing();
    };
    for (let i = 0; i < 3; i++) await assert.rejects(breaker.execute(dependency), /ECONNREFUSED/);
    for (let i = 0; i < 5; i++) await assert.rejects(breaker.execute(dependency), { code: 'CIRCUIT_OPEN' });
    assert.equal(called, 3, 'nothing reaches the dependency after the third failure');
    assert.equal(breaker.state, 'OPEN');
    assert.deepEqual(store.failureWrites, [1], 'one write in flight; the other failures wait for it');
    release();
    await breaker.close();
    // The first write counted 1; the next carried the 2 that waited, and opened the circuit.
    assert.deepEqual(store.failureWrites, [1, 2]);
    assert.deepEqual([store.record.state, store.record.generation], ['OPEN', 1]);
    const stats = breaker.stats();
    assert.deepEqual([stats.state, stats.generation, stats.transitions['CLOSED->OPEN'], stats.storeFallbacks], ['OPEN', 1, 1, 0]);
  });

  it('an older answer arriving after a newer one does not push the trial back', async () => {
    // Regression: the breaker kept the newer record but stamped it with the older answer's
    // arrival time; openForMs is relative to the record's own arrival, so the trial came late.
    const store = new GatedStore();
    let now = 0;
    const clock = { now: () => now };
    const refreshIntervalMs = 60_000;
    const breaker = sharedCircuitBreaker({ name: 'db', store, clock, refreshIntervalMs, settings: { failureThreshold: 1, recoveryTimeoutMs: 30_000 } });
    assert.equal(await breaker.execute(async () => 'ok'), 'ok'); // read at 0: CLOSED, generation 0
    now = refreshIntervalMs; // old enough for a background read, which the store holds
    store.readsOnly = true;
    const release = store.hold();
    // Sends the read (it saw CLOSED, generation 0), then fails: its write answers at once.
    await assert.rejects(breaker.execute(failing), /ECONNREFUSED/);
    await settle();
    assert.deepEqual([breaker.state, breaker.stats().generation], ['OPEN', 1]); // opened at 60 s
    now += 20_000;
    release(); // the read of generation 0 arrives 20 s after the record of generation 1
    await settle();
    assert.equal(breaker.stats().generation, 1);
    now = refreshIntervalMs + 30_000; // the recovery timeout is over, by the record's age
    assert.equal(await breaker.execute(async () => 'trial'), 'trial');
    assert.equal(store.trials, 1);
    await breaker.close();
  });

  it('while fallen back, stats say the generation is local', async () => {
    const store = new CuttableStore({ state: 'CLOSED', generation: 7, failures: 0, openForMs: null, trialLeaseLeftMs: null });
    let now = 0;
    const breaker = sharedCircuitBreaker({ name: 'db', store, clock: { now: () => now }, refreshIntervalMs: 1_000 });
    assert.equal(await breaker.execute(async () => 'ok'), 'ok');
    assert.deepEqual([breaker.stats().generation, breaker.stats().generationSource], [7, 'store']);
    store.cut = true;
    now += 2_100;
    assert.equal(await breaker.execute(async () => 'ok'), 'ok');
    assert.equal(breaker.stats().storeAvailable, false);
    assert.equal(breaker.stats().generationSource, 'local');
    await breaker.close();
  });
});
