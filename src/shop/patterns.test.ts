// resolvePatterns: each preset, overrides deep-merged per pattern, and every bad value named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyRecoveryTimeoutEnv,
  CIRCUIT_BREAKER_DEFAULTS,
  checkResolvedPatterns,
  mergePatternsInputs,
  PATTERN_PRESETS,
  PatternsError,
  patternsName,
  resolvePatterns,
  type Patterns,
} from './patterns.ts';

/** What every preset but graceful has: the shop's behaviour before Article 4's patterns. */
const NO_DEGRADATION = {
  readCache: { mode: 'off' },
  writeBuffer: { mode: 'off' },
  initialisation: { mode: 'background', initialDelayMs: 2000, maxDelayMs: 30_000 },
  // Article 7: the AWS SDK's defaults (boto3: 60 s connect, 60 s read, 4 retries), no worker pools.
  dependencyClient: { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4, fallback: 'error' },
  workerPools: { mode: 'off' },
} as const;
const NAIVE: Patterns = { connection: { kind: 'persistent' }, queryTimeoutMs: null, retry: { delaysMs: [] }, readWriteSplit: false, circuitBreaker: { mode: 'off' }, ...NO_DEGRADATION };
const RESILIENT: Patterns = {
  connection: { kind: 'pool', size: 10, validateAfterIdleMs: 1000 },
  queryTimeoutMs: 5000,
  retry: { delaysMs: [500, 1000, 2000] },
  readWriteSplit: true,
  circuitBreaker: { mode: 'off' },
  ...NO_DEGRADATION,
};

/** [what, input, the message expected (a prefix of one problem)]. */
const INVALID: Array<[string, unknown, string]> = [
  ['an unknown preset', 'paranoid', 'patterns: must be one of naive, resilient, resilient-breaker, graceful, coupled, isolated, isolated-stale, got "paranoid"'],
  ['an unknown preset in an object', { preset: 'paranoid' }, 'patterns.preset: must be one of naive, resilient, resilient-breaker, graceful, coupled, isolated, isolated-stale, got "paranoid"'],
  ['neither a preset nor an object', 42, 'patterns: must be a preset (naive, resilient, resilient-breaker, graceful, coupled, isolated, isolated-stale) or an object of patterns, got 42'],
  ['an unknown pattern', { bulkhead: { size: 4 } }, 'patterns: unknown pattern "bulkhead"'],
  ['a zero statement timeout', { queryTimeoutMs: 0 }, 'patterns.queryTimeoutMs: must be > 0, got 0'],
  ['a negative statement timeout', { queryTimeoutMs: -5 }, 'patterns.queryTimeoutMs: must be > 0, got -5'],
  ['a negative retry delay', { retry: { delaysMs: [500, -1] } }, 'patterns.retry.delaysMs[1]: must be >= 0, got -1'],
  ['a pool of zero', { connection: { size: 0 } }, 'patterns.connection.size: must be >= 1, got 0'],
  ['an unknown connection kind', { connection: { kind: 'multiplexed' } }, 'patterns.connection.kind: must be one of persistent, pool, got "multiplexed"'],
  ['a pool size on a persistent connection', { preset: 'naive', connection: { size: 5 } }, 'patterns.connection.size: does not apply when patterns.connection.kind is "persistent"'],
  ['a negative failure threshold', { circuitBreaker: { mode: 'local', failureThreshold: -1 } }, 'patterns.circuitBreaker.failureThreshold: must be >= 1, got -1'],
  ['a zero recovery timeout', { circuitBreaker: { mode: 'local', recoveryTimeoutMs: 0 } }, 'patterns.circuitBreaker.recoveryTimeoutMs: must be > 0, got 0'],
  ['an unknown breaker mode', { circuitBreaker: { mode: 'global' } }, 'patterns.circuitBreaker.mode: must be one of off, local, shared, got "global"'],
  ['breaker settings with the breaker off', { circuitBreaker: { failureThreshold: 5 } }, 'patterns.circuitBreaker.failureThreshold: does not apply when patterns.circuitBreaker.mode is "off"'],
  // The resolved value goes into lab.json and journals: the store's address (and password) does not.
  ['a store address in the patterns', { circuitBreaker: { mode: 'shared', store: { host: '127.0.0.1', port: 5432 } } }, "patterns.circuitBreaker.store: is not a pattern: a shared breaker keeps its state in the lab's services store, which the lab tells each instance through SERVICES_STORE_URL"],
  ['an unknown read cache mode', { readCache: { mode: 'write-behind' } }, 'patterns.readCache.mode: must be one of off, write-through, got "write-behind"'],
  ['an unknown read cache field', { readCache: { mode: 'write-through', ttlMs: 1000 } }, 'patterns.readCache: unknown field "ttlMs"'],
  ['a zero refresh', { readCache: { mode: 'write-through', refreshMs: 0 } }, 'patterns.readCache.refreshMs: must be > 0, got 0'],
  ['a refresh with the cache off', { readCache: { refreshMs: 500 } }, 'patterns.readCache.refreshMs: does not apply when patterns.readCache.mode is "off"'],
  ['a cache address in the patterns', { readCache: { mode: 'write-through', store: 'x' } }, "patterns.readCache.store: is not a pattern: the read cache lives in the lab's services store, which the lab tells each instance through READ_CACHE_URL"],
  ['a write buffer that is not an object', { writeBuffer: true }, 'patterns.writeBuffer: must be an object, got true'],
  ['an unknown write buffer mode', { writeBuffer: { mode: 'kafka' } }, 'patterns.writeBuffer.mode: must be one of off, queue, got "kafka"'],
  ['a queue address in the patterns', { writeBuffer: { mode: 'queue', queue: 'order-buffer' } }, "patterns.writeBuffer.queue: is not a pattern: the order queue lives in the lab's services store, which the lab tells each instance through ORDER_QUEUE_URL"],
  ['an unknown initialisation mode', { initialisation: { mode: 'lazy' } }, 'patterns.initialisation.mode: must be one of once, background, got "lazy"'],
  ['retry delays on a one-shot initialisation', { initialisation: { mode: 'once', maxDelayMs: 5000 } }, 'patterns.initialisation.maxDelayMs: does not apply when patterns.initialisation.mode is "once"'],
  ['a zero initialisation delay', { initialisation: { initialDelayMs: 0 } }, 'patterns.initialisation.initialDelayMs: must be > 0, got 0'],
  ['a cap below the first delay', { initialisation: { initialDelayMs: 5000, maxDelayMs: 1000 } }, 'patterns.initialisation.maxDelayMs: must be at least initialDelayMs (5000), got 1000'],
  ['a zero dependency timeout', { dependencyClient: { connectTimeoutMs: 0 } }, 'patterns.dependencyClient.connectTimeoutMs: must be > 0, got 0'],
  ['a fractional retry count', { dependencyClient: { retries: 1.5 } }, 'patterns.dependencyClient.retries: must be an integer, got 1.5'],
  ['an unknown dependency fallback', { dependencyClient: { fallback: 'retry' } }, 'patterns.dependencyClient.fallback: must be one of error, stale, got "retry"'],
  ['an unknown dependency client field', { dependencyClient: { timeoutMs: 2000 } }, 'patterns.dependencyClient: unknown field "timeoutMs"'],
  ['an unknown worker pools mode', { workerPools: { mode: 'threads' } }, 'patterns.workerPools.mode: must be one of off, shared, per-dependency, got "threads"'],
  ['a pool of no workers', { workerPools: { mode: 'shared', workers: 0 } }, 'patterns.workerPools.workers: must be >= 1, got 0'],
  ['a negative backlog', { workerPools: { mode: 'shared', backlog: -1 } }, 'patterns.workerPools.backlog: must be >= 0, got -1'],
  ['workers with the pools off', { workerPools: { workers: 4 } }, 'patterns.workerPools.workers: does not apply when patterns.workerPools.mode is "off"'],
  ['dependency workers on a shared pool', { workerPools: { mode: 'shared', dependencyWorkers: 2 } }, 'patterns.workerPools.dependencyWorkers: does not apply when patterns.workerPools.mode is "shared"'],
];

describe('resolvePatterns', () => {
  it('naive is Article 3 BEFORE: persistent, no timeout, no retry, no split, no breaker', () => {
    assert.deepEqual(resolvePatterns('naive'), NAIVE);
    assert.equal(patternsName(resolvePatterns('naive')), 'naive');
  });

  it("resilient is Article 3 AFTER: a pool of 10 checked after 1 s idle, 5 s timeout, retries 0.5/1/2 s, reads on the reader", () => {
    assert.deepEqual(resolvePatterns('resilient'), RESILIENT);
    assert.deepEqual(resolvePatterns({}), RESILIENT, 'an object without a preset starts from resilient');
    assert.equal(patternsName(resolvePatterns({ preset: 'resilient' })), 'resilient');
  });

  it('resilient-breaker is resilient plus a local breaker with Article 4 defaults', () => {
    assert.deepEqual(PATTERN_PRESETS['resilient-breaker'], { preset: 'resilient', circuitBreaker: { mode: 'local' } });
    assert.deepEqual(CIRCUIT_BREAKER_DEFAULTS, { failureThreshold: 3, recoveryTimeoutMs: 30_000 });
    assert.deepEqual(resolvePatterns('resilient-breaker'), { ...RESILIENT, circuitBreaker: { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 30_000 } });
    assert.equal(patternsName(resolvePatterns('resilient-breaker')), 'resilient-breaker');
  });

  it("graceful is Article 4's AFTER: resilient plus a shared breaker, a write-through cache refreshed every second, the write buffer queue", () => {
    assert.deepEqual(resolvePatterns('graceful'), {
      ...RESILIENT,
      circuitBreaker: { mode: 'shared', failureThreshold: 3, recoveryTimeoutMs: 30_000 },
      readCache: { mode: 'write-through', refreshMs: 1000 },
      writeBuffer: { mode: 'queue' },
    });
    assert.equal(patternsName(resolvePatterns('graceful')), 'graceful');
  });

  it('every other preset keeps the shop as it was: no cache, no queue, initialisation in the background from 2 s to 30 s, the SDK client defaults, no worker pools', () => {
    for (const preset of ['naive', 'resilient', 'resilient-breaker'] as const) {
      const p = resolvePatterns(preset);
      assert.deepEqual(
        { readCache: p.readCache, writeBuffer: p.writeBuffer, initialisation: p.initialisation, dependencyClient: p.dependencyClient, workerPools: p.workerPools },
        NO_DEGRADATION,
        preset,
      );
    }
    assert.deepEqual(resolvePatterns('graceful').workerPools, { mode: 'off' });
  });

  it("coupled is Article 7's BEFORE: resilient, the SDK's client defaults, one shared pool of 4 workers with a backlog of 64", () => {
    assert.deepEqual(resolvePatterns('coupled'), { ...RESILIENT, workerPools: { mode: 'shared', workers: 4, backlog: 64 } });
    assert.equal(patternsName(resolvePatterns('coupled')), 'coupled');
  });

  it("isolated is Article 7's AFTER: 2 s timeouts, no retries, a pool of 2 per dependency with no backlog; isolated-stale falls back to the cache", () => {
    const isolated = resolvePatterns('isolated');
    assert.deepEqual(isolated, {
      ...RESILIENT,
      dependencyClient: { connectTimeoutMs: 2000, readTimeoutMs: 2000, retries: 0, fallback: 'error' },
      workerPools: { mode: 'per-dependency', workers: 4, backlog: 64, dependencyWorkers: 2, dependencyBacklog: 0 },
    });
    assert.deepEqual(resolvePatterns('isolated-stale'), { ...isolated, dependencyClient: { ...isolated.dependencyClient, fallback: 'stale' } });
    assert.equal(patternsName(resolvePatterns('isolated-stale')), 'isolated-stale');
    // A mode that changes starts from that mode's defaults; settings merge over the preset's.
    assert.deepEqual(resolvePatterns({ preset: 'coupled', workerPools: { mode: 'per-dependency', dependencyWorkers: 3 } }).workerPools, {
      mode: 'per-dependency',
      workers: 4,
      backlog: 64,
      dependencyWorkers: 3,
      dependencyBacklog: 0,
    });
    assert.deepEqual(resolvePatterns({ preset: 'isolated', dependencyClient: { retries: 1 } }).dependencyClient, { connectTimeoutMs: 2000, readTimeoutMs: 2000, retries: 1, fallback: 'error' });
    assert.deepEqual(mergePatternsInputs({ dependencyClient: { readTimeoutMs: 500 } }, { dependencyClient: { retries: 0 } }), { dependencyClient: { readTimeoutMs: 500, retries: 0 } });
  });

  it("initialisation once (Article 4's trap) has no delays; changing the mode back starts from background's defaults", () => {
    assert.deepEqual(resolvePatterns({ initialisation: { mode: 'once' } }).initialisation, { mode: 'once' });
    assert.deepEqual(resolvePatterns({ initialisation: { initialDelayMs: 100, maxDelayMs: 400 } }).initialisation, { mode: 'background', initialDelayMs: 100, maxDelayMs: 400 });
    assert.deepEqual(resolvePatterns({ preset: 'graceful', readCache: { refreshMs: 250 } }).readCache, { mode: 'write-through', refreshMs: 250 });
    assert.deepEqual(resolvePatterns({ preset: 'graceful', readCache: { mode: 'off' }, writeBuffer: { mode: 'off' } }).readCache, { mode: 'off' });
    assert.deepEqual(mergePatternsInputs({ initialisation: { mode: 'once' } }, { initialisation: { mode: 'background' } }), { initialisation: { mode: 'background' } });
    assert.deepEqual(mergePatternsInputs({ readCache: { mode: 'write-through' } }, { readCache: { refreshMs: 200 } }), { readCache: { mode: 'write-through', refreshMs: 200 } });
  });

  it('a shared breaker resolves with no address in it: the store comes from the lab, not the patterns', () => {
    assert.deepEqual(resolvePatterns({ circuitBreaker: { mode: 'shared', recoveryTimeoutMs: 5000 } }).circuitBreaker, { mode: 'shared', failureThreshold: 3, recoveryTimeoutMs: 5000 });
  });

  it('deep-merges overrides per pattern; a changed kind starts from that kind\'s defaults', () => {
    const tuned = resolvePatterns({ preset: 'resilient', connection: { size: 20 }, retry: { delaysMs: [100] }, queryTimeoutMs: null });
    assert.deepEqual(tuned, { ...RESILIENT, connection: { kind: 'pool', size: 20, validateAfterIdleMs: 1000 }, retry: { delaysMs: [100] }, queryTimeoutMs: null });
    assert.equal(patternsName(tuned), 'custom');
    // A profile scales the waits: the preset is still named, with a word on the timings.
    const scaled = resolvePatterns({ preset: 'graceful', circuitBreaker: { recoveryTimeoutMs: 4500 }, readCache: { refreshMs: 150 }, initialisation: { initialDelayMs: 300, maxDelayMs: 4500 } });
    assert.equal(patternsName(scaled), 'graceful, other timings');
    assert.equal(patternsName(resolvePatterns('graceful')), 'graceful');
    const pooledNaive = resolvePatterns({ preset: 'naive', connection: { kind: 'pool' } });
    assert.deepEqual(pooledNaive.connection, { kind: 'pool', size: 10, validateAfterIdleMs: 1000 });
    assert.deepEqual(resolvePatterns({ preset: 'resilient', connection: { kind: 'persistent' } }).connection, { kind: 'persistent' });
  });

  it('resolves to a frozen value that shares nothing with the presets', () => {
    const patterns = resolvePatterns('resilient');
    assert.ok(Object.isFrozen(patterns) && Object.isFrozen(patterns.retry.delaysMs));
    assert.notEqual(patterns.retry.delaysMs, resolvePatterns('resilient').retry.delaysMs);
  });

  it("merges a mode's input over the template's: a preset replaces, an object without one merges", () => {
    assert.equal(mergePatternsInputs('resilient', 'naive'), 'naive');
    assert.deepEqual(mergePatternsInputs('naive', { queryTimeoutMs: 100 }), { preset: 'naive', queryTimeoutMs: 100 });
    assert.deepEqual(mergePatternsInputs({ connection: { size: 4 } }, { connection: { validateAfterIdleMs: 0 } }), { connection: { size: 4, validateAfterIdleMs: 0 } });
    assert.equal(mergePatternsInputs(undefined, undefined), undefined);
  });

  for (const [what, input, message] of INVALID) {
    it(`refuses ${what}, naming the field and the value`, () => {
      assert.throws(
        () => resolvePatterns(input),
        (error: unknown) => {
          assert.ok(error instanceof PatternsError);
          assert.equal(error.code, 'INVALID_PATTERNS');
          assert.ok(error.problems.some((p) => p.startsWith(message)), `expected a problem like\n  ${message}\ngot\n  ${error.problems.join('\n  ')}`);
          return true;
        },
      );
    });
  }

  it('prefixes every message with where the patterns came from', () => {
    assert.throws(() => resolvePatterns({ queryTimeoutMs: 0 }, 'modes.naive.lab.patterns'), /^PatternsError: modes\.naive\.lab\.patterns\.queryTimeoutMs: must be > 0, got 0/);
  });
});

describe('checkResolvedPatterns', () => {
  it('accepts a resolved value as it is', () => {
    assert.deepEqual(checkResolvedPatterns(JSON.parse(JSON.stringify(RESILIENT))), RESILIENT);
  });

  it('applies no default: a missing field is an error, not the preset\'s value', () => {
    const partial: Partial<Patterns> = { ...RESILIENT };
    delete partial.retry;
    assert.throws(() => checkResolvedPatterns(partial, 'SHOP_PATTERNS'), /SHOP_PATTERNS\.retry: is required/);
    assert.throws(() => checkResolvedPatterns('resilient', 'SHOP_PATTERNS'), /SHOP_PATTERNS: must be a preset .* or an object of patterns, got "resilient"|SHOP_PATTERNS: must be an object/);
    assert.throws(() => checkResolvedPatterns({ ...RESILIENT, connection: { kind: 'pool', size: 10 } }, 'SHOP_PATTERNS'), /SHOP_PATTERNS\.connection\.validateAfterIdleMs: is required/);
    // Patterns resolved before Article 4's three fields existed are refused, not silently given them.
    assert.throws(() => checkResolvedPatterns({ ...RESILIENT, readCache: undefined }, 'SHOP_PATTERNS'), /SHOP_PATTERNS\.readCache: is required/);
    assert.throws(() => checkResolvedPatterns({ ...RESILIENT, readCache: { mode: 'write-through' } }, 'SHOP_PATTERNS'), /SHOP_PATTERNS\.readCache\.refreshMs: is required/);
  });
});

describe('applyRecoveryTimeoutEnv', () => {
  const breaker = resolvePatterns('resilient-breaker');

  it("sets the breaker's recovery timeout from CB_RECOVERY_TIMEOUT, in seconds as Article 4's app reads it", () => {
    const applied = applyRecoveryTimeoutEnv(breaker, { CB_RECOVERY_TIMEOUT: '5' });
    assert.deepEqual(applied.circuitBreaker, { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 5000 });
    assert.ok(Object.isFrozen(applied.circuitBreaker));
    assert.deepEqual(applyRecoveryTimeoutEnv(breaker, { CB_RECOVERY_TIMEOUT: '0.5' }).circuitBreaker, { mode: 'local', failureThreshold: 3, recoveryTimeoutMs: 500 });
  });

  it('leaves the patterns as they are when the variable is unset or empty, or the breaker is off', () => {
    assert.equal(applyRecoveryTimeoutEnv(breaker, {}), breaker);
    assert.equal(applyRecoveryTimeoutEnv(breaker, { CB_RECOVERY_TIMEOUT: ' ' }), breaker);
    const off = resolvePatterns('resilient');
    assert.equal(applyRecoveryTimeoutEnv(off, { CB_RECOVERY_TIMEOUT: '5' }), off);
  });

  for (const bad of ['0', '-1', '30s', 'abc', '7200']) {
    it(`refuses CB_RECOVERY_TIMEOUT=${bad}, naming the variable and the value`, () => {
      assert.throws(
        () => applyRecoveryTimeoutEnv(breaker, { CB_RECOVERY_TIMEOUT: bad }),
        (error: unknown) => error instanceof PatternsError && error.message === `CB_RECOVERY_TIMEOUT: must be a number of seconds above 0 and at most 3600 (e.g. 30), got ${JSON.stringify(bad)}`,
      );
    });
  }
});
