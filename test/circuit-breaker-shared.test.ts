// The shared circuit breaker on real processes and a real store: a fleet of node processes,
// each with its own sharedCircuitBreaker, on the lab's services store (a real PostgreSQL).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { FaultProxy } from '../src/lab/fault-proxy/index.ts';
import { ServicesStore } from '../src/lab/services-store/index.ts';
import {
  CircuitOpenError,
  PostgresBreakerStore,
  sharedCircuitBreaker,
  type BreakerRecord,
  type BreakerStore,
  type BreakerWrite,
} from '../src/resilience/circuit-breaker/index.ts';
import { startFleet, stopFleet, type BreakerWorker, type RunResult, type WorkerConfig } from './fixtures/shared-breaker-fleet.ts';
import { within } from './helpers/deadline.ts';

let names = 0;
const uniqueName = (what: string): string => `${what}-${process.pid}-${++names}`;
const sum = (results: RunResult[], field: 'invoked' | 'fulfilled' | 'open' | 'failed'): number => results.reduce((n, r) => n + r[field], 0);

/** Counts every store call: the proof that the healthy path writes nothing. */
class CountingStore implements BreakerStore {
  reads = 0;
  writes = 0;
  readonly #inner: BreakerStore;
  constructor(inner: BreakerStore) {
    this.#inner = inner;
  }
  read(name: string): Promise<BreakerRecord> {
    this.reads++;
    return this.#inner.read(name);
  }
  recordFailure(name: string, generation: number, threshold: number, count: number): Promise<BreakerWrite> {
    this.writes++;
    return this.#inner.recordFailure(name, generation, threshold, count);
  }
  resetFailures(name: string, generation: number): Promise<BreakerWrite> {
    this.writes++;
    return this.#inner.resetFailures(name, generation);
  }
  acquireTrial(...args: Parameters<BreakerStore['acquireTrial']>): Promise<BreakerWrite> {
    this.writes++;
    return this.#inner.acquireTrial(...args);
  }
  completeTrial(name: string, generation: number, success: boolean): Promise<BreakerWrite> {
    this.writes++;
    return this.#inner.completeTrial(name, generation, success);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

describe('shared circuit breaker', () => {
  let services: ServicesStore;
  let store: PostgresBreakerStore;

  before(async () => {
    services = await ServicesStore.start();
    store = new PostgresBreakerStore(services.connectionConfig(), { timeoutMs: 2000 });
  });
  after(async () => {
    await store?.close();
    await services?.close();
  });

  function workerConfig(name: string, overrides: Partial<WorkerConfig> = {}): WorkerConfig {
    return {
      name,
      store: services.connectionConfig(),
      settings: { failureThreshold: 3, recoveryTimeoutMs: 60_000 },
      refreshIntervalMs: 200,
      trialLeaseMs: 5000,
      storeTimeoutMs: 1000,
      ...overrides,
    };
  }

  /** Waits until the store's clock says the breaker's recovery timeout is over (bounded). */
  async function untilRecoveryElapsed(name: string, recoveryTimeoutMs: number): Promise<void> {
    await within(recoveryTimeoutMs + 5000, 'recovery timeout', (async () => {
      for (;;) {
        const record = await store.read(name);
        if (record.state === 'OPEN' && (record.openForMs ?? 0) >= recoveryTimeoutMs + 50) return;
        await delay(50);
      }
    })());
  }

  async function untilState(name: string, state: BreakerRecord['state'], timeoutMs: number): Promise<BreakerRecord> {
    return within(timeoutMs, `breaker ${name} ${state}`, (async () => {
      for (;;) {
        const record = await store.read(name);
        if (record.state === state) return record;
        await delay(25);
      }
    })());
  }

  it('20 concurrent callers in 4 processes all failing at once open it once', async () => {
    const name = uniqueName('trip');
    let fleet: BreakerWorker[] = [];
    try {
      fleet = await startFleet(4, workerConfig(name));
      await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 1, outcome: 'succeed', delayMs: 0 })));
      // 5 calls per process, all admitted while CLOSED, all failing 50 ms later, together.
      const results = await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 5, outcome: 'fail', delayMs: 50 })));
      assert.equal(sum(results, 'invoked'), 20);
      assert.equal(sum(results, 'failed'), 20);
      // Each instance learns of the trip from its own writes (the failure writes after the trip
      // miss the generation guard and read the record anew), which finish after the calls did.
      await within(5000, 'every instance sees OPEN', (async () => {
        const seen = async (w: BreakerWorker): Promise<boolean> => (await w.send({ cmd: 'run', calls: 0, outcome: 'succeed', delayMs: 0 })).stats.state === 'OPEN';
        while (!(await Promise.all(fleet.map(seen))).every(Boolean)) await delay(20);
      })());
      const history = await store.transitions(name);
      assert.deepEqual(
        history.map((t) => `${t.from}->${t.to}`),
        ['CLOSED->OPEN'],
        '20 failures racing from 4 processes make one transition: the others missed the generation guard',
      );
      assert.equal(history[0]?.reason, '3 consecutive failures');
      assert.equal((await store.read(name)).generation, 1);
      // Every instance now fails fast, without calling the dependency.
      const writes = (rs: RunResult[]): number => rs.reduce((n, r) => n + r.stats.storeWrites, 0);
      const writesBefore = writes(await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 0, outcome: 'succeed', delayMs: 0 }))));
      const after = await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 5, outcome: 'succeed', delayMs: 0 })));
      assert.equal(sum(after, 'invoked'), 0);
      assert.equal(sum(after, 'open'), 20);
      assert.equal(writes(after), writesBefore, 'failing fast writes nothing to the store');
    } finally {
      await stopFleet(fleet);
    }
  });

  it('HALF_OPEN admits exactly one trial call fleet-wide', async () => {
    const name = uniqueName('trial');
    const recoveryTimeoutMs = 1500;
    let fleet: BreakerWorker[] = [];
    try {
      fleet = await startFleet(4, workerConfig(name, { settings: { failureThreshold: 3, recoveryTimeoutMs } }));
      await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 1, outcome: 'succeed', delayMs: 0 })));
      await fleet[0]!.send({ cmd: 'run', calls: 3, outcome: 'fail', delayMs: 10 });
      await untilState(name, 'OPEN', 5000);
      await untilRecoveryElapsed(name, recoveryTimeoutMs);
      // 5 callers in each of 4 processes after the recovery timeout. Article 4's allow() let every
      // call through in HALF_OPEN; here one of the 20 is the trial and 19 fail fast.
      const results = await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 5, outcome: 'succeed', delayMs: 300 })));
      assert.equal(sum(results, 'invoked'), 1);
      assert.equal(sum(results, 'fulfilled'), 1);
      assert.equal(sum(results, 'open'), 19);
      assert.equal(results.reduce((n, r) => n + r.stats.trialCalls, 0), 1);
      await untilState(name, 'CLOSED', 5000);
      const history = await store.transitions(name);
      assert.deepEqual(history.map((t) => `${t.from}->${t.to}`), ['CLOSED->OPEN', 'OPEN->HALF_OPEN', 'HALF_OPEN->CLOSED']);
    } finally {
      await stopFleet(fleet);
    }
  });

  it('the prober killed mid-probe: its lease expires and the next trial runs', async () => {
    const name = uniqueName('lease');
    const recoveryTimeoutMs = 1000;
    const trialLeaseMs = 1500;
    let fleet: BreakerWorker[] = [];
    try {
      fleet = await startFleet(2, workerConfig(name, { settings: { failureThreshold: 3, recoveryTimeoutMs }, trialLeaseMs }));
      const [prober, next] = fleet as [BreakerWorker, BreakerWorker];
      await next.send({ cmd: 'run', calls: 1, outcome: 'succeed', delayMs: 0 });
      await prober.send({ cmd: 'run', calls: 3, outcome: 'fail', delayMs: 10 });
      await untilRecoveryElapsed(name, recoveryTimeoutMs);
      // The prober takes the trial and hangs in it; then it dies without a word.
      const probe = prober.send({ cmd: 'run', calls: 1, outcome: 'hang', delayMs: 0 }).catch(() => undefined);
      await prober.invoked(4, 5000);
      await untilState(name, 'HALF_OPEN', 5000);
      await prober.kill();
      await probe;
      // Until the lease runs out, the fleet fails fast; then the next call is the trial.
      let rejectedWhileLeased = 0;
      let trial: RunResult | undefined;
      await within(trialLeaseMs + 8000, 'the next trial', (async () => {
        for (;;) {
          const result = await next.send({ cmd: 'run', calls: 1, outcome: 'succeed', delayMs: 0 });
          if (result.invoked > 0) {
            trial = result;
            return;
          }
          rejectedWhileLeased += result.open;
          await delay(100);
        }
      })());
      assert.ok(rejectedWhileLeased > 0, 'the dead prober held the lease for a while');
      assert.equal(trial?.fulfilled, 1);
      await untilState(name, 'CLOSED', 5000);
      const history = await store.transitions(name);
      assert.deepEqual(
        history.map((t) => `${t.from}->${t.to}:${t.reason}`),
        [
          'CLOSED->OPEN:3 consecutive failures',
          'OPEN->HALF_OPEN:recovery timeout elapsed',
          'HALF_OPEN->HALF_OPEN:trial lease expired',
          'HALF_OPEN->CLOSED:trial call succeeded',
        ],
      );
    } finally {
      await stopFleet(fleet);
    }
  });

  for (const fault of ['blackhole', 'refuse'] as const) {
    it(`the store cut (${fault}): the breaker falls back to local state and no call fails because of the store`, async () => {
      const proxy = new FaultProxy();
      const name = uniqueName(`cut-${fault}`);
      const storeTimeoutMs = 200;
      const refreshIntervalMs = 100;
      let proxied: PostgresBreakerStore | undefined;
      try {
        const listener = await proxy.addProxy({ name: 'services-store', upstream: services.endpoint });
        proxied = new PostgresBreakerStore({ ...services.connectionConfig(), port: listener.listen.port }, { timeoutMs: storeTimeoutMs });
        const breaker = sharedCircuitBreaker({ name, store: proxied, settings: { failureThreshold: 3, recoveryTimeoutMs: 60_000 }, refreshIntervalMs, storeTimeoutMs });
        for (let i = 0; i < 5; i++) assert.equal(await breaker.execute(async () => 'ok'), 'ok');
        assert.equal(breaker.stats().storeAvailable, true);

        await proxy.addFault('services-store', { type: fault, durationMs: 60_000 });
        await delay(2 * refreshIntervalMs); // the view is now old enough that the next call reads the store
        const started = performance.now();
        const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => breaker.execute(async () => 'ok')));
        const tookMs = performance.now() - started;
        assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 0, 'no call failed because the store is down');
        assert.ok(tookMs < storeTimeoutMs + 1000, `calls waited ${tookMs.toFixed(0)} ms: the store call is bounded by ${storeTimeoutMs} ms`);
        let stats = breaker.stats();
        assert.equal(stats.storeAvailable, false);
        assert.equal(stats.storeFallbacks, 1);
        assert.ok(stats.fallbackCalls >= 50, `fallbackCalls ${stats.fallbackCalls}`);
        assert.ok(stats.storeErrors >= 1);

        // The local fallback is a breaker still: the dependency failing trips it locally.
        for (let i = 0; i < 3; i++) await assert.rejects(breaker.execute(() => Promise.reject(new Error('ECONNREFUSED'))), /ECONNREFUSED/);
        await assert.rejects(breaker.execute(async () => 'ok'), (error: unknown) => error instanceof CircuitOpenError);
        assert.equal(breaker.state, 'OPEN');

        // The store comes back: a probe finds it and the store's state (CLOSED) wins again.
        await proxy.clearFaults('services-store');
        await within(10_000, 'store reachable again', (async () => {
          while (breaker.stats().storeAvailable !== true) {
            await breaker.execute(async () => 'ok').catch(() => undefined);
            await delay(refreshIntervalMs);
          }
        })());
        stats = breaker.stats();
        assert.equal(stats.state, 'CLOSED');
        assert.equal(stats.storeFallbacks, 1);
        assert.equal(await breaker.execute(async () => 'ok'), 'ok');
        await breaker.close();
      } finally {
        await proxied?.close().catch(() => undefined);
        await proxy.close();
      }
    });
  }

  it('the healthy success path: 10,000 calls, no store write, at most one read per refresh interval', async () => {
    const name = uniqueName('healthy');
    const counting = new CountingStore(store);
    const refreshIntervalMs = 1000;
    const breaker = sharedCircuitBreaker({ name, store: counting, refreshIntervalMs });
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) await breaker.execute(async () => i);
    const elapsedMs = performance.now() - started;
    await breaker.close();
    assert.equal(counting.writes, 0, 'a success in the healthy state writes nothing');
    assert.ok(counting.reads >= 1 && counting.reads <= 1 + Math.floor(elapsedMs / refreshIntervalMs), `reads ${counting.reads} in ${elapsedMs.toFixed(0)} ms`);
    const stats = breaker.stats();
    assert.equal(stats.storeWrites, 0);
    assert.equal(stats.calls, 10_000);

    // A stateless invocation (a fresh breaker, as in a fresh process) reads once and writes nothing.
    const fresh = new CountingStore(store);
    const invocation = sharedCircuitBreaker({ name, store: fresh, refreshIntervalMs });
    assert.equal(await invocation.execute(async () => 'ok'), 'ok');
    await invocation.close();
    assert.deepEqual({ reads: fresh.reads, writes: fresh.writes }, { reads: 1, writes: 0 });
  });

  it('400 concurrent failing calls against a healthy store: one trip, a few writes, no fallback', async () => {
    // Regression: every failed call wrote recordFailure and every write that missed re-read; the
    // 400 writes queued for the store's 4 pool connections past the 250 ms store timeout, and the
    // breaker declared a healthy store unreachable (storeErrors 397, storeAvailable false).
    const name = uniqueName('storm');
    const own = new PostgresBreakerStore(services.connectionConfig()); // the shop's: 4 connections, 250 ms
    const counting = new CountingStore(own);
    try {
      const breaker = sharedCircuitBreaker({ name, store: counting, settings: { failureThreshold: 3, recoveryTimeoutMs: 60_000 } });
      assert.equal(await breaker.execute(async () => 'ok'), 'ok'); // the first read, out of the way
      const fail = async (): Promise<never> => {
        await delay(5);
        throw new Error('ECONNREFUSED (simulated)');
      };
      const outcomes = await Promise.allSettled(Array.from({ length: 400 }, () => breaker.execute(fail)));
      assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 400);
      await within(5000, 'the writes settling', breaker.close());
      const stats = breaker.stats();
      assert.equal(stats.storeFallbacks, 0, `storeErrors ${stats.storeErrors}`);
      assert.equal(stats.storeErrors, 0);
      assert.equal(stats.storeAvailable, true);
      assert.equal(stats.state, 'OPEN');
      assert.equal(stats.generationSource, 'store');
      assert.ok(counting.writes <= 3, `${counting.writes} store writes for 400 failures`);
      assert.deepEqual((await store.transitions(name)).map((t) => `${t.from}->${t.to}:${t.reason}`), ['CLOSED->OPEN:3 consecutive failures']);
      // And it fails fast now, without a write.
      await assert.rejects(breaker.execute(async () => 'never'), (error: unknown) => error instanceof CircuitOpenError);
      assert.equal(breaker.stats().storeWrites, stats.storeWrites);
    } finally {
      await own.close();
    }
  });

  it('failures accumulated behind a write in flight go to the store as one write of their count', async () => {
    const name = uniqueName('count');
    await store.read(name);
    const first = await store.recordFailure(name, 0, 5, 2);
    assert.deepEqual([first.applied, first.record.state, first.record.failures], [true, 'CLOSED', 2]);
    const trip = await store.recordFailure(name, 0, 5, 4); // 2 + 4 >= 5: one statement opens it
    assert.deepEqual([trip.applied, trip.record.state, trip.record.generation, trip.record.failures], [true, 'OPEN', 1, 0]);
    assert.deepEqual((await store.transitions(name)).map((t) => `${t.from}->${t.to}:${t.reason}`), ['CLOSED->OPEN:5 consecutive failures']);
    await assert.rejects(store.recordFailure(name, 1, 5, 0), RangeError);
  });

  it('a late result of an older generation is ignored by the store', async () => {
    const name = uniqueName('stale');
    await store.read(name);
    for (let i = 0; i < 3; i++) await store.recordFailure(name, 0, 3, 1);
    const open = await store.read(name);
    assert.deepEqual([open.state, open.generation], ['OPEN', 1]);
    // Failures and a trial result reported for generation 0 (calls admitted before the trip).
    const late = await store.recordFailure(name, 0, 3, 1);
    assert.equal(late.applied, false);
    assert.equal((await store.completeTrial(name, 0, true)).applied, false);
    assert.deepEqual((await store.read(name)).generation, 1);
    assert.deepEqual((await store.transitions(name)).map((t) => `${t.from}->${t.to}`), ['CLOSED->OPEN']);
  });
});
