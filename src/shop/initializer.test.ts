import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initRetryDelayMs } from './initializer.ts';

describe('initRetryDelayMs', () => {
  it('follows Article 4: 2 s doubling to 30 s', () => {
    const delays = Array.from({ length: 7 }, (_, i) => initRetryDelayMs(i + 1, 2000, 30_000));
    assert.deepEqual(delays, [2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('stays finite after many attempts', () => {
    assert.equal(initRetryDelayMs(10_000, 2000, 30_000), 30_000);
  });
});
