// The shop's lab (Articles 1 and 3) behind the LabSession interface: instances behind a load
// balancer, the PostgreSQL cluster, the database proxy; the order audit after the run.
import { auditBaseline, type AuditBaseline } from '../audit/order-audit.ts';
import { Lab } from '../lab/lab.ts';
import { resourcesOf } from './actions.ts';
import type { LabDriver, LabSession } from './lab-driver.ts';
import { audit, observeAfter, withWriter } from './observations.ts';
import type { PlannedShopLab } from './plan.ts';

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
      onProgress,
    });
    return shopSession(lab, planned, onProgress);
  },
};

function shopSession(lab: Lab, planned: PlannedShopLab, onProgress: (line: string) => void): LabSession {
  let baseline: AuditBaseline | undefined;
  return {
    url: lab.loadBalancer.url,
    readPath: '/products',
    actionLab: lab,
    loadBalancer: lab,
    async ready(signal) {
      onProgress(`waiting for ${planned.instances} healthy targets`);
      await waitForHealthyTargets(lab, planned.instances, signal);
    },
    resourcesOf: (type) => resourcesOf(lab, type),
    async beforeRunning() {
      baseline = await withWriter(lab, (db) => auditBaseline(db));
    },
    observeAfter: (plan, journal, timeline, observer) => observeAfter(plan, lab, journal, timeline, observer),
    async afterRollbacks(journal, ledger, observer) {
      await audit(lab, journal, baseline, ledger, observer);
      journal.fleet.instances = lab.group.instances();
    },
    close: () => lab.close(),
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
