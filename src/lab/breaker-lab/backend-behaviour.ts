// What the unreliable backend does with a call (the seed's "unreliable backend Lambda"), and
// the record of the calls it received: the truth of how much load reached it during an outage.

/** How the backend answers, until told otherwise. */
export interface BackendBehaviour {
  /** Share of calls answered 500 (0 to 1; decided per call, at random). */
  failureRate: number;
  /** Added before every answer, in milliseconds. */
  latencyMs: number;
  /** Accept the call and never answer (beyond any caller's timeout). */
  hang: boolean;
}

/** The healthy backend. */
export const HEALTHY_BEHAVIOUR: Readonly<BackendBehaviour> = Object.freeze({ failureRate: 0, latencyMs: 0, hang: false });

/** Bad input to setBehaviour; `field` and `value` name it. */
export class BackendBehaviourError extends Error {
  readonly code = 'INVALID_BEHAVIOUR';
  readonly status = 400;
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string) {
    super(`${field} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
    this.name = 'BackendBehaviourError';
    this.field = field;
    this.value = value;
  }
}

// A latency past this is a hang: say hang.
const MAX_LATENCY_MS = 600_000;

/**
 * A behaviour from untrusted input. Fields left out take the healthy value, so that one call
 * says everything the backend does (an action "fail every call" does not inherit a latency).
 */
export function resolveBehaviour(input: unknown): BackendBehaviour {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BackendBehaviourError('behaviour', input, 'an object {failureRate?, latencyMs?, hang?}');
  }
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in HEALTHY_BEHAVIOUR)) throw new BackendBehaviourError(key, given[key], 'absent (known fields: failureRate, latencyMs, hang)');
  }
  const { failureRate = 0, latencyMs = 0, hang = false } = given;
  if (typeof failureRate !== 'number' || !Number.isFinite(failureRate) || failureRate < 0 || failureRate > 1) {
    throw new BackendBehaviourError('failureRate', failureRate, 'a number from 0 to 1');
  }
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0 || latencyMs > MAX_LATENCY_MS) {
    throw new BackendBehaviourError('latencyMs', latencyMs, `a number of milliseconds from 0 to ${MAX_LATENCY_MS}`);
  }
  if (typeof hang !== 'boolean') throw new BackendBehaviourError('hang', hang, 'true or false');
  return { failureRate, latencyMs, hang };
}

/** What the backend did with one call, decided when it arrived. */
export type CallOutcome = 'ok' | 'error' | 'hang';

/** One call received. `at` is wall-clock epoch milliseconds. */
export interface ReceivedCall {
  at: number;
  /** The behaviour window it arrived in. */
  window: number;
  outcome: CallOutcome;
}

/** The calls received while one behaviour held. */
export interface BehaviourWindow {
  index: number;
  behaviour: BackendBehaviour;
  startedAt: number;
  /** null while it is the current one. */
  endedAt: number | null;
  calls: number;
  outcomes: Record<CallOutcome, number>;
}

/** The backend's counters, as its control API reports them. */
export interface BackendCalls {
  total: number;
  windows: BehaviourWindow[];
  /** The calls received at or after `since` (all of them when not asked), oldest first. */
  calls: ReceivedCall[];
  /** Calls forgotten from the start of the log (it keeps the last MAX_CALL_LOG). */
  dropped: number;
}

/** Calls kept in the log: a long run at full speed stays bounded. */
export const MAX_CALL_LOG = 200_000;

/** The backend's behaviour over time and every call it received. */
export class CallLedger {
  readonly #windows: BehaviourWindow[] = [];
  readonly #calls: ReceivedCall[] = [];
  readonly #now: () => number;
  #total = 0;
  #dropped = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#open(HEALTHY_BEHAVIOUR);
  }

  get behaviour(): BackendBehaviour {
    return this.#current.behaviour;
  }

  /** The current window's index. */
  get window(): number {
    return this.#current.index;
  }

  get #current(): BehaviourWindow {
    return this.#windows.at(-1)!;
  }

  /** Starts a new window with `behaviour`. */
  set(behaviour: BackendBehaviour): BehaviourWindow {
    this.#current.endedAt = this.#now();
    return this.#open(behaviour);
  }

  /** Counts a call arriving now and decides its outcome under the current behaviour. */
  receive(random: () => number = Math.random): ReceivedCall & { behaviour: BackendBehaviour } {
    const window = this.#current;
    const { behaviour } = window;
    const outcome: CallOutcome = behaviour.hang ? 'hang' : random() < behaviour.failureRate ? 'error' : 'ok';
    const call: ReceivedCall = { at: this.#now(), window: window.index, outcome };
    this.#total++;
    window.calls++;
    window.outcomes[outcome]++;
    this.#calls.push(call);
    if (this.#calls.length > MAX_CALL_LOG) {
      const extra = this.#calls.length - MAX_CALL_LOG;
      this.#calls.splice(0, extra);
      this.#dropped += extra;
    }
    return { ...call, behaviour };
  }

  /** The counters; `since` (epoch ms) limits the call list. */
  report(since?: number): BackendCalls {
    const calls = since === undefined ? [...this.#calls] : this.#calls.filter((call) => call.at >= since);
    return { total: this.#total, windows: this.#windows.map((w) => ({ ...w, outcomes: { ...w.outcomes } })), calls, dropped: this.#dropped };
  }

  #open(behaviour: BackendBehaviour): BehaviourWindow {
    const window: BehaviourWindow = {
      index: this.#windows.length,
      behaviour: { ...behaviour },
      startedAt: this.#now(),
      endedAt: null,
      calls: 0,
      outcomes: { ok: 0, error: 0, hang: 0 },
    };
    this.#windows.push(window);
    return window;
  }
}
