import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointProbeRun, EndpointResult } from '../traffic/endpoint-probe.ts';
import type { Patterns } from '../shop/patterns.ts';
import { checkEndpointGoal, CONTAINED_ANSWER_MS, endpointGoalFor, evaluateEndpointGoal, formatEndpointsLine, formatPhaseLine } from './endpoints-report.ts';
import { endpointPhases, endpointsRecord, phaseIndexOf } from './endpoints.ts';
import type { EndpointsRecord, Journal } from './journal.ts';
import type { Timeline } from './observations.ts';
import { formatComparison, formatResults } from './report.ts';

const T0 = Date.parse('2026-11-30T21:00:00Z');
const ENDPOINTS = { products: '/products', reviews: '/products/3/reviews', promo: '/promo' };
const PLAN = { everyMs: 100, timeoutMs: 5000, endpoints: ENDPOINTS };

/** Article 7's timeline under a made-up clock: baseline 0-1.5 s, reviews cut 1.5-7.49 s, promo cut 7.495-13.52 s, sending ends at 13.5 s. */
function timeline(overrides: Partial<Timeline> = {}): Timeline {
  return {
    runningAt: T0,
    endedAt: T0 + 13_500,
    failures: [],
    actions: [
      { name: 'baseline', actionId: 'lab:wait', startedAt: T0, undoneAt: null, targets: [] },
      { name: 'cut-reviews', actionId: 'lab:network:disrupt', startedAt: T0 + 1500, undoneAt: T0 + 7490, targets: ['reviews'] },
      { name: 'cut-promo', actionId: 'lab:network:disrupt', startedAt: T0 + 7495, undoneAt: T0 + 13_520, targets: ['promo'] },
    ],
    rollbacks: [],
    ...overrides,
  };
}

type Answer = (endpoint: string, at: number) => { status: number; latencyMs: number; stale?: boolean };

/** Every endpoint every 100 ms from T0 to the end, answered by `answer`. */
function probeRun(answer: Answer, endMs = 13_500): EndpointProbeRun {
  const results: EndpointResult[] = [];
  for (let at = 0; at < endMs; at += 100) {
    for (const endpoint of Object.keys(ENDPOINTS)) {
      const a = answer(endpoint, at);
      results.push({ endpoint, sentAt: T0 + at, status: a.status, latencyMs: a.latencyMs, stale: a.stale ?? false });
    }
  }
  return { results, notSent: { products: 0, reviews: 0, promo: 0 }, maxInFlightPerEndpoint: 100, peakInFlight: { products: 1, reviews: 1, promo: 1 }, startedAt: T0 };
}

/** Which endpoint the fault in force at `at` cuts (none in the baseline). */
const cutAt = (at: number): string | undefined => (at >= 13_520 ? undefined : at >= 7495 ? 'promo' : at >= 1500 ? 'reviews' : undefined);

/** A journal with these patterns and this endpoints section, nothing else observed. */
function journalOf(mode: string, patterns: unknown, run: EndpointProbeRun, t: Timeline = timeline()): Journal {
  return {
    chaosLab: { version: '0.0.0', journalVersion: 1 },
    experiment: 'dependency-outage',
    title: 'Cut one secondary dependency at a time',
    mode,
    profile: { name: 'quick', timeScale: 0.05 },
    status: 'completed',
    deviated: false,
    startedAt: new Date(T0 - 5000).toISOString(),
    endedAt: new Date(T0 + 15_000).toISOString(),
    durationMs: 20_000,
    seed: 1,
    template: { title: 't', description: '', actions: {} } as unknown as Journal['template'],
    plan: { durationMs: 13_500, lab: { kind: 'shop', patterns } } as unknown as Journal['plan'],
    targets: {},
    states: [],
    actions: [],
    rollbacks: [],
    stopConditions: [],
    steadyState: { before: null, after: null },
    traffic: null,
    probe: null,
    fleet: { instances: [], events: [], targetStateChanges: [], replacement: null },
    impact: { failedRequests: 0, firstFailureMs: null, lastFailureMs: null, recovered: true, recoveryMs: 0 },
    audit: null,
    endpoints: withGoal(endpointsRecord(PLAN, run, t), patterns),
    postProbe: null,
  };
}

/** The section as the runner records it: with the mode's goal checked once, from its patterns. */
function withGoal(record: EndpointsRecord, patterns: unknown): EndpointsRecord {
  return { ...record, goal: evaluateEndpointGoal(record, endpointGoalFor(patterns as Patterns)) };
}

const COUPLED = { workerPools: { mode: 'shared', workers: 4, backlog: 64 }, dependencyClient: { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4, fallback: 'error' } };
const ISOLATED = { workerPools: { mode: 'per-dependency', workers: 4, backlog: 64, dependencyWorkers: 2, dependencyBacklog: 0 }, dependencyClient: { connectTimeoutMs: 2000, readTimeoutMs: 2000, retries: 0, fallback: 'error' } };
const STALE = { ...ISOLATED, dependencyClient: { ...ISOLATED.dependencyClient, fallback: 'stale' } };

/** BEFORE: the cut endpoint hangs to the client timeout, and every worker with it: the catalog fails too. */
const coupledAnswer: Answer = (endpoint, at) => (cutAt(at) ? { status: endpoint === cutAt(at) ? 0 : 503, latencyMs: endpoint === cutAt(at) ? 5000 : 12 } : { status: 200, latencyMs: 8 });
/** AFTER: a fast 503 on the cut endpoint, the others answer. */
const isolatedAnswer: Answer = (endpoint, at) => (endpoint === cutAt(at) ? { status: 503, latencyMs: 2010 } : { status: 200, latencyMs: 8 });
const staleAnswer: Answer = (endpoint, at) => (endpoint === cutAt(at) ? { status: 200, latencyMs: 2010, stale: true } : { status: 200, latencyMs: 8 });

describe('endpoint phases', () => {
  it('are the baseline, then one phase per fault action named after it, from its start to the next', () => {
    const phases = endpointPhases(timeline(), 100);
    assert.deepEqual(
      phases.map((p) => [p.name, p.actionId, p.targets, p.startAt - T0, p.endAt - T0]),
      [
        ['baseline', null, [], 0, 1500],
        // The 5 ms between the reviews' undo and the promo cut hold no probe: they stay in cut-reviews.
        ['cut-reviews', 'lab:network:disrupt', ['reviews'], 1500, 7495],
        ['cut-promo', 'lab:network:disrupt', ['promo'], 7495, 13_500],
      ],
    );
  });

  it('add a phase after the last undo when the run went on for at least one probe interval', () => {
    const t = timeline({ endedAt: T0 + 16_000 });
    const phases = endpointPhases(t, 100);
    assert.deepEqual(phases.map((p) => [p.name, p.startAt - T0, p.endAt - T0]).at(-1), ['after cut-promo', 13_520, 16_000]);
    const record = endpointsRecord(PLAN, probeRun(isolatedAnswer, 16_000), t);
    assert.deepEqual(record.phases.at(-1)!.endpoints['promo']!.fail, 0, 'promo answers again after its undo');
  });

  it('count a failure or a stale answer still in flight when a fault began in the fault\'s phase, and everything else where it was sent', () => {
    const bounds = endpointPhases(timeline({ endedAt: T0 + 16_000 }), 100);
    const index = (sentMs: number, latencyMs: number, status: number, stale = false): string => bounds[phaseIndexOf({ sentAt: T0 + sentMs, latencyMs, status, stale }, bounds)]!.name;
    // Sent 10 ms before the reviews cut, failed 2 s later: the cut hit it in flight.
    assert.equal(index(1490, 2000, 503), 'cut-reviews');
    assert.equal(index(1490, 5, 200), 'baseline', 'answered before the cut');
    assert.equal(index(1490, 2000, 200), 'baseline', 'a fresh answer counts where it was sent, however slow');
    assert.equal(index(1490, 2000, 200, true), 'cut-reviews', 'a stale one, from the cache because the cut hit it, counts in the cut');
    // Sent during the cut, timed out after its undo: still the cut's (the phase after an undo is no fault).
    assert.equal(index(7400, 5000, 0), 'cut-reviews');
    assert.equal(index(13_600, 5, 503), 'after cut-promo');
  });

  it('without a fault, are the baseline alone', () => {
    const t = timeline({ actions: [{ name: 'baseline', actionId: 'lab:wait', startedAt: T0, undoneAt: null, targets: [] }] });
    assert.deepEqual(endpointPhases(t, 100).map((p) => [p.name, p.endAt - p.startAt]), [['baseline', 13_500]]);
  });

  it('count each endpoint per phase by send time: ok, stale among the ok, failures by status, latency', () => {
    const record = endpointsRecord(PLAN, probeRun(coupledAnswer), timeline());
    const [baseline, reviews, promo] = record.phases;
    assert.deepEqual(baseline!.endpoints['products'], { ok: 15, stale: 0, fail: 0, failByStatus: {}, latency: { count: 15, p50: 8, p99: 8, max: 8 } });
    assert.deepEqual(reviews!.cut, ['reviews'], 'the endpoint named after the target');
    assert.equal(reviews!.durationMs, 5995);
    assert.deepEqual(reviews!.endpoints['reviews']!.failByStatus, { 0: 60 });
    assert.deepEqual(reviews!.endpoints['products']!.failByStatus, { 503: 60 });
    assert.deepEqual(promo!.cut, ['promo']);
    assert.equal(promo!.startMs, 7495);
    assert.equal(record.totals['products']!.ok + record.totals['products']!.fail, 135);
    assert.equal(record.series.length, 14, 'one entry per second of the run');
    assert.deepEqual(record.series[0]!.endpoints['reviews'], { ok: 10, stale: 0, fail: 0 });
    assert.deepEqual(record.series[3]!.endpoints['reviews'], { ok: 0, stale: 0, fail: 10 });
  });
});

describe('endpoint report lines', () => {
  it("print each phase in Article 7's form, with latency, failures and stale answers", () => {
    const journal = journalOf('isolated', ISOLATED, probeRun(isolatedAnswer));
    const results = formatResults(journal);
    assert.match(results, /^baseline \(1\.5 s\): products ok=15\/0 reviews ok=15\/0 promo ok=15\/0$/m);
    assert.match(results, /^cut-reviews \(6\.0 s\): products ok=60\/0 reviews ok=0\/60 promo ok=60\/0$/m);
    assert.match(results, /^ {2}latency p50\/p99: products 8 ms\/8 ms, reviews 2\.0 s\/2\.0 s, promo 8 ms\/8 ms$/m);
    assert.match(results, /^ {2}failed: reviews 60 \(503\)$/m);
    assert.equal(formatPhaseLine(journal.endpoints!.phases[2]!), 'cut-promo (6.0 s): products ok=60/0 reviews ok=60/0 promo ok=0/60');
    assert.match(results, /^Goal \(the outage is contained: .*\): met: the others 0 failures; reviews 60 \(503\), slowest 2\.0 s during cut-reviews, promo 60 \(503\), slowest 2\.0 s during cut-promo$/m);
    assert.match(results, /^Verdict: completed$/m);
  });

  it('the ENDPOINTS progress line shows ok/fail per endpoint, and stale or not sent only when there are some', () => {
    const at = Date.parse('2026-11-30T21:00:10Z');
    assert.equal(
      formatEndpointsLine({ products: { ok: 12, stale: 0, fail: 0, notSent: 0 }, reviews: { ok: 3, stale: 0, fail: 9, notSent: 0 }, promo: { ok: 12, stale: 2, fail: 0, notSent: 1 } }, at),
      '21:00:10 ENDPOINTS: products ok=12/0 reviews ok=3/9 promo ok=12/0 stale=2 not_sent=1',
    );
  });

  it('coupled (BEFORE) meets its goal when the catalog fails during the reviews cut, and says MISSED when nothing spread', () => {
    const cascade = checkEndpointGoal(journalOf('coupled', COUPLED, probeRun(coupledAnswer)))!;
    assert.equal(cascade.goal, 'cascade');
    assert.ok(cascade.met, cascade.detail);
    assert.match(cascade.detail, /products failed 60 \(503\) of 60 during cut-reviews/);
    const contained = journalOf('coupled', COUPLED, probeRun(isolatedAnswer));
    assert.equal(checkEndpointGoal(contained)!.met, false);
    assert.match(formatResults(contained), /^Goal \(BEFORE shows the cascade.*\): MISSED: no endpoint that no fault cuts failed/m);
    assert.match(formatResults(contained), /^Verdict: completed, but the goal \(cascade\) was MISSED$/m);
  });

  it('isolated (AFTER) misses its goal when another endpoint fails, the cut one times out, or answers slower than 2.5 s', () => {
    const spread = checkEndpointGoal(journalOf('isolated', ISOLATED, probeRun(coupledAnswer)))!;
    assert.equal(spread.met, false);
    assert.match(spread.detail, /reviews failed 60 \(timeout\) during cut-reviews, not only 503/);
    assert.match(spread.detail, /reviews's slowest answer during cut-reviews took 5\.0 s \(> 2\.5 s\)/);
    assert.match(spread.detail, /products failed 60 \(503\) during cut-reviews/);
    const slow = checkEndpointGoal(journalOf('isolated', ISOLATED, probeRun((endpoint, at) => (endpoint === cutAt(at) ? { status: 503, latencyMs: CONTAINED_ANSWER_MS + 1 } : { status: 200, latencyMs: 8 }))))!;
    assert.equal(slow.met, false, slow.detail);
  });

  it('every goal is MISSED when the fault had no effect (everything answered 200 fresh): a fault that never landed is not a result', () => {
    const untouched: Answer = () => ({ status: 200, latencyMs: 8 });
    for (const [mode, patterns, expected] of [
      ['coupled', COUPLED, /no endpoint that no fault cuts failed/],
      ['isolated', ISOLATED, /reviews never failed during cut-reviews: the fault had no effect/],
      ['isolated-stale', STALE, /reviews gave no stale answer during cut-reviews: the fault had no effect/],
    ] as const) {
      const goal = checkEndpointGoal(journalOf(mode, patterns, probeRun(untouched)))!;
      assert.equal(goal.met, false, `${mode}: ${goal.detail}`);
      assert.match(goal.detail, expected);
    }
  });

  it('coupled needs the catalog (an endpoint no fault cuts) to fail: the other dependency failing alone is not the cascade', () => {
    // Promo fails during the reviews cut, the catalog never: promo is cut itself later, so it proves nothing about the catalog.
    const promoOnly: Answer = (endpoint, at) => (cutAt(at) && (endpoint === cutAt(at) || endpoint === 'promo') ? { status: 503, latencyMs: 12 } : { status: 200, latencyMs: 8 });
    const goal = checkEndpointGoal(journalOf('coupled', COUPLED, probeRun(promoOnly)))!;
    assert.equal(goal.met, false, goal.detail);
  });

  it('the goal is read from the journal, never recomputed: a journal that records none has none', () => {
    const journal = journalOf('isolated', ISOLATED, probeRun(isolatedAnswer));
    const withoutGoal = { ...journal.endpoints! };
    delete withoutGoal.goal;
    assert.equal(checkEndpointGoal({ ...journal, endpoints: withoutGoal }), undefined);
  });

  it('isolated-stale meets its goal with 0 failures everywhere and names the stale answers', () => {
    const journal = journalOf('isolated-stale', STALE, probeRun(staleAnswer));
    const goal = checkEndpointGoal(journal)!;
    assert.equal(goal.goal, 'no-failures');
    assert.ok(goal.met, goal.detail);
    assert.equal(goal.detail, '0 failures on every endpoint; reviews 60 stale during cut-reviews, promo 60 stale during cut-promo');
    assert.match(formatResults(journal), /^ {2}stale \(from the cache\): reviews 60 of 60$/m);
  });

  it('the comparison has a row per phase and endpoint (failed / stale / p99) and the goal of each mode', () => {
    const journals = [journalOf('coupled', COUPLED, probeRun(coupledAnswer)), journalOf('isolated', ISOLATED, probeRun(isolatedAnswer)), journalOf('isolated-stale', STALE, probeRun(staleAnswer))];
    const table = formatComparison(journals);
    assert.match(table, /BEFORE \(coupled\)\s+isolated\s+AFTER \(isolated-stale\)/, 'without BEFORE: or AFTER: in the descriptions, by position');
    const described = journals.map((j, i) => ({ ...j, modeDescription: ['BEFORE: the SDK defaults', 'AFTER: short timeouts', 'beyond the article'][i] }));
    assert.match(formatComparison(described), /^dependency-outage: BEFORE \(coupled\) vs AFTER \(isolated\) vs isolated-stale \(quick profile\)$/m, 'the descriptions say which is which');
    assert.match(table, /^cut-reviews · products: failed \/ stale \/ p99\s+60 \(503\) \/ 0 \/ 12 ms\s+0 \/ 0 \/ 8 ms\s+0 \/ 0 \/ 8 ms$/m, table);
    assert.match(table, /^cut-reviews · reviews: failed \/ stale \/ p99\s+60 \(timeout\) \/ 0 \/ 5\.0 s\s+60 \(503\) \/ 0 \/ 2\.0 s\s+0 \/ 60 \/ 2\.0 s$/m, table);
    assert.match(table, /^Goal\s+cascade: met\s+contained: met\s+no-failures: met$/m, table);
  });
});
