export { exponentialDelays, retry, sleep } from './backoff.ts';
export type { RetryOptions } from './backoff.ts';
