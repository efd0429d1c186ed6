// The built-in experiments under the quick profile, end to end on real parts: they must fail
// where the articles say they fail, hold where the patterns say they hold, and lose no order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal } from '../src/chaos/journal.ts';
import type { PlannedShopLab } from '../src/chaos/plan.ts';
import { formatComparison, formatResults } from '../src/chaos/report.ts';
import { timelineOf } from '../src/report/index.ts';
import { assertNoOrderLost, runBuiltin as run } from './helpers/experiment-run.ts';

describe('instance-stop (Article 1), quick profile', () => {
  const journals: Journal[] = [];

  it('naive: the load balancer sends requests to the stopped instance until health checks catch up', async () => {
    const journal = await run('instance-stop', 'naive');
    journals.push(journal);
    assert.equal(journal.status, 'completed', formatResults(journal));
    assert.equal(journal.steadyState.before?.met, true);
    const stop = journal.actions.find((a) => a.actionId === 'lab:instance:stop')!;
    assert.equal(stop.state, 'completed');
    const stopped = (stop.effect!['instances'] as Array<{ id: string }>).map((i) => i.id);
    assert.deepEqual(stopped, journal.targets['shop-instances'], 'the action stopped the instance the target resolved to (COUNT(1))');
    assert.equal(stopped.length, 1);
    assert.ok(journal.probe!.failures > 0, `probe failures: ${journal.probe!.lines.join(', ')}`);
    assert.ok(journal.probe!.detectionWindow, 'a detection window');
    assert.ok(journal.traffic!.reads.fail + journal.traffic!.writes.fail > 0);
    assert.ok(journal.fleet.replacement, 'the group launched a replacement');
    assert.ok(journal.fleet.events.some((e) => e.type === 'stop' && e.instanceId === stopped[0]));
    assert.equal(journal.impact.recovered, true, 'once out of rotation, the survivor serves everything');
    assertNoOrderLost(journal);
  });

  it('resilient: retry on another target and ejection hide the stopped instance from customers', async () => {
    const journal = await run('instance-stop', 'resilient');
    journals.push(journal);
    assert.equal(journal.status, 'completed', formatResults(journal));
    assert.equal(journal.probe!.failures, 0, journal.probe!.lines.join(', '));
    assert.equal(journal.traffic!.reads.fail, 0);
    assert.equal(journal.traffic!.writes.fail, 0);
    assert.ok(journal.fleet.replacement);
    assert.equal(journal.deviated, false);
    assertNoOrderLost(journal);
  });

  it('compare prints BEFORE vs AFTER', () => {
    const table = formatComparison(journals);
    assert.match(table, /BEFORE \(naive\)\s+AFTER \(resilient\)/);
    assert.match(table, /Probe failures\s+\d+ \(.*\) of \d+\s+0 of \d+/);
    assert.match(table, /Orders lost \(acknowledged, missing\)\s+0\s+0/);
  });
});

describe('db-failover (Article 3), quick profile', () => {
  const journals: Journal[] = [];

  it('naive: errors from the failover on, never a recovery, and the app stays broken', async () => {
    const journal = await run('db-failover', 'naive');
    // The journal records what the mode did: the naive patterns, straight to the cluster endpoints.
    assert.equal((journal.plan.lab as PlannedShopLab).patterns.connection.kind, 'persistent');
    assert.equal((journal.plan.lab as PlannedShopLab).databaseProxy, false);
    journals.push(journal);
    assert.equal(journal.status, 'completed', formatResults(journal));
    const failover = journal.actions.find((a) => a.actionId === 'lab:db:failover')!;
    assert.equal(failover.state, 'completed');
    assert.ok(failover.effect!['promoted'] && failover.effect!['demoted'], 'the journal names the servers');
    assert.ok((failover.effect!['cutConnections'] as number) >= 2, 'the instances\u2019 persistent connections were cut');
    const promoted = timelineOf(journal).markers.find((m) => m.kind === 'database' && m.label.startsWith('failover:'));
    assert.ok(promoted && promoted.label.includes(String(failover.effect!['promoted'])), 'the report marks the promotion');
    assert.ok(promoted.atS >= failover.offsetMs! / 1000, 'after the failover began');
    const away = Date.parse(failover.effect!['startedAt'] as string) - Date.parse(journal.states.find((s) => s.state === 'running')!.at);
    assert.equal(promoted.atS, Math.round(away + (failover.effect!['writerUnavailableMs'] as number)) / 1000, 'when the writer came back, from when it went away');
    const t = journal.traffic!;
    assert.ok(t.writes.ok > 0 && t.reads.ok > 0, 'fine before the failover');
    assert.ok(t.writes.fail > 0 && t.reads.fail > 0, 'failures after it');
    // Never recovers: the last seconds of the run still fail.
    const last = t.series.at(-1)!;
    assert.ok(last.reads.fail > 0 && last.reads.ok === 0, `last second: ${JSON.stringify(last)}`);
    assert.equal(journal.impact.recovered, false);
    assert.equal(journal.postProbe!.deepHealth.status, 500);
    assert.equal((journal.postProbe!.deepHealth.body as { database: string }).database, 'error');
    assert.equal(journal.postProbe!.productsStatus, 500);
    assert.equal(journal.deviated, true, 'the steady state did not hold after the run');
    assertNoOrderLost(journal);
  });

  it('resilient: a short blip at most, zero write failures, healthy after', async () => {
    const journal = await run('db-failover', 'resilient');
    assert.equal((journal.plan.lab as PlannedShopLab).patterns.connection.kind, 'pool');
    assert.equal((journal.plan.lab as PlannedShopLab).databaseProxy, true);
    journals.push(journal);
    assert.equal(journal.status, 'completed', formatResults(journal));
    const t = journal.traffic!;
    assert.equal(t.writes.fail, 0, JSON.stringify(t.writes));
    assert.ok(t.reads.fail <= t.reads.ok * 0.05, `reads: ${JSON.stringify(t.reads)}`);
    assert.equal(journal.impact.recovered, true);
    assert.equal(journal.postProbe!.deepHealth.status, 200);
    assert.equal(journal.postProbe!.productsStatus, 200);
    assert.equal(journal.deviated, false);
    assertNoOrderLost(journal);
  });

  it('compare prints BEFORE vs AFTER as the article does', () => {
    const table = formatComparison(journals);
    assert.match(table, /Write failures \(real\)\s+\d+ \(500\)\s+0/);
    assert.match(table, /Recovery\s+never recovered/);
    assert.match(table, /App state after\s+broken: \/health\/deep 500, \/products 500\s+operational/);
  });
});
