// The queue's small interface, in SQS's words (visibility timeout, receipt, receive count,
// dead-letter queue, redrive). The lab's adapter is PostgresQueue; an SQS adapter could sit
// behind the same interface.

/** The queue's timings and its dead-letter threshold. */
export interface QueueSettings {
  /** How long a received message stays hidden before it is delivered again (SQS default here 90 s, Article 4). */
  visibilityTimeoutMs: number;
  /** Long poll: how long a receive waits for a message when none is visible (20 s). */
  receiveWaitTimeMs: number;
  /** Receives a message may have; the receive that would be one more moves it to the dead-letter queue (10). */
  maxReceiveCount: number;
}

/** Article 4's queue: 90 s visibility timeout, 20 s long poll, dead-letter queue after 10 receives. */
export const ARTICLE_QUEUE_SETTINGS: QueueSettings = Object.freeze({
  visibilityTimeoutMs: 90_000,
  receiveWaitTimeMs: 20_000,
  maxReceiveCount: 10,
});

/** The queue the shop's write buffer sends orders to and the recovery worker drains. */
export const ORDER_QUEUE_NAME = 'order-buffer';

/** A message handed to one receiver, hidden from the others until its visibility timeout passes. */
export interface ReceivedMessage {
  messageId: string;
  /** This delivery's handle: delete, change visibility, record an error or dead-letter with it. */
  receipt: string;
  body: string;
  /** The key it was sent with (the order's idempotency key), or null. */
  key: string | null;
  /** 1 on the first delivery; each redelivery adds one. */
  receiveCount: number;
  /** When it was sent (ISO, the store's clock). */
  sentAt: string;
}

/** A message on the dead-letter queue. */
export interface DeadLetter {
  messageId: string;
  /** The body's first 200 characters (DEAD_LETTER_PREVIEW_CHARS): a dead letter may be far too big to list. */
  body: string;
  /** The whole body's size in bytes. */
  bodyBytes: number;
  /** Whether `body` is only the start of it. */
  bodyTruncated: boolean;
  key: string | null;
  receiveCount: number;
  /** Why it is here: the reason given to deadLetter(), or the last recorded error once maxReceiveCount was exceeded. */
  reason: string;
  /** The last error recorded with recordError(), or null. */
  lastError: string | null;
  deadLetteredAt: string;
  sentAt: string;
}

/** The queue's metrics (SQS: ApproximateNumberOfMessagesVisible / NotVisible, age of oldest message). */
export interface QueueStats {
  /** Visible messages waiting for a receive. */
  depth: number;
  /** Received, still inside their visibility timeout. */
  inFlight: number;
  /** Messages on the dead-letter queue. */
  deadLetters: number;
  /** Age of the oldest message that is queued or in flight, or null when there is none. */
  oldestAgeMs: number | null;
  /** Messages ever sent to this queue (deleted + still on it, dead letters included). */
  sent: number;
  /** Messages ever deleted from it (processed). */
  deleted: number;
}

/** Where a message is now. */
export type MessageState = 'queued' | 'in-flight' | 'dead-letter';

/** Options of MessageQueue.receive. */
export interface ReceiveOptions {
  /** At most this many messages (1–10, default 1). */
  maxMessages?: number;
  /** Long poll: wait up to this long for a visible message (default settings.receiveWaitTimeMs; 0: answer at once). */
  waitTimeMs?: number;
  /** This receive's visibility timeout (default settings.visibilityTimeoutMs). */
  visibilityTimeoutMs?: number;
  /** Ends the wait early: the receive then resolves with what it has (usually nothing). */
  signal?: AbortSignal;
}

/** A queue with SQS semantics. Failures of the store reject, in bounded time, with QueueError QUEUE_UNAVAILABLE. */
export interface MessageQueue {
  /**
   * Durable (committed) when it resolves. `key`: the order's idempotency key, for lookups (not SQS dedup).
   * A body over 256 KiB (as SQS) is refused with INVALID_ARGUMENT.
   */
  send(body: string, options?: { key?: string }): Promise<{ messageId: string }>;
  /** Long poll: waits up to waitTimeMs (default settings.receiveWaitTimeMs) for a visible message; wakes at once on a send (LISTEN/NOTIFY). */
  receive(options?: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Deletes the message: it was processed. A stale receipt (received again since, or gone): QueueError RECEIPT_STALE. */
  deleteMessage(receipt: string): Promise<void>;
  /** Hides the message for timeoutMs from now (0: visible again at once). RECEIPT_STALE likewise. */
  changeVisibility(receipt: string, timeoutMs: number): Promise<void>;
  /** Moves the message to the dead-letter queue now, with a reason (a body that is not an order; its first 1000 characters kept). */
  deadLetter(receipt: string, reason: string): Promise<void>;
  /** Records why the last attempt failed (kept on the message, its first 1000 characters, shown on its dead letter). */
  recordError(receipt: string, error: string): Promise<void>;
  /** Moves dead letters (oldest first, all by default) back to the queue with a fresh receive count. */
  redrive(options?: { limit?: number }): Promise<{ moved: number }>;
  stats(): Promise<QueueStats>;
  /** The dead letters, oldest first (default at most 100). */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /** Where the message(s) with this key are now, or undefined (deleted or never sent). */
  stateOfKey(key: string): Promise<MessageState | undefined>;
  /** Ends the connections. A receive waiting at the time resolves empty; any call after it rejects with QUEUE_CLOSED. */
  close(): Promise<void>;
}

/** Stable codes of QueueError. */
export type QueueErrorCode =
  /** The receipt is not the message's latest delivery (received again since), or the message is gone or dead-lettered. */
  | 'RECEIPT_STALE'
  /**
   * The store refused the connection, failed the statement, or did not answer in time. Not an
   * acknowledgement; but a statement that timed out may still have reached the store and
   * committed (its answer was lost), so a send that failed so is ambiguous, not known undone.
   */
  | 'QUEUE_UNAVAILABLE'
  /** close() was called. */
  | 'QUEUE_CLOSED'
  /** A bad argument (a name, a timeout out of range); the message names it. */
  | 'INVALID_ARGUMENT';

/** A queue operation failed; `code` says how. */
export class QueueError extends Error {
  readonly code: QueueErrorCode;
  constructor(code: QueueErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueError';
    this.code = code;
  }
}
