// The built-in experiments under the quick profile, end to end on real parts: they must fail
// where the articles say they fail, hold where the patterns say they hold, and lose no order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { resolveExperiment } from '../src/chaos/builtin.ts';
import type { Journal } from '../src/chaos/journal.ts';
import { planRun, type PlannedShopLab } from '../src/chaos/plan.ts';
import { PROFILES } from '../src/chaos/profiles.ts';
import { formatComparison, formatResults } from '../src/chaos/report.ts';
import { runExperiment } from '../src/chaos/runner.ts';
import { waitUntilGone } from './helpers/processes.ts';

const journalSchema = JSON.parse(readFileSync(new URL('../schema/journal.schema.json', import.meta.url), 'utf8')) as object;
const patternsSchema = JSON.parse(readFileSync(new URL('../schema/patterns.schema.json', import.meta.url), 'utf8')) as object;
// The journal records each run's resolved patterns against the published patterns schema, which it refers to.
const validateJournal = new Ajv({ allErrors: true, strict: false }).addSchema(patternsSchema).compile(journalSchema);

/**
 * A run is interrupted after this long, so that a run that hangs still rolls back and tears its
 * lab down (the runner's own cleanup) before the test's 120 s timeout abandons it.
 */
const RUN_BOUND_MS = 90_000;

async function run(name: string, mode: string): Promise<Journal> {
  const experiment = await resolveExperiment(name);
  const journal = await runExperiment({
    plan: planRun(name, experiment.template, mode, PROFILES.quick),
    template: experiment.template,
    signal: AbortSignal.timeout(RUN_BOUND_MS),
  });
  assert.ok(validateJournal(journal), `journal matches schema/journal.schema.json: ${JSON.stringify(validateJournal.errors)}`);
  // Nothing is left behind: every instance the run launched is gone. The PIDs come from the
  // fleet the journal records: the actions' effects name only the instances an action touched
  // (none for db-failover), and an empty list would pass without checking anything.
  const pids = journal.fleet.instances.map((i) => i.pid ?? 0).filter((p) => p > 0);
  assert.ok(pids.length >= (journal.plan.lab as PlannedShopLab).instances, `the journal records the instances the run launched: ${JSON.stringify(journal.fleet.instances)}`);
  assert.deepEqual(await waitUntilGone(pids, 5000), [], 'every instance the run launched is gone');
  return journal;
}

function assertNoOrderLost(journal: Journal): void {
  assert.ok(journal.audit, `audited: ${journal.auditError ?? ''}`);
  assert.equal(journal.audit.lost, 0, 'no acknowledged order is missing');
  assert.equal(journal.audit.duplicated, 0);
  assert.equal(journal.audit.phantom, 0);
  assert.equal(journal.audit.stockConserved, true);
  assert.equal(journal.audit.acknowledged, journal.traffic!.writes.ok + journal.traffic!.writes.queued);
}

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
