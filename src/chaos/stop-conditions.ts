// Stop conditions: alarms over lab metrics, watched all through the running phase. When one
// breaches for its `for` duration, it fires and the run stops (FIS's CloudWatch alarms).
import type { Lab } from '../lab/lab.ts';
import type { StopConditionRecord } from './journal.ts';
import type { PlannedStopCondition } from './plan.ts';

const EVERY_MS = 100;

interface Sample {
  at: number;
  total: number;
  errors: number;
}

/** Request outcomes the traffic generator reports, for traffic.failureRate. */
export class OutcomeWindow {
  readonly #outcomes: Array<{ at: number; failed: boolean }> = [];
  readonly #keepMs: number;

  constructor(keepMs: number) {
    this.#keepMs = keepMs;
  }

  add(failed: boolean, at = Date.now()): void {
    this.#outcomes.push({ at, failed });
    while (this.#outcomes.length > 0 && this.#outcomes[0]!.at < at - this.#keepMs) this.#outcomes.shift();
  }

  /** Failed / all over the last `windowMs` (0 when nothing was answered). */
  failureRate(windowMs: number, now = Date.now()): number {
    const recent = this.#outcomes.filter((o) => o.at >= now - windowMs);
    return recent.length === 0 ? 0 : recent.filter((o) => o.failed).length / recent.length;
  }
}

function breached(operator: PlannedStopCondition['operator'], value: number, threshold: number): boolean {
  switch (operator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

/** Watches the stop conditions; calls `onFire` once, with the first one that fires. */
export class StopConditionWatch {
  readonly records: StopConditionRecord[];
  readonly #conditions: readonly PlannedStopCondition[];
  readonly #lab: Pick<Lab, 'loadBalancer'> | undefined;
  readonly #outcomes: OutcomeWindow;
  readonly #breachSince = new Map<number, number>();
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #fired = false;
  #stopped = false;

  constructor(conditions: readonly PlannedStopCondition[], lab: Pick<Lab, 'loadBalancer'> | undefined, outcomes: OutcomeWindow) {
    this.#conditions = conditions;
    this.#lab = lab;
    this.#outcomes = outcomes;
    this.records = conditions.map((c) => ({ name: c.name, metric: c.metric, operator: c.operator, threshold: c.threshold, fired: false }));
  }

  start(onFire: (record: StopConditionRecord) => void): void {
    if (this.#conditions.length === 0) return;
    let busy = false;
    this.#timer = setInterval(() => {
      if (busy || this.#fired) return;
      busy = true;
      this.#check(onFire)
        .catch(() => {}) // a metric that cannot be read this time is read again next time
        .finally(() => (busy = false));
    }, EVERY_MS);
  }

  /** No condition fires after this, not even from a check already under way. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  async #check(onFire: (record: StopConditionRecord) => void): Promise<void> {
    const now = Date.now();
    await this.#sampleRequests(now);
    for (const [index, condition] of this.#conditions.entries()) {
      const value = this.#value(condition, now);
      if (!breached(condition.operator, value, condition.threshold)) {
        this.#breachSince.delete(index);
        continue;
      }
      const since = this.#breachSince.get(index) ?? now;
      this.#breachSince.set(index, since);
      if (now - since >= condition.forMs && !this.#fired && !this.#stopped) {
        this.#fired = true;
        const record = this.records[index]!;
        Object.assign(record, { fired: true, firedAt: new Date(now).toISOString(), value });
        onFire(record);
        return;
      }
    }
  }

  #value(condition: PlannedStopCondition, now: number): number {
    switch (condition.metric) {
      case 'lb.healthyHosts':
        return this.#lab?.loadBalancer.targets().filter((t) => t.inRotation).length ?? 0;
      case 'lb.unhealthyHosts':
        return this.#lab?.loadBalancer.targets().filter((t) => !t.inRotation).length ?? 0;
      case 'lb.http5xxRate': {
        // From the last sample at or before the window's start (or the oldest), so a window
        // shorter than the sampling period still sees the requests between two samples.
        const latest = this.#samples.at(-1);
        const first = this.#samples.findLast((s) => s.at <= now - condition.windowMs) ?? this.#samples[0];
        if (!latest || !first || latest.total === first.total) return 0;
        return (latest.errors - first.errors) / (latest.total - first.total);
      }
      case 'traffic.failureRate':
        return this.#outcomes.failureRate(condition.windowMs, now);
    }
  }

  /** The load balancer's request counter, sampled for its 5xx rate. */
  async #sampleRequests(now: number): Promise<void> {
    if (!this.#conditions.some((c) => c.metric === 'lb.http5xxRate')) return;
    const metric = this.#lab?.loadBalancer.registry.getSingleMetric('chaos_lb_requests_total');
    if (!metric) return;
    const { values } = await metric.get();
    let total = 0;
    let errors = 0;
    for (const { value, labels } of values) {
      total += value;
      if (String(labels['status']).startsWith('5')) errors += value;
    }
    this.#samples.push({ at: now, total, errors });
    const keep = Math.max(...this.#conditions.map((c) => c.windowMs));
    while (this.#samples.length > 2 && this.#samples[1]!.at <= now - keep) this.#samples.shift();
  }
}
