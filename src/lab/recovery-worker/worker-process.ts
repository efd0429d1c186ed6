// The lab's side of the recovery worker: starts worker-main.ts as a guarded child, keeps its
// counters (reported over IPC), and starts it again when it dies, as Lambda runs the next
// invocation after one crashed: a message it held is redelivered once its visibility expires.
import { fileURLToPath } from 'node:url';
import { spawnGuardedChild, type ChildExit, type GuardedChild } from '../breaker-lab/guarded-child.ts';
import type { RecoveryWorkerCounters, RecoveryWorkerEvent } from './recovery-worker.ts';

/** What the worker process sends its owner. */
export type WorkerReport = { type: 'counters'; counters: RecoveryWorkerCounters } | { type: 'event'; event: RecoveryWorkerEvent };

/** The worker as `status` shows it. */
export interface RecoveryWorkerStatus {
  /** The running process, or null between a death and its restart. */
  pid: number | null;
  running: boolean;
  /** Times it was started again after dying. */
  restarts: number;
  /** Summed over every process the launcher ran (a killed one's last report included). */
  counters: RecoveryWorkerCounters;
  lastExit: ChildExit | null;
  /** The last message left for redelivery, queue error or failed start, with when. */
  lastProblem: { at: string; message: string } | null;
}

/** Options of the launcher. */
export interface RecoveryWorkerProcessOptions {
  /** The worker's whole environment (see worker-config.ts): URLs with passwords, so never argv. */
  env: Record<string, string>;
  /** First wait before a restart (default 250 ms), doubling to `maxRestartDelayMs` while it keeps dying at once. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Every report, for whoever shows them. */
  onReport?: (report: WorkerReport) => void;
  /** A restart, for whoever shows it. */
  onRestart?: (exit: ChildExit, restarts: number) => void;
}

const ZERO: RecoveryWorkerCounters = { received: 0, committed: 0, replayed: 0, rejected: 0, deadLettered: 0, transientFailures: 0, errors: 0, staleReceipts: 0 };
// A worker that lived this long was not dying at start-up: the restart delay starts again.
const STABLE_AFTER_MS = 5000;

/** The recovery worker process, restarted when it dies. */
export class RecoveryWorkerProcess {
  readonly #options: RecoveryWorkerProcessOptions;
  #child: GuardedChild<{ pid: number }> | undefined;
  #restarts = 0;
  #stopping = false;
  #lastExit: ChildExit | null = null;
  #lastProblem: RecoveryWorkerStatus['lastProblem'] = null;
  /** Counters of processes that have died. */
  #past: RecoveryWorkerCounters = { ...ZERO };
  /** The running process's last report. */
  #current: RecoveryWorkerCounters = { ...ZERO };
  #restartTimer: NodeJS.Timeout | undefined;
  #delayMs: number;
  #watching: Promise<void> = Promise.resolve();
  #restarting: Promise<void> = Promise.resolve();

  private constructor(options: RecoveryWorkerProcessOptions) {
    this.#options = options;
    this.#delayMs = options.restartDelayMs ?? 250;
  }

  /** Starts the worker; rejects if the first process does not start (bad configuration fails the lab loudly). */
  static async start(options: RecoveryWorkerProcessOptions): Promise<RecoveryWorkerProcess> {
    const worker = new RecoveryWorkerProcess(options);
    await worker.#spawn();
    return worker;
  }

  /** The running process's PID, or undefined between a death and its restart. */
  get pid(): number | undefined {
    return this.#child?.alive ? this.#child.pid : undefined;
  }

  status(): RecoveryWorkerStatus {
    const child = this.#child;
    return {
      pid: child?.alive ? child.pid : null,
      running: child?.alive ?? false,
      restarts: this.#restarts,
      counters: this.counters,
      lastExit: this.#lastExit,
      lastProblem: this.#lastProblem,
    };
  }

  /** Counters over every process so far. */
  get counters(): RecoveryWorkerCounters {
    const sum = { ...this.#past };
    for (const name of Object.keys(sum) as Array<keyof RecoveryWorkerCounters>) sum[name] += this.#current[name];
    return sum;
  }

  /** SIGKILLs the running process (a chaos action, a test): it is started again. */
  kill(): void {
    this.#child?.kill();
  }

  /** Stops the worker (SIGTERM, SIGKILL past `graceMs`) and starts no other. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    await this.#restarting;
    await this.#child?.stop(graceMs);
    await this.#watching;
  }

  async #spawn(): Promise<void> {
    const child = await spawnGuardedChild<{ pid: number }>({
      name: 'recovery worker',
      script: fileURLToPath(new URL('./worker-main.ts', import.meta.url)),
      env: this.#options.env,
      ipc: true,
    });
    this.#child = child;
    this.#current = { ...ZERO };
    const startedAt = performance.now();
    child.child.on('message', (message: WorkerReport) => {
      if (message.type === 'counters') this.#current = { ...ZERO, ...message.counters };
      else if (message.event.type === 'left') this.#problem(`message ${message.event.messageId} (key ${message.event.key}) left for redelivery: ${message.event.error}`);
      else if (message.event.type === 'queue-error') this.#problem(`queue ${message.event.operation}: ${message.event.error}`);
      this.#options.onReport?.(message);
    });
    if (this.#stopping) {
      await child.stop();
      return;
    }
    this.#watching = child.exited.then((exit) => {
      this.#lastExit = exit;
      this.#past = this.counters;
      this.#current = { ...ZERO };
      if (this.#stopping) return;
      if (performance.now() - startedAt >= STABLE_AFTER_MS) this.#delayMs = this.#options.restartDelayMs ?? 250;
      const delayMs = this.#delayMs;
      this.#delayMs = Math.min(this.#delayMs * 2, this.#options.maxRestartDelayMs ?? 5000);
      this.#restartTimer = setTimeout(() => (this.#restarting = this.#restart(exit)), delayMs);
    });
  }

  #problem(message: string): void {
    this.#lastProblem = { at: new Date().toISOString(), message };
  }

  async #restart(exit: ChildExit): Promise<void> {
    if (this.#stopping) return;
    this.#restarts++;
    this.#options.onRestart?.(exit, this.#restarts);
    try {
      await this.#spawn();
    } catch (error) {
      // It did not start (it died before its ready line): try again after the next delay.
      if (this.#stopping) return;
      this.#problem(`restart failed: ${(error as Error).message}`);
      const delayMs = this.#delayMs;
      this.#delayMs = Math.min(this.#delayMs * 2, this.#options.maxRestartDelayMs ?? 5000);
      this.#restartTimer = setTimeout(() => (this.#restarting = this.#restart(exit)), delayMs);
    }
  }
}
