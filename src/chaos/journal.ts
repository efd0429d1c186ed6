// The journal: everything one run did and saw, as JSON (schema/journal.schema.json).
import type { AuditResult } from '../audit/order-audit.ts';
import type { GroupEvent, InstanceStatus } from '../lab/fleet/instance-group.ts';
import type { TargetStateChange } from '../lab/fleet/load-balancer.ts';
import type { GeneratorStats, TrafficSecond } from '../traffic/traffic-generator.ts';
import type { Effect } from './actions.ts';
import type { RunPlan } from './plan.ts';
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
  plan: Pick<RunPlan, 'durationMs' | 'lab' | 'traffic' | 'probe'>;
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
  postProbe: { deepHealth: { status: number; body: unknown }; productsStatus: number } | null;
}
