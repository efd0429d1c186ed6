// The circuit-breaker lab (seed 003) behind the LabSession interface: the gateway is the front
// door (traffic, probes and the hypothesis call the function), the backend is what actions
// change, and the run's observations come from the lab's own records. There are no orders, so
// there is no order audit.
import { BreakerLab, HEALTHY_BEHAVIOUR, type BackendBehaviour } from '../lab/breaker-lab/index.ts';
import type { BreakerLabHandle } from './breaker-lab-actions.ts';
import { observeBreakerLab } from './breaker-lab-observations.ts';
import type { LabDriver, LabSession } from './lab-driver.ts';
import { checkHypothesis, get, recordImpact } from './observations.ts';
import { notify } from './observer.ts';
import type { PlannedBreakerLab } from './plan.ts';

/** The path traffic reads: the gateway runs the function for any path but its own /_gateway/…. */
export const BREAKER_LAB_CALL_PATH = '/call';

export const BREAKER_LAB_DRIVER: LabDriver = {
  async start(plan, _dir, onProgress) {
    const planned = plan.lab as PlannedBreakerLab;
    const lab = await BreakerLab.start({
      mode: planned.mode,
      concurrency: planned.concurrency,
      maxInvocations: planned.maxInvocations,
      idleMs: planned.idleMs,
      queueSize: planned.queueSize,
      functionTimeoutMs: planned.functionTimeoutMs,
      clientTimeoutMs: planned.clientTimeoutMs,
      breaker: planned.breaker,
      refreshIntervalMs: planned.refreshIntervalMs,
      storeTimeoutMs: planned.storeTimeoutMs,
      onProgress,
    });
    const baseline: BackendBehaviour = { ...HEALTHY_BEHAVIOUR, latencyMs: planned.backendLatencyMs };
    try {
      if (baseline.latencyMs > 0) await lab.backend.setBehaviour(baseline);
    } catch (error) {
      await lab.close();
      throw error;
    }
    return breakerLabSession(lab, planned, baseline);
  },
};

function breakerLabSession(lab: BreakerLab, planned: PlannedBreakerLab, baseline: BackendBehaviour): LabSession {
  const handle: BreakerLabHandle = { lab, baseline };
  let since = 0;
  return {
    url: lab.gatewayUrl,
    readPath: BREAKER_LAB_CALL_PATH,
    actionLab: handle,
    loadBalancer: undefined,
    // As the shop's run waits for healthy targets: every environment warm before the baseline,
    // so that the first second of traffic does not meet `concurrency` cold starts at once.
    ready: (signal) => warmUp(lab, planned.concurrency, signal),
    resourcesOf: () => [], // validation refuses targets in a breaker-lab template
    async beforeRunning() {
      since = Date.now();
    },
    async observeAfter(plan, journal, timeline, observer) {
      if (timeline.runningAt === 0) return; // never ran: nothing was injected, nothing to observe
      notify(observer.progress, "reading the gateway's invocations, the backend's calls and the breaker's transitions");
      // One call after the run, recorded after the section is computed, so that it does not count in it.
      const section = await observeBreakerLab(lab, { mode: planned.mode, since, baseline, callAfterRun: 0 });
      const after = await get(`${lab.gatewayUrl}${BREAKER_LAB_CALL_PATH}`);
      journal.breakerLab = { ...section, callAfterRun: after.status };
      if (plan.hypothesis) journal.steadyState.after = await checkHypothesis(lab.gatewayUrl, plan.hypothesis);
      recordImpact(plan, journal, timeline, after.status === 200);
    },
    afterRollbacks: async () => {}, // no orders: the order audit does not apply
    close: () => lab.close(),
  };
}

/** Calls the function `concurrency` times at once, so that that many environments have started; bounded by the function timeout. */
async function warmUp(lab: BreakerLab, concurrency: number, signal: AbortSignal): Promise<void> {
  const timeout = AbortSignal.any([signal, AbortSignal.timeout(lab.options.functionTimeoutMs + 5000)]);
  await Promise.all(Array.from({ length: concurrency }, () => fetch(`${lab.gatewayUrl}${BREAKER_LAB_CALL_PATH}`, { signal: timeout }).then((r) => r.arrayBuffer()).catch(() => undefined)));
  if (signal.aborted) throw signal.reason;
}
