// The one place that knows there are several labs: the runner starts a lab through a driver,
// picked here by the plan's lab kind, and talks to the running lab through LabSession only.
import type { OrderLedger } from '../audit/ledger.ts';
import type { Lab } from '../lab/lab.ts';
import { BREAKER_LAB_DRIVER } from './breaker-lab-driver.ts';
import type { ResourceType } from './actions.ts';
import type { Journal } from './journal.ts';
import type { LabKind } from './lab-kind.ts';
import type { Timeline } from './observations.ts';
import type { RunObserver } from './observer.ts';
import type { RunPlan } from './plan.ts';
import { SHOP_LAB_DRIVER } from './shop-lab-driver.ts';
import type { Selectable } from './target-selection.ts';

/** A running lab, as the runner sees it. */
export interface LabSession {
  /** Where traffic, probes and the steady-state hypothesis go. */
  readonly url: string;
  /** The path of the traffic's reads (the shop: /products). */
  readonly readPath: string;
  /** What actions and rollbacks of this lab kind act on. */
  readonly actionLab: unknown;
  /** The shop's Lab itself, for whoever watches it live (the dashboard); undefined for a lab that is not one (the breaker lab). */
  readonly shopLab?: Lab;
  /** For stop conditions over the load balancer; absent: the lab has none (validation refuses lb.* metrics). */
  readonly loadBalancer: Pick<Lab, 'loadBalancer'> | undefined;
  /** Waits until the lab can take traffic (the shop: every target healthy). Throws the signal's reason when it aborts. */
  ready(signal: AbortSignal): Promise<void>;
  /** What a target of `type` can select from, right now. */
  resourcesOf(type: ResourceType): Selectable[];
  /** Just before the running phase (the shop: the order audit's baseline). */
  beforeRunning(): Promise<void>;
  /** After the running phase, before the rollbacks: what the run observed, into the journal. */
  observeAfter(plan: RunPlan, journal: Journal, timeline: Timeline, observer: RunObserver): Promise<void>;
  /** After the rollbacks (the shop: the order audit and the fleet). */
  afterRollbacks(journal: Journal, ledger: OrderLedger, observer: RunObserver): Promise<void>;
  close(): Promise<void>;
}

/** Starts one kind of lab for a plan. */
export interface LabDriver {
  start(plan: RunPlan, dir: string, onProgress: (line: string) => void): Promise<LabSession>;
}

const DRIVERS: Readonly<Record<LabKind, LabDriver>> = { shop: SHOP_LAB_DRIVER, 'breaker-lab': BREAKER_LAB_DRIVER };

/** The driver of the plan's lab kind. */
export function labDriverFor(plan: RunPlan): LabDriver {
  return DRIVERS[plan.lab.kind];
}
