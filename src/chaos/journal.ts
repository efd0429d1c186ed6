// The journal: everything one run did and saw, as JSON (schema/journal.schema.json).
import type { AuditResult } from '../audit/order-audit.ts';
import type { RecoveryWorkerCounters } from '../lab/recovery-worker/recovery-worker.ts';
import type { QueueSettings } from '../services/queue/message-queue.ts';
import type { GroupEvent, InstanceStatus } from '../lab/fleet/instance-group.ts';
import type { TargetStateChange } from '../lab/fleet/load-balancer.ts';
import type { GeneratorStats, TrafficSecond } from '../traffic/traffic-generator.ts';
import type { LatencySummary } from '../traffic/latency.ts';
import type { Effect } from './actions.ts';
import type { GoalResult } from './endpoints-report.ts';
import type { PlannedEndpointProbe, RunPlan } from './plan.ts';
import type { ExperimentTemplate } from './template.ts';

/** The lifecycle of a run (FIS's states, without cancelled). */
export type RunState = 'pending' | 'initiating' | 'running' | 'completed' | 'stopping' | 'stopped' | 'failed';

export type ActionState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'skipped';

export interface ActionRecord {
  name: string;
  actionId: string;
  description?: string;
  /** Resolved resource ids, by target key. */
  targets: Record<string, string[]>;
  parameters: Record<string, unknown>;
  durationMs?: number;
  state: ActionState;
  startedAt?: string;
  endedAt?: string;
  /** When it started, from the start of the running phase. */
  offsetMs?: number;
  /** What it actually did. */
  effect?: Effect;
  /** What undoing it did, when its duration ended or the run stopped. */
  undo?: Effect;
  /** The run stopped before its duration ended: undone this long after it started. */
  cutShortAfterMs?: number;
  error?: string;
}

export interface RollbackRecord {
  name: string;
  actionId: string;
  state: 'completed' | 'failed';
  effect?: Effect;
  error?: string;
}

export interface HypothesisProbeResult {
  name: string;
  path: string;
  expectedStatus: number;
  status: number;
  ok: boolean;
  /** The answer, when the probe did not meet its tolerance. */
  body?: unknown;
}

export interface HypothesisResult {
  title: string;
  met: boolean;
  probes: HypothesisProbeResult[];
}

export interface StopConditionRecord {
  name: string;
  metric: string;
  operator: string;
  threshold: number;
  fired: boolean;
  firedAt?: string;
  value?: number;
}

export interface TrafficRecord {
  /** `notSent`: due but never sent, the traffic generator's shortfall (not a failure of the system). */
  reads: { ok: number; fail: number; notSent: number; cache: number; bySource: Record<string, number>; failByStatus: Record<string, number> };
  writes: { ok: number; queued: number; stockOut: number; fail: number; notSent: number; failByStatus: Record<string, number> };
  durationMs: number;
  series: TrafficSecond[];
  /** The generator's in-flight cap, its peak, and why requests were not sent. */
  generator?: GeneratorStats;
}

export interface ProbeRecord {
  total: number;
  failures: number;
  failByStatus: Record<string, number>;
  /** From the first failed probe to the last (null: none failed). */
  detectionWindow: { firstFailureAt: string; lastFailureAt: string; ms: number } | null;
  /** Every probe as Article 1 prints it: HH:MM:SS - code. */
  lines: string[];
}

export type { LatencySummary } from '../traffic/latency.ts';

/** One endpoint's answers in one phase (or the whole run): 200s (stale ones among them), failures by status (0: timeout), latency of every answer. */
export interface EndpointCounts {
  ok: number;
  /** Of the ok answers, those marked "stale": true (the cache's last good answer). */
  stale: number;
  fail: number;
  failByStatus: Record<string, number>;
  /** Of every request answered or timed out (null: none sent). */
  latency: LatencySummary | null;
}

/** A stretch of the running phase: the baseline, a fault (named after its action), or the time after one. */
export interface EndpointPhase {
  /** baseline, the fault action's name, or "after <action>" when the run went on after its undo. */
  name: string;
  /** The fault's action id; null for the baseline and the time after a fault. */
  actionId: string | null;
  /** The fault's resolved targets (dependencies); [] outside faults. */
  targets: string[];
  /** The endpoints named after one of those targets: the ones the fault cuts. */
  cut: string[];
  /** From the start of the running phase. */
  startMs: number;
  durationMs: number;
  /** Requests sent during the phase, by endpoint. */
  endpoints: Record<string, EndpointCounts>;
}

/** One second of the endpoint probe (from the start of the running phase), by endpoint. */
export interface EndpointSecond {
  second: number;
  endpoints: Record<string, { ok: number; stale: number; fail: number }>;
}

/**
 * Article 7's observations (runs with an endpoint probe), computed once at the end from the
 * probe's results and the runner's record of its actions.
 */
export interface EndpointsRecord {
  everyMs: number;
  timeoutMs: number;
  /** Endpoint name → path, as probed. */
  endpoints: Record<string, string>;
  /** Per endpoint: due but not sent (the in-flight cap, or a tick skipped when the probe fell behind). Not failures of the system. */
  notSent: Record<string, number>;
  maxInFlightPerEndpoint: number;
  peakInFlight: Record<string, number>;
  /** The whole run, by endpoint. */
  totals: Record<string, EndpointCounts>;
  phases: EndpointPhase[];
  series: EndpointSecond[];
  /** The mode's goal (from its patterns) checked once against the phases; absent in journals before it was recorded. */
  goal?: GoalResult;
}

/** The circuit-breaker lab's observations (lab.kind breaker-lab), computed once from the lab's records at the end of the run. */
export interface BreakerLabRecord {
  /** Where the breaker lived: local (each environment's module memory) or shared (the services store). */
  mode: 'local' | 'shared';
  /** From the first backend behaviour that was not the run's healthy one to the healthy one restored (recoveredAt null: never). */
  outage: { startedAt: string; recoveredAt: string | null; ms: number | null } | null;
  /** Every call the gateway answered during the run, by how it was answered, and by error code. */
  calls: { total: number; answered: number; failedFast: number; failedSlow: number; throttled: number; other: number; byCode: Record<string, number> };
  /** At the gateway, from receipt to answer: the fast refusals, the slow failures, and every call received during the outage. */
  latencyMs: { failedFast: LatencySummary | null; failedSlow: LatencySummary | null; outage: LatencySummary | null };
  /** Calls that reached the backend: in all, during the outage (the load the breaker did not shed), and per behaviour window. */
  backend: {
    calls: number;
    duringOutage: number;
    windows: Array<{ index: number; behaviour: { failureRate: number; latencyMs: number; hang: boolean }; startedAt: string; endedAt: string | null; calls: number; outcomes: Record<string, number> }>;
  };
  breaker: {
    /** Transition counts by "FROM->TO" (shared: the store's history; local: what every environment reported). */
    transitions: Record<string, number>;
    /** CLOSED->OPEN transitions. */
    trips: number;
    /** Distinct breakers that tripped (shared: at most 1; local: environments). */
    breakersTripped: number;
    halfOpenWindows: number;
    trialsPerHalfOpenWindow: { min: number; max: number; total: number } | null;
    /** From the backend's recovery to the first transition to CLOSED after it. */
    closedAfterRecoveryMs: number | null;
    /** Calls refused with CIRCUIT_OPEN after the backend had recovered. */
    failedFastAfterRecovery: number;
  };
  environments: { started: number; coldStarts: number; peak: number; recycles: Record<string, number> };
  /** The status of one call to the function after the run. */
  callAfterRun: number;
}

/** One sample of the order queue, from the start of the running phase. */
export interface QueueSample {
  atMs: number;
  depth: number;
  inFlight: number;
  deadLetters: number;
}

/**
 * Article 4's observations (shop runs whose patterns have a read cache or a write buffer), computed
 * once at the end of the run from the runner's and the driver's own records.
 */
export interface DegradationRecord {
  /** Reads by where the answer came from (the article's `Reads: DB / CACHE / FAIL`). */
  reads: { database: number; cache: number; fail: number };
  /** Writes by answer (the article's `Writes: OK / 202_QUEUED / STOCK_OUT / FAIL`). */
  writes: { ok: number; queued: number; stockOut: number; fail: number };
  /** When the database came back (the proxy's targets registered again), from the start of the running phase; null: it never went away, or never came back. */
  databaseReturnedAtMs: number | null;
  /** The order queue (null: no write buffer). */
  queue: {
    settings: QueueSettings;
    sampleEveryMs: number;
    /** Queued + in flight when the audit's wait ended: what recovery left (the article's `SQS remaining`); null: the latest sample got no answer (unknown, not 0). */
    remaining: number | null;
    /** On the dead-letter queue then (the article's `DLQ`); null: unknown, as remaining. */
    deadLetters: number | null;
    /** The most messages queued + in flight in one sample. */
    peakDepth: number;
    /** Samples the store did not answer (it was cut, or slow). */
    failedSamples: number;
    series: QueueSample[];
  } | null;
  /**
   * From the database's return to the first sample with nothing queued or in flight; the goal is
   * the breaker's recovery timeout (scaled) + 5 s to apply the backlog (not scaled), as `goal` says.
   * applyingMs: from the last sample before the backlog began to shrink to the drained one (null: unknown).
   */
  drain: { timeToDrainMs: number | null; goalMs: number; goal: { breakerRecoveryMs: number; applyBacklogMs: number }; applyingMs: number | null; met: boolean } | null;
  /** The audit waited (at most limitMs, from the plan) for the queue to be idle; idle false: it gave up, and what was left is audited as still queued. */
  auditWait: { limitMs: number; waitedMs: number; idle: boolean } | null;
  /**
   * The recovery worker as the run ended (null: none). pid: its process then (null: none running,
   * between a death and its restart), so that a test can check the process is gone after the run.
   */
  worker: { pid: number | null; restarts: number; counters: RecoveryWorkerCounters } | null;
  /**
   * The fleet's shared circuit breaker's transitions during the run, as the services store recorded
   * them (its clock), from the start of the running phase; null: no shared breaker, or the store
   * did not answer (unknown, never an empty history). Absent in journals written before it was recorded.
   */
  breakerTransitions?: Array<{ atMs: number; from: string; to: string; reason: string }> | null;
}

export interface Journal {
  chaosLab: { version: string; journalVersion: 1 };
  experiment: string;
  title: string;
  mode: string;
  modeDescription?: string;
  profile: { name: string; timeScale: number };
  status: 'completed' | 'stopped' | 'failed';
  /** The steady-state hypothesis did not hold after the run. */
  deviated: boolean;
  stopReason?: { kind: 'stop-condition' | 'interrupted' | 'action-failed' | 'hypothesis-before' | 'error'; detail: string };
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** The random seed target selection used: the same seed over the same lab picks the same targets. */
  seed: number;
  template: ExperimentTemplate;
  plan: Pick<RunPlan, 'durationMs' | 'lab' | 'traffic' | 'probe'> & { endpointProbe?: PlannedEndpointProbe };
  targets: Record<string, string[]>;
  states: Array<{ state: RunState; at: string }>;
  actions: ActionRecord[];
  rollbacks: RollbackRecord[];
  stopConditions: StopConditionRecord[];
  steadyState: { before: HypothesisResult | null; after: HypothesisResult | null };
  traffic: TrafficRecord | null;
  probe: ProbeRecord | null;
  fleet: {
    /** The instances as the run ended (with their PIDs, all stopped by the time the journal is written). */
    instances: InstanceStatus[];
    events: GroupEvent[];
    targetStateChanges: TargetStateChange[];
    /** The first instance launched after the first instance fault: when, and when it turned healthy. */
    replacement: { instanceId: string; launchedAfterMs: number; healthyAfterMs: number | null } | null;
  };
  /** What customers saw, from the traffic's per-second series. */
  impact: {
    failedRequests: number;
    /** From the start of the running phase. */
    firstFailureMs: number | null;
    lastFailureMs: number | null;
    /** No failure in the last part of the run, and the post-run probe is healthy. */
    recovered: boolean;
    /** From the first fault to the last failure (0: no failure), null when not recovered. */
    recoveryMs: number | null;
  };
  audit: AuditResult | null;
  auditError?: string;
  /** Article 4's degradation: reads by source, writes by answer, the queue, its drain, the audit's wait (shop runs with a read cache or a write buffer). */
  degradation?: DegradationRecord;
  /** The circuit-breaker lab's observations (breaker-lab runs only). */
  breakerLab?: BreakerLabRecord;
  /** Article 7's endpoint probe: answers per endpoint and phase (runs with an endpoint probe only). */
  endpoints?: EndpointsRecord;
  postProbe: { deepHealth: { status: number; body: unknown }; productsStatus: number } | null;
}
