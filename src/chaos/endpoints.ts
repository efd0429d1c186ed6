// Article 7's observations: the endpoint probe's answers cut into phases (the baseline, then one
// phase per fault action, named after it) and counted per endpoint, computed once at the end of
// the run from the probe's own results and the runner's own record of when each action began and
// was undone (never from the journal).
import type { EndpointProbeRun, EndpointResult } from '../traffic/endpoint-probe.ts';
import { latencySummary } from '../traffic/latency.ts';
import type { EndpointCounts, EndpointPhase, EndpointSecond, EndpointsRecord } from './journal.ts';
import type { Timeline } from './observations.ts';
import type { PlannedEndpointProbe } from './plan.ts';

/** A phase on the wall clock (epoch ms), before its answers are counted. */
export interface PhaseBounds {
  name: string;
  actionId: string | null;
  targets: string[];
  startAt: number;
  endAt: number;
}

/**
 * The phases of a run, consecutive and covering the running phase: `baseline` from the start to
 * the first action that is not lab:wait; each such action from its start to the next phase; and
 * `after <action>` from an action's undo to the next action (or the end), when that stretch is at
 * least `minGapMs` long. A shorter stretch (the moment between one fault's undo and the next
 * fault's start, which startAfter makes milliseconds) stays in the fault's phase: a phase of a few
 * milliseconds would hold no probe, or one, and say nothing. A fault that starts before the one
 * before it was undone ends that one's phase.
 */
export function endpointPhases(timeline: Pick<Timeline, 'runningAt' | 'endedAt' | 'actions'>, minGapMs: number): PhaseBounds[] {
  const faults = timeline.actions.filter((a) => a.actionId !== 'lab:wait').sort((a, b) => a.startedAt - b.startedAt);
  const end = Math.max(timeline.endedAt, timeline.runningAt);
  const starts: Array<Omit<PhaseBounds, 'endAt'>> = [{ name: 'baseline', actionId: null, targets: [], startAt: timeline.runningAt }];
  faults.forEach((fault, index) => {
    starts.push({ name: fault.name, actionId: fault.actionId, targets: [...fault.targets], startAt: Math.max(fault.startedAt, timeline.runningAt) });
    const next = faults[index + 1]?.startedAt ?? end;
    if (fault.undoneAt !== null && next - fault.undoneAt >= minGapMs) starts.push({ name: `after ${fault.name}`, actionId: null, targets: [], startAt: fault.undoneAt });
  });
  return starts
    .map((phase, index) => ({ ...phase, endAt: Math.max(phase.startAt, starts[index + 1]?.startAt ?? end) }))
    .filter((phase, index, all) => phase.endAt > phase.startAt || index === all.length - 1);
}

/**
 * The phase a result counts in: the last one that had begun when it was sent (the first, for one
 * sent before it); but a failure or a stale answer sent outside a fault (the baseline, the time
 * after an undo) and still unanswered when a fault began counts in that fault's phase: the fault
 * hit it in flight (a blackhole holds the connections already open too), and a baseline with the
 * fault's first victims in it would say the baseline failed. One sent during a fault stays in it,
 * however late it ends.
 */
export function phaseIndexOf(result: Pick<EndpointResult, 'sentAt' | 'latencyMs' | 'status' | 'stale'>, bounds: readonly Pick<PhaseBounds, 'startAt' | 'actionId'>[]): number {
  let index = 0;
  while (index + 1 < bounds.length && bounds[index + 1]!.startAt <= result.sentAt) index++;
  if ((result.status === 200 && !result.stale) || bounds[index]!.actionId !== null) return index;
  const answeredAt = result.sentAt + result.latencyMs;
  for (let later = bounds.length - 1; later > index; later--) if (bounds[later]!.actionId !== null && bounds[later]!.startAt <= answeredAt) return later;
  return index;
}

/** One endpoint's answers among `results`. */
function endpointCounts(results: readonly EndpointResult[]): EndpointCounts {
  const counts: EndpointCounts = { ok: 0, stale: 0, fail: 0, failByStatus: {}, latency: latencySummary(results.map((r) => r.latencyMs)) };
  for (const r of results) {
    if (r.status === 200) counts.ok++;
    else {
      counts.fail++;
      counts.failByStatus[r.status] = (counts.failByStatus[r.status] ?? 0) + 1;
    }
    if (r.stale) counts.stale++;
  }
  return counts;
}

const byEndpoint = (names: readonly string[], results: readonly EndpointResult[]): Record<string, EndpointCounts> =>
  Object.fromEntries(names.map((name) => [name, endpointCounts(results.filter((r) => r.endpoint === name))]));

/** Answers per second from the start of the running phase, every endpoint in every second. */
function seriesOf(names: readonly string[], results: readonly EndpointResult[], runningAt: number): EndpointSecond[] {
  const series: EndpointSecond[] = [];
  for (const r of results) {
    const second = Math.max(0, Math.floor((r.sentAt - runningAt) / 1000));
    while (series.length <= second) series.push({ second: series.length, endpoints: Object.fromEntries(names.map((n) => [n, { ok: 0, stale: 0, fail: 0 }])) });
    const cell = series[second]!.endpoints[r.endpoint];
    if (!cell) continue;
    if (r.status === 200) cell.ok++;
    else cell.fail++;
    if (r.stale) cell.stale++;
  }
  return series;
}

/** The journal's endpoints section, from the probe's run and the runner's timeline. */
export function endpointsRecord(plan: PlannedEndpointProbe, run: EndpointProbeRun, timeline: Pick<Timeline, 'runningAt' | 'endedAt' | 'actions'>): EndpointsRecord {
  const names = Object.keys(plan.endpoints);
  const bounds = endpointPhases(timeline, plan.everyMs);
  const buckets: EndpointResult[][] = bounds.map(() => []);
  for (const r of run.results) buckets[phaseIndexOf(r, bounds)]!.push(r);
  const phases: EndpointPhase[] = bounds.map((b, index) => ({
    name: b.name,
    actionId: b.actionId,
    targets: b.targets,
    cut: names.filter((name) => b.targets.includes(name)),
    startMs: b.startAt - timeline.runningAt,
    durationMs: b.endAt - b.startAt,
    endpoints: byEndpoint(names, buckets[index]!),
  }));
  return {
    everyMs: plan.everyMs,
    timeoutMs: plan.timeoutMs,
    endpoints: { ...plan.endpoints },
    notSent: { ...run.notSent },
    maxInFlightPerEndpoint: run.maxInFlightPerEndpoint,
    peakInFlight: { ...run.peakInFlight },
    totals: byEndpoint(names, run.results),
    phases,
    series: seriesOf(names, run.results, timeline.runningAt),
  };
}
