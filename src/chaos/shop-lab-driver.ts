// The shop's lab (Articles 1, 3 and 4) behind the LabSession interface: instances behind a load
// balancer, the PostgreSQL cluster, the database proxy; with Article 4's patterns, the services
// store, the order queue (sampled through the run) and the recovery worker; the order audit
// after the run, once the queue is idle.
import { auditBaseline, type AuditBaseline } from '../audit/order-audit.ts';
import { Lab } from '../lab/lab.ts';
import { resourcesOf } from './actions.ts';
import { auditWaitLimitMs, degradationRecord, queueSampleEveryMs, QueueSampler } from './degradation.ts';
import type { LabDriver, LabSession } from './lab-driver.ts';
import { audit, observeAfter, withWriter, type Timeline } from './observations.ts';
import { notify } from './observer.ts';
import type { PlannedShopLab, RunPlan } from './plan.ts';

export const SHOP_LAB_DRIVER: LabDriver = {
  async start(plan, dir, onProgress) {
    const planned = plan.lab as PlannedShopLab;
    const lab = await Lab.start({
      dir,
      instances: planned.instances,
      patterns: planned.patterns,
      databaseProxy: planned.databaseProxy,
      healthCheck: planned.healthCheck,
      retry: planned.retry,
      ejection: planned.ejection,
      healthCheckGracePeriodMs: planned.healthCheckGracePeriodMs,
      queue: planned.queue,
      databaseProxyRegistered: planned.databaseProxyTargets === 'registered',
      createSchema: planned.createSchema,
      onProgress,
    });
    return shopSession(lab, plan, onProgress);
  },
};

/** Article 4's patterns are on: the run observes the cache's and the queue's part (journal.degradation). */
const degrades = (planned: PlannedShopLab): boolean => planned.patterns.readCache.mode !== 'off' || planned.patterns.writeBuffer.mode !== 'off';

function shopSession(lab: Lab, plan: RunPlan, onProgress: (line: string) => void): LabSession {
  const planned = plan.lab as PlannedShopLab;
  let baseline: AuditBaseline | undefined;
  let timeline: Timeline | undefined;
  const sampler = lab.queue ? new QueueSampler(lab.queue, queueSampleEveryMs(plan.profile)) : undefined;
  return {
    url: lab.loadBalancer.url,
    readPath: '/products',
    actionLab: lab,
    shopLab: lab,
    loadBalancer: lab,
    async ready(signal) {
      onProgress(`waiting for ${planned.instances} healthy targets`);
      await waitForHealthyTargets(lab, planned.instances, signal);
    },
    resourcesOf: (type) => resourcesOf(lab, type),
    async beforeRunning() {
      baseline = await withWriter(lab, (db) => auditBaseline(db));
      sampler?.start();
    },
    observeAfter: (runPlan, journal, runTimeline, observer) => {
      timeline = runTimeline;
      return observeAfter(runPlan, lab, journal, runTimeline, observer);
    },
    async afterRollbacks(journal, ledger, observer) {
      try {
        // A 202 is settled only once the worker has applied it: wait (bounded) for the queue to be idle.
        let auditWait: { limitMs: number; waitedMs: number; idle: boolean } | undefined;
        if (sampler && baseline) {
          const limitMs = auditWaitLimitMs(planned, plan.profile);
          notify(observer.progress, `waiting up to ${Math.round(limitMs / 1000)} s for the order queue to drain`);
          auditWait = await sampler.waitUntilIdle(limitMs);
        }
        await sampler?.stop();
        // Read once, bounded by the store client's own timeout; no answer is recorded as unknown (null).
        const transitions = await lab.breakerTransitions().catch(() => undefined);
        await audit(lab, journal, baseline, ledger, observer);
        if (degrades(planned) && timeline && timeline.runningAt > 0) {
          const worker = lab.recoveryWorker?.status();
          journal.degradation = degradationRecord({
            lab: planned,
            timeline,
            ...(sampler ? { sampler: { sampleEveryMs: sampler.everyMs, samples: sampler.samples, failedSamples: sampler.failedSamples, lastSampleFailed: sampler.lastSampleFailed } } : {}),
            ...(auditWait ? { auditWait } : {}),
            ...(worker ? { worker: { pid: worker.pid, restarts: worker.restarts, counters: worker.counters } } : {}),
            breakerTransitions: transitions?.map((t) => ({ at: t.at.getTime(), from: t.from, to: t.to, reason: t.reason })) ?? null,
          });
        }
      } finally {
        await sampler?.stop();
      }
      journal.fleet.instances = lab.group.instances();
    },
    close: async () => {
      await sampler?.stop();
      await lab.close();
    },
  };
}

/** Waits until the load balancer has `count` healthy targets (the articles' "wait for two healthy hosts"). */
async function waitForHealthyTargets(lab: Lab, count: number, signal: AbortSignal): Promise<void> {
  const hc = lab.loadBalancer.healthCheck;
  const deadline = Date.now() + 30_000 + (hc.healthyThreshold + 1) * hc.intervalMs;
  while (lab.loadBalancer.targets().filter((t) => t.state === 'healthy').length < count) {
    if (signal.aborted) throw signal.reason;
    if (Date.now() > deadline) throw new Error(`the load balancer did not see ${count} healthy targets in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
