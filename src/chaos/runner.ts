// The runner: one experiment, one mode, one profile, from a fresh lab to a journal.
//   pending → initiating (lab, healthy targets, targets resolved, hypothesis before)
//           → running (traffic, probe, actions; stop conditions watched)
//           → completed | stopping → stopped | failed
// Rollbacks run at the end of every run that got a lab, whatever happened. Observers (progress
// display, reports) are called inside try/catch: they can never break a run.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderLedger } from '../audit/ledger.ts';
import type { Lab } from '../lab/lab.ts';
import { processGuard } from '../lab/process/process-guard.ts';
import { runEndpointProbe, type EndpointProbeRun } from '../traffic/endpoint-probe.ts';
import { runProbe } from '../traffic/probe.ts';
import { runTraffic } from '../traffic/traffic-generator.ts';
import { ACTIONS, PartialActionError, ROLLBACKS } from './actions.ts';
import { endpointsRecord } from './endpoints.ts';
import { endpointGoalFor, evaluateEndpointGoal } from './endpoints-report.ts';
import type { ActionRecord, Journal, RunState } from './journal.ts';
import { labDriverFor, type LabSession } from './lab-driver.ts';
import { checkHypothesis, probeRecord, trafficRecord, type Timeline } from './observations.ts';
import { notify, type RunObserver } from './observer.ts';
import type { PlannedShopLab, RunPlan } from './plan.ts';
import { newSeed } from './random.ts';
import { OutcomeWindow, StopConditionWatch } from './stop-conditions.ts';
import { selectTargets } from './target-selection.ts';
import type { ExperimentTemplate } from './template.ts';

export type { RunObserver } from './observer.ts';

export interface RunOptions {
  plan: RunPlan;
  template: ExperimentTemplate;
  /** Target selection seed; a fresh one is drawn (and recorded) when absent. */
  seed?: number;
  /** Aborting stops the run (Ctrl-C): rollbacks run, the lab is torn down, the journal says stopped. */
  signal?: AbortSignal;
  observer?: RunObserver;
  /**
   * Called with the shop's Lab once it has started, and with undefined before it closes (also
   * when the run ends early): for whoever watches it live (the dashboard). Not called for a lab
   * that is not a Lab (the breaker lab). Like an observer, it cannot break the run.
   */
  onLab?: (lab: Lab | undefined) => void;
}

const VERSION = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Thrown inside the run to end it with a reason; never escapes runExperiment. */
class RunEnd extends Error {
  readonly kind: NonNullable<Journal['stopReason']>['kind'];
  constructor(kind: NonNullable<Journal['stopReason']>['kind'], detail: string) {
    super(detail);
    this.kind = kind;
  }
}

/** Runs one experiment and returns its journal; it never throws for what happens inside the run. */
export async function runExperiment(options: RunOptions): Promise<Journal> {
  const { plan, observer = {} } = options;
  const seed = options.seed ?? newSeed();
  const startedAt = Date.now();
  const journal: Journal = {
    chaosLab: { version: VERSION, journalVersion: 1 },
    experiment: plan.experiment,
    title: options.template.title,
    mode: plan.mode,
    ...(plan.modeDescription ? { modeDescription: plan.modeDescription } : {}),
    profile: { name: plan.profile.name, timeScale: plan.profile.timeScale },
    status: 'completed',
    deviated: false,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: '',
    durationMs: 0,
    seed,
    template: options.template,
    plan: { durationMs: plan.durationMs, lab: plan.lab, traffic: plan.traffic, probe: plan.probe, ...(plan.endpointProbe ? { endpointProbe: plan.endpointProbe } : {}) },
    targets: {},
    states: [],
    actions: plan.actions.map((a) => ({
      name: a.name,
      actionId: a.actionId,
      ...(a.description ? { description: a.description } : {}),
      targets: {},
      parameters: a.parameters,
      ...(a.durationMs !== undefined ? { durationMs: a.durationMs } : {}),
      state: 'pending',
    })),
    rollbacks: [],
    stopConditions: [],
    steadyState: { before: null, after: null },
    traffic: null,
    probe: null,
    fleet: { instances: [], events: [], targetStateChanges: [], replacement: null },
    impact: { failedRequests: 0, firstFailureMs: null, lastFailureMs: null, recovered: false, recoveryMs: null },
    audit: null,
    postProbe: null,
  };
  const setState = (state: RunState): void => {
    if (journal.states.at(-1)?.state === state) return;
    journal.states.push({ state, at: new Date().toISOString() });
    notify(observer.state, state);
  };
  setState('pending');

  const stop = new AbortController(); // ends the running phase early
  const onAbort = (): void => stop.abort(new RunEnd('interrupted', 'interrupted (Ctrl-C or signal)'));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let dir: string | undefined;
  let lab: LabSession | undefined;
  let end: RunEnd | undefined;
  const timeline: Timeline = { runningAt: 0, endedAt: 0, failures: [], actions: [], rollbacks: [] };
  const ledger = new OrderLedger();
  try {
    setState('initiating');
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-run-'));
    // A run killed outright (SIGKILL) cannot run its finally: the reaper removes the folder instead.
    processGuard.guardPath(dir);
    lab = await labDriverFor(plan).start(plan, dir, (line) => notify(observer.progress, line));
    if (lab.shopLab) handOver(options.onLab, lab.shopLab);
    throwIfStopped(stop.signal);
    await lab.ready(stop.signal);
    journal.targets = resolveTargets(options.template, lab, seed);
    // checkBefore false: the run starts where the steady state cannot hold yet (init-race: no database).
    if (plan.hypothesis && plan.hypothesis.checkBefore !== false) {
      journal.steadyState.before = await checkHypothesis(lab.url, plan.hypothesis);
      if (!journal.steadyState.before.met) throw new RunEnd('hypothesis-before', 'the steady state did not hold before the run: nothing was injected');
    }
    await lab.beforeRunning();
    throwIfStopped(stop.signal);

    setState('running');
    // The run is stopping from the moment it is told to, not once everything has drained.
    stop.signal.addEventListener(
      'abort',
      () => {
        const kind = (stop.signal.reason as RunEnd | undefined)?.kind;
        if (kind === 'stop-condition' || kind === 'interrupted') setState('stopping');
      },
      { once: true },
    );
    timeline.runningAt = Date.now();
    end = await runMethod(plan, lab, journal, stop, observer, ledger, timeline);
  } catch (error) {
    end = error instanceof RunEnd ? error : stop.signal.aborted && stop.signal.reason instanceof RunEnd ? stop.signal.reason : new RunEnd('error', (error as Error).message);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }

  if (end) {
    journal.stopReason = { kind: end.kind, detail: end.message };
    if (end.kind === 'stop-condition' || end.kind === 'interrupted') setState('stopping');
  }
  if (lab) {
    try {
      // As Chaos Toolkit does: the state after the run is observed before the rollbacks tidy up.
      await lab.observeAfter(plan, journal, timeline, observer).catch((error: Error) => {
        end ??= new RunEnd('error', `observing after the run: ${error.message}`);
      });
      if (plan.rollbacks.length > 0) notify(observer.progress, 'rolling back');
      await runRollbacks(plan, lab, journal, timeline);
      await lab.afterRollbacks(journal, ledger, observer);
    } catch (error) {
      end ??= new RunEnd('error', (error as Error).message);
      journal.stopReason ??= { kind: end.kind, detail: end.message };
    } finally {
      notify(observer.progress, 'tearing the lab down');
      if (lab.shopLab) handOver(options.onLab, undefined);
      await lab.close().catch((error: Error) => notify(observer.progress, `lab did not close cleanly: ${error.message}`));
    }
  }
  if (dir) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    processGuard.releasePath(dir);
  }
  for (const action of journal.actions) if (action.state === 'pending') action.state = 'cancelled';
  journal.status = !end ? 'completed' : end.kind === 'stop-condition' || end.kind === 'interrupted' ? 'stopped' : 'failed';
  journal.deviated = journal.steadyState.after !== null && !journal.steadyState.after.met;
  journal.endedAt = new Date().toISOString();
  journal.durationMs = Date.now() - startedAt;
  setState(journal.status);
  return journal;
}

/** Hands the Lab (not a copy: it is live) to `onLab`; whatever that throws is ignored, as an observer's is. */
function handOver(onLab: RunOptions['onLab'], lab: Lab | undefined): void {
  try {
    onLab?.(lab);
  } catch {
    // A watcher can never break a run.
  }
}

function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof RunEnd ? signal.reason : new RunEnd('interrupted', 'interrupted');
}

/** The running phase: traffic, probes and actions side by side, under the stop conditions. */
async function runMethod(
  plan: RunPlan,
  lab: LabSession,
  journal: Journal,
  stop: AbortController,
  observer: RunObserver,
  ledger: OrderLedger,
  timeline: Timeline,
): Promise<RunEnd | undefined> {
  const outcomes = new OutcomeWindow(Math.max(10_000, ...plan.stopConditions.map((c) => c.windowMs)));
  const watch = new StopConditionWatch(plan.stopConditions, lab.loadBalancer, outcomes);
  journal.stopConditions = watch.records;
  watch.start((record) => {
    notify(observer.stopCondition, record);
    stop.abort(new RunEnd('stop-condition', `stop condition "${record.name}" fired: ${record.metric} = ${record.value} (${record.operator} ${record.threshold})`));
  });
  const actionsDone = new AbortController(); // cancels what has not started when the run ends, and ends durations
  const onStop = (): void => actionsDone.abort();
  stop.signal.addEventListener('abort', onStop, { once: true });
  const actions = runActions(plan, lab, journal, timeline, actionsDone.signal, observer, (record) =>
    stop.abort(new RunEnd('action-failed', `action ${record.name} (${record.actionId}) failed: ${record.error}`)),
  );
  // The STATUS lines' cadence: every 10 s of the article's time, at least every second.
  const statusEveryMs = Math.max(1000, Math.round(10_000 * plan.profile.timeScale));
  let endpointRun: EndpointProbeRun | undefined;
  try {
    const traffic = plan.traffic
      ? runTraffic({
          url: lab.url,
          readPath: lab.readPath,
          durationMs: plan.durationMs,
          ...plan.traffic,
          ledger,
          statusEveryMs,
          onStatus: (totals, elapsed) => notify(observer.status, totals, elapsed),
          onOutcome: (_kind, failed, _status, sentAt) => {
            outcomes.add(failed);
            if (failed) timeline.failures.push(sentAt);
          },
          signal: stop.signal,
        })
      : Promise.resolve(undefined);
    const probe = plan.probe
      ? runProbe({
          url: lab.url,
          path: plan.probe.path,
          everyMs: plan.probe.everyMs,
          timeoutMs: plan.probe.timeoutMs,
          durationMs: plan.durationMs,
          signal: stop.signal,
          onProbe: (result) => {
            if (result.status !== 200) timeline.failures.push(result.at);
            notify(observer.probe, result);
          },
        })
      : Promise.resolve(undefined);
    // Article 7's probe: every endpoint, open loop; a non-200 is what the customer saw fail.
    const endpointProbe = plan.endpointProbe
      ? runEndpointProbe({
          url: lab.url,
          endpoints: plan.endpointProbe.endpoints,
          everyMs: plan.endpointProbe.everyMs,
          timeoutMs: plan.endpointProbe.timeoutMs,
          durationMs: plan.durationMs,
          signal: stop.signal,
          statusEveryMs,
          onStatus: (totals, elapsed) => notify(observer.endpoints, totals, elapsed),
          onResult: (result) => {
            if (result.status !== 200) timeline.failures.push(result.sentAt);
          },
        })
      : Promise.resolve(undefined);
    // Without traffic or probe, the run still lasts its duration.
    // Sending ends at the duration (or the stop): the run's end for the impact, and for the stop
    // conditions, since what happens while the last requests drain is not a breach.
    const sending = sleep(plan.durationMs, undefined, { signal: stop.signal })
      .catch(() => {})
      .then(() => {
        timeline.endedAt ||= Date.now();
        watch.stop();
      });
    const [trafficResult, probeResults, endpointResults] = await Promise.all([traffic, probe, endpointProbe, sending]);
    endpointRun = endpointResults;
    if (trafficResult) {
      timeline.traffic = trafficResult;
      journal.traffic = trafficRecord(trafficResult);
    }
    if (probeResults) journal.probe = probeRecord(probeResults);
  } finally {
    timeline.endedAt ||= Date.now();
    watch.stop();
    // No action outlives the running phase, whatever ended it.
    actionsDone.abort();
    await actions;
    stop.signal.removeEventListener('abort', onStop);
    // Once every action is undone: the phases end at the undos the runner recorded.
    // The mode's goal is checked here, once, from the patterns it ran with; the journal keeps the result.
    if (endpointRun && plan.endpointProbe) {
      const record = endpointsRecord(plan.endpointProbe, endpointRun, timeline);
      const patterns = (plan.lab as Partial<PlannedShopLab>).patterns;
      journal.endpoints = patterns ? { ...record, goal: evaluateEndpointGoal(record, endpointGoalFor(patterns)) } : record;
    }
  }
  return stop.signal.aborted && stop.signal.reason instanceof RunEnd ? stop.signal.reason : undefined;
}

/** Runs the actions as a graph (startAfter); each reports what it did, and is undone when its duration ends. */
async function runActions(
  plan: RunPlan,
  lab: LabSession,
  journal: Journal,
  timeline: Timeline,
  cancel: AbortSignal,
  observer: RunObserver,
  onFailure: (record: ActionRecord) => void,
): Promise<void> {
  const started = new Map<string, Promise<ActionRecord['state']>>();
  const start = (name: string): Promise<ActionRecord['state']> => {
    const existing = started.get(name);
    if (existing) return existing;
    const action = plan.actions.find((a) => a.name === name)!;
    const record = journal.actions.find((a) => a.name === name)!;
    const definition = ACTIONS.get(action.actionId)!;
    const run = (async (): Promise<ActionRecord['state']> => {
      const before = await Promise.all(action.startAfter.map(start));
      // Skipped: something it waited for failed. Cancelled: the run ended before it could start.
      if (before.some((state) => state === 'failed' || state === 'skipped')) {
        record.state = 'skipped';
        return record.state;
      }
      if (cancel.aborted || before.some((state) => state !== 'completed')) {
        record.state = 'cancelled';
        return record.state;
      }
      record.targets = Object.fromEntries(Object.entries(action.targets).map(([key, target]) => [key, journal.targets[target] ?? []]));
      record.state = 'running';
      record.startedAt = new Date().toISOString();
      record.offsetMs = Date.now() - timeline.runningAt;
      // The runner's own record of when the fault began and ended: what the observations compute from.
      const timed = { name, actionId: action.actionId, startedAt: Date.now(), undoneAt: null as number | null, targets: Object.values(record.targets).flat() };
      timeline.actions.push(timed);
      notify(observer.action, record);
      try {
        const outcome = await definition.run({ lab: lab.actionLab, targets: record.targets, parameters: action.parameters, durationMs: action.durationMs });
        record.effect = outcome.effect;
        if (action.durationMs !== undefined) {
          const until = Date.now() + action.durationMs;
          await sleep(action.durationMs, undefined, { signal: cancel }).catch(() => {});
          if (Date.now() < until) record.cutShortAfterMs = action.durationMs - (until - Date.now());
        } else if (outcome.undo && !cancel.aborted) {
          // No duration: the fault holds until the running phase ends.
          await new Promise((resolve) => cancel.addEventListener('abort', resolve, { once: true }));
        }
        if (outcome.undo) {
          record.undo = await outcome.undo();
          timed.undoneAt = Date.now();
        }
        record.state = 'completed';
      } catch (error) {
        record.state = 'failed';
        record.error = (error as Error).message;
        // What it did before it failed (the first instances it stopped, …) is part of the story.
        if (error instanceof PartialActionError) record[record.effect ? 'undo' : 'effect'] = error.effect;
        onFailure(record);
      }
      record.endedAt = new Date().toISOString();
      notify(observer.action, record);
      return record.state;
    })();
    started.set(name, run);
    return run;
  };
  await Promise.all(plan.actions.map((a) => start(a.name)));
}

/** Resolves every target once, at the start, with the recorded seed (FIS: empty targets fail the run). */
function resolveTargets(template: ExperimentTemplate, lab: LabSession, seed: number): Record<string, string[]> {
  const resolved: Record<string, string[]> = {};
  for (const [name, target] of Object.entries(template.targets ?? {})) {
    let ids: string[];
    try {
      ids = selectTargets(target, lab.resourcesOf(target.resourceType), seed);
    } catch (error) {
      throw new RunEnd('error', `target ${name}: ${(error as Error).message}`);
    }
    if (ids.length === 0) throw new RunEnd('error', `target ${name} selected no ${target.resourceType} resources`);
    resolved[name] = ids;
  }
  return resolved;
}

/** Runs the rollbacks in order; each goes into the journal and the runner's timeline (a rollback can end a fault: the database's return). */
async function runRollbacks(plan: RunPlan, lab: LabSession, journal: Journal, timeline: Timeline): Promise<void> {
  for (const rollback of plan.rollbacks) {
    const { name, actionId } = rollback;
    try {
      const effect = await ROLLBACKS.get(actionId)!.run(lab.actionLab);
      journal.rollbacks.push({ name, actionId, state: 'completed', effect });
      timeline.rollbacks.push({ name, actionId, at: Date.now(), state: 'completed', effect });
    } catch (error) {
      journal.rollbacks.push({ name, actionId, state: 'failed', error: (error as Error).message });
      timeline.rollbacks.push({ name, actionId, at: Date.now(), state: 'failed' });
    }
  }
}
