// dependency-outage (Article 7) under the quick profile on real parts: the probe hits the catalog,
// the reviews and the promo banner every 50 ms (1 s scaled), open loop; the reviews store, then
// the promo store, blackholed at the fault proxy. coupled (BEFORE: the SDK's 60 s timeouts, one
// shared pool of 4 workers) must show the cascade; isolated (AFTER: 2 s timeouts, a pool per
// dependency) must contain it; isolated-stale must answer everything.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { EndpointCounts, EndpointPhase, Journal } from '../src/chaos/journal.ts';
import { checkEndpointGoal, formatComparison, formatResults } from '../src/chaos/report.ts';
import { processGuard } from '../src/lab/process/process-guard.ts';
import { renderReport, timelineOf } from '../src/report/index.ts';
import { runBuiltin } from './helpers/experiment-run.ts';
import { descendants, killAll, waitUntilGone } from './helpers/processes.ts';

const ENDPOINTS = ['products', 'reviews', 'promo'];

/**
 * Runs one mode, noting every process this test process has under it while the run goes on (the
 * PostgreSQL servers, the services store, the fault proxy, the instances), so that the test can
 * check each one is gone afterwards, not only the instances the journal names.
 */
async function runWatched(mode: string, seen: Set<number>): Promise<Journal> {
  const note = (): void => {
    for (const pid of descendants(process.pid)) if (pid !== processGuard.reaperPid) seen.add(pid);
  };
  const timer = setInterval(note, 250);
  try {
    return await runBuiltin('dependency-outage', mode);
  } finally {
    clearInterval(timer);
  }
}

const phase = (journal: Journal, name: string): EndpointPhase => {
  const found = journal.endpoints?.phases.find((p) => p.name === name);
  assert.ok(found, `a ${name} phase: ${JSON.stringify(journal.endpoints?.phases.map((p) => p.name))}`);
  return found;
};
const counts = (journal: Journal, phaseName: string, endpoint: string): EndpointCounts => phase(journal, phaseName).endpoints[endpoint]!;

/** The shape every mode shares: three phases with the probe's answers, the cut endpoint named by the target. */
function assertPhases(journal: Journal, results: string): void {
  assert.equal(journal.status, 'completed', results);
  assert.equal(journal.traffic, null, 'Article 7 runs only the probe');
  const e = journal.endpoints;
  assert.ok(e, `an endpoints section: ${results}`);
  // The wait between the cuts is the article's second baseline: the time after the reviews' undo;
  // the run goes on after the promo cut, to see the recovery.
  assert.deepEqual(e.phases.map((p) => p.name), ['baseline', 'cut-reviews', 'after cut-reviews', 'cut-promo', 'after cut-promo'], results);
  assert.deepEqual(e.phases.map((p) => p.cut), [[], ['reviews'], [], ['promo'], []], 'the endpoint named after the target is the one cut');
  for (const p of e.phases) for (const name of ENDPOINTS) assert.ok(p.endpoints[name]!.ok + p.endpoints[name]!.fail > 0, `${name} probed during ${p.name}`);
  for (const name of ENDPOINTS) assert.equal(counts(journal, 'baseline', name).fail, 0, `${name} answers in the baseline: ${results}`);
  assert.equal(e.everyMs, 50, 'every 1 s, scaled');
  assert.equal(e.timeoutMs, 5000, 'the client timeout, not scaled');
  for (const a of journal.actions.filter((x) => x.actionId === 'lab:network:disrupt')) assert.ok(a.state === 'completed' && a.undo, `${a.name} undone: ${JSON.stringify(a)}`);
}

describe('dependency-outage (Article 7), quick profile', () => {
  const journals: Journal[] = [];
  const seen = new Set<number>();
  after(async () => {
    // A test that failed halfway must not leave a server behind: the last resort, by PID.
    killAll(await waitUntilGone([...seen], 5000));
  });

  it('coupled (BEFORE): a hanging reviews store holds every worker, and the catalog fails too', async () => {
    const journal = await runWatched('coupled', seen);
    journals.push(journal);
    const results = formatResults(journal);
    assertPhases(journal, results);
    assert.ok(counts(journal, 'cut-reviews', 'products').fail > 0, `the cascade: the catalog fails while only the reviews are cut: ${results}`);
    assert.ok(counts(journal, 'cut-reviews', 'reviews').fail > 0, results);
    const goal = checkEndpointGoal(journal)!;
    assert.deepEqual([goal.goal, goal.met], ['cascade', true], goal.detail);
    assert.match(results, /^baseline \(1\.\d s\): products ok=\d+\/0 reviews ok=\d+\/0 promo ok=\d+\/0$/m, results);
    assert.deepEqual(await waitUntilGone([...seen], 5000), [], 'every process the run started is gone');
  });

  it('isolated (AFTER): each cut fails only its own endpoint, with a fast 503', async () => {
    const journal = await runWatched('isolated', seen);
    journals.push(journal);
    const results = formatResults(journal);
    assertPhases(journal, results);
    for (const [cut, cutEndpoint, others] of [
      ['cut-reviews', 'reviews', ['products', 'promo']],
      ['cut-promo', 'promo', ['products', 'reviews']],
    ] as const) {
      for (const name of others) assert.equal(counts(journal, cut, name).fail, 0, `${name} unaffected during ${cut}: ${results}`);
      const c = counts(journal, cut, cutEndpoint);
      assert.ok(c.fail > 0, `${cutEndpoint} fails during ${cut}: ${results}`);
      assert.deepEqual(Object.keys(c.failByStatus), ['503'], `${cutEndpoint} fails with 503 only: ${results}`);
      // Fast: about the 2 s timeout, never the probe's 5 s. The report's goal is the 2.5 s;
      // the test allows a loaded 2-core machine 1 s more, and accepts a goal missed by latency alone.
      assert.ok(c.latency && c.latency.max < 3500, `${cutEndpoint}'s slowest answer: ${JSON.stringify(c.latency)}`);
    }
    // After the promo cut every endpoint answers again. A request that lands in the few ms between
    // the undo and the release of the two calls the blackhole held finds the promo pool still full:
    // a fast 503, at most one or two of them.
    for (const name of ['products', 'reviews']) assert.equal(counts(journal, 'after cut-promo', name).fail, 0, `${name} after the promo cut: ${results}`);
    const promoAfter = counts(journal, 'after cut-promo', 'promo');
    assert.ok(promoAfter.fail <= 2 && Object.keys(promoAfter.failByStatus).every((status) => status === '503'), `promo answers again after its cut: ${results}`);
    assert.ok(promoAfter.ok > promoAfter.fail * 10, `promo answers again after its cut: ${results}`);
    const goal = checkEndpointGoal(journal)!;
    assert.equal(goal.goal, 'contained');
    assert.ok(goal.met || goal.detail.split('; ').every((problem) => problem.includes('slowest answer')), goal.detail);
    assert.deepEqual(await waitUntilGone([...seen], 5000), [], 'every process the run started is gone');
  });

  it('isolated-stale: every endpoint answers in every phase, the cut one from the cache, marked stale', async () => {
    const journal = await runWatched('isolated-stale', seen);
    journals.push(journal);
    const results = formatResults(journal);
    assertPhases(journal, results);
    for (const p of journal.endpoints!.phases) for (const name of ENDPOINTS) assert.equal(p.endpoints[name]!.fail, 0, `${name} during ${p.name}: ${results}`);
    assert.ok(counts(journal, 'cut-reviews', 'reviews').stale > 0, `the reviews from the cache: ${results}`);
    assert.ok(counts(journal, 'cut-promo', 'promo').stale > 0, `the banner from the cache: ${results}`);
    assert.equal(counts(journal, 'baseline', 'reviews').stale, 0, 'fresh while the store answers');
    assert.equal(counts(journal, 'after cut-promo', 'promo').fail, 0, 'the banner answers after its cut');
    const goal = checkEndpointGoal(journal)!;
    assert.deepEqual([goal.goal, goal.met], ['no-failures', true], goal.detail);
    assert.deepEqual(await waitUntilGone([...seen], 5000), [], 'every process the run started is gone');
  });

  // The runs above fill `journals` before their own assertions; this test fails on its own account
  // only when a run produced no journal (and then says so).
  it('compare prints a row per phase and endpoint and each mode\u2019s goal; the report draws a chart per endpoint', () => {
    assert.deepEqual(journals.map((j) => j.mode), ['coupled', 'isolated', 'isolated-stale'], 'every run above produced a journal');
    const table = formatComparison(journals);
    assert.match(table, /BEFORE \(coupled\)\s+AFTER \(isolated\)\s+isolated-stale$/m, 'the modes\u2019 descriptions say which is the BEFORE and the AFTER');
    assert.match(table, /^cut-reviews · products: failed \/ stale \/ p99\s+[1-9]\d* \(.+\) \/ 0 \/ \S+ m?s\s+0 \/ 0 \/ \S+ m?s\s+0 \/ 0 \/ \S+ m?s$/m, table);
    assert.match(table, /^Goal\s+cascade: met\s+contained: met\s+no-failures: met$/m, table);
    const html = renderReport(journals);
    assert.equal((html.match(/<h4>Endpoints<\/h4>/g) ?? []).length, 3);
    for (const journal of journals) {
      assert.deepEqual(
        timelineOf(journal).charts.map((c) => c.title),
        ['products (/products): answers per second', 'reviews (/products/3/reviews): answers per second', 'promo (/promo): answers per second'],
      );
    }
  });
});
