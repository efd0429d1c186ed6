// The lab start sequence's Article 4 part: the services store when the patterns keep something in
// it, and, beside the fleet, the lab's own clients of the store and the recovery worker. Every
// part started is registered for cleanup at once, so a failure anywhere later stops it.
import type { QueueSettings } from '../services/queue/message-queue.ts';
import { RecoveryWorkerProcess, type RecoveryWorkerProcessOptions } from './recovery-worker/worker-process.ts';
import { ServicesStore } from './services-store/index.ts';
import { StoreClients, type StoreUses } from './store-clients.ts';

/** Steps that undo what was started, run in reverse by the caller when the start fails. */
export type CleanupSteps = Array<() => Promise<void>>;

/**
 * Starts the services store when `wanted` or the patterns use it (a shared breaker, a read cache,
 * a write buffer). Only then: it is a third PostgreSQL server (~0.9 s to start here), and a lab
 * whose patterns keep nothing in it does not pay for it.
 */
export async function startServicesStore(wanted: boolean, uses: StoreUses, cleanup: CleanupSteps, progress: (step: string) => void): Promise<ServicesStore | undefined> {
  if (!wanted && !uses.sharedBreaker && !uses.readCache && !uses.writeBuffer) return undefined;
  progress('starting the services store');
  const store = await ServicesStore.start();
  cleanup.push(() => store.close());
  return store;
}

/** What startFleetWithWorker started besides the fleet. */
export interface FleetServices {
  storeClients: StoreClients | undefined;
  recoveryWorker: RecoveryWorkerProcess | undefined;
}

/** Options of startFleetWithWorker. */
export interface FleetWithWorkerOptions {
  /** Starts the instances (their group's close is already among the cleanup steps). */
  startFleet: () => Promise<unknown>;
  store: ServicesStore | undefined;
  uses: StoreUses;
  queueSettings: QueueSettings;
  /** The worker's environment (recoveryWorkerEnv), asked for only when the lab runs a queue. */
  workerEnv: () => Record<string, string>;
  cleanup: CleanupSteps;
  progress: (step: string) => void;
  /** Starts the worker's process: RecoveryWorkerProcess.start unless given (a test wraps it to learn when the start failed). */
  startWorker?: (options: RecoveryWorkerProcessOptions) => Promise<RecoveryWorkerProcess>;
}

/**
 * Starts the fleet and, beside it, the recovery worker when the lab runs a queue (each is a Node
 * process that takes a moment to boot). Both are awaited together, so a worker that fails to start
 * while the fleet is still starting is an error of the lab's start (its cleanup runs), never an
 * unhandled rejection that takes the lab's process down with everything left running.
 */
export async function startFleetWithWorker(options: FleetWithWorkerOptions): Promise<FleetServices> {
  const { store, uses, queueSettings, cleanup } = options;
  // The lab's own clients of the store: the queue (stats, dead letters, redrive) and the breaker's record.
  const storeClients = store && new StoreClients(store, uses, queueSettings);
  if (storeClients) cleanup.push(() => storeClients.close());
  const workerEnv = storeClients?.queue ? options.workerEnv() : undefined;
  if (workerEnv) options.progress('starting the recovery worker');
  const startWorker = options.startWorker ?? ((workerOptions) => RecoveryWorkerProcess.start(workerOptions));
  const [fleet, worker] = await Promise.allSettled([options.startFleet(), workerEnv ? startWorker({ env: workerEnv }) : undefined]);
  const recoveryWorker = worker.status === 'fulfilled' ? worker.value : undefined;
  if (recoveryWorker) cleanup.push(() => recoveryWorker.stop());
  if (fleet.status === 'rejected') throw fleet.reason;
  if (worker.status === 'rejected') throw worker.reason;
  return { storeClients, recoveryWorker };
}
