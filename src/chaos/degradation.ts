// Article 4's observations of a shop run with a read cache or a write buffer: the order queue
// sampled through the run (its depth series), the audit's bounded wait for it to be idle, and
// the journal's degradation section, computed once at the end from the runner's timeline and
// the sampler's own samples (never from the journal).
import { setTimeout as sleep } from 'node:timers/promises';
import { dependencyNamed } from '../lab/dependencies.ts';
import type { RecoveryWorkerCounters } from '../lab/recovery-worker/recovery-worker.ts';
import type { MessageQueue } from '../services/queue/message-queue.ts';
import type { DegradationRecord, QueueSample } from './journal.ts';
import type { Timeline } from './observations.ts';
import type { PlannedShopLab } from './plan.ts';
import type { Profile } from './profiles.ts';

/** A sample with its epoch time, as the sampler keeps it. */
interface TimedSample extends Omit<QueueSample, 'atMs'> {
  at: number;
}

/**
 * The queue's depth every `everyMs`, until stopped. One stats call at a time: the wait for idle
 * stops the background loop before it samples on its own, so the last attempt is well defined
 * (what the end state is read from). A failed sample is counted, never thrown.
 */
export class QueueSampler {
  readonly everyMs: number;
  readonly #queue: Pick<MessageQueue, 'stats'>;
  readonly #samples: TimedSample[] = [];
  readonly #stop = new AbortController();
  #failed = 0;
  #lastFailed = false;
  #loop: Promise<void> | undefined;

  constructor(queue: Pick<MessageQueue, 'stats'>, everyMs: number) {
    this.#queue = queue;
    this.everyMs = everyMs;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      await this.sample();
      await sleep(this.everyMs, undefined, { signal: this.#stop.signal }).catch(() => {});
    }
  }

  /** Takes one sample now; undefined when the store did not answer. */
  async sample(): Promise<TimedSample | undefined> {
    try {
      const stats = await this.#queue.stats();
      const sample = { at: Date.now(), depth: stats.depth, inFlight: stats.inFlight, deadLetters: stats.deadLetters };
      this.#samples.push(sample);
      this.#lastFailed = false;
      return sample;
    } catch {
      this.#failed++;
      this.#lastFailed = true;
      return undefined;
    }
  }

  /**
   * Waits until a sample shows nothing queued or in flight, at most `limitMs`. Idle false: the
   * limit came first (or the store never answered).
   */
  async waitUntilIdle(limitMs: number): Promise<{ limitMs: number; waitedMs: number; idle: boolean }> {
    await this.stop(); // from here on, the only sampler
    const started = Date.now();
    for (;;) {
      const sample = await this.sample();
      if (sample && sample.depth + sample.inFlight === 0) return { limitMs, waitedMs: Date.now() - started, idle: true };
      if (Date.now() - started >= limitMs) return { limitMs, waitedMs: Date.now() - started, idle: false };
      await sleep(Math.min(this.everyMs, Math.max(1, limitMs - (Date.now() - started))));
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  get samples(): readonly TimedSample[] {
    return this.#samples;
  }

  get failedSamples(): number {
    return this.#failed;
  }

  /** The latest sample attempt got no answer: the last sample kept is older than the end of the run. */
  get lastSampleFailed(): boolean {
    return this.#lastFailed;
  }
}

/** How often the queue is sampled: 250 ms scaled by the profile, at least 50 ms (a sample is a statement on the store). */
export function queueSampleEveryMs(profile: Profile): number {
  return Math.max(50, Math.round(250 * profile.timeScale));
}

const scaled = (ms: number, profile: Profile): number => Math.max(1, Math.round(ms * profile.timeScale));

const recoveryTimeoutOf = (lab: PlannedShopLab): number => (lab.patterns.circuitBreaker.mode === 'off' ? 0 : lab.patterns.circuitBreaker.recoveryTimeoutMs);

/**
 * What the worker gets to apply the backlog once the circuit has closed. Not scaled: it is work,
 * not a wait. A profile divides the rates by its time scale, so the outage queues the same ~200
 * orders under every profile, and applying them takes the same time whatever the profile
 * (measured: 0.5-0.6 s for ~200 orders at batch size 1, plus up to a second while the instances
 * and the worker reconnect at once); scaled to 250 ms (quick) it would ask for 20 times that speed.
 */
export const DRAIN_WORK_MS = 5000;

/**
 * The longest the audit waits for the queue to be idle: the breaker's recovery timeout (the
 * worker's first trial after the database returns), one visibility timeout (a message received
 * just before and left to expire) and time to apply what is left: 30 s scaled, but never less
 * than DRAIN_WORK_MS, since applying the backlog is work that a profile does not shorten.
 */
export function auditWaitLimitMs(lab: PlannedShopLab, profile: Profile): number {
  return recoveryTimeoutOf(lab) + lab.queue.visibilityTimeoutMs + Math.max(DRAIN_WORK_MS, scaled(30_000, profile));
}

/**
 * The drain goal (the issue's): the queue empty within the breaker's recovery timeout (scaled:
 * the worker's first trial comes at most that long after the database returns) + 5 s to apply
 * the backlog (DRAIN_WORK_MS, not scaled) after the database returns.
 */
export function drainGoalMs(lab: PlannedShopLab): number {
  return recoveryTimeoutOf(lab) + DRAIN_WORK_MS;
}

/**
 * When the database came back, from the runner's own records: the end of a deregistration's
 * undo or of a network fault's on a database dependency, a lab:db-proxy:register action (init-race), or a lab:db-proxy:register rollback that found
 * the targets deregistered (a run stopped before its own return: the rollback brought it back).
 * The latest of them. Undefined: no return recorded (it never went away, or never came back).
 */
export function databaseReturnedAt(timeline: Timeline): number | undefined {
  const returns = timeline.actions.flatMap((a) => {
    if (a.actionId === 'lab:db-proxy:deregister') return a.undoneAt === null ? [] : [a.undoneAt];
    if (a.actionId === 'lab:db-proxy:register') return [a.startedAt];
    // A network fault on the database's own way in (db-writer, db-reader) ends when it is removed.
    if (a.actionId === 'lab:network:disrupt' && a.undoneAt !== null && a.targets.some((t) => dependencyNamed(t)?.kind === 'database')) return [a.undoneAt];
    return [];
  });
  for (const r of timeline.rollbacks) {
    if (r.actionId === 'lab:db-proxy:register' && r.state === 'completed' && r.effect?.['wasRegistered'] === false) returns.push(r.at);
  }
  return returns.length > 0 ? Math.max(...returns) : undefined;
}

/** The first sample at or after `from` with nothing queued or in flight: how long the queue took to drain. */
export function timeToDrainMs(samples: readonly TimedSample[], from: number): number | null {
  const drained = samples.find((s) => s.at >= from && s.depth + s.inFlight === 0);
  return drained ? drained.at - from : null;
}

/**
 * How long applying the backlog took once it began: from the last sample after `from` before the
 * backlog first shrank (the worker's trial had got through: the circuit closed) to the drained
 * sample. Null: never drained, or nothing was left to apply at the return. As fine as the samples.
 */
export function applyingMs(samples: readonly TimedSample[], from: number): number | null {
  const after = samples.filter((s) => s.at >= from);
  const total = (s: TimedSample): number => s.depth + s.inFlight;
  const drained = after.findIndex((s) => total(s) === 0);
  if (drained <= 0) return null;
  const shrank = after.findIndex((s, i) => i > 0 && total(s) < total(after[i - 1]!));
  if (shrank <= 0 || shrank > drained) return null;
  return after[drained]!.at - after[shrank - 1]!.at;
}

export interface DegradationInputs {
  lab: PlannedShopLab;
  timeline: Timeline;
  /** Absent: no write buffer (no queue to sample). */
  sampler?: { sampleEveryMs: number; samples: readonly TimedSample[]; failedSamples: number; lastSampleFailed: boolean };
  auditWait?: { limitMs: number; waitedMs: number; idle: boolean };
  /** lab.recoveryWorker's status as the run ended; pid absent is recorded as null (none running). */
  worker?: { pid?: number | null; restarts: number; counters: RecoveryWorkerCounters };
  /** The shared breaker's transitions as the store recorded them (epoch ms); null: no shared breaker, or no answer. */
  breakerTransitions?: Array<{ at: number; from: string; to: string; reason: string }> | null;
}

/** The journal's degradation section, from the runner's timeline and the sampler's samples. */
export function degradationRecord(inputs: DegradationInputs): DegradationRecord {
  const { timeline, sampler } = inputs;
  const t = timeline.traffic;
  const returnedAt = databaseReturnedAt(timeline);
  // The end state only from an answered latest attempt: an older sample is not the end state, and no answer is not 0.
  const last = sampler && !sampler.lastSampleFailed ? sampler.samples.at(-1) : undefined;
  const drainMs = sampler && returnedAt !== undefined ? timeToDrainMs(sampler.samples, returnedAt) : null;
  const goalMs = drainGoalMs(inputs.lab);
  return {
    reads: { database: t?.reads.bySource['database'] ?? 0, cache: t?.reads.bySource['cache'] ?? 0, fail: t?.reads.fail ?? 0 },
    writes: { ok: t?.writes.ok ?? 0, queued: t?.writes.queued ?? 0, stockOut: t?.writes.stockOut ?? 0, fail: t?.writes.fail ?? 0 },
    databaseReturnedAtMs: returnedAt !== undefined && timeline.runningAt > 0 ? returnedAt - timeline.runningAt : null,
    queue: sampler
      ? {
          settings: inputs.lab.queue,
          sampleEveryMs: sampler.sampleEveryMs,
          remaining: last ? last.depth + last.inFlight : null,
          deadLetters: last ? last.deadLetters : null,
          peakDepth: Math.max(0, ...sampler.samples.map((s) => s.depth + s.inFlight)),
          failedSamples: sampler.failedSamples,
          series: sampler.samples.map(({ at, ...rest }) => ({ atMs: at - timeline.runningAt, ...rest })),
        }
      : null,
    drain:
      sampler && returnedAt !== undefined
        ? {
            timeToDrainMs: drainMs,
            goalMs,
            goal: { breakerRecoveryMs: recoveryTimeoutOf(inputs.lab), applyBacklogMs: DRAIN_WORK_MS },
            applyingMs: applyingMs(sampler.samples, returnedAt),
            met: drainMs !== null && drainMs <= goalMs,
          }
        : null,
    auditWait: inputs.auditWait ?? null,
    worker: inputs.worker ? { pid: inputs.worker.pid ?? null, restarts: inputs.worker.restarts, counters: inputs.worker.counters } : null,
    // The run's own transitions: the store keeps the lab's whole history, the steady-state checks' included.
    breakerTransitions: inputs.breakerTransitions
      ? inputs.breakerTransitions.filter((t) => t.at >= timeline.runningAt).map(({ at, ...rest }) => ({ atMs: at - timeline.runningAt, ...rest }))
      : null,
  };
}
