// resolvePatterns: each preset, overrides deep-merged per pattern, and every bad value named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyRecoveryTimeoutEnv, CIRCUIT_BREAKER_DEFAULTS, checkResolvedPatterns, mergePatternsInputs, PATTERN_PRESETS, PatternsError, patternsName, resolvePatterns, type Patterns } from './patterns.ts';

const NAIVE: Patterns = { connection: { kind: 'persistent' }, queryTimeoutMs: null, retry: { delaysMs: [] }, readWriteSplit: false, circuitBreaker: { mode: 'off' } };
const RESILIENT: Patterns = {
  connection: { kind: 'pool', size: 10, validateAfterIdleMs: 1000 },
  queryTimeoutMs: 5000,
  retry: { delaysMs: [500, 1000, 2000] },
  readWriteSplit: true,
  circuitBreaker: { mode: 'off' },
};

/** [what, input, the message expected (a prefix of one problem)]. */
const INVALID: Array<[string, unknown, string]> = [
  ['an unknown preset', 'paranoid', 'patterns: must be one of naive, resilient, resilient-breaker, got "paranoid"'],
  ['an unknown preset in an object', { preset: 'paranoid' }, 'patterns.preset: must be one of naive, resilient, resilient-breaker, got "paranoid"'],
  ['neither a preset nor an object', 42, 'patterns: must be a preset (naive, resilient, resilient-breaker) or an object of patterns, got 42'],
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
  ['the reserved read cache', { readCache: { ttlMs: 1000 } }, "patterns.readCache: is reserved for Article 4's read cache (a later issue) and cannot be set yet, got an object"],
  ['the reserved write buffer', { writeBuffer: true }, "patterns.writeBuffer: is reserved for Article 4's write buffer queue (a later issue) and cannot be set yet, got true"],
  ['the reserved dependency timeouts', { dependencyTimeouts: {} }, "patterns.dependencyTimeouts: is reserved for Article 7's per-dependency timeouts"],
  ['the reserved worker pools', { workerPools: {} }, "patterns.workerPools: is reserved for Article 7's isolated worker pools"],
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

  it('a shared breaker resolves with no address in it: the store comes from the lab, not the patterns', () => {
    assert.deepEqual(resolvePatterns({ circuitBreaker: { mode: 'shared', recoveryTimeoutMs: 5000 } }).circuitBreaker, { mode: 'shared', failureThreshold: 3, recoveryTimeoutMs: 5000 });
  });

  it('deep-merges overrides per pattern; a changed kind starts from that kind\'s defaults', () => {
    const tuned = resolvePatterns({ preset: 'resilient', connection: { size: 20 }, retry: { delaysMs: [100] }, queryTimeoutMs: null });
    assert.deepEqual(tuned, { ...RESILIENT, connection: { kind: 'pool', size: 20, validateAfterIdleMs: 1000 }, retry: { delaysMs: [100] }, queryTimeoutMs: null });
    assert.equal(patternsName(tuned), 'custom');
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
