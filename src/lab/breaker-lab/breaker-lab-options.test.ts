import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveBehaviour } from './backend-behaviour.ts';
import { BREAKER_LAB_DEFAULTS, resolveBreakerLabOptions } from './breaker-lab-options.ts';

describe('breaker lab options', () => {
  it('fills in every default once', () => {
    const options = resolveBreakerLabOptions({ mode: 'local' });
    assert.equal(options.concurrency, BREAKER_LAB_DEFAULTS.concurrency);
    assert.equal(options.clientTimeoutMs, 1000);
    assert.deepEqual(options.breaker, { failureThreshold: 3, recoveryTimeoutMs: 30_000, trialLeaseMs: 10_000 });
  });

  it('names the bad field and its value', () => {
    assert.throws(() => resolveBreakerLabOptions({ mode: 'both' as never }), { code: 'INVALID_GATEWAY_CONFIG', message: 'mode must be "local" or "shared", got "both"' });
    assert.throws(() => resolveBreakerLabOptions({ mode: 'local', concurrency: 0 }), { message: 'concurrency must be an integer of 1 or more, got 0' });
    assert.throws(() => resolveBreakerLabOptions({ mode: 'local', idleMs: -5 }), { message: 'idleMs must be a number of milliseconds above 0, got -5' });
    assert.throws(() => resolveBreakerLabOptions({ mode: 'shared', breaker: { failureThreshold: -1 } }), { message: 'breaker.failureThreshold must be an integer of 1 or more, got -1' });
    // The gateway would kill the environment before the breaker ever saw the backend time out.
    assert.throws(() => resolveBreakerLabOptions({ mode: 'local', clientTimeoutMs: 2000, functionTimeoutMs: 1000 }), { message: 'functionTimeoutMs must be above clientTimeoutMs (2000), got 1000' });
  });

  it('a backend behaviour leaves out nothing: omitted fields are healthy', () => {
    assert.deepEqual(resolveBehaviour({ failureRate: 0.5 }), { failureRate: 0.5, latencyMs: 0, hang: false });
    assert.throws(() => resolveBehaviour({ hang: 'yes' }), { code: 'INVALID_BEHAVIOUR', message: 'hang must be true or false, got "yes"' });
    assert.throws(() => resolveBehaviour([]), { field: 'behaviour' });
  });
});
