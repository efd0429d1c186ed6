import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectionWindow, formatProbe } from './probe.ts';

describe('probe results', () => {
  it('print as Article 1 does, with 000 for a timeout', () => {
    const at = Date.parse('2026-06-17T23:17:29Z');
    assert.equal(formatProbe({ at, status: 502 }), '23:17:29 - 502');
    assert.equal(formatProbe({ at, status: 0 }), '23:17:29 - 000');
  });

  it('give the detection window from the first failure to the last', () => {
    const results = [200, 502, 502, 200, 200, 0, 0, 200].map((status, i) => ({ at: i * 2000, status }));
    assert.deepEqual(detectionWindow(results), { firstFailureAt: 2000, lastFailureAt: 12_000, failures: 4 });
    assert.equal(detectionWindow([{ at: 0, status: 200 }]), null);
  });
});
