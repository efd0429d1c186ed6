// init-race (Article 4's initialisation lesson) under the quick profile on real parts: the
// instances boot while the database proxy has no targets and no tables exist; the targets are
// registered during the run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal } from '../src/chaos/journal.ts';
import type { PlannedShopLab } from '../src/chaos/plan.ts';
import { formatComparison, formatResults } from '../src/chaos/report.ts';
import { assertNoOrderLost, runBuiltin } from './helpers/experiment-run.ts';

describe('init-race (Article 4), quick profile', () => {
  const journals: Journal[] = [];

  it('once (BEFORE): one failed initialisation, then 500 forever although the database is there', async () => {
    const journal = await runBuiltin('init-race', 'once');
    journals.push(journal);
    const results = formatResults(journal);
    assert.equal(journal.status, 'completed', results);
    const planned = journal.plan.lab as PlannedShopLab;
    assert.deepEqual([planned.databaseProxyTargets, planned.createSchema, planned.patterns.initialisation.mode], ['deregistered', false, 'once']);
    assert.equal(journal.steadyState.before, null, 'not checked before: the database is not there yet, by design');
    assert.equal(journal.actions.find((a) => a.actionId === 'lab:db-proxy:register')?.state, 'completed');
    const last = journal.traffic!.series.at(-1)!;
    assert.ok(last.reads.ok === 0 && last.reads.fail > 0, `the last second still fails: ${JSON.stringify(last.reads)}`);
    assert.equal(journal.postProbe!.productsStatus, 500, 'the tables were never created');
    assert.equal(journal.postProbe!.deepHealth.status, 200, `the connection itself now succeeds: ${JSON.stringify(journal.postProbe!.deepHealth.body)}`);
    assert.equal(journal.deviated, true, results);
    assertNoOrderLost(journal);
  });

  it('background (AFTER): retries with backoff and serves once the database is there', async () => {
    const journal = await runBuiltin('init-race', 'background');
    journals.push(journal);
    const results = formatResults(journal);
    assert.equal(journal.status, 'completed', results);
    // The seconds that start after the register, the backoff's longest wait and a second to
    // initialise: every instance has retried since the database arrived. The last second alone
    // flaked: the lab's start-up is not scaled, so the backoff could be at its longest (1.5 s
    // under quick) when the database arrived, and a 503 could still fall in it.
    const arrived = journal.actions.find((a) => a.actionId === 'lab:db-proxy:register')!;
    const init = (journal.plan.lab as PlannedShopLab).patterns.initialisation;
    assert.equal(init.mode, 'background');
    const servedFromMs = arrived.offsetMs! + init.maxDelayMs + 1000;
    const served = journal.traffic!.series.filter((s) => s.second * 1000 >= servedFromMs);
    assert.ok(served.length > 0, `the run lasts past ${servedFromMs} ms: ${journal.traffic!.series.length} seconds`);
    for (const s of served) assert.ok(s.reads.fail === 0 && s.writes.fail === 0, `second ${s.second} (from ${servedFromMs} ms on) is served: ${JSON.stringify([s.reads, s.writes])}`);
    assert.ok(served.some((s) => s.reads.ok > 0), `reads answered from ${servedFromMs} ms on: ${JSON.stringify(served.map((s) => s.reads))}`);
    assert.ok(journal.traffic!.writes.ok > 0, 'orders are taken once it is ready');
    assert.equal(journal.postProbe!.productsStatus, 200);
    assert.equal(journal.deviated, false, results);
    assertNoOrderLost(journal);
  });

  // The two runs above fill `journals` as soon as they have a journal, before their own
  // assertions, so this test fails on its own account only when a run produced no journal at all
  // (and then says so); running the experiments a second time for it would double the file's time.
  it('compare prints BEFORE (once) vs AFTER (background)', () => {
    assert.deepEqual(journals.map((j) => j.mode), ['once', 'background'], 'both runs above produced a journal');
    const table = formatComparison(journals);
    assert.match(table, /BEFORE \(once\)\s+AFTER \(background\)/);
    assert.match(table, /^App state after\s+broken: .*\/products 500\s+operational$/m, table);
  });
});
