export { exponentialDelays, retry, sleep } from './backoff.ts';
export type { RetryOptions } from './backoff.ts';
export { Bulkhead, WorkersBusyError } from './bulkhead.ts';
export type { BulkheadSettings, BulkheadStats } from './bulkhead.ts';
