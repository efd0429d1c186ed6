// The circuit-breaker lab's experiment (seed 003) under the quick profile, end to end on real
// processes: BEFORE (local breakers) lets the failing backend take much more load and trips
// once per environment; AFTER (shared breaker) trips once fleet-wide, admits exactly one trial
// call per half-open window and closes soon after the backend recovers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { resolveExperiment } from '../src/chaos/builtin.ts';
import type { BreakerLabRecord, Journal } from '../src/chaos/journal.ts';
import { planRun, type PlannedBreakerLab } from '../src/chaos/plan.ts';
import { PROFILES } from '../src/chaos/profiles.ts';
import { formatComparison, formatResults } from '../src/chaos/report.ts';
import { runExperiment } from '../src/chaos/runner.ts';

const journalSchema = JSON.parse(readFileSync(new URL('../schema/journal.schema.json', import.meta.url), 'utf8')) as object;
const patternsSchema = JSON.parse(readFileSync(new URL('../schema/patterns.schema.json', import.meta.url), 'utf8')) as object;
const validateJournal = new Ajv({ allErrors: true, strict: false }).addSchema(patternsSchema).compile(journalSchema);

/** A run that hangs is interrupted (and cleans up) before the test's own timeout abandons it. */
const RUN_BOUND_MS = 90_000;

async function run(mode: string): Promise<Journal> {
  const experiment = await resolveExperiment('breaker-lab');
  const journal = await runExperiment({ plan: planRun('breaker-lab', experiment.template, mode, PROFILES.quick), template: experiment.template, signal: AbortSignal.timeout(RUN_BOUND_MS) });
  assert.ok(validateJournal(journal), `journal matches schema/journal.schema.json: ${JSON.stringify(validateJournal.errors)}`);
  assert.equal(journal.status, 'completed', formatResults(journal));
  assert.equal(journal.steadyState.before?.met, true);
  assert.equal(journal.audit, null, 'no orders in this lab: no audit');
  assert.equal(journal.traffic!.writes.ok + journal.traffic!.writes.fail, 0, 'reads only');
  for (const action of journal.actions.filter((a) => a.actionId === 'lab:backend:behaviour')) {
    assert.equal(action.state, 'completed');
    assert.ok(typeof action.effect?.['window'] === 'number', 'the action reports the backend window it opened');
    assert.ok(action.undo?.['endedWindow'], 'and, undone, the calls that window received');
  }
  return journal;
}

const section = (journal: Journal): BreakerLabRecord => {
  assert.ok(journal.breakerLab, 'the journal has its breakerLab section');
  return journal.breakerLab;
};

describe('breaker-lab (seed 003), quick profile', () => {
  const journals: Journal[] = [];

  it('local: every environment trips its own breaker, and the failing backend takes the load of each', async () => {
    const journal = await run('local');
    journals.push(journal);
    const b = section(journal);
    assert.equal(b.mode, 'local');
    assert.ok(b.outage?.recoveredAt, 'the backend failed and recovered');
    assert.ok(b.breaker.trips >= 2 && b.breaker.breakersTripped >= 2, `several breakers tripped: ${JSON.stringify(b.breaker)}`);
    // Each local trip cost failureThreshold calls to the failing backend of its own.
    const { failureThreshold } = (journal.plan.lab as PlannedBreakerLab).breaker;
    assert.ok(b.backend.duringOutage >= failureThreshold * b.breaker.trips, `${b.backend.duringOutage} backend calls during the outage for ${b.breaker.trips} trips`);
    assert.equal(b.callAfterRun, 200);
  });

  it('shared: one trip fleet-wide, exactly one trial call per half-open window, closed soon after recovery', async () => {
    const journal = await run('shared');
    journals.push(journal);
    const b = section(journal);
    const planned = journal.plan.lab as PlannedBreakerLab;
    assert.equal(b.mode, 'shared');
    // The outage is one episode: errors, then a hang, back to back. Between the two behaviours the
    // backend is healthy for the few milliseconds the runner takes to switch; only a trial landing
    // in that gap could close the circuit, so a second trip needs a call in it.
    const recoveryIndex = b.backend.windows.findIndex((w) => w.startedAt === b.outage?.recoveredAt);
    const gapCalls = b.backend.windows.slice(0, recoveryIndex).filter((w, i) => i > 0 && !w.behaviour.hang && w.behaviour.failureRate === 0).reduce((n, w) => n + w.calls, 0);
    if (gapCalls === 0) assert.equal(b.breaker.trips, 1, JSON.stringify(b.breaker));
    assert.ok(b.breaker.trips <= 2 && b.breaker.breakersTripped === 1, JSON.stringify(b.breaker));
    assert.ok(b.breaker.halfOpenWindows >= 1);
    assert.deepEqual(b.breaker.trialsPerHalfOpenWindow, { min: 1, max: 1, total: b.breaker.halfOpenWindows }, 'exactly one trial call per half-open window, fleet-wide');
    assert.ok(b.breaker.closedAfterRecoveryMs !== null, 'the circuit closed after the backend recovered');
    // At worst a trial was hanging when the backend recovered: it times out, the circuit waits its recovery timeout, the next trial closes it.
    const boundMs = planned.breaker.recoveryTimeoutMs + planned.clientTimeoutMs + planned.refreshIntervalMs + 1000;
    assert.ok(b.breaker.closedAfterRecoveryMs <= boundMs, `closed ${b.breaker.closedAfterRecoveryMs} ms after recovery, at most ${boundMs} expected`);
    assert.ok(b.calls.failedFast > 0 && b.latencyMs.failedFast, 'calls were refused while the circuit was open');
    // The median refusal: the slowest ones waited at the gateway for an environment held by a hung call.
    assert.ok(b.latencyMs.failedFast.p50 < planned.clientTimeoutMs / 10, `failed fast in ${b.latencyMs.failedFast.p50} ms (p50), well inside the ${planned.clientTimeoutMs} ms client timeout`);
    assert.equal(b.callAfterRun, 200);
  });

  it('BEFORE vs AFTER: the shared breaker sheds the load the local ones let through, and the table says there are no orders', () => {
    assert.equal(journals.length, 2, 'both runs completed');
    const [local, shared] = journals.map(section) as [BreakerLabRecord, BreakerLabRecord];
    assert.ok(local.backend.duringOutage > shared.backend.duringOutage, `backend calls during the outage: local ${local.backend.duringOutage}, shared ${shared.backend.duringOutage}`);
    assert.ok(local.breaker.trips > shared.breaker.trips);
    const table = formatComparison(journals);
    assert.match(table, /BEFORE \(local\)\s+AFTER \(shared\)/);
    assert.match(table, /Backend calls during the outage\s+\d+ in [\d.]+ (s|ms)\s+\d+ in/);
    assert.match(table, /Trial calls per half-open window\s+.*\s+1 \(\d+ windows?\)/);
    assert.match(table, /Orders lost \(acknowledged, missing\)\s+n\/a: no orders in this lab\s+n\/a: no orders in this lab/);
    assert.doesNotMatch(table, /Stock conserved/);
    process.stdout.write(`# ${table.split('\n').join('\n# ')}\n`);
  });
});
