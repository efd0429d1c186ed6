import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BreakerSettingsError, DEFAULT_BREAKER_SETTINGS, recoveryTimeoutFromEnv, resolveBreakerSettings } from './settings.ts';

describe('circuit breaker settings', () => {
  it("default to Article 4's: 3 failures, 30 s open", () => {
    assert.deepEqual(resolveBreakerSettings(), DEFAULT_BREAKER_SETTINGS);
    assert.equal(resolveBreakerSettings({ recoveryTimeoutMs: undefined }).recoveryTimeoutMs, 30_000);
  });

  it('refuse a bad value, naming the field and the value', () => {
    assert.throws(() => resolveBreakerSettings({ failureThreshold: 0 }), /failureThreshold must be an integer of 1 or more, got 0/);
    assert.throws(() => resolveBreakerSettings({ failureThreshold: -2 }), BreakerSettingsError);
    assert.throws(() => resolveBreakerSettings({ recoveryTimeoutMs: 0 }), /recoveryTimeoutMs must be a number of milliseconds above 0, got 0/);
    assert.throws(() => resolveBreakerSettings({ trialLeaseMs: Number.NaN }), /trialLeaseMs/);
  });

  it('CB_RECOVERY_TIMEOUT is read in seconds, as the article app reads it', () => {
    assert.equal(recoveryTimeoutFromEnv({ CB_RECOVERY_TIMEOUT: '30' }), 30_000);
    assert.equal(recoveryTimeoutFromEnv({ CB_RECOVERY_TIMEOUT: '2.5' }), 2_500);
    assert.equal(recoveryTimeoutFromEnv({}), undefined);
    assert.equal(recoveryTimeoutFromEnv({ CB_RECOVERY_TIMEOUT: '' }), undefined);
  });

  it('a CB_RECOVERY_TIMEOUT that is not a positive number of seconds is refused, naming the variable and the value', () => {
    for (const bad of ['0', '-5', '30s', 'abc']) {
      assert.throws(
        () => recoveryTimeoutFromEnv({ CB_RECOVERY_TIMEOUT: bad }),
        (error: unknown) => error instanceof BreakerSettingsError && error.message.includes('CB_RECOVERY_TIMEOUT') && error.message.includes(JSON.stringify(bad)),
      );
    }
  });
});
