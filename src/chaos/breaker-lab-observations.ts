// What a run of the circuit-breaker lab observed, computed once at the end of the run from the
// lab's own records (the gateway's invocations, the backend's behaviour windows and calls, the
// breaker's transitions, the pool's counters) into the journal's breakerLab section. The report
// only shows it.
import type { BackendBehaviour, BehaviourWindow, BreakerLab, BreakerMode, InvocationRecord, LabTransition, PoolMetrics } from '../lab/breaker-lab/index.ts';
import { latencySummary } from '../traffic/latency.ts';
import type { BreakerLabRecord } from './journal.ts';

/** What the observation needs besides the lab: when the run began, and what healthy meant in it. */
export interface BreakerLabObservationInput {
  mode: BreakerMode;
  /** Wall-clock ms the running phase began: records before it are the lab's start and the hypothesis. */
  since: number;
  baseline: BackendBehaviour;
  /** The status of one call to the function after the run. */
  callAfterRun: number;
}

const sameBehaviour = (a: BackendBehaviour, b: BackendBehaviour): boolean => a.failureRate === b.failureRate && a.latencyMs === b.latencyMs && a.hang === b.hang;


/** How an answer counts: the breaker's fast refusal, a slow failure of the backend call, a throttle. */
export function classifyInvocation(record: Pick<InvocationRecord, 'status' | 'code'>): 'answered' | 'failedFast' | 'failedSlow' | 'throttled' | 'other' {
  if (record.status === 200) return 'answered';
  if (record.status === 503 && record.code === 'CIRCUIT_OPEN') return 'failedFast';
  if (record.status === 502 || record.status === 504) return 'failedSlow';
  if (record.status === 429) return 'throttled';
  return 'other';
}

/** Reads the lab's records and builds the journal's breakerLab section. */
export async function observeBreakerLab(lab: BreakerLab, input: BreakerLabObservationInput): Promise<BreakerLabRecord> {
  const [invocations, calls, transitions, metrics] = await Promise.all([
    lab.gateway.invocations(input.since),
    lab.backend.calls(Date.now()),
    lab.transitions(input.since),
    lab.gateway.metrics(),
  ]);
  return breakerLabRecord(input, invocations, calls.windows, transitions, metrics);
}

/** The section, from the records (pure: a test can feed it records). */
export function breakerLabRecord(
  input: BreakerLabObservationInput,
  invocations: readonly InvocationRecord[],
  allWindows: readonly BehaviourWindow[],
  transitions: readonly LabTransition[],
  metrics: Pick<PoolMetrics, 'environmentsStarted' | 'coldStarts' | 'peakEnvironments' | 'recycles'>,
): BreakerLabRecord {
  // The outage: from the first behaviour of the run that was not its healthy one, to the healthy one restored after the last.
  const windows = allWindows.filter((w) => w.startedAt >= input.since || (w.endedAt ?? Infinity) > input.since);
  const failing = windows.filter((w) => w.startedAt >= input.since && !sameBehaviour(w.behaviour, input.baseline));
  const first = failing[0];
  const last = failing.at(-1);
  const recovery = last ? windows.find((w) => w.index > last.index && sameBehaviour(w.behaviour, input.baseline)) : undefined;
  const outageStart = first?.startedAt;
  const recoveredAt = recovery?.startedAt;
  const inOutage = (at: number): boolean => outageStart !== undefined && at >= outageStart && (recoveredAt === undefined || at < recoveredAt);

  const counts = { total: 0, answered: 0, failedFast: 0, failedSlow: 0, throttled: 0, other: 0 };
  const byCode: Record<string, number> = {};
  const latency = { failedFast: [] as number[], failedSlow: [] as number[], outage: [] as number[] };
  let failedFastAfterRecovery = 0;
  for (const record of invocations) {
    const kind = classifyInvocation(record);
    const ms = record.answeredAt - record.receivedAt;
    counts.total++;
    counts[kind]++;
    if (record.code) byCode[record.code] = (byCode[record.code] ?? 0) + 1;
    if (kind === 'failedFast') latency.failedFast.push(ms);
    if (kind === 'failedSlow') latency.failedSlow.push(ms);
    if (inOutage(record.receivedAt)) latency.outage.push(ms);
    if (kind === 'failedFast' && recoveredAt !== undefined && record.receivedAt >= recoveredAt) failedFastAfterRecovery++;
  }

  const transitionCounts: Record<string, number> = {};
  for (const t of transitions) transitionCounts[`${t.from}->${t.to}`] = (transitionCounts[`${t.from}->${t.to}`] ?? 0) + 1;
  const trips = transitions.filter((t) => t.from === 'CLOSED' && t.to === 'OPEN');
  const trials = trialsPerHalfOpenWindow(input.mode, invocations, transitions);
  const closed = recoveredAt === undefined ? undefined : transitions.find((t) => t.to === 'CLOSED' && t.at >= recoveredAt);

  return {
    mode: input.mode,
    outage: outageStart === undefined ? null : { startedAt: new Date(outageStart).toISOString(), recoveredAt: recoveredAt === undefined ? null : new Date(recoveredAt).toISOString(), ms: recoveredAt === undefined ? null : recoveredAt - outageStart },
    calls: { ...counts, byCode },
    latencyMs: { failedFast: latencySummary(latency.failedFast), failedSlow: latencySummary(latency.failedSlow), outage: latencySummary(latency.outage) },
    backend: {
      calls: windows.reduce((n, w) => n + w.calls, 0),
      duringOutage: failing.length === 0 ? 0 : windows.filter((w) => w.index >= first!.index && w.index <= last!.index).reduce((n, w) => n + w.calls, 0),
      windows: windows.map((w) => ({ index: w.index, behaviour: w.behaviour, startedAt: new Date(w.startedAt).toISOString(), endedAt: w.endedAt === null ? null : new Date(w.endedAt).toISOString(), calls: w.calls, outcomes: w.outcomes })),
    },
    breaker: {
      transitions: transitionCounts,
      trips: trips.length,
      breakersTripped: new Set(trips.map((t) => t.source)).size,
      halfOpenWindows: trials.length,
      trialsPerHalfOpenWindow: trials.length === 0 ? null : { min: Math.min(...trials), max: Math.max(...trials), total: trials.reduce((a, b) => a + b, 0) },
      closedAfterRecoveryMs: closed && recoveredAt !== undefined ? Math.max(0, Math.round(closed.at - recoveredAt)) : null,
      failedFastAfterRecovery,
    },
    environments: { started: metrics.environmentsStarted, coldStarts: metrics.coldStarts, peak: metrics.peakEnvironments, recycles: { ...metrics.recycles } },
    callAfterRun: input.callAfterRun,
  };
}

/**
 * Trial calls in each half-open window. Shared: one breaker, whose windows are the store's
 * generations, and each trial says the generation it ran in. Local: each environment's own
 * breaker, whose generation moves on with the trial's result, so a trial belongs to the last
 * half-open transition its environment reported before it was answered.
 */
function trialsPerHalfOpenWindow(mode: BreakerMode, invocations: readonly InvocationRecord[], transitions: readonly LabTransition[]): number[] {
  const halfOpen = transitions.filter((t) => t.to === 'HALF_OPEN');
  const trials = invocations.filter((i) => i.meta?.['trial'] === true);
  // A trial decided by a fallen-back breaker carries a local generation: never one of the store's.
  if (mode === 'shared') return halfOpen.map((w) => trials.filter((i) => i.meta?.['generationSource'] !== 'local' && i.meta?.['generation'] === w.generation).length);
  const perWindow = new Map<LabTransition, number>(halfOpen.map((w) => [w, 0]));
  for (const trial of trials) {
    const window = halfOpen.filter((w) => w.source === trial.environmentId && w.at <= trial.answeredAt).at(-1);
    if (window) perWindow.set(window, perWindow.get(window)! + 1);
  }
  return [...perWindow.values()];
}
