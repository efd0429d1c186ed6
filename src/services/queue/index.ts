// The queue: SQS semantics (visibility timeout, long poll, receive count, dead-letter queue, redrive).
export { ARTICLE_QUEUE_SETTINGS, ORDER_QUEUE_NAME, QueueError } from './message-queue.ts';
export type {
  DeadLetter,
  MessageQueue,
  MessageState,
  QueueErrorCode,
  QueueSettings,
  QueueStats,
  ReceiveOptions,
  ReceivedMessage,
} from './message-queue.ts';
export { PostgresQueue } from './postgres-queue.ts';
export type { PostgresQueueOptions } from './postgres-queue.ts';
export { QUEUE_SCHEMA_SQL, QUEUE_CHANNEL, ensureQueueSchema, createQueue } from './queue-schema.ts';
export {
  resolveQueueSettings,
  DEAD_LETTER_PREVIEW_CHARS,
  MAX_MESSAGE_BYTES,
  MAX_MESSAGES_PER_RECEIVE,
  MAX_REASON_CHARS,
  MAX_RECEIVE_WAIT_TIME_MS,
  MAX_VISIBILITY_TIMEOUT_MS,
} from './queue-settings.ts';
