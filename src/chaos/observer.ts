// Who watches a run, and how they are called: never in a way that can break it.
import type { TrafficTotals } from '../traffic/traffic-generator.ts';
import type { EndpointTotals } from '../traffic/endpoint-probe.ts';
import type { ProbeResult } from '../traffic/probe.ts';
import type { ActionRecord, RunState, StopConditionRecord } from './journal.ts';

/** Who watches a run: every callback is optional, and none can break the run. */
export interface RunObserver {
  state?: (state: RunState) => void;
  /** Lab start-up steps and other one-line news. */
  progress?: (line: string) => void;
  /** The traffic's totals so far (the articles' STATUS lines). */
  status?: (totals: TrafficTotals, elapsedMs: number) => void;
  probe?: (result: ProbeResult) => void;
  /** The endpoint probe's totals so far, per endpoint (Article 7). */
  endpoints?: (totals: EndpointTotals, elapsedMs: number) => void;
  action?: (record: ActionRecord) => void;
  stopCondition?: (record: StopConditionRecord) => void;
}

/** Calls an observer with a copy of what it is shown; whatever it throws or rejects with is ignored. */
export function notify<A extends unknown[]>(callback: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    const result: unknown = callback?.(...(structuredClone(args) as A));
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // An observer can never break a run.
  }
}
