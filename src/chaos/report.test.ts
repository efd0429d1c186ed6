import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFailures, formatStatusLine } from './report.ts';

describe('report lines', () => {
  it("prints Article 3's STATUS line", () => {
    const totals = { reads: { ok: 99, fail: 105, bySource: {}, failByStatus: {} }, writes: { ok: 32, queued: 0, stockOut: 0, fail: 36, failByStatus: {} } };
    assert.equal(formatStatusLine(totals, Date.parse('2026-01-01T00:44:07Z')), '00:44:07 STATUS: reads=99/105 writes_ok=32 writes_409=0 writes_fail=36');
  });

  it('names failures by status, a 0 being a client timeout', () => {
    assert.equal(formatFailures(0, {}), '0');
    assert.equal(formatFailures(105, { 500: 105 }), '105 (500)');
    assert.equal(formatFailures(4, { 0: 4 }), '4 (timeout)');
    assert.equal(formatFailures(4, { 502: 2, 0: 2 }), '4 (timeout×2, 502×2)');
  });
});
