// The gateway's execution environments, managed as Lambda manages them:
// - an invocation runs on an idle (warm) environment if there is one, else on a new one (a
//   cold start) while fewer than `concurrency` exist, else it waits in a bounded queue, else it
//   is throttled (429);
// - one invocation at a time per environment;
// - an environment is recycled after `maxInvocations` invocations or `idleMs` without one, so
//   that module-level memory survives some invocations and not others;
// - an environment that overruns the function timeout is killed.
// An environment holds its slot from its start until its process has exited, so that at most
// `concurrency` environment processes exist at any time.
import { FunctionInitError, FunctionTimeoutError, GatewayClosingError, ThrottledError } from './function-errors.ts';
import type { FunctionEvent, FunctionResponse } from './function-protocol.ts';
import type { PooledEnvironment } from './function-environment.ts';

/** How the pool runs environments. */
export interface PoolSettings {
  /** Environments at most, at once (Lambda's reserved concurrency). */
  concurrency: number;
  /** Invocations an environment serves before it is recycled. */
  maxInvocations: number;
  /** Idle time after which an environment is recycled. */
  idleMs: number;
  /** Requests that may wait for an environment; past it, 429. */
  queueSize: number;
  /** How long one invocation may run before its environment is killed (504). */
  functionTimeoutMs: number;
}

/** One invocation's outcome, as the pool saw it. */
export interface PoolInvocation {
  response: FunctionResponse;
  environmentId: string;
  pid: number;
  coldStart: boolean;
  /** The invocation's rank in its environment (1 for the first). */
  invocation: number;
  /** Time spent queued or cold-starting before the function ran. */
  waitedMs: number;
}

/** Why environments ended. */
export interface Recycles {
  maxInvocations: number;
  idle: number;
  timeout: number;
  crashed: number;
}

/** The pool's counters. */
export interface PoolMetrics {
  /** Invocations the function answered (any status). */
  invocations: number;
  coldStarts: number;
  environmentsAlive: number;
  environmentsStarted: number;
  peakEnvironments: number;
  busy: number;
  peakBusy: number;
  queued: number;
  peakQueued: number;
  throttles: number;
  initFailures: number;
  /** Invocations that ended in a function timeout or crash. */
  functionErrors: number;
  recycles: Recycles;
  environments: Array<{ id: string; pid: number; invocations: number; busy: boolean; initMs: number }>;
}

interface Slot {
  env: PooledEnvironment;
  invocations: number;
  busy: boolean;
  retiring: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

interface Waiter {
  event: FunctionEvent;
  receivedAt: number;
  resolve(result: PoolInvocation): void;
  reject(error: Error): void;
}

/** Starts an environment with the given id. */
export type EnvironmentStarter = (id: string) => Promise<PooledEnvironment>;

/** A pool of execution environments. */
export class EnvironmentPool {
  readonly #settings: PoolSettings;
  readonly #start: EnvironmentStarter;
  readonly #slots = new Map<string, Slot>();
  /** Warm environments, the most recently used last (reused first, so the others go idle). */
  readonly #idle: Slot[] = [];
  readonly #queue: Waiter[] = [];
  #taken = 0;
  #closed = false;
  readonly #metrics = {
    invocations: 0,
    coldStarts: 0,
    environmentsStarted: 0,
    peakEnvironments: 0,
    peakBusy: 0,
    peakQueued: 0,
    throttles: 0,
    initFailures: 0,
    functionErrors: 0,
    recycles: { maxInvocations: 0, idle: 0, timeout: 0, crashed: 0 },
  };

  constructor(settings: PoolSettings, start: EnvironmentStarter) {
    this.#settings = settings;
    this.#start = start;
  }

  /** Runs `event` on an environment; rejects with a ThrottledError (429) when none can take it. */
  invoke(event: FunctionEvent): Promise<PoolInvocation> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new GatewayClosingError());
      const waiter: Waiter = { event, receivedAt: performance.now(), resolve, reject };
      const warm = this.#idle.pop();
      if (warm) return void this.#run(warm, waiter, false);
      if (this.#taken < this.#settings.concurrency) return this.#coldStart(waiter);
      if (this.#queue.length >= this.#settings.queueSize) {
        this.#metrics.throttles++;
        return reject(new ThrottledError(this.#settings.concurrency, this.#settings.queueSize));
      }
      this.#queue.push(waiter);
      this.#metrics.peakQueued = Math.max(this.#metrics.peakQueued, this.#queue.length);
    });
  }

  metrics(): PoolMetrics {
    const slots = [...this.#slots.values()];
    return {
      ...this.#metrics,
      recycles: { ...this.#metrics.recycles },
      environmentsAlive: this.#taken,
      busy: slots.filter((slot) => slot.busy).length,
      queued: this.#queue.length,
      environments: slots.map((slot) => ({ id: slot.env.id, pid: slot.env.pid, invocations: slot.invocations, busy: slot.busy, initMs: slot.env.initMs })),
    };
  }

  /** Refuses new invocations, fails the queued ones, and stops every environment. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#queue.splice(0)) waiter.reject(new GatewayClosingError());
    await Promise.allSettled([...this.#slots.values()].map((slot) => this.#retire(slot)));
  }

  #coldStart(waiter: Waiter): void {
    this.#taken++;
    this.#metrics.coldStarts++;
    this.#metrics.peakEnvironments = Math.max(this.#metrics.peakEnvironments, this.#taken);
    const id = `e-${++this.#metrics.environmentsStarted}`;
    this.#start(id).then(
      (env) => {
        const slot: Slot = { env, invocations: 0, busy: false, retiring: false, idleTimer: undefined };
        this.#slots.set(id, slot);
        void env.exited.then(() => this.#gone(slot));
        if (this.#closed) {
          waiter.reject(new GatewayClosingError());
          void this.#retire(slot);
          return;
        }
        void this.#run(slot, waiter, true);
      },
      (error: unknown) => {
        this.#taken--;
        this.#metrics.initFailures++;
        waiter.reject(new FunctionInitError(error instanceof Error ? error.message : String(error)));
        this.#pump();
      },
    );
  }

  async #run(slot: Slot, waiter: Waiter, coldStart: boolean): Promise<void> {
    clearTimeout(slot.idleTimer);
    slot.busy = true;
    slot.invocations++;
    const invocation = slot.invocations;
    const busy = [...this.#slots.values()].filter((s) => s.busy).length;
    this.#metrics.peakBusy = Math.max(this.#metrics.peakBusy, busy);
    const waitedMs = performance.now() - waiter.receivedAt;
    try {
      const response = await slot.env.invoke(waiter.event, this.#settings.functionTimeoutMs);
      this.#metrics.invocations++;
      waiter.resolve({ response, environmentId: slot.env.id, pid: slot.env.pid, coldStart, invocation, waitedMs });
    } catch (error) {
      this.#metrics.functionErrors++;
      // A function that overran its timeout may still be running: its environment is not reused.
      if (error instanceof FunctionTimeoutError) this.#metrics.recycles.timeout++;
      else this.#metrics.recycles.crashed++;
      slot.retiring = true;
      slot.env.kill();
      waiter.reject(error as Error);
      return; // its exit frees the slot
    } finally {
      slot.busy = false;
    }
    this.#release(slot);
  }

  /** An environment finished an invocation: recycle it, give it the next request, or let it idle. */
  #release(slot: Slot): void {
    if (slot.retiring || this.#closed) return;
    if (slot.invocations >= this.#settings.maxInvocations) {
      this.#metrics.recycles.maxInvocations++;
      void this.#retire(slot);
      return;
    }
    const next = this.#queue.shift();
    if (next) return void this.#run(slot, next, false);
    this.#idle.push(slot);
    slot.idleTimer = setTimeout(() => {
      this.#metrics.recycles.idle++;
      void this.#retire(slot);
    }, this.#settings.idleMs);
    slot.idleTimer.unref();
  }

  async #retire(slot: Slot): Promise<void> {
    slot.retiring = true;
    clearTimeout(slot.idleTimer);
    this.#removeIdle(slot);
    await slot.env.stop();
  }

  /** An environment's process has exited: its slot is free for a queued request. */
  #gone(slot: Slot): void {
    if (!this.#slots.delete(slot.env.id)) return;
    clearTimeout(slot.idleTimer);
    this.#removeIdle(slot);
    // Died on its own (killed from outside) while idle: a crash too. A busy one's invocation
    // counts it when its rejection arrives.
    if (!slot.retiring && !slot.busy) this.#metrics.recycles.crashed++;
    this.#taken--;
    this.#pump();
  }

  #removeIdle(slot: Slot): void {
    const at = this.#idle.indexOf(slot);
    if (at >= 0) this.#idle.splice(at, 1);
  }

  #pump(): void {
    while (!this.#closed && this.#queue.length > 0 && this.#taken < this.#settings.concurrency) this.#coldStart(this.#queue.shift()!);
  }
}
