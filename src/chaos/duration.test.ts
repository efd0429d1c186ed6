import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMs, isDuration, parseDurationMs } from './duration.ts';

describe('durations', () => {
  it('parses short and ISO 8601 forms', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('30s'), 30_000);
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('PT3M'), 180_000);
    assert.equal(parseDurationMs('PT1M30S'), 90_000);
  });

  it('rejects anything else, naming it', () => {
    for (const bad of ['30', '30 seconds', 'PT', '-1s', 's', '1h']) {
      assert.equal(isDuration(bad), false, bad);
      assert.throws(() => parseDurationMs(bad), new RegExp(JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
    // Parsable, but no template may use them: nothing, or more than a day.
    for (const bad of ['0s', 'PT0S', '40000m']) assert.equal(isDuration(bad), false, bad);
  });

  it('formats for people', () => {
    assert.equal(formatMs(850), '850 ms');
    assert.equal(formatMs(12_400), '12.4 s');
    assert.equal(formatMs(125_000), '2 min 5 s');
    assert.equal(formatMs(119_600), '2 min 0 s');
    assert.equal(formatMs(59_960), '1 min 0 s');
    assert.equal(formatMs(999.6), '1.0 s');
  });
});
