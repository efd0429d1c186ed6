import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal, TrafficRecord } from './journal.ts';
import { formatComparison, formatFailures, formatResults, formatStatusLine } from './report.ts';

const totals = (notSent: { reads: number; writes: number }) => ({
  reads: { ok: 99, fail: 105, notSent: notSent.reads, bySource: {}, failByStatus: {} },
  writes: { ok: 32, queued: 0, stockOut: 0, fail: 36, notSent: notSent.writes, failByStatus: {} },
});

/** A completed run's journal with these traffic counts, and nothing else observed. */
function journalWith(mode: string, traffic: TrafficRecord): Journal {
  return {
    chaosLab: { version: '0.0.0', journalVersion: 1 },
    experiment: 'report-test',
    title: 'report test',
    mode,
    profile: { name: 'quick', timeScale: 0.05 },
    status: 'completed',
    deviated: false,
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:06.000Z',
    durationMs: 6000,
    seed: 1,
    template: { title: 'report test', description: '', actions: {} } as unknown as Journal['template'],
    plan: { durationMs: 6000 } as Journal['plan'],
    targets: {},
    states: [],
    actions: [],
    rollbacks: [],
    stopConditions: [],
    steadyState: { before: null, after: null },
    traffic,
    probe: null,
    fleet: { instances: [], events: [], targetStateChanges: [], replacement: null },
    impact: { failedRequests: 0, firstFailureMs: null, lastFailureMs: null, recovered: true, recoveryMs: 0 },
    audit: null,
    postProbe: null,
  };
}

const traffic = (notSent: { reads: number; writes: number }): TrafficRecord => {
  const t = totals(notSent);
  return { reads: { ...t.reads, cache: 0 }, writes: t.writes, durationMs: 6000, series: [] };
};

describe('report lines', () => {
  it("prints Article 3's STATUS line", () => {
    assert.equal(formatStatusLine(totals({ reads: 0, writes: 0 }), Date.parse('2026-01-01T00:44:07Z')), '00:44:07 STATUS: reads=99/105 writes_ok=32 writes_409=0 writes_fail=36');
  });

  it('adds what the generator could not send to the STATUS line, only when there is some', () => {
    assert.equal(formatStatusLine(totals({ reads: 7, writes: 3 }), Date.parse('2026-01-01T00:44:07Z')), '00:44:07 STATUS: reads=99/105 writes_ok=32 writes_409=0 writes_fail=36 not_sent=10');
  });

  it('names failures by status, a 0 being a client timeout', () => {
    assert.equal(formatFailures(0, {}), '0');
    assert.equal(formatFailures(105, { 500: 105 }), '105 (500)');
    assert.equal(formatFailures(4, { 0: 4 }), '4 (timeout)');
    assert.equal(formatFailures(4, { 502: 2, 0: 2 }), '4 (timeout×2, 502×2)');
  });
});

describe('the generator shortfall in RESULTS and BEFORE vs AFTER', () => {
  it('RESULTS says what was not sent, and warns that the generator could not keep up, only when it could not', () => {
    const overloaded = formatResults(journalWith('naive', { ...traffic({ reads: 1200, writes: 600 }), generator: { maxInFlightRequests: 256, peakInFlightRequests: 256, notSentAtInFlightCap: 1800, notSentBehindSchedule: 0 } }));
    assert.match(overloaded, /^Not sent \(generator overloaded\): 1200 reads \/ 600 writes \(at most 256 in flight\)$/m);
    assert.match(overloaded, /WARNING: the traffic generator could not keep up: 1800 requests .* not failures of the system/);
    const fine = formatResults(journalWith('naive', traffic({ reads: 0, writes: 0 })));
    assert.doesNotMatch(fine, /Not sent|WARNING/);
  });

  it('the BEFORE vs AFTER table has a "Not sent" row and the warning only when a run fell short', () => {
    const table = formatComparison([journalWith('naive', traffic({ reads: 0, writes: 0 })), journalWith('resilient', traffic({ reads: 40, writes: 2 }))]);
    assert.match(table, /^Not sent \(generator overloaded\)\s+0\s+42$/m);
    assert.match(table, /WARNING: the traffic generator could not keep up: 42 requests/);
    const fine = formatComparison([journalWith('naive', traffic({ reads: 0, writes: 0 })), journalWith('resilient', traffic({ reads: 0, writes: 0 }))]);
    assert.doesNotMatch(fine, /Not sent|WARNING/);
  });
});
