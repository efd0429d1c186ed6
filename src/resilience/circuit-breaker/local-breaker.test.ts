// The local breaker on a fake clock: real promises, time injected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CircuitTransition, Clock } from './circuit-breaker.ts';
import { CircuitOpenError } from './circuit-open-error.ts';
import { localCircuitBreaker } from './local-breaker.ts';

class FakeClock implements Clock {
  ms = 0;
  now(): number {
    return this.ms;
  }
}

const boom = (): Promise<never> => Promise.reject(new Error('ECONNREFUSED'));
const ok = (): Promise<string> => Promise.resolve('ok');

/** A call that stays in flight until the test settles it. */
function pending(): { fn: () => Promise<string>; resolve: (value: string) => void; reject: (error: Error) => void; started: () => number } {
  let resolve!: (value: string) => void;
  let reject!: (error: Error) => void;
  let started = 0;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    fn: () => {
      started++;
      return promise;
    },
    resolve,
    reject,
    started: () => started,
  };
}

async function trip(breaker: ReturnType<typeof localCircuitBreaker>, times = 3): Promise<void> {
  for (let i = 0; i < times; i++) await assert.rejects(breaker.execute(boom), /ECONNREFUSED/);
}

describe('local circuit breaker', () => {
  it('rejects with CircuitOpenError (code CIRCUIT_OPEN) without calling the function while OPEN', async () => {
    const clock = new FakeClock();
    const breaker = localCircuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 30_000 }, { clock, name: 'db' });
    await trip(breaker);
    assert.equal(breaker.state, 'OPEN');
    let called = 0;
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await breaker.execute(async () => called++).catch((error: unknown) => errors.push(error));
    }
    assert.equal(called, 0);
    assert.ok(errors[0] instanceof CircuitOpenError);
    assert.equal((errors[0] as CircuitOpenError).code, 'CIRCUIT_OPEN');
    assert.equal((errors[0] as CircuitOpenError).state, 'OPEN');
    assert.match((errors[0] as Error).message, /circuit db is open/);
    assert.ok(errors.every((error) => error === errors[0]), 'one shared instance: no Error (and stack) built per rejection');
    assert.equal(breaker.stats().rejected, 3);
  });

  it('admits exactly one trial call among concurrent callers in HALF_OPEN', async () => {
    const clock = new FakeClock();
    const breaker = localCircuitBreaker({ recoveryTimeoutMs: 1000 }, { clock });
    await trip(breaker);
    clock.ms = 1000;
    const trial = pending();
    // Article 4's circuit_breaker_allow() let every call through in HALF_OPEN: ten concurrent
    // callers after the recovery timeout were ten calls to the dependency it protects.
    const calls = Array.from({ length: 10 }, () => breaker.execute(trial.fn));
    const settled = Promise.allSettled(calls);
    assert.equal(trial.started(), 1);
    assert.equal(breaker.state, 'HALF_OPEN');
    trial.resolve('ok');
    const results = await settled;
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(results.filter((r) => r.status === 'rejected').every((r) => (r.reason as CircuitOpenError).state === 'HALF_OPEN'));
    assert.equal(breaker.state, 'CLOSED');
    assert.equal(breaker.stats().trialCalls, 1);
  });

  it('emits an event on every transition and counts them', async () => {
    const clock = new FakeClock();
    const breaker = localCircuitBreaker({ recoveryTimeoutMs: 1000 }, { clock });
    const seen: CircuitTransition[] = [];
    const unsubscribe = breaker.onTransition((t) => seen.push(t));
    clock.ms = 5;
    await trip(breaker);
    clock.ms = 1005;
    await assert.rejects(breaker.execute(boom)); // trial fails
    clock.ms = 2005;
    await breaker.execute(ok); // trial succeeds
    unsubscribe();
    assert.deepEqual(
      seen.map((t) => `${t.from}->${t.to}@${t.at}:${t.reason}`),
      [
        'CLOSED->OPEN@5:3 consecutive failures',
        'OPEN->HALF_OPEN@1005:recovery timeout elapsed',
        'HALF_OPEN->OPEN@1005:trial call failed',
        'OPEN->HALF_OPEN@2005:recovery timeout elapsed',
        'HALF_OPEN->CLOSED@2005:trial call succeeded',
      ],
    );
    assert.deepEqual(breaker.stats().transitions, { 'CLOSED->OPEN': 1, 'OPEN->HALF_OPEN': 2, 'HALF_OPEN->OPEN': 1, 'HALF_OPEN->CLOSED': 1 });
  });

  it('a listener that throws does not break the breaker', async () => {
    const breaker = localCircuitBreaker({}, { clock: new FakeClock() });
    breaker.onTransition(() => {
      throw new Error('observer bug');
    });
    await trip(breaker);
    assert.equal(breaker.state, 'OPEN');
  });

  it('a success in CLOSED resets the consecutive count', async () => {
    const breaker = localCircuitBreaker({ failureThreshold: 3 }, { clock: new FakeClock() });
    await trip(breaker, 2);
    await breaker.execute(ok);
    await trip(breaker, 2);
    assert.equal(breaker.state, 'CLOSED');
    await trip(breaker, 1);
    assert.equal(breaker.state, 'OPEN');
  });

  it('an error that isFailure rejects (a business answer) proves the dependency answered: it counts as success', async () => {
    const notFound = Object.assign(new Error('product 9 not found'), { status: 404 });
    const breaker = localCircuitBreaker({ failureThreshold: 2 }, {
      clock: new FakeClock(),
      isFailure: (error) => (error as { status?: number }).status !== 404,
    });
    for (let i = 0; i < 5; i++) await assert.rejects(breaker.execute(() => Promise.reject(notFound)), /not found/);
    assert.equal(breaker.state, 'CLOSED');
    assert.equal(breaker.stats().failures, 0);
  });

  it('late failures of calls admitted before the trip are ignored after the circuit closes again', async () => {
    const clock = new FakeClock();
    const breaker = localCircuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 1000 }, { clock });
    const slow = Array.from({ length: 5 }, () => pending());
    const inFlight = slow.map((call) => breaker.execute(call.fn).catch(() => 'failed'));
    await trip(breaker);
    clock.ms = 1000;
    await breaker.execute(ok);
    assert.equal(breaker.state, 'CLOSED');
    for (const call of slow) call.reject(new Error('timeout'));
    await Promise.all(inFlight);
    assert.equal(breaker.state, 'CLOSED', 'five late failures of generation 0 must not trip generation 2');
    assert.equal(breaker.stats().staleResults, 5);
  });

  it('a function that throws synchronously is a failed call, not a crash', async () => {
    const breaker = localCircuitBreaker({ failureThreshold: 1 }, { clock: new FakeClock() });
    await assert.rejects(
      breaker.execute(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(breaker.state, 'OPEN');
  });
});
