// The client side of the lab's managed-service stand-ins (SQS, DynamoDB) on the services store.
export * from './queue/index.ts';
export * from './cache/index.ts';
export { StoreTimeoutError } from './postgres/index.ts';
