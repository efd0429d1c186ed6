// Validates queue settings and names once, at the edge, naming the bad value.
import { ARTICLE_QUEUE_SETTINGS, QueueError, type QueueSettings } from './message-queue.ts';

/** SQS's longest visibility timeout (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_MS = 12 * 60 * 60 * 1000;
/** The longest long poll we allow (SQS: 20 s; the lab's slow profiles scale it up). */
export const MAX_RECEIVE_WAIT_TIME_MS = 10 * 60 * 1000;
/** Messages one receive may return at most (SQS: 10). */
export const MAX_MESSAGES_PER_RECEIVE = 10;
/**
 * The largest message body, in bytes (SQS: 256 KiB). send() refuses a bigger one; a bigger one
 * put on the table by other means is dead-lettered by the receive that finds it, never
 * delivered: a huge body would make every receive of it time out and roll back, so it would
 * never even reach the dead-letter queue.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** A dead letter lists at most this many characters of its body (the whole body may be huge). */
export const DEAD_LETTER_PREVIEW_CHARS = 200;
/** A reason or a recorded error keeps at most this many characters: dead letters list them whole. */
export const MAX_REASON_CHARS = 1000;

/** Queue names as SQS allows them: letters, digits, hyphens and underscores, 1 to 80. */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** The queue's name, or a QueueError INVALID_ARGUMENT naming it. */
export function validateQueueName(name: string): string {
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    throw new QueueError('INVALID_ARGUMENT', `queue name must be 1 to 80 letters, digits, hyphens or underscores, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** A duration in ms within [0, max] (an integer), or a QueueError INVALID_ARGUMENT naming the field. */
export function validateDurationMs(field: string, value: number, max: number, min = 0): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new QueueError('INVALID_ARGUMENT', `${field} must be an integer from ${min} to ${max} (ms), got ${String(value)}`);
  }
  return value;
}

/** The settings with Article 4's defaults filled in, each validated. */
export function resolveQueueSettings(settings: Partial<QueueSettings> = {}): QueueSettings {
  const resolved = { ...ARTICLE_QUEUE_SETTINGS, ...settings };
  validateDurationMs('visibilityTimeoutMs', resolved.visibilityTimeoutMs, MAX_VISIBILITY_TIMEOUT_MS);
  validateDurationMs('receiveWaitTimeMs', resolved.receiveWaitTimeMs, MAX_RECEIVE_WAIT_TIME_MS);
  if (!Number.isInteger(resolved.maxReceiveCount) || resolved.maxReceiveCount < 1 || resolved.maxReceiveCount > 1000) {
    throw new QueueError('INVALID_ARGUMENT', `maxReceiveCount must be an integer from 1 to 1000, got ${String(resolved.maxReceiveCount)}`);
  }
  return {
    visibilityTimeoutMs: resolved.visibilityTimeoutMs,
    receiveWaitTimeMs: resolved.receiveWaitTimeMs,
    maxReceiveCount: resolved.maxReceiveCount,
  };
}
