// A run plan: one template, one mode, one profile, resolved into milliseconds and rates.
// Every duration of the timeline is scaled by the profile: the run, the actions, health checks,
// the queue's visibility timeout and long poll, and the patterns' waits (the breaker's recovery
// timeout, the read cache's refresh, the initialisation's backoff). Timeouts that stand for a
// customer's patience or the database's physics (the client's, the statement timeout) are not.
import type { EjectionSettings, HealthCheckSettings } from '../lab/fleet/target-health.ts';
import { ALB_HEALTH_CHECK_DEFAULTS } from '../lab/fleet/target-health.ts';
import { ARTICLE_QUEUE_SETTINGS, type QueueSettings } from '../services/queue/message-queue.ts';
import { checkResolvedPatterns, DEFAULT_PRESET, mergePatternsInputs, resolvePatterns, type Patterns } from '../shop/patterns.ts';
import { planBreakerLab, type PlannedBreakerLab } from './breaker-lab-plan.ts';
import { parseDurationMs } from './duration.ts';
import type { Profile } from './profiles.ts';
import type { ExperimentTemplate, HypothesisProbeSpec, LabSettings, StopConditionSpec } from './template.ts';

/** The lab a run starts: the shop's (Articles 1 and 3) or the circuit-breaker lab (seed 003). */
export type PlannedLab = PlannedShopLab | PlannedBreakerLab;

export type { PlannedBreakerLab } from './breaker-lab-plan.ts';

/** The shop's lab: instances behind a load balancer, a PostgreSQL cluster, the database proxy. */
export interface PlannedShopLab {
  kind: 'shop';
  instances: number;
  /** What every shop instance does, resolved once here. */
  patterns: Patterns;
  /** Topology: the database proxy is in the instances' path. */
  databaseProxy: boolean;
  retry: boolean;
  ejection: EjectionSettings | undefined;
  healthCheck: HealthCheckSettings;
  healthCheckGracePeriodMs: number;
  /** The order queue's settings (used when the patterns' writeBuffer is queue), scaled by the profile. */
  queue: QueueSettings;
  /** The database proxy's targets when the lab starts: deregistered, the database is not there yet (init-race). */
  databaseProxyTargets: 'registered' | 'deregistered';
  /** The lab creates the shop's tables before the instances start; false: only the instances do. */
  createSchema: boolean;
}

export interface PlannedAction {
  name: string;
  actionId: string;
  description: string | undefined;
  /** Target key (e.g. Instances) → target name. */
  targets: Record<string, string>;
  parameters: Record<string, unknown>;
  durationMs: number | undefined;
  startAfter: string[];
}

export interface PlannedStopCondition extends Omit<StopConditionSpec, 'for' | 'window'> {
  forMs: number;
  windowMs: number;
}

/** Article 7's probe, planned: every endpoint every `everyMs`, open loop, each request bounded by `timeoutMs`. */
export interface PlannedEndpointProbe {
  everyMs: number;
  timeoutMs: number;
  /** Endpoint name → path, in the template's order. */
  endpoints: Record<string, string>;
}

/** Everything a run needs, in milliseconds and requests per second. */
export interface RunPlan {
  experiment: string;
  mode: string;
  modeDescription: string | undefined;
  profile: Profile;
  durationMs: number;
  lab: PlannedLab;
  traffic: { readsPerSecond: number; writesPerSecond: number; productId: number; quantity: number; timeoutMs: number } | undefined;
  probe: { everyMs: number; path: string; timeoutMs: number } | undefined;
  /** Article 7's endpoint probe: its cadence scaled by the profile, its client timeout not. */
  endpointProbe: PlannedEndpointProbe | undefined;
  actions: PlannedAction[];
  stopConditions: PlannedStopCondition[];
  hypothesis: { title: string; checkBefore?: boolean; probes: HypothesisProbeSpec[] } | undefined;
  rollbacks: Array<{ name: string; actionId: string }>;
}

/** The smallest health-check timeout a profile scales to: below it, the check measures the machine. */
const MIN_HEALTH_CHECK_TIMEOUT_MS = 200;

function mergeLab(base: LabSettings = {}, over: LabSettings = {}): LabSettings {
  return {
    ...base,
    ...over,
    queue: { ...base.queue, ...over.queue },
    loadBalancer: {
      ...base.loadBalancer,
      ...over.loadBalancer,
      healthCheck: { ...base.loadBalancer?.healthCheck, ...over.loadBalancer?.healthCheck },
    },
  };
}

/** A duration in ms under the profile: at least 1 ms. */
const scaleMs = (ms: number, profile: Profile): number => Math.max(1, Math.round(ms * profile.timeScale));

/**
 * The patterns' waits under the profile (the breaker's recovery timeout, the read cache's refresh,
 * the initialisation's backoff), so that a quick run trips, recovers and drains in proportion to
 * its shorter outage. Checked again as a resolved value: what runs is what the journal records.
 */
function scalePatterns(patterns: Patterns, profile: Profile): Patterns {
  if (profile.timeScale === 1) return patterns;
  const breaker = patterns.circuitBreaker;
  const cache = patterns.readCache;
  const init = patterns.initialisation;
  return checkResolvedPatterns({
    ...patterns,
    circuitBreaker: breaker.mode === 'off' ? breaker : { ...breaker, recoveryTimeoutMs: scaleMs(breaker.recoveryTimeoutMs, profile) },
    readCache: cache.mode === 'off' ? cache : { ...cache, refreshMs: scaleMs(cache.refreshMs, profile) },
    initialisation: init.mode === 'once' ? init : { ...init, initialDelayMs: scaleMs(init.initialDelayMs, profile), maxDelayMs: scaleMs(init.maxDelayMs, profile) },
  });
}

/** A template that cannot run under this profile (a duration it scales below what works). */
export class PlanError extends Error {
  readonly code = 'PLAN_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/**
 * The shortest visibility timeout a run may plan: below it a received message turns visible again
 * while the worker is still applying it (an order transaction over the proxy takes milliseconds to
 * tens of them on a loaded machine), so every message is redelivered and the drain measures that.
 */
const MIN_PLANNED_VISIBILITY_TIMEOUT_MS = 100;

/**
 * The queue's settings under the profile: Article 4's, or the template's, durations scaled. A
 * receive wait of 0 stays 0 (SQS's short polling). `at`: where the template gave the queue.
 */
function planQueue(queue: LabSettings['queue'], profile: Profile, at: (field: string) => string): QueueSettings {
  const scaled = (text: string | undefined, fallbackMs: number): number => {
    const ms = text ? parseDurationMs(text) : fallbackMs;
    return ms === 0 ? 0 : scaleMs(ms, profile);
  };
  const visibilityTimeoutMs = scaled(queue?.visibilityTimeout, ARTICLE_QUEUE_SETTINGS.visibilityTimeoutMs);
  if (visibilityTimeoutMs < MIN_PLANNED_VISIBILITY_TIMEOUT_MS) {
    const given = queue?.visibilityTimeout ?? `${ARTICLE_QUEUE_SETTINGS.visibilityTimeoutMs / 1000}s`;
    throw new PlanError(
      `${at('visibilityTimeout')}: ${JSON.stringify(given)} plans to ${visibilityTimeoutMs} ms under the ${profile.name} profile (time scale ${profile.timeScale}); ` +
        `a visibility timeout must plan to at least ${MIN_PLANNED_VISIBILITY_TIMEOUT_MS} ms, or messages are redelivered while the worker applies them`,
    );
  }
  return {
    visibilityTimeoutMs,
    receiveWaitTimeMs: scaled(queue?.receiveWaitTime, ARTICLE_QUEUE_SETTINGS.receiveWaitTimeMs),
    maxReceiveCount: queue?.maxReceiveCount ?? ARTICLE_QUEUE_SETTINGS.maxReceiveCount,
  };
}

/** Resolves a template for one mode under one profile; `mode` must be one of the template's. Throws PlanError for a duration it cannot plan. */
export function planRun(experiment: string, template: ExperimentTemplate, mode: string, profile: Profile): RunPlan {
  const modeSpec = template.modes[mode];
  if (!modeSpec) throw new Error(`${experiment} has no mode ${JSON.stringify(mode)} (it has ${Object.keys(template.modes).join(', ')})`);
  const scale = (text: string): number => Math.max(1, Math.round(parseDurationMs(text) * profile.timeScale));
  const kind = template.lab?.kind ?? 'shop';
  const common = {
    experiment,
    mode,
    modeDescription: modeSpec.description,
    profile,
    durationMs: scale(template.duration),
    probe: template.probe
      ? { everyMs: scale(template.probe.every ?? '2s'), path: template.probe.path ?? '/products', timeoutMs: parseDurationMs(template.probe.timeout ?? '5s') }
      : undefined,
    endpointProbe: template.endpointProbe
      ? {
          everyMs: scale(template.endpointProbe.every ?? '1s'),
          // A client timeout is the customer's patience: never scaled (profiles.ts).
          timeoutMs: parseDurationMs(template.endpointProbe.timeout ?? '5s'),
          endpoints: { ...template.endpointProbe.endpoints },
        }
      : undefined,
    actions: Object.entries(template.actions).map(([name, action]) => ({
      name,
      actionId: action.actionId,
      description: action.description,
      targets: action.targets ?? {},
      parameters: action.parameters ?? {},
      durationMs: action.duration ? scale(action.duration) : undefined,
      startAfter: action.startAfter ?? [],
    })),
    stopConditions: (template.stopConditions ?? []).map(({ for: forText, window, ...rest }) => ({
      ...rest,
      forMs: forText ? scale(forText) : 0,
      windowMs: scale(window ?? '10s'),
    })),
    hypothesis: template.steadyStateHypothesis,
    rollbacks: template.rollbacks ?? [],
  };
  const traffic = (defaultWritesPerSecond: number): RunPlan['traffic'] =>
    template.traffic
      ? {
          readsPerSecond: (template.traffic.readsPerSecond ?? 3) / profile.timeScale,
          writesPerSecond: (template.traffic.writesPerSecond ?? defaultWritesPerSecond) / profile.timeScale,
          productId: template.traffic.productId ?? 1,
          quantity: template.traffic.quantity ?? 1,
          timeoutMs: parseDurationMs(template.traffic.timeout ?? '5s'),
        }
      : undefined;
  // The breaker lab's function takes reads only: no writes unless a template asks (validation refuses it).
  if (kind === 'breaker-lab') return { ...common, lab: planBreakerLab(template.lab?.breakerLab, modeSpec.lab?.breakerLab, profile), traffic: traffic(0) };
  const lab = mergeLab(template.lab, modeSpec.lab);
  const modePatterns = modeSpec.lab?.patterns;
  const patterns = scalePatterns(
    resolvePatterns(mergePatternsInputs(template.lab?.patterns, modePatterns) ?? DEFAULT_PRESET, modePatterns !== undefined ? `modes.${mode}.lab.patterns` : 'lab.patterns'),
    profile,
  );
  const hc = lab.loadBalancer?.healthCheck ?? {};
  const intervalMs = hc.interval ? scale(hc.interval) : Math.round(ALB_HEALTH_CHECK_DEFAULTS.intervalMs * profile.timeScale);
  const scaledTimeout = hc.timeout ? scale(hc.timeout) : Math.round(ALB_HEALTH_CHECK_DEFAULTS.timeoutMs * profile.timeScale);
  const ejection = lab.loadBalancer?.ejection;
  return {
    ...common,
    lab: {
      kind: 'shop',
      instances: lab.instances ?? 2,
      patterns,
      databaseProxy: lab.databaseProxy ?? true,
      retry: lab.loadBalancer?.retry ?? false,
      ejection: ejection ? { consecutiveFailures: ejection.consecutiveFailures, durationMs: scale(ejection.duration) } : undefined,
      healthCheck: {
        intervalMs,
        // A check must end before the next one starts.
        timeoutMs: Math.min(Math.max(scaledTimeout, MIN_HEALTH_CHECK_TIMEOUT_MS), Math.max(1, intervalMs - 1)),
        healthyThreshold: hc.healthyThreshold ?? ALB_HEALTH_CHECK_DEFAULTS.healthyThreshold,
        unhealthyThreshold: hc.unhealthyThreshold ?? ALB_HEALTH_CHECK_DEFAULTS.unhealthyThreshold,
      },
      healthCheckGracePeriodMs: lab.healthCheckGracePeriod ? scale(lab.healthCheckGracePeriod) : Math.round(300_000 * profile.timeScale),
      queue: planQueue(lab.queue, profile, (field) => `${modeSpec.lab?.queue && field in modeSpec.lab.queue ? `modes.${mode}.lab` : 'lab'}.queue.${field}`),
      databaseProxyTargets: lab.databaseProxyTargets ?? 'registered',
      createSchema: lab.createSchema ?? true,
    },
    traffic: traffic(1),
  };
}
