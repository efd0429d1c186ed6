// The recovery worker (Article 4's Lambda): the loop, its process, and the lab's launcher.
export { RecoveryWorker } from './recovery-worker.ts';
export type { ApplyOrder, RecoveryWorkerCounters, RecoveryWorkerEvent, RecoveryWorkerOptions } from './recovery-worker.ts';
export { RecoveryWorkerProcess } from './worker-process.ts';
export type { RecoveryWorkerProcessOptions, RecoveryWorkerStatus, WorkerReport } from './worker-process.ts';
export { recoveryWorkerConfigFromEnv, parseQueueSettings, RecoveryWorkerConfigError, RECOVERY_WORKER_ID } from './worker-config.ts';
export type { RecoveryWorkerConfig } from './worker-config.ts';
