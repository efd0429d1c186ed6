// The action catalogue: what an experiment can do to the lab. Each action reports what it
// actually did (which instance, which server, how many connections were cut), so the journal
// proves the fault landed; actions with a duration are undone when it ends or the run stops.
import { dependencyNamed, dependencyTarget } from '../lab/dependencies.ts';
import type { Lab } from '../lab/lab.ts';
import { FAULT_TYPES } from '../lab/fault-proxy/faults/index.ts';
import { FaultProxyApiError } from '../lab/fault-proxy/client.ts';
import type { AddFaultResult } from '../lab/fault-proxy/fault-proxy.ts';
import type { InstanceStatus } from '../lab/fleet/instance-group.ts';
import { BREAKER_LAB_ACTIONS, BREAKER_LAB_ROLLBACKS } from './breaker-lab-actions.ts';
import type { LabKind } from './lab-kind.ts';
import type { Selectable } from './target-selection.ts';

/** The kinds of resource a target can select. */
export type ResourceType = 'lab:instance' | 'lab:dependency' | 'lab:db-cluster' | 'lab:db-proxy';

/** A JSON-able report of what an action did. */
export type Effect = Record<string, unknown>;

/** What an action needs when it runs; `lab` is the lab of the action's kind (the shop's Lab by default). */
export interface ActionContext<L = Lab> {
  lab: L;
  /** Resolved resource ids, by the action's target key (e.g. Instances). */
  targets: Record<string, string[]>;
  parameters: Record<string, unknown>;
  /** The action's duration, when it has one (faults leased a little longer as a safety net). */
  durationMs: number | undefined;
}

/** What running an action did, and how to undo it when its duration ends. */
export interface ActionOutcome {
  effect: Effect;
  undo?: () => Promise<Effect>;
}

/** One entry of the catalogue. */
export interface ActionDefinition<L = Lab> {
  id: string;
  description: string;
  /** The lab it acts on (any: every lab); a template of another lab kind cannot use it. */
  labKind: LabKind | 'any';
  /** The key under `targets` and the resource type it must name; absent: the action takes no target. */
  target?: { key: string; resourceType: ResourceType };
  duration: 'required' | 'optional' | 'none';
  /** Problems with the parameters, each naming the field (relative to `at`) and the bad value. */
  checkParameters: (parameters: Record<string, unknown>, at: string) => string[];
  // A method, so that a catalogue can hold actions on different labs (the runner hands each the lab of its kind).
  run(context: ActionContext<L>): Promise<ActionOutcome>;
}

/** A rollback: puts the lab of its kind back, at the end of every run. */
export interface RollbackDefinition<L = Lab> {
  description: string;
  labKind: LabKind;
  run(lab: L): Promise<Effect>;
}

/** An action that failed part way: what it had done before it failed goes into the journal. */
export class PartialActionError extends Error {
  readonly effect: Effect;
  constructor(message: string, effect: Effect) {
    super(message);
    this.name = 'PartialActionError';
    this.effect = effect;
  }
}

/** Applies `apply` to each id in turn; if one fails, the error carries what was done before it. */
function eachInstance(lab: Lab, ids: readonly string[], apply: (lab: Lab, id: string) => InstanceStatus): Effect {
  const instances: Effect[] = [];
  for (const id of ids) {
    try {
      instances.push(instanceSummary(apply(lab, id)));
    } catch (error) {
      throw new PartialActionError(`${id}: ${(error as Error).message}`, { instances });
    }
  }
  return { instances };
}

const noParameters = (parameters: Record<string, unknown>, at: string): string[] =>
  Object.keys(parameters).map((key) => `${at}.${key}: this action takes no parameters, got ${JSON.stringify(parameters[key])}`);

const instanceSummary = (status: InstanceStatus): Effect => ({ id: status.id, zone: status.zone, pid: status.pid });

function instanceAction(id: string, description: string, apply: (lab: Lab, instanceId: string) => InstanceStatus): ActionDefinition {
  return {
    id,
    description,
    labKind: 'shop',
    target: { key: 'Instances', resourceType: 'lab:instance' },
    duration: 'none',
    checkParameters: noParameters,
    run: async ({ lab, targets }) => ({ effect: eachInstance(lab, targets['Instances'] ?? [], apply) }),
  };
}

const DIRECTIONS = ['upstream', 'downstream', 'both'];

function checkDisruption(parameters: Record<string, unknown>, at: string): string[] {
  const problems: string[] = [];
  const known = ['fault', 'params', 'direction', 'toxicity'];
  for (const key of Object.keys(parameters)) {
    if (!known.includes(key)) problems.push(`${at}.${key}: unknown parameter (expected ${known.join(', ')}), got ${JSON.stringify(parameters[key])}`);
  }
  if (typeof parameters['fault'] !== 'string' || !FAULT_TYPES.has(parameters['fault'])) {
    problems.push(`${at}.fault: must be one of ${[...FAULT_TYPES.keys()].join(', ')}, got ${JSON.stringify(parameters['fault'])}`);
  }
  const params = parameters['params'];
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    problems.push(`${at}.params: must be an object of the fault's parameters, got ${JSON.stringify(params)}`);
  } else if (typeof parameters['fault'] === 'string' && FAULT_TYPES.has(parameters['fault'])) {
    // The fault type checks its own parameters, as the fault proxy will.
    try {
      FAULT_TYPES.get(parameters['fault'])!.parse((params as Record<string, unknown> | undefined) ?? {});
    } catch (error) {
      problems.push(`${at}.params: ${(error as Error).message}`);
    }
  }
  const direction = parameters['direction'];
  if (direction !== undefined && !DIRECTIONS.includes(direction as string)) {
    problems.push(`${at}.direction: must be one of ${DIRECTIONS.join(', ')}, got ${JSON.stringify(direction)}`);
  }
  const toxicity = parameters['toxicity'];
  if (toxicity !== undefined && (typeof toxicity !== 'number' || toxicity < 0 || toxicity > 1)) {
    problems.push(`${at}.toxicity: must be a number from 0 to 1, got ${JSON.stringify(toxicity)}`);
  }
  return problems;
}

/** How much longer than its duration a fault's lease runs: if the runner dies, the fault still ends. */
const LEASE_MARGIN_MS = 5000;

const SHOP_ACTIONS: ActionDefinition[] = [
    {
      id: 'lab:wait',
      description: 'waits for its duration (to place later actions in time)',
      labKind: 'any',
      duration: 'required',
      checkParameters: noParameters,
      run: async () => ({ effect: {} }),
    },
    instanceAction('lab:instance:stop', 'stops instances gracefully (SIGTERM); the group replaces them', (lab, id) => lab.group.stop(id)),
    instanceAction('lab:instance:kill', 'kills instances (SIGKILL); the group replaces them', (lab, id) => lab.group.kill(id)),
    instanceAction('lab:instance:terminate', 'terminates instances: they leave the group and the load balancer', (lab, id) => lab.group.terminate(id)),
    {
      id: 'lab:instance:pause',
      description: 'pauses instances (SIGSTOP: a hung host); resumed when the duration ends',
      labKind: 'shop',
      target: { key: 'Instances', resourceType: 'lab:instance' },
      duration: 'optional',
      checkParameters: noParameters,
      run: async ({ lab, targets }) => {
        const ids = targets['Instances'] ?? [];
        try {
          return { effect: eachInstance(lab, ids, (l, id) => l.group.pause(id)), undo: async () => ({ resumed: resumePaused(lab, ids) }) };
        } catch (error) {
          // Do not leave the first ones paused, and say so.
          let resumedAfterFailure: string[] = [];
          try {
            resumedAfterFailure = resumePaused(lab, ids);
          } catch {
            // the original failure is the one to report
          }
          const effect = error instanceof PartialActionError ? error.effect : {};
          throw new PartialActionError((error as Error).message, { ...effect, resumedAfterFailure });
        }
      },
    },
    {
      id: 'lab:db:failover',
      description: 'fails the database cluster over: the reader is promoted, the old writer rebuilt as the reader',
      labKind: 'shop',
      duration: 'none',
      checkParameters: noParameters,
      run: async ({ lab }) => {
        const result = await lab.cluster.failover();
        const effect: Effect = {
          // When the writer went away: after the check that the reader streams (up to 5 s), so not the action's start.
          startedAt: result.startedAt,
          promoted: result.promoted,
          demoted: result.demoted,
          cutConnections: result.cutConnections,
          writerUnavailableMs: result.writerUnavailableMs,
        };
        try {
          effect['readerRebuiltMs'] = (await result.readerRebuilt).durationMs;
        } catch (error) {
          effect['readerRebuildError'] = (error as Error).message;
        }
        return { effect };
      },
    },
    {
      id: 'lab:db-proxy:deregister',
      description: "deregisters the database proxy's targets (a complete database outage); registered again when the duration ends",
      labKind: 'shop',
      duration: 'optional',
      checkParameters: noParameters,
      run: async ({ lab }) => ({ effect: { ...lab.databaseProxy.deregister() }, undo: async () => ({ ...lab.databaseProxy.register() }) }),
    },
    {
      id: 'lab:db-proxy:register',
      description: "registers the database proxy's targets again",
      labKind: 'shop',
      duration: 'none',
      checkParameters: noParameters,
      // wasRegistered: whether this registration brought the database back (the degradation section's return).
      run: async ({ lab }) => ({ effect: { wasRegistered: lab.databaseProxy.registered, ...lab.databaseProxy.register() } }),
    },
    {
      id: 'lab:network:disrupt',
      description: 'disrupts the network to dependencies (refuse, blackhole, reset, latency, …) for the duration',
      labKind: 'shop',
      target: { key: 'Dependencies', resourceType: 'lab:dependency' },
      duration: 'required',
      checkParameters: checkDisruption,
      run: async ({ lab, targets, parameters, durationMs }) => {
        const client = lab.faultProxy.client;
        const faults: AddFaultResult[] = [];
        for (const dependency of targets['Dependencies'] ?? []) {
          try {
            faults.push(
              await client.addFault(dependency, {
                type: parameters['fault'] as string,
                params: parameters['params'] as Record<string, unknown> | undefined,
                direction: parameters['direction'] as 'upstream' | 'downstream' | 'both' | undefined,
                toxicity: parameters['toxicity'] as number | undefined,
                durationMs: (durationMs ?? 0) + LEASE_MARGIN_MS,
              }),
            );
          } catch (error) {
            // All or nothing: the faults already added are removed again.
            const removedAfterFailure: string[] = [];
            for (const fault of faults) {
              if (await client.removeFault(fault.proxy, fault.id).then(() => true, () => false)) removedAfterFailure.push(fault.id);
            }
            throw new PartialActionError(`${dependency}: ${(error as Error).message}`, { faults: [], removedAfterFailure });
          }
        }
        const effect = {
          faults: faults.map((f) => ({ id: f.id, dependency: f.proxy, type: f.type, affectedConnections: f.affectedConnections, openConnections: f.openConnections, listenerClosed: f.listenerClosed })),
        };
        const undo = async (): Promise<Effect> => {
          // Every fault is tried, whatever happens to the one before; one gone already (its lease
          // ran out) counts as removed.
          const removed: Effect[] = [];
          const notRemoved: Effect[] = [];
          for (const fault of faults) {
            try {
              const result = await client.removeFault(fault.proxy, fault.id);
              removed.push({ id: result.id, releasedConnections: result.releasedConnections, listenerReopened: result.listenerReopened });
            } catch (error) {
              if (error instanceof FaultProxyApiError && error.status === 404) removed.push({ id: fault.id, alreadyGone: true });
              else notRemoved.push({ id: fault.id, error: (error as Error).message });
            }
          }
          if (notRemoved.length > 0) throw new PartialActionError(`could not remove ${notRemoved.length} fault(s)`, { removed, notRemoved });
          return { removed };
        };
        return { effect, undo };
      },
    },
    {
      id: 'lab:network:clear',
      description: 'removes every network fault',
      labKind: 'shop',
      duration: 'none',
      checkParameters: noParameters,
      run: async ({ lab }) => ({ effect: { cleared: (await lab.faultProxy.client.clearFaults()).length } }),
    },
];

/** Every action an experiment can take, by id (each names the lab kind it acts on). */
export const ACTIONS: ReadonlyMap<string, ActionDefinition<unknown>> = new Map<string, ActionDefinition<unknown>>(
  [...SHOP_ACTIONS, ...BREAKER_LAB_ACTIONS].map((action) => [action.id, action]),
);

/** Rollbacks: actions that put the lab back, run at the end of every run (also a stopped or failed one). */
const SHOP_ROLLBACKS: Array<[string, RollbackDefinition]> = [
  ['lab:instance:resume-all', { description: 'resumes every paused instance', labKind: 'shop', run: async (lab: Lab) => ({ resumed: resumePaused(lab, lab.group.instances().map((i) => i.id)) }) }],
  // wasRegistered false: the rollback itself brought the database back (a run stopped before its own return).
  ['lab:db-proxy:register', { description: "registers the database proxy's targets", labKind: 'shop', run: async (lab: Lab) => ({ wasRegistered: lab.databaseProxy.registered, ...lab.databaseProxy.register() }) }],
  ['lab:network:clear', { description: 'removes every network fault', labKind: 'shop', run: async (lab: Lab) => ({ cleared: (await lab.faultProxy.client.clearFaults()).length }) }],
];

export const ROLLBACKS: ReadonlyMap<string, RollbackDefinition<unknown>> = new Map<string, RollbackDefinition<unknown>>([...SHOP_ROLLBACKS, ...BREAKER_LAB_ROLLBACKS]);

function resumePaused(lab: Lab, ids: readonly string[]): string[] {
  const resumed: string[] = [];
  for (const instance of lab.group.instances()) {
    if (ids.includes(instance.id) && instance.paused && instance.state === 'running') {
      lab.group.resume(instance.id);
      resumed.push(instance.id);
    }
  }
  return resumed;
}

/** What a target of `type` can select from, right now. */
export function resourcesOf(lab: Lab, type: ResourceType): Selectable[] {
  switch (type) {
    case 'lab:instance': {
      // Zone and launch order within the zone: the same in every fresh lab, unlike the ids.
      const launched = new Map<string, number>();
      return lab.group
        .instances()
        .sort((a, b) => a.launchedAt.localeCompare(b.launchedAt))
        .map((i) => {
          const order = launched.get(i.zone) ?? 0;
          launched.set(i.zone, order + 1);
          return { instance: i, stableKey: `${i.zone}/${String(order).padStart(4, '0')}` };
        })
        .filter(({ instance }) => instance.state === 'running')
        .map(({ instance, stableKey }) => ({ id: instance.id, tags: { ...instance.tags }, stableKey }));
    }
    case 'lab:dependency':
      // The dependencies this lab has: the services store only where it runs.
      return lab.dependencies.map((d) => dependencyTarget(dependencyNamed(d.name)!));
    case 'lab:db-cluster':
      return [{ id: 'cluster', tags: { Engine: 'postgresql' } }];
    case 'lab:db-proxy':
      return [{ id: 'db-proxy', tags: {} }];
  }
}
