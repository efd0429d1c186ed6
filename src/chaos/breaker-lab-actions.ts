// The actions and rollbacks of the circuit-breaker lab (lab.kind: breaker-lab): change what the
// unreliable backend does for a while, and report what it did (the backend's behaviour window,
// and on undo the calls that reached the backend while it lasted).
import { BackendBehaviourError, resolveBehaviour, type BackendBehaviour, type BreakerLab } from '../lab/breaker-lab/index.ts';
import type { ActionDefinition, Effect, RollbackDefinition } from './actions.ts';

/** What the breaker lab's actions act on: the lab, and the behaviour that counts as healthy in this run. */
export interface BreakerLabHandle {
  lab: BreakerLab;
  /** The healthy backend of this run (its latency from lab.breakerLab.backendLatency). */
  baseline: BackendBehaviour;
}

const BEHAVIOUR_FIELDS = ['failureRate', 'latencyMs', 'hang'];

function checkBehaviour(parameters: Record<string, unknown>, at: string): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(parameters)) {
    if (!BEHAVIOUR_FIELDS.includes(key)) problems.push(`${at}.${key}: unknown parameter (expected ${BEHAVIOUR_FIELDS.join(', ')}), got ${JSON.stringify(parameters[key])}`);
  }
  // The backend's own validation, field by field, so that one run reports every bad parameter.
  for (const key of BEHAVIOUR_FIELDS.filter((k) => k in parameters)) {
    try {
      resolveBehaviour({ [key]: parameters[key] });
    } catch (error) {
      if (!(error instanceof BackendBehaviourError)) throw error;
      problems.push(`${at}.${key}: ${error.message.replace(/^\S+ /, '')}`);
    }
  }
  return problems;
}

/** Puts the backend back to the run's healthy behaviour; reports the window that ended and the calls it received. */
async function restore(handle: BreakerLabHandle, failingWindow?: number): Promise<Effect> {
  const restored = await handle.lab.backend.setBehaviour(handle.baseline);
  const effect: Effect = { behaviour: restored.behaviour, window: restored.window };
  if (failingWindow !== undefined) {
    const window = (await handle.lab.backend.calls(Date.now())).windows[failingWindow];
    if (window) Object.assign(effect, { endedWindow: { index: window.index, calls: window.calls, outcomes: window.outcomes, lastedMs: (window.endedAt ?? Date.now()) - window.startedAt } });
  }
  return effect;
}

export const BREAKER_LAB_ACTIONS: ReadonlyArray<ActionDefinition<BreakerLabHandle>> = [
  {
    id: 'lab:backend:behaviour',
    description: "changes what the circuit-breaker lab's backend does (failureRate, latencyMs, hang; fields left out are healthy); back to healthy when the duration ends",
    labKind: 'breaker-lab',
    duration: 'optional',
    checkParameters: checkBehaviour,
    async run({ lab: handle, parameters }) {
      const changed = await handle.lab.backend.setBehaviour(resolveBehaviour(parameters));
      const windows = (await handle.lab.backend.calls(Date.now())).windows;
      const startedAt = windows[changed.window]?.startedAt;
      return {
        effect: { behaviour: changed.behaviour, window: changed.window, ...(startedAt !== undefined ? { startedAt: new Date(startedAt).toISOString() } : {}) },
        undo: () => restore(handle, changed.window),
      };
    },
  },
];

export const BREAKER_LAB_ROLLBACKS: ReadonlyArray<[string, RollbackDefinition<BreakerLabHandle>]> = [
  ['lab:backend:restore', { description: "puts the circuit-breaker lab's backend back to healthy", labKind: 'breaker-lab', run: (handle) => restore(handle) }],
];
