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
import pg from 'pg';
import { OrderLedger } from '../audit/ledger.ts';
import { auditBaseline, auditOrders, type AuditBaseline } from '../audit/order-audit.ts';
import { Lab } from '../lab/lab.ts';
import { SHOP_DATABASE } from '../lab/standalone-shop.ts';
import { detectionWindow, formatProbe, runProbe, type ProbeResult } from '../traffic/probe.ts';
import { runTraffic, type TrafficResult, type TrafficTotals } from '../traffic/traffic-generator.ts';
import { ACTIONS, PartialActionError, ROLLBACKS, resourcesOf } from './actions.ts';
import type { ActionRecord, HypothesisResult, Journal, RunState, StopConditionRecord } from './journal.ts';
import type { RunPlan } from './plan.ts';
import { newSeed } from './random.ts';
import { OutcomeWindow, StopConditionWatch } from './stop-conditions.ts';
import { selectTargets } from './target-selection.ts';
import type { ExperimentTemplate } from './template.ts';

/** Who watches a run: every callback is optional, and none can break the run. */
export interface RunObserver {
  state?: (state: RunState) => void;
  /** Lab start-up steps and other one-line news. */
  progress?: (line: string) => void;
  /** The traffic's totals so far (the articles' STATUS lines). */
  status?: (totals: TrafficTotals, elapsedMs: number) => void;
  probe?: (result: ProbeResult) => void;
  action?: (record: ActionRecord) => void;
  stopCondition?: (record: StopConditionRecord) => void;
}

export interface RunOptions {
  plan: RunPlan;
  template: ExperimentTemplate;
  /** Target selection seed; a fresh one is drawn (and recorded) when absent. */
  seed?: number;
  /** Aborting stops the run (Ctrl-C): rollbacks run, the lab is torn down, the journal says stopped. */
  signal?: AbortSignal;
  observer?: RunObserver;
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

/** Calls an observer with a copy of what it is shown; whatever it throws or rejects with is ignored. */
function notify<A extends unknown[]>(callback: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    const result: unknown = callback?.(...(structuredClone(args) as A));
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // An observer can never break a run.
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
    plan: { durationMs: plan.durationMs, lab: plan.lab, traffic: plan.traffic, probe: plan.probe },
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
  let lab: Lab | undefined;
  let end: RunEnd | undefined;
  const timeline: Timeline = { runningAt: 0, endedAt: 0, failures: [] };
  let baseline: AuditBaseline | undefined;
  const ledger = new OrderLedger();
  try {
    setState('initiating');
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-run-'));
    lab = await Lab.start({
      dir,
      instances: plan.lab.instances,
      strategy: plan.lab.strategy,
      healthCheck: plan.lab.healthCheck,
      retry: plan.lab.retry,
      ejection: plan.lab.ejection,
      healthCheckGracePeriodMs: plan.lab.healthCheckGracePeriodMs,
      onProgress: (line) => notify(observer.progress, line),
    });
    throwIfStopped(stop.signal);
    notify(observer.progress, `waiting for ${plan.lab.instances} healthy targets`);
    await waitForHealthyTargets(lab, plan.lab.instances, stop.signal);
    journal.targets = resolveTargets(options.template, lab, seed);
    if (plan.hypothesis) {
      journal.steadyState.before = await checkHypothesis(lab.loadBalancer.url, plan.hypothesis);
      if (!journal.steadyState.before.met) throw new RunEnd('hypothesis-before', 'the steady state did not hold before the run: nothing was injected');
    }
    baseline = await withWriter(lab, (db) => auditBaseline(db));
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
      await observeAfter(plan, lab, journal, timeline, observer);
      if (plan.rollbacks.length > 0) notify(observer.progress, 'rolling back');
      await runRollbacks(plan, lab, journal);
      await audit(lab, journal, baseline, ledger, observer);
      journal.fleet.instances = lab.group.instances();
    } catch (error) {
      end ??= new RunEnd('error', (error as Error).message);
      journal.stopReason ??= { kind: end.kind, detail: end.message };
    } finally {
      notify(observer.progress, 'tearing the lab down');
      await lab.close().catch((error: Error) => notify(observer.progress, `lab did not close cleanly: ${error.message}`));
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  for (const action of journal.actions) if (action.state === 'pending') action.state = 'cancelled';
  journal.status = !end ? 'completed' : end.kind === 'stop-condition' || end.kind === 'interrupted' ? 'stopped' : 'failed';
  journal.deviated = journal.steadyState.after !== null && !journal.steadyState.after.met;
  journal.endedAt = new Date().toISOString();
  journal.durationMs = Date.now() - startedAt;
  setState(journal.status);
  return journal;
}

/** When the running phase began and ended, and when requests and probes failed (by send time). */
interface Timeline {
  runningAt: number;
  endedAt: number;
  failures: number[];
}

function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof RunEnd ? signal.reason : new RunEnd('interrupted', 'interrupted');
}

/** The running phase: traffic, probe and actions side by side, under the stop conditions. */
async function runMethod(
  plan: RunPlan,
  lab: Lab,
  journal: Journal,
  stop: AbortController,
  observer: RunObserver,
  ledger: OrderLedger,
  timeline: Timeline,
): Promise<RunEnd | undefined> {
  const outcomes = new OutcomeWindow(Math.max(10_000, ...plan.stopConditions.map((c) => c.windowMs)));
  const watch = new StopConditionWatch(plan.stopConditions, lab, outcomes);
  journal.stopConditions = watch.records;
  watch.start((record) => {
    notify(observer.stopCondition, record);
    stop.abort(new RunEnd('stop-condition', `stop condition "${record.name}" fired: ${record.metric} = ${record.value} (${record.operator} ${record.threshold})`));
  });
  const actionsDone = new AbortController(); // cancels what has not started when the run ends, and ends durations
  const onStop = (): void => actionsDone.abort();
  stop.signal.addEventListener('abort', onStop, { once: true });
  const actions = runActions(plan, lab, journal, timeline.runningAt, actionsDone.signal, observer, (record) =>
    stop.abort(new RunEnd('action-failed', `action ${record.name} (${record.actionId}) failed: ${record.error}`)),
  );
  try {
    const traffic = plan.traffic
      ? runTraffic({
          url: lab.loadBalancer.url,
          durationMs: plan.durationMs,
          ...plan.traffic,
          ledger,
          statusEveryMs: Math.max(1000, Math.round(10_000 * plan.profile.timeScale)),
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
          url: lab.loadBalancer.url,
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
    // Without traffic or probe, the run still lasts its duration.
    const clock = plan.traffic || plan.probe ? Promise.resolve() : sleep(plan.durationMs, undefined, { signal: stop.signal }).catch(() => {});
    const [trafficResult, probeResults] = await Promise.all([traffic, probe, clock]);
    timeline.endedAt = Date.now();
    watch.stop(); // the method is over: what happens while it drains is not a breach
    if (trafficResult) journal.traffic = trafficRecord(trafficResult);
    if (probeResults) journal.probe = probeRecord(probeResults);
  } finally {
    timeline.endedAt ||= Date.now();
    watch.stop();
    // No action outlives the running phase, whatever ended it.
    actionsDone.abort();
    await actions;
    stop.signal.removeEventListener('abort', onStop);
  }
  return stop.signal.aborted && stop.signal.reason instanceof RunEnd ? stop.signal.reason : undefined;
}

/** Runs the actions as a graph (startAfter); each reports what it did, and is undone when its duration ends. */
async function runActions(
  plan: RunPlan,
  lab: Lab,
  journal: Journal,
  runningAt: number,
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
      record.offsetMs = Date.now() - runningAt;
      notify(observer.action, record);
      try {
        const outcome = await definition.run({ lab, targets: record.targets, parameters: action.parameters, durationMs: action.durationMs });
        record.effect = outcome.effect;
        if (action.durationMs !== undefined) {
          const until = Date.now() + action.durationMs;
          await sleep(action.durationMs, undefined, { signal: cancel }).catch(() => {});
          if (Date.now() < until) record.cutShortAfterMs = action.durationMs - (until - Date.now());
        } else if (outcome.undo && !cancel.aborted) {
          // No duration: the fault holds until the running phase ends.
          await new Promise((resolve) => cancel.addEventListener('abort', resolve, { once: true }));
        }
        if (outcome.undo) record.undo = await outcome.undo();
        record.state = 'completed';
      } catch (error) {
        record.state = 'failed';
        record.error = (error as Error).message;
        // What it did before it failed (the first instances it stopped, …) is part of the story.
        if (error instanceof PartialActionError) record.effect = error.effect;
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
function resolveTargets(template: ExperimentTemplate, lab: Lab, seed: number): Record<string, string[]> {
  const resolved: Record<string, string[]> = {};
  for (const [name, target] of Object.entries(template.targets ?? {})) {
    let ids: string[];
    try {
      ids = selectTargets(target, resourcesOf(lab, target.resourceType), seed);
    } catch (error) {
      throw new RunEnd('error', `target ${name}: ${(error as Error).message}`);
    }
    if (ids.length === 0) throw new RunEnd('error', `target ${name} selected no ${target.resourceType} resources`);
    resolved[name] = ids;
  }
  return resolved;
}

/** Waits until the load balancer has `count` healthy targets (the articles' "wait for two healthy hosts"). */
async function waitForHealthyTargets(lab: Lab, count: number, signal: AbortSignal): Promise<void> {
  const hc = lab.loadBalancer.healthCheck;
  const deadline = Date.now() + 30_000 + (hc.healthyThreshold + 1) * hc.intervalMs;
  while (lab.loadBalancer.targets().filter((t) => t.state === 'healthy').length < count) {
    throwIfStopped(signal);
    if (Date.now() > deadline) throw new RunEnd('error', `the load balancer did not see ${count} healthy targets in time`);
    await sleep(50);
  }
}

/** Checks the steady-state hypothesis through the load balancer. */
async function checkHypothesis(url: string, hypothesis: NonNullable<RunPlan['hypothesis']>): Promise<HypothesisResult> {
  const probes = [];
  for (const probe of hypothesis.probes) {
    const { status, body } = await get(`${url}${probe.path}`);
    const bodyMatches = Object.entries(probe.tolerance.body ?? {}).every(
      ([key, value]) => typeof body === 'object' && body !== null && JSON.stringify((body as Record<string, unknown>)[key]) === JSON.stringify(value),
    );
    const ok = status === probe.tolerance.status && bodyMatches;
    probes.push({ name: probe.name, path: probe.path, expectedStatus: probe.tolerance.status, status, ok, ...(ok ? {} : { body }) });
  }
  return { title: hypothesis.title, met: probes.every((p) => p.ok), probes };
}

async function get(url: string): Promise<{ status: number; body: unknown }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      return { status: response.status, body: text.slice(0, 500) };
    }
  } catch (error) {
    return { status: 0, body: (error as Error).message };
  }
}

async function withWriter<T>(lab: Lab, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ ...lab.cluster.writerEndpoint, user: 'postgres', database: SHOP_DATABASE, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end().catch(() => {});
  }
}

async function runRollbacks(plan: RunPlan, lab: Lab, journal: Journal): Promise<void> {
  for (const rollback of plan.rollbacks) {
    try {
      const effect = await ROLLBACKS.get(rollback.actionId)!.run(lab);
      journal.rollbacks.push({ name: rollback.name, actionId: rollback.actionId, state: 'completed', effect });
    } catch (error) {
      journal.rollbacks.push({ name: rollback.name, actionId: rollback.actionId, state: 'failed', error: (error as Error).message });
    }
  }
}

/** After the run, before the rollbacks: the post-run probe, the hypothesis again, the fleet's story, the impact. */
async function observeAfter(plan: RunPlan, lab: Lab, journal: Journal, timeline: Timeline, observer: RunObserver): Promise<void> {
  if (timeline.runningAt === 0) return; // never ran: nothing was injected, nothing to observe
  notify(observer.progress, 'probing /health/deep and /products after the run');
  const deep = await get(`${lab.loadBalancer.url}/health/deep`);
  const products = await get(`${lab.loadBalancer.url}/products`);
  journal.postProbe = { deepHealth: { status: deep.status, body: deep.body }, productsStatus: products.status };
  if (plan.hypothesis) journal.steadyState.after = await checkHypothesis(lab.loadBalancer.url, plan.hypothesis);

  journal.fleet.events = lab.group.events();
  journal.fleet.targetStateChanges = lab.loadBalancer.stateChanges();
  const instanceFault = journal.actions.find((a) => /^lab:instance:(stop|kill|terminate)$/.test(a.actionId) && a.startedAt);
  if (instanceFault?.startedAt) {
    const faultAt = Date.parse(instanceFault.startedAt);
    const launch = journal.fleet.events.find((e) => e.type === 'launch' && Date.parse(e.at) >= faultAt);
    if (launch) {
      const healthy = journal.fleet.targetStateChanges.find((c) => c.target === launch.instanceId && c.to === 'healthy');
      journal.fleet.replacement = {
        instanceId: launch.instanceId,
        launchedAfterMs: Date.parse(launch.at) - faultAt,
        healthyAfterMs: healthy ? Date.parse(healthy.at) - faultAt : null,
      };
    }
  }

  // Recovered: nothing failed in the last tenth of the running phase (as it actually ran, also
  // when stopped early), and the shop answers now.
  const sorted = [...timeline.failures].sort((a, b) => a - b);
  const firstFault = journal.actions.find((a) => a.actionId !== 'lab:wait' && a.startedAt);
  const faultAt = firstFault?.startedAt ? Date.parse(firstFault.startedAt) : timeline.runningAt;
  const tailMs = Math.max(1000, plan.durationMs / 10);
  const healthyAfter = deep.status === 200 && products.status === 200;
  const lastFailure = sorted.at(-1);
  const recovered = healthyAfter && (lastFailure === undefined || lastFailure < timeline.endedAt - tailMs);
  journal.impact = {
    failedRequests: sorted.length,
    firstFailureMs: sorted[0] !== undefined ? sorted[0] - timeline.runningAt : null,
    lastFailureMs: lastFailure !== undefined ? lastFailure - timeline.runningAt : null,
    recovered,
    recoveryMs: !recovered ? null : lastFailure === undefined ? 0 : Math.max(0, lastFailure - faultAt),
  };
}

/** The order-ledger audit, once the rollbacks are done and the shop has stopped writing. */
async function audit(lab: Lab, journal: Journal, baseline: AuditBaseline | undefined, ledger: OrderLedger, observer: RunObserver): Promise<void> {
  if (!baseline) return;
  notify(observer.progress, `auditing ${ledger.entries.length} orders against the database`);
  try {
    journal.audit = await withWriter(lab, async (db) => {
      await settle(db);
      return auditOrders(db, ledger.entries, baseline);
    });
  } catch (error) {
    journal.auditError = (error as Error).message;
  }
}

/** Waits (briefly) until no more orders are being written: a shop may still be retrying one its client gave up on. */
async function settle(db: pg.Client): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = -1;
  while (Date.now() < deadline) {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    const count = Number(rows[0]?.n ?? 0);
    if (count === last) return;
    last = count;
    await sleep(500);
  }
}

function trafficRecord(result: TrafficResult): Journal['traffic'] {
  return {
    reads: { ...result.reads, cache: result.reads.bySource['cache'] ?? 0 },
    writes: result.writes,
    durationMs: result.durationMs,
    series: result.series,
  };
}

function probeRecord(results: ProbeResult[]): Journal['probe'] {
  const window = detectionWindow(results);
  const failByStatus: Record<string, number> = {};
  for (const r of results) if (r.status !== 200) failByStatus[r.status] = (failByStatus[r.status] ?? 0) + 1;
  return {
    total: results.length,
    failures: results.filter((r) => r.status !== 200).length,
    failByStatus,
    detectionWindow: window
      ? { firstFailureAt: new Date(window.firstFailureAt).toISOString(), lastFailureAt: new Date(window.lastFailureAt).toISOString(), ms: window.lastFailureAt - window.firstFailureAt }
      : null,
    lines: results.map(formatProbe),
  };
}
