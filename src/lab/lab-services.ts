// The lab start sequence's services part: the services store, started beside the cluster, and,
// beside the fleet, the lab's own clients of the store and the recovery worker. Every part
// started is registered for cleanup at once, so a failure anywhere later stops it.
import type { QueueSettings } from '../services/queue/message-queue.ts';
import { PostgresCluster } from './cluster/postgres-cluster.ts';
import { RecoveryWorkerProcess, type RecoveryWorkerProcessOptions } from './recovery-worker/worker-process.ts';
import { ServicesStore } from './services-store/index.ts';
import { startSideBySide } from './side-by-side.ts';
import { SHOP_DATABASE } from './standalone-shop.ts';
import { StoreClients, type StoreUses } from './store-clients.ts';

/** Steps that undo what was started, run in reverse by the caller when the start fails. */
export type CleanupSteps = Array<() => Promise<void>>;

/** Whether the lab runs the services store: unless started without it, and then still when the patterns keep something in it. */
export function runsServicesStore(wanted: boolean | undefined, uses: StoreUses): boolean {
  // Every lab runs it by default: Article 7's reviews and promo live there whatever the patterns.
  return (wanted ?? true) || uses.sharedBreaker || uses.readCache || uses.writeBuffer;
}

/** Options of startDatabases. */
export interface DatabasesOptions {
  /** Start the services store (runsServicesStore). */
  servicesStore: boolean;
  cleanup: CleanupSteps;
  progress: (step: string) => void;
  /** Starts the cluster: PostgresCluster.start with the shop's database unless given (a test makes it fail). */
  startCluster?: () => Promise<PostgresCluster>;
  /** Starts the store: ServicesStore.start unless given. */
  startStore?: () => Promise<ServicesStore>;
}

/**
 * Starts the PostgreSQL writer and reader and, beside them, the services store (a third server,
 * ~0.9 s to start here, that would otherwise add its whole start to every lab's). When one fails,
 * the other is stopped before the error is thrown; once both are up, both are among the cleanup
 * steps.
 */
export async function startDatabases(options: DatabasesOptions): Promise<{ cluster: PostgresCluster; servicesStore: ServicesStore | undefined }> {
  const { cleanup, progress } = options;
  progress(options.servicesStore ? 'starting the PostgreSQL writer and reader, and beside them the services store' : 'starting the PostgreSQL writer and reader');
  const startCluster = options.startCluster ?? (() => PostgresCluster.start({ databases: [SHOP_DATABASE] }));
  const startStore = options.startStore ?? (() => ServicesStore.start());
  const [cluster, servicesStore] = await startSideBySide(
    { started: startCluster(), stop: (c) => c.close() },
    { started: options.servicesStore ? startStore() : Promise.resolve(undefined), stop: async (s) => s?.close() },
  );
  cleanup.push(() => cluster.close());
  if (servicesStore) cleanup.push(() => servicesStore.close());
  return { cluster, servicesStore };
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
