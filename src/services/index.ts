// The client side of the lab's managed-service stand-ins (SQS, DynamoDB, S3) on the services store.
export * from './queue/index.ts';
export * from './cache/index.ts';
export * from './reviews/index.ts';
export * from './promo/index.ts';
export {
  DependencyClient,
  DependencyError,
  RETRY_BASE_DELAY_MS,
  SDK_DEFAULT_CLIENT,
  isReachFailure,
  retryDelaysMs,
  validateClientSettings,
} from './dependency-client.ts';
export type { DependencyClientSettings, DependencyErrorCode, DependencyStoreOptions } from './dependency-client.ts';
export { StoreTimeoutError } from './postgres/index.ts';
