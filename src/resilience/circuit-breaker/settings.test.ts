import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BreakerSettingsError, DEFAULT_BREAKER_SETTINGS, resolveBreakerSettings } from './settings.ts';

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
});
