// Running a built-in experiment in a test: under the quick profile, bounded, its journal checked
// against the published schema, and every instance it launched (and its recovery worker) gone afterwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { resolveExperiment } from '../../src/chaos/builtin.ts';
import type { Journal } from '../../src/chaos/journal.ts';
import { planRun, type PlannedShopLab } from '../../src/chaos/plan.ts';
import { PROFILES } from '../../src/chaos/profiles.ts';
import { runExperiment } from '../../src/chaos/runner.ts';
import { waitUntilGone } from './processes.ts';

const journalSchema = JSON.parse(readFileSync(new URL('../../schema/journal.schema.json', import.meta.url), 'utf8')) as object;
const patternsSchema = JSON.parse(readFileSync(new URL('../../schema/patterns.schema.json', import.meta.url), 'utf8')) as object;
// The journal records each run's resolved patterns against the published patterns schema, which it refers to.
export const validateJournal = new Ajv({ allErrors: true, strict: false }).addSchema(patternsSchema).compile(journalSchema);

/**
 * A run is interrupted after this long, so that a run that hangs still rolls back and tears its
 * lab down (the runner's own cleanup) before the test's 120 s timeout abandons it.
 */
export const RUN_BOUND_MS = 90_000;

/** Runs one mode of a built-in experiment under the quick profile. */
export async function runBuiltin(name: string, mode: string): Promise<Journal> {
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
  // The recovery worker too (a lab with a write buffer runs one): its process as the run ended.
  const workerPid = journal.degradation?.worker?.pid ?? 0;
  if (journal.degradation?.worker) assert.ok(workerPid > 0, "the journal records the recovery worker's PID");
  if (workerPid > 0) pids.push(workerPid);
  assert.deepEqual(await waitUntilGone(pids, 5000), [], 'every instance the run launched, and its recovery worker, is gone');
  return journal;
}

/** The audit found nothing wrong: no acknowledged order missing, duplicated, phantom or unexplained, stock conserved, every acknowledgement audited. */
export function assertNoOrderLost(journal: Journal): void {
  assert.ok(journal.audit, `audited: ${journal.auditError ?? ''}`);
  assert.equal(journal.audit.lost, 0, `no acknowledged order is missing: ${JSON.stringify(journal.audit.details.lost.slice(0, 5))}`);
  assert.equal(journal.audit.duplicated, 0);
  assert.equal(journal.audit.phantom, 0);
  assert.equal(journal.audit.unexplained, 0, `no order of the run under a key the client never sent: ${JSON.stringify(journal.audit.details.unexplained.slice(0, 5))}`);
  assert.equal(journal.audit.stockConserved, true, JSON.stringify(journal.audit.details.stockMismatch));
  assert.equal(journal.audit.acknowledged, journal.traffic!.writes.ok + journal.traffic!.writes.queued);
}
