// The queue statements' rows, and how they read as the interface's types.
import type { DeadLetter, QueueStats, ReceivedMessage } from './message-queue.ts';

/** A RECEIVE row: a delivered message, or (dead) one moved to the dead-letter queue instead. */
export interface ReceiveRow {
  dead: boolean;
  message_id: string;
  receipt: string;
  body: string;
  key: string | null;
  receive_count: number;
  sent_at: Date;
}

/** The STATS row. */
export interface StatsRow {
  depth: number;
  in_flight: number;
  dead_letters: number;
  oldest_age_ms: number | null;
  sent: number;
  deleted: number;
}

/** A DEAD_LETTERS row. */
export interface DeadLetterRow {
  message_id: string;
  /** The body's first DEAD_LETTER_PREVIEW_CHARS characters. */
  body: string;
  body_bytes: number;
  key: string | null;
  receive_count: number;
  dead_letter_reason: string | null;
  last_error: string | null;
  dead_lettered_at: Date;
  sent_at: Date;
}

/** A delivered row as a ReceivedMessage. */
export function toReceived(row: ReceiveRow): ReceivedMessage {
  return {
    messageId: row.message_id,
    receipt: row.receipt,
    body: row.body,
    key: row.key,
    receiveCount: row.receive_count,
    sentAt: row.sent_at.toISOString(),
  };
}

/** The STATS row as QueueStats. */
export function toStats(row: StatsRow): QueueStats {
  return {
    depth: row.depth,
    inFlight: row.in_flight,
    deadLetters: row.dead_letters,
    oldestAgeMs: row.oldest_age_ms === null ? null : Math.max(0, Math.round(row.oldest_age_ms)),
    sent: row.sent,
    deleted: row.deleted,
  };
}

/** A DEAD_LETTERS row as a DeadLetter. */
export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    messageId: row.message_id,
    body: row.body,
    bodyBytes: row.body_bytes,
    bodyTruncated: Buffer.byteLength(row.body, 'utf8') < row.body_bytes,
    key: row.key,
    receiveCount: row.receive_count,
    reason: row.dead_letter_reason ?? '',
    lastError: row.last_error,
    deadLetteredAt: row.dead_lettered_at.toISOString(),
    sentAt: row.sent_at.toISOString(),
  };
}
