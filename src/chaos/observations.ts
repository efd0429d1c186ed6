// What a run observes around its running phase: the steady-state hypothesis, the post-run
// probe, the fleet's story, what customers saw, and the order audit; and the journal's records
// of traffic and probes.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { OrderLedger } from '../audit/ledger.ts';
import { auditOrders, type AuditBaseline } from '../audit/order-audit.ts';
import type { Lab } from '../lab/lab.ts';
import { SHOP_DATABASE } from '../lab/standalone-shop.ts';
import { detectionWindow, formatProbe, type ProbeResult } from '../traffic/probe.ts';
import type { TrafficResult, TrafficTotals } from '../traffic/traffic-generator.ts';
import type { Effect } from './actions.ts';
import type { HypothesisResult, Journal } from './journal.ts';
import { notify, type RunObserver } from './observer.ts';
import type { RunPlan } from './plan.ts';

/** When the running phase began and ended, and when requests and probes failed (by send time). */
export interface Timeline {
  runningAt: number;
  endedAt: number;
  failures: number[];
  /** Each action that ran: when it started and, for one with an undo, when its undo finished (epoch ms). */
  actions: Array<{ name: string; actionId: string; startedAt: number; undoneAt: number | null; targets: string[] }>;
  /** Each rollback that ran after the running phase: when it ended (epoch ms), how, and what it did. */
  rollbacks: Array<{ name: string; actionId: string; at: number; state: 'completed' | 'failed'; effect?: Effect }>;
  /** What the traffic generator counted, once it is done (undefined: no traffic, or it never ran). */
  traffic?: TrafficTotals;
}

/** Checks the steady-state hypothesis through the load balancer (or the lab's front door). */
export async function checkHypothesis(url: string, hypothesis: NonNullable<RunPlan['hypothesis']>): Promise<HypothesisResult> {
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

export async function get(url: string): Promise<{ status: number; body: unknown }> {
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

export async function withWriter<T>(lab: Lab, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ ...lab.cluster.writerEndpoint, user: 'postgres', password: lab.cluster.password, database: SHOP_DATABASE, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
  db.on('error', () => {}); // a connection cut under a query fails that query; unheard, the event would crash the run
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end().catch(() => {});
  }
}

/** The actions that take an instance away: the fleet's replacement is measured from the first of them. */
const INSTANCE_FAULTS: ReadonlySet<string> = new Set(['lab:instance:stop', 'lab:instance:kill', 'lab:instance:terminate']);

/** After the run, before the rollbacks: the post-run probe, the hypothesis again, the fleet's story, the impact. */
export async function observeAfter(plan: RunPlan, lab: Lab, journal: Journal, timeline: Timeline, observer: RunObserver): Promise<void> {
  if (timeline.runningAt === 0) return; // never ran: nothing was injected, nothing to observe
  notify(observer.progress, 'probing /health/deep and /products after the run');
  const deep = await get(`${lab.loadBalancer.url}/health/deep`);
  const products = await get(`${lab.loadBalancer.url}/products`);
  journal.postProbe = { deepHealth: { status: deep.status, body: deep.body }, productsStatus: products.status };
  if (plan.hypothesis) journal.steadyState.after = await checkHypothesis(lab.loadBalancer.url, plan.hypothesis);

  journal.fleet.events = lab.group.events();
  journal.fleet.targetStateChanges = lab.loadBalancer.stateChanges();
  // From the runner's own record of the actions (in the order they started), not the journal's.
  const instanceFault = timeline.actions.find((a) => INSTANCE_FAULTS.has(a.actionId));
  if (instanceFault) {
    const faultAt = instanceFault.startedAt;
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

  recordImpact(plan, journal, timeline, deep.status === 200 && products.status === 200);
}

/**
 * What customers saw, into journal.impact. Recovered: nothing failed in the last tenth of the
 * running phase (as it actually ran, also when stopped early), and the service answers now
 * (`healthyAfter`).
 */
export function recordImpact(plan: RunPlan, journal: Journal, timeline: Timeline, healthyAfter: boolean): void {
  const sorted = [...timeline.failures].sort((a, b) => a - b);
  const firstFault = timeline.actions.find((a) => a.actionId !== 'lab:wait');
  const faultAt = firstFault?.startedAt ?? timeline.runningAt;
  const tailMs = Math.max(1000, plan.durationMs / 10);
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
export async function audit(lab: Lab, journal: Journal, baseline: AuditBaseline | undefined, ledger: OrderLedger, observer: RunObserver): Promise<void> {
  if (!baseline) return;
  notify(observer.progress, `auditing ${ledger.entries.length} orders against the database`);
  try {
    journal.audit = await withWriter(lab, async (db) => {
      await settle(db);
      // The lab's own client of the order queue says where the 202s not in the database are.
      return auditOrders(db, ledger.entries, baseline, lab.queue);
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
    // No orders table: the instances never created it (init-race), so nothing is being written.
    const { rows: tables } = await db.query<{ orders: string | null }>("SELECT to_regclass('orders')::text AS orders");
    if (tables[0]?.orders == null) return;
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    const count = Number(rows[0]?.n ?? 0);
    if (count === last) return;
    last = count;
    await sleep(500);
  }
}

export function trafficRecord(result: TrafficResult): Journal['traffic'] {
  return {
    reads: { ...result.reads, cache: result.reads.bySource['cache'] ?? 0 },
    writes: result.writes,
    durationMs: result.durationMs,
    series: result.series,
    generator: result.generator,
  };
}

export function probeRecord(results: ProbeResult[]): Journal['probe'] {
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
