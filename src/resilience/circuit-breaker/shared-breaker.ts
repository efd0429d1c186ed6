// A circuit breaker whose state lives in a shared store, so that every instance of a fleet and
// every stateless invocation sees one breaker. The design keeps the store off the hot path:
// - the healthy success path writes nothing and reads the store at most once per
//   refreshIntervalMs (in the background while calls keep coming; a call waits for the read
//   only in a fresh process, or after the instance sat idle for two intervals);
// - failures are counted by guarded UPDATEs on the generation the instance saw, one in flight per
//   instance, each carrying the failures accumulated while the previous one was out; the write
//   that reaches the threshold opens the circuit, and racing writes of the same generation miss.
//   Once the instance's view plus its unacknowledged failures reach the threshold it fails fast
//   on its own until the store answers, so fast failures cannot outrun the write;
// - while OPEN an instance fails fast on its own, from the store's "open for" age plus its own
//   monotonic clock; when it estimates the recovery timeout over, it asks the store for the trial,
//   which one instance of the fleet gets (the store's clock decides), with a lease;
// - when the store does not answer within storeTimeoutMs, the breaker carries on as a local
//   breaker seeded with the last state it saw, says so in stats, and probes the store once per
//   refresh interval until it answers; no call ever fails because the store is down.
import {
  EVERY_ERROR_IS_A_FAILURE,
  MONOTONIC_CLOCK,
  emptyStats,
  type BreakerCallOptions,
  type CircuitBreaker,
  type CircuitBreakerStats,
  type CircuitTransition,
  type Clock,
} from './circuit-breaker.ts';
import { BreakerStoreTimeoutError, type BreakerRecord, type BreakerStore, type BreakerWrite } from './breaker-store.ts';
import { rejectLater, rejectionsFor, type Rejections } from './circuit-open-error.ts';
import { localFailures, newTally, type FailureTally } from './failure-tally.ts';
import { LocalCircuitBreaker } from './local-breaker.ts';
import type { CircuitState, MachineChange, MachineState } from './machine.ts';
import { positiveMs, resolveBreakerSettings, BreakerSettingsError, type CircuitBreakerSettings } from './settings.ts';
import { TransitionLog } from './transition-log.ts';

/** Options of a shared breaker. */
export interface SharedCircuitBreakerOptions extends BreakerCallOptions {
  /** The breaker's key in the store: instances that name the same breaker share it. */
  name: string;
  settings?: Partial<CircuitBreakerSettings>;
  store: BreakerStore;
  /** How stale the cached view may get before a background read (default 1000 ms). */
  refreshIntervalMs?: number;
  /** How long the HALF_OPEN trial holds its fleet-wide lease (overrides settings.trialLeaseMs). */
  trialLeaseMs?: number;
  /** Bound on every store call (default 250 ms): past it the store counts as unreachable. */
  storeTimeoutMs?: number;
}

/** Defaults of the shared breaker's own options. */
export const SHARED_BREAKER_DEFAULTS = Object.freeze({ refreshIntervalMs: 1000, storeTimeoutMs: 250 });

/** A breaker whose state is kept in `store`, shared by everyone who names the same breaker. */
export function sharedCircuitBreaker(options: SharedCircuitBreakerOptions): CircuitBreaker {
  if (typeof options.name !== 'string' || options.name === '') throw new BreakerSettingsError('name', options.name, 'a non-empty string');
  if (!options.store) throw new BreakerSettingsError('store', options.store, 'a BreakerStore (a shared breaker needs a store)');
  return new SharedCircuitBreaker(options);
}

interface View {
  record: BreakerRecord;
  /** Our clock when the record arrived: ages in the record are relative to it. */
  at: number;
  /** Our clock when the store last answered (with this record or an older one): when to read again. */
  checkedAt: number;
}

/** What a lost trial write was reporting: the local state takes it on if the store is out of reach. */
type LocalResult = { kind: 'trial'; success: boolean };

class SharedCircuitBreaker implements CircuitBreaker {
  readonly #name: string;
  readonly #store: BreakerStore;
  readonly #settings: CircuitBreakerSettings;
  readonly #refreshIntervalMs: number;
  readonly #storeTimeoutMs: number;
  readonly #clock: Clock;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #options: BreakerCallOptions;
  readonly #rejections: Rejections;
  readonly #log = new TransitionLog();
  readonly #stats: CircuitBreakerStats = emptyStats(true);
  readonly #pending = new Set<Promise<unknown>>();
  #view: View | undefined;
  #reading: Promise<void> | undefined;
  #acquiring = false;
  #tally: FailureTally = newTally(-1);
  /** The count write in flight (at most one): failures, or a reset. */
  #counting: 'failures' | 'reset' | undefined;
  /** Set while the store is out of reach: the local breaker that decides meanwhile. */
  #fallback: LocalCircuitBreaker | undefined;
  #lastProbeAt = 0;

  constructor(options: SharedCircuitBreakerOptions) {
    this.#name = options.name;
    this.#store = options.store;
    this.#settings = resolveBreakerSettings({ ...options.settings, trialLeaseMs: options.trialLeaseMs ?? options.settings?.trialLeaseMs });
    this.#refreshIntervalMs = positiveMs('refreshIntervalMs', options.refreshIntervalMs ?? SHARED_BREAKER_DEFAULTS.refreshIntervalMs);
    this.#storeTimeoutMs = positiveMs('storeTimeoutMs', options.storeTimeoutMs ?? SHARED_BREAKER_DEFAULTS.storeTimeoutMs);
    this.#clock = options.clock ?? MONOTONIC_CLOCK;
    this.#isFailure = options.isFailure ?? EVERY_ERROR_IS_A_FAILURE;
    this.#options = { clock: this.#clock, isFailure: this.#isFailure, name: options.name };
    this.#rejections = rejectionsFor(options.name);
  }

  get state(): CircuitState {
    if (this.#fallback) return this.#fallback.state;
    const record = this.#view?.record;
    if (!record) return 'CLOSED';
    return this.#trippedLocally(record) ? 'OPEN' : record.state;
  }

  execute<T>(fn: () => Promise<T>): Promise<T> {
    const now = this.#clock.now();
    if (this.#fallback) {
      if (now - this.#lastProbeAt >= this.#refreshIntervalMs) this.#probe(now);
      this.#stats.fallbackCalls++;
      return this.#fallback.execute(fn);
    }
    const view = this.#view;
    // A fresh process (a stateless invocation) knows nothing yet: its first call waits for one read.
    if (!view) return this.#refresh().then(() => this.execute(fn));
    const age = now - view.checkedAt;
    if (age >= this.#refreshIntervalMs) {
      // A busy instance refreshes in the background and decides on a view at most one interval
      // and a round trip old. An idle one (a recycled or sleeping environment) could hold a view
      // of any age, say CLOSED long after the fleet opened the circuit: it waits for the read.
      if (age >= 2 * this.#refreshIntervalMs) return this.#refresh().then(() => this.execute(fn));
      void this.#refresh();
    }
    const record = view.record;
    if (record.state === 'CLOSED') {
      if (this.#trippedLocally(record)) {
        this.#stats.rejected++;
        return rejectLater(this.#rejections.OPEN);
      }
      this.#stats.calls++;
      return this.#run(fn, record.generation, false);
    }
    const elapsed = now - view.at;
    const waiting =
      record.state === 'OPEN'
        ? (record.openForMs ?? 0) + elapsed < this.#settings.recoveryTimeoutMs
        : (record.trialLeaseLeftMs ?? 0) - elapsed > 0;
    // One request for the trial per instance at a time; the others fail fast meanwhile.
    if (waiting || this.#acquiring) {
      this.#stats.rejected++;
      return rejectLater(this.#rejections[record.state]);
    }
    return this.#tryTrial(fn, record.state, record.generation);
  }

  async #tryTrial<T>(fn: () => Promise<T>, from: 'OPEN' | 'HALF_OPEN', generation: number): Promise<T> {
    this.#acquiring = true;
    let write: BreakerWrite;
    try {
      write = await this.#storeCall('write', () =>
        this.#store.acquireTrial(this.#name, generation, from, this.#settings.recoveryTimeoutMs, this.#settings.trialLeaseMs),
      );
    } catch {
      // #storeCall has fallen back to local state: the local breaker decides this call.
      this.#stats.fallbackCalls++;
      return this.#fallback!.execute(fn);
    } finally {
      this.#acquiring = false;
    }
    const record = write.record;
    this.#accept(record, write.applied ? { from, to: 'HALF_OPEN', reason: from === 'OPEN' ? 'recovery timeout elapsed' : 'trial lease expired' } : undefined);
    if (write.applied) {
      this.#stats.calls++;
      this.#stats.trialCalls++;
      return this.#run(fn, record.generation, true);
    }
    // Another instance took the trial, or it already closed the circuit.
    if (record.state === 'CLOSED') {
      this.#stats.calls++;
      return this.#run(fn, record.generation, false);
    }
    this.#stats.rejected++;
    throw this.#rejections[record.state];
  }

  async #run<T>(fn: () => Promise<T>, generation: number, trial: boolean): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      const failure = this.#isFailure(error);
      if (failure) this.#stats.failures++;
      this.#report(failure, generation, trial);
      throw error;
    }
    this.#report(false, generation, trial);
    return result;
  }

  /** A result reaches the store only while it matters: a healthy success writes nothing. */
  #report(failure: boolean, generation: number, trial: boolean): void {
    const view = this.#view;
    // The store's generation moved on since the call was admitted (a trip, a lost trial lease),
    // or the store went out of reach meanwhile: the result changes nothing.
    if (this.#fallback || !view || view.record.generation !== generation) {
      this.#stats.staleResults++;
      return;
    }
    if (trial) {
      const change: MachineChange = failure
        ? { from: 'HALF_OPEN', to: 'OPEN', reason: 'trial call failed' }
        : { from: 'HALF_OPEN', to: 'CLOSED', reason: 'trial call succeeded' };
      this.#background(() => this.#store.completeTrial(this.#name, generation, !failure), change, { kind: 'trial', success: !failure });
      return;
    }
    let tally = this.#tally;
    if (tally.generation !== generation) tally = this.#tally = newTally(generation);
    if (failure) {
      tally.unacked++;
      tally.queued++;
      this.#trippedLocally(view.record);
    } else {
      // A healthy success writes nothing; one after failures (ours or the store's) starts the count
      // again, in the store too if it has (or is being sent) some that no reset in flight clears.
      const stored = view.record.failures > 0 || this.#counting === 'failures';
      if (tally.unacked === 0 && (!stored || tally.resetQueued || this.#counting === 'reset')) return;
      const resetQueued = tally.resetQueued || (stored && this.#counting !== 'reset');
      Object.assign(tally, { unacked: 0, queued: 0, sent: 0, resetQueued, tripped: false });
    }
    this.#pump();
  }

  /**
   * Sends the next count write unless one is in flight: one per instance, whatever the rate of
   * failures. Regression: every failed call wrote, every write that missed re-read, and 400
   * concurrent failures queued for the store's 4 pool connections past the store timeout: the
   * breaker declared a healthy store unreachable and fell back.
   */
  #pump(): void {
    const view = this.#view;
    const tally = this.#tally;
    if (this.#counting || this.#fallback || !view) return;
    // The generation moved on (a trip, a trial): what is left to count belongs to the old one.
    if (view.record.state !== 'CLOSED' || view.record.generation !== tally.generation) return;
    if (tally.resetQueued) {
      tally.resetQueued = false;
      this.#countWrite('reset', tally, () => this.#store.resetFailures(this.#name, tally.generation), undefined);
    } else if (tally.queued > 0) {
      this.#trippedLocally(view.record);
      const count = tally.queued;
      tally.queued = 0;
      tally.sent = count;
      const change: MachineChange = { from: 'CLOSED', to: 'OPEN', reason: `${this.#settings.failureThreshold} consecutive failures` };
      this.#countWrite('failures', tally, () => this.#store.recordFailure(this.#name, tally.generation, this.#settings.failureThreshold, count), change);
    }
  }

  /** A count write off the caller's path; `change` is what it does to the state when it applies and moves it. */
  #countWrite(kind: 'failures' | 'reset', tally: FailureTally, write: () => Promise<BreakerWrite>, change: MachineChange | undefined): void {
    this.#counting = kind;
    const running = this.#storeCall('write', write).then(
      (result) => {
        this.#counting = undefined;
        // The store has answered: what it counted is in its record now, and the local trip ends.
        tally.unacked -= tally.sent;
        tally.sent = 0;
        tally.tripped = false;
        this.#accept(result.record, result.applied && change?.to === result.record.state ? change : undefined);
        this.#pump();
      },
      () => (this.#counting = undefined), // already fallen back, seeded with the tally
    );
    this.#track(running);
  }

  /** A trial's result, off the caller's path; the local state takes `result` on if the store is out of reach. */
  #background(write: () => Promise<BreakerWrite>, change: MachineChange, result: LocalResult): void {
    const running = this.#storeCall('write', write, result).then(
      (result) => this.#accept(result.record, result.applied && change.to === result.record.state ? change : undefined),
      () => {}, // already fallen back
    );
    this.#track(running);
  }

  /**
   * Whether this instance fails fast in a CLOSED generation: its view's count plus the failures it
   * reported that the store has not acknowledged reach the threshold. Regression: failures reached
   * the store as background writes and the instance failed fast only once the tripping write
   * returned; requests failing in 5 ms kept reaching the dead dependency meanwhile (8 × 500, not 3).
   */
  #trippedLocally(record: BreakerRecord): boolean {
    const tally = this.#tally;
    if (record.state !== 'CLOSED' || tally.generation !== record.generation) return false;
    if (!tally.tripped) tally.tripped = localFailures(record, this.#tally, this.#counting === 'reset') >= this.#settings.failureThreshold;
    return tally.tripped;
  }

  /** One read at a time; resolves once the view is fresh or the breaker has fallen back. */
  #refresh(): Promise<void> {
    this.#reading ??= this.#storeCall('read', () => this.#store.read(this.#name))
      .then(
        (record) => this.#accept(record, undefined),
        () => {},
      )
      .finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  /** While fallen back: one read per refresh interval; the store's state wins once it answers. */
  #probe(now: number): void {
    this.#lastProbeAt = now;
    if (this.#reading) return;
    const probe = this.#store.read(this.#name);
    this.#reading = this.#bounded(probe)
      .then(
        (record) => {
          this.#stats.storeReads++;
          const local = this.#fallback;
          this.#fallback = undefined;
          this.#stats.storeAvailable = true;
          const at = this.#clock.now();
          this.#view = { record, at, checkedAt: at };
          this.#tally = newTally(-1); // the failures counted before the cut went into the local state
          if (local && local.state !== record.state) this.#changed({ from: local.state, to: record.state, reason: 'store reachable again' }, record.generation);
        },
        () => {
          this.#stats.storeReads++;
          this.#stats.storeErrors++;
        },
      )
      .finally(() => (this.#reading = undefined));
    this.#track(this.#reading);
  }

  /**
   * Takes a record from the store as the view, unless it is older than the one we hold. `own` is
   * the change our own write made; any other change of state is one we saw in the store.
   */
  #accept(record: BreakerRecord, own: MachineChange | undefined): void {
    if (this.#fallback) return;
    const now = this.#clock.now();
    const old = this.#view?.record;
    if (this.#view && old && record.generation < old.generation) {
      // Answers can cross (a read sent before our own write lands after it): keep the newer
      // generation, and count the view as fresh, as the store has just answered. Its ages
      // (openForMs, trialLeaseLeftMs) stay relative to when it arrived. Regression: stamping
      // the kept record with this arrival time pushed this instance's trial back by the gap.
      this.#view = { ...this.#view, checkedAt: now };
      return;
    }
    this.#view = { record, at: now, checkedAt: now };
    if (own) {
      this.#changed(own, record.generation);
      return;
    }
    const from = old?.state ?? 'CLOSED';
    if (from !== record.state) this.#changed({ from, to: record.state, reason: 'seen in the store' }, record.generation);
  }

  #changed(change: MachineChange, generation: number): void {
    this.#log.record(change, generation, this.#clock.now());
  }

  /**
   * A store call, bounded and counted; on failure the breaker falls back to local state (taking on
   * `result`, what a lost trial write was reporting, and the failures not yet acknowledged), and
   * the call rejects.
   */
  async #storeCall<R>(kind: 'read' | 'write', call: () => Promise<R>, result?: LocalResult): Promise<R> {
    if (kind === 'read') this.#stats.storeReads++;
    else this.#stats.storeWrites++;
    try {
      return await this.#bounded(call());
    } catch (error) {
      this.#stats.storeErrors++;
      this.#enterFallback(result);
      throw error;
    }
  }

  #bounded<R>(promise: Promise<R>): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BreakerStoreTimeoutError(this.#storeTimeoutMs)), this.#storeTimeoutMs);
    });
    promise.catch(() => {}); // a store call that loses the race may still reject later
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  #enterFallback(result?: LocalResult): void {
    if (this.#fallback) return;
    const now = this.#clock.now();
    this.#stats.storeAvailable = false;
    this.#stats.storeFallbacks++;
    this.#lastProbeAt = now;
    const initial = this.#seed(now, result);
    const from = this.#view?.record.state ?? 'CLOSED';
    this.#fallback = new LocalCircuitBreaker(this.#settings, this.#options, {
      log: this.#log,
      stats: this.#stats,
      initial,
      rejections: this.#rejections,
    });
    if (from !== initial.kind) this.#changed({ from, to: initial.kind, reason: 'store unreachable: local state' }, initial.generation);
  }

  /**
   * The local state to carry on from: what the store last said, in local time, with the result the
   * lost write was reporting applied to it. Regression: a trial that succeeded while the store was
   * being cut lost its "close" write, and the instance was seeded OPEN from its HALF_OPEN view: it
   * failed every request fast for a whole recovery timeout against a healthy dependency.
   */
  #seed(now: number, result?: LocalResult): MachineState {
    const view = this.#view;
    const generation = view?.record.generation ?? 0;
    if (result?.kind === 'trial') {
      return result.success ? { kind: 'CLOSED', generation: generation + 1, failures: 0 } : { kind: 'OPEN', generation: generation + 1, openedAt: now };
    }
    if (!view) return { kind: 'CLOSED', generation: 0, failures: 0 };
    const { record } = view;
    if (record.state === 'CLOSED') {
      const failures = localFailures(record, this.#tally, this.#counting === 'reset');
      return failures >= this.#settings.failureThreshold ? { kind: 'OPEN', generation: generation + 1, openedAt: now } : { kind: 'CLOSED', generation, failures };
    }
    if (record.state === 'OPEN') return { kind: 'OPEN', generation, openedAt: view.at - (record.openForMs ?? 0) };
    // HALF_OPEN: the fleet's trial is out of reach, and so is its result. Locally the recovery
    // timeout has already run: the next call here is a local trial, not a wait of a whole timeout.
    return { kind: 'OPEN', generation, openedAt: now - this.#settings.recoveryTimeoutMs };
  }

  #track(promise: Promise<unknown>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  stats(): CircuitBreakerStats {
    const local = this.#fallback?.machineState;
    return {
      ...this.#stats,
      transitions: { ...this.#log.counts },
      state: this.state,
      // While fallen back the generation is the local breaker's: not comparable with the store's.
      generation: local?.generation ?? this.#view?.record.generation ?? 0,
      generationSource: local ? 'local' : 'store',
    };
  }

  onTransition(listener: (transition: CircuitTransition) => void): () => void {
    return this.#log.subscribe(listener);
  }

  async close(): Promise<void> {
    // A write's answer may send the next (failures that waited for it): wait until none is left.
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}
