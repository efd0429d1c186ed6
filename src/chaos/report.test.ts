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

  it("adds Article 4's fallbacks to the STATUS line once there are some: reads from the cache, orders queued (202)", () => {
    const degraded = { reads: { ok: 120, fail: 0, notSent: 0, bySource: { database: 40, cache: 80 }, failByStatus: {} }, writes: { ok: 10, queued: 30, stockOut: 2, fail: 0, notSent: 0, failByStatus: {} } };
    assert.equal(formatStatusLine(degraded, Date.parse('2026-01-01T00:44:07Z')), '00:44:07 STATUS: reads=120/0 reads_cache=80 writes_ok=10 writes_202=30 writes_409=2 writes_fail=0');
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

describe("Article 4's rows: reads by source, writes by answer, the queue after recovery", () => {
  const audit = (over: Partial<NonNullable<Journal['audit']>>): NonNullable<Journal['audit']> => ({
    acknowledged: 0,
    lost: 0,
    duplicated: 0,
    phantom: 0,
    ambiguous: { committed: 0, notCommitted: 0, stillQueued: 0, deadLettered: 0 },
    unexplained: 0,
    stockConserved: true,
    queued: 0,
    committedFromQueue: 0,
    rejectedAfterAcceptance: 0,
    rejectedReasons: {},
    deadLettered: 0,
    stillQueued: 0,
    details: { lost: [], duplicated: [], phantom: [], stockMismatch: [], rejectedAfterAcceptance: [], deadLettered: [], stillQueued: [], unexplained: [], ambiguousInQueue: [] },
    ...over,
  });
  const before = (): Journal => {
    const journal = journalWith('resilient', {
      reads: { ok: 30, fail: 12, notSent: 0, cache: 0, bySource: { database: 30 }, failByStatus: { 500: 12 } },
      writes: { ok: 31, queued: 0, stockOut: 0, fail: 11, notSent: 0, failByStatus: { 500: 11 } },
      durationMs: 6000,
      series: [],
    });
    journal.experiment = 'db-outage';
    journal.audit = audit({ acknowledged: 31, ambiguous: { committed: 0, notCommitted: 11, stillQueued: 0, deadLettered: 0 } });
    return journal;
  };
  const after = (): Journal => {
    const journal = journalWith('graceful', {
      reads: { ok: 70, fail: 0, notSent: 0, cache: 19, bySource: { database: 51, cache: 19 }, failByStatus: {} },
      writes: { ok: 44, queued: 23, stockOut: 3, fail: 0, notSent: 0, failByStatus: {} },
      durationMs: 6000,
      series: [],
    });
    journal.experiment = 'db-outage';
    journal.audit = audit({ acknowledged: 67, queued: 23, committedFromQueue: 21, rejectedAfterAcceptance: 2, rejectedReasons: { 'insufficient stock': 2 } });
    journal.degradation = {
      reads: { database: 51, cache: 19, fail: 0 },
      writes: { ok: 44, queued: 23, stockOut: 3, fail: 0 },
      databaseReturnedAtMs: 10_500,
      queue: { settings: { visibilityTimeoutMs: 4500, receiveWaitTimeMs: 1000, maxReceiveCount: 10 }, sampleEveryMs: 50, remaining: 0, deadLetters: 0, peakDepth: 23, failedSamples: 0, series: [] },
      drain: { timeToDrainMs: 1200, goalMs: 6500, goal: { breakerRecoveryMs: 1500, applyBacklogMs: 5000 }, applyingMs: 700, met: true },
      auditWait: { limitMs: 7500, waitedMs: 40, idle: true },
      worker: { pid: 4242, restarts: 0, counters: { received: 23, committed: 21, replayed: 0, rejected: 2, deadLettered: 0, transientFailures: 0, errors: 0, staleReceipts: 0 } },
    };
    return journal;
  };

  it("RESULTS prints the article's lines: Reads DB/CACHE/FAIL, Writes OK/202_QUEUED/STOCK_OUT/FAIL, SQS remaining and DLQ", () => {
    const results = formatResults(after());
    assert.match(results, /^Reads: {2}DB=51 {2}CACHE=19 {2}FAIL=0$/m);
    assert.match(results, /^Writes: OK=44 {2}202_QUEUED=23 {2}STOCK_OUT=3 {2}FAIL=0$/m);
    assert.match(results, /^Queue remaining: 0 {3}DLQ: 0 /m);
    assert.match(results, /^Time to drain after the database returned: 1\.2 s, 700 ms applying after the circuit closed \(goal 6\.5 s = breaker 1\.5 s \(scaled\) \+ 5\.0 s to apply the backlog\)$/m);
    assert.match(results, /^Queued \(202\): 23: 21 committed, 2 \(insufficient stock×2\) rejected after acceptance, 0 dead-lettered, 0 still queued$/m);
    assert.doesNotMatch(formatResults(before()), /CACHE=|Queue remaining/, 'a run without the patterns has no degradation section to print');
  });

  it('the BEFORE vs AFTER table has the article rows, positions naming BEFORE and AFTER (resilient is Article 4\u2019s BEFORE)', () => {
    const table = formatComparison([before(), after()]);
    assert.match(table, /BEFORE \(resilient\)\s+AFTER \(graceful\)/);
    assert.match(table, /^Reads: DB \/ CACHE \/ FAIL\s+30 \/ 0 \/ 12\s+51 \/ 19 \/ 0$/m);
    assert.match(table, /^Writes: OK \/ 202_QUEUED \/ STOCK_OUT \/ FAIL\s+31 \/ 0 \/ 0 \/ 11\s+44 \/ 23 \/ 3 \/ 0$/m);
    assert.match(table, /^Queue remaining \/ DLQ after recovery\s+no queue\s+0 \/ 0$/m);
    assert.match(table, /^Time to drain after the database returned\s+no queue\s+1\.2 s, 700 ms applying after the circuit closed \(goal 6\.5 s = breaker 1\.5 s \(scaled\) \+ 5\.0 s to apply the backlog\)$/m);
    assert.match(table, /^Audit waited for the queue\s+no queue\s+40 ms of at most 7\.5 s: idle$/m);
    assert.match(table, /^Verdict\s+completed\s+completed$/m);
    assert.match(table, /^Rejected after acceptance\s+0\s+2 \(insufficient stock×2\)$/m);
    assert.match(table, /^Orders lost \(acknowledged, missing\)\s+0\s+0$/m);
    assert.match(table, /^Audit\s+clean\s+clean$/m);
  });

  it('the audit row names what it found, and a drain that missed its goal says so', () => {
    const missed = after();
    missed.degradation!.drain = { timeToDrainMs: 8000, goalMs: 6500, goal: { breakerRecoveryMs: 1500, applyBacklogMs: 5000 }, applyingMs: null, met: false };
    missed.audit = audit({ lost: 2, deadLettered: 1, stillQueued: 3 });
    const table = formatComparison([before(), missed]);
    assert.match(table, /^Time to drain after the database returned\s+no queue\s+8\.0 s \(goal 6\.5 s = breaker 1\.5 s \(scaled\) \+ 5\.0 s to apply the backlog: MISSED\)$/m);
    assert.match(table, /^Audit\s+clean\s+2 lost, 1 dead-lettered, 3 still queued$/m);
  });

  it('the Verdict says what the steady state does not: orders still queued, dead-lettered, unexplained, a queue wait that gave up', () => {
    // The verdict only looked at the steady state, so an AFTER whose queue never drained read
    // "0 lost ... the steady state held" although 12 acknowledged orders were never applied.
    const undrained = after();
    undrained.steadyState.after = { title: 't', met: true, probes: [] };
    undrained.audit = audit({ stillQueued: 12, ambiguous: { committed: 0, notCommitted: 0, stillQueued: 1, deadLettered: 0 } });
    undrained.degradation!.auditWait = { limitMs: 11_000, waitedMs: 11_000, idle: false };
    assert.match(formatResults(undrained), /^Verdict: the steady state held, but 13 orders still queued, the queue was not idle when the audit ran$/m);
    const doubled = after();
    doubled.audit = audit({ unexplained: 1, details: { ...audit({}).details, unexplained: [{ orderId: 77, key: 'second-key', productId: 2, quantity: 1 }] } });
    const results = formatResults(doubled);
    assert.match(results, /^Verdict: completed, but 1 order unexplained$/m);
    assert.match(results, /^Unexplained orders \(under no key the client sent\): #77 second-key$/m);
    assert.match(formatComparison([before(), doubled]), /^Audit\s+clean\s+1 unexplained$/m);
  });

  it('an end state the queue did not answer is unknown, never a clean 0 / 0, and a run with no return recorded says so', () => {
    // remaining and deadLetters defaulted to 0 when the latest sample failed, printing the article's clean "0 / 0".
    const blind = after();
    blind.degradation!.queue = { ...blind.degradation!.queue!, remaining: null, deadLetters: null };
    blind.degradation!.drain = null;
    const table = formatComparison([before(), blind]);
    assert.match(table, /^Queue remaining \/ DLQ after recovery\s+no queue\s+unknown \/ unknown$/m);
    assert.match(table, /^Time to drain after the database returned\s+no queue\s+no database return recorded$/m);
    assert.match(formatResults(blind), /^Queue remaining: unknown {3}DLQ: unknown /m);
    assert.match(formatResults(blind), /^Verdict: completed, but the queue's end state is unknown$/m);
  });
});
