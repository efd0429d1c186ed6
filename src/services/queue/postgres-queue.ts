// The lab's SQS stand-in: a FOR UPDATE SKIP LOCKED table of our own on the services store.
// Not pg-boss: its fetch() has no waiting receive, and its expired jobs are found by a monitor
// every monitorIntervalSeconds (60 s), so a 90 s visibility timeout would redeliver after 90–150 s.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { StorePool, storeClientConfig, type StorePoolOptions } from '../postgres/index.ts';
import type { PostgresConnectionConfig } from '../../lab/postgres/index.ts';
import {
  QueueError,
  type DeadLetter,
  type MessageQueue,
  type MessageState,
  type QueueSettings,
  type QueueStats,
  type ReceiveOptions,
  type ReceivedMessage,
} from './message-queue.ts';
import { QueueListener } from './queue-listener.ts';
import {
  MAX_MESSAGE_BYTES,
  MAX_MESSAGES_PER_RECEIVE,
  MAX_REASON_CHARS,
  MAX_RECEIVE_WAIT_TIME_MS,
  MAX_VISIBILITY_TIMEOUT_MS,
  resolveQueueSettings,
  validateDurationMs,
  validateQueueName,
} from './queue-settings.ts';
import * as sql from './queue-statements.ts';
import { toDeadLetter, toReceived, toStats, type DeadLetterRow, type ReceiveRow, type StatsRow } from './queue-rows.ts';

export { ORDER_QUEUE_NAME } from './message-queue.ts';

/** Options of PostgresQueue. */
export interface PostgresQueueOptions {
  /** The services store's database (its tables made by ensureQueueSchema). */
  connection: PostgresConnectionConfig | pg.PoolConfig;
  /** The queue's name (SQS rules: letters, digits, hyphens, underscores, up to 80). */
  name: string;
  settings?: Partial<QueueSettings>;
  /** Bound on opening a connection (default 1000 ms). */
  connectTimeoutMs?: number;
  /** Bound on one statement (default 2000 ms): a blackholed store makes a call reject, never hang. */
  statementTimeoutMs?: number;
  /** Pooled connections (default 4); the long poll's LISTEN connection comes on top. */
  maxConnections?: number;
  /**
   * A waiting long poll looks again at least this often (default 1000 ms), in case a
   * notification was lost (the LISTEN connection broke). Not an SQS setting: a test sets it
   * long to prove that a NOTIFY, or a message's visible_at, is what woke the poll.
   */
  recheckMs?: number;
}

/** A long poll re-checks at least this often by default, in case a notification was lost. */
const DEFAULT_RECHECK_MS = 1000;
/** A visible message that a receive could not take (another receiver is taking it): look again soon. */
const CONTENDED_RECHECK_MS = 20;

/** A MessageQueue on PostgreSQL with SQS semantics. */
export class PostgresQueue implements MessageQueue {
  /** The queue's name. */
  readonly name: string;
  /** The resolved settings. */
  readonly settings: QueueSettings;
  readonly #pool: StorePool;
  readonly #listener: QueueListener;
  readonly #recheckMs: number;
  #closed = false;

  constructor(options: PostgresQueueOptions) {
    this.name = validateQueueName(options.name);
    this.settings = resolveQueueSettings(options.settings);
    this.#recheckMs = validateDurationMs('recheckMs', options.recheckMs ?? DEFAULT_RECHECK_MS, MAX_RECEIVE_WAIT_TIME_MS, 1);
    const poolOptions: StorePoolOptions = {
      connection: options.connection,
      connectTimeoutMs: options.connectTimeoutMs ?? 1000,
      statementTimeoutMs: options.statementTimeoutMs ?? 2000,
      maxConnections: options.maxConnections ?? 4,
      applicationName: `chaos-lab queue ${this.name}`,
    };
    this.#pool = new StorePool(poolOptions);
    this.#listener = new QueueListener(storeClientConfig(poolOptions), this.name, poolOptions.connectTimeoutMs + poolOptions.statementTimeoutMs);
  }

  async send(body: string, options: { key?: string } = {}): Promise<{ messageId: string }> {
    if (typeof body !== 'string') throw new QueueError('INVALID_ARGUMENT', `message body must be a string, got ${typeof body}`);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_MESSAGE_BYTES) {
      throw new QueueError('INVALID_ARGUMENT', `message body is ${bytes} bytes, over the queue's limit of ${MAX_MESSAGE_BYTES} bytes (256 KiB, as SQS)`);
    }
    const { rows } = await this.#query<{ message_id: string }>(sql.SEND, [this.name, randomUUID(), body, options.key ?? null]);
    return { messageId: rows[0]!.message_id };
  }

  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const maxMessages = options.maxMessages ?? 1;
    if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > MAX_MESSAGES_PER_RECEIVE) {
      throw new QueueError('INVALID_ARGUMENT', `maxMessages must be an integer from 1 to ${MAX_MESSAGES_PER_RECEIVE}, got ${String(maxMessages)}`);
    }
    const waitTimeMs = validateDurationMs('waitTimeMs', options.waitTimeMs ?? this.settings.receiveWaitTimeMs, MAX_RECEIVE_WAIT_TIME_MS);
    const visibilityTimeoutMs = validateDurationMs(
      'visibilityTimeoutMs',
      options.visibilityTimeoutMs ?? this.settings.visibilityTimeoutMs,
      MAX_VISIBILITY_TIMEOUT_MS,
    );
    const { signal } = options;
    if (this.#closed) throw new QueueError('QUEUE_CLOSED', `queue ${this.name} is closed`);
    const deadline = performance.now() + waitTimeMs;
    try {
      for (;;) {
        // Closed or aborted while it waited: the poll ends empty.
        if (signal?.aborted || this.#closed) return [];
        // Listen before looking, so a send that commits after the look still moves the generation.
        if (waitTimeMs > 0) await this.#listener.ensure();
        const generation = this.#listener.generation;
        const taken = await this.#take(maxMessages, visibilityTimeoutMs);
        if (taken.length > 0) return taken;
        const remainingMs = deadline - performance.now();
        if (remainingMs <= 0 || signal?.aborted || this.#closed) return [];
        // Wake at the earliest of: a send (notification), the next message's visibility (an
        // expiring visibility timeout notifies nobody), the re-check, the end of the wait.
        const nextMs = await this.#nextVisibleMs();
        let sleepMs = Math.min(remainingMs, this.#recheckMs);
        if (nextMs !== null) sleepMs = Math.min(sleepMs, Math.max(nextMs, CONTENDED_RECHECK_MS));
        await this.#listener.wait(generation, sleepMs, signal);
      }
    } catch (error) {
      // close() landed during one of the poll's statements: the next one is refused with
      // QUEUE_CLOSED (or the pool, ending, fails it). To the receiver, close() ended the wait as
      // an abort does: empty. A statement that took messages resolved with them above; one
      // that failed took none.
      if (this.#closed) return [];
      throw error;
    }
  }

  async deleteMessage(receipt: string): Promise<void> {
    await this.#byReceipt('delete', sql.DELETE, receipt);
  }

  async changeVisibility(receipt: string, timeoutMs: number): Promise<void> {
    validateDurationMs('timeoutMs', timeoutMs, MAX_VISIBILITY_TIMEOUT_MS);
    await this.#byReceipt('change the visibility of', sql.CHANGE_VISIBILITY, receipt, timeoutMs);
  }

  async deadLetter(receipt: string, reason: string): Promise<void> {
    await this.#byReceipt('dead-letter', sql.DEAD_LETTER, receipt, String(reason).slice(0, MAX_REASON_CHARS));
  }

  async recordError(receipt: string, error: string): Promise<void> {
    await this.#byReceipt('record an error on', sql.RECORD_ERROR, receipt, String(error).slice(0, MAX_REASON_CHARS));
  }

  async redrive(options: { limit?: number } = {}): Promise<{ moved: number }> {
    const { limit } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw new QueueError('INVALID_ARGUMENT', `redrive limit must be a positive integer, got ${String(limit)}`);
    }
    const { rowCount } = await this.#query(sql.REDRIVE, [this.name, limit ?? null]);
    return { moved: rowCount ?? 0 };
  }

  async stats(): Promise<QueueStats> {
    const { rows } = await this.#query<StatsRow>(sql.STATS, [this.name]);
    return toStats(rows[0]!);
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new QueueError('INVALID_ARGUMENT', `dead letter limit must be a positive integer, got ${String(limit)}`);
    const { rows } = await this.#query<DeadLetterRow>(sql.DEAD_LETTERS, [this.name, limit]);
    return rows.map(toDeadLetter);
  }

  async stateOfKey(key: string): Promise<MessageState | undefined> {
    const { rows } = await this.#query<{ state: MessageState }>(sql.STATES_OF_KEY, [this.name, key]);
    // Several messages may carry one key (a retried send, a redriven copy): the live one wins.
    for (const state of ['in-flight', 'queued', 'dead-letter'] as const) {
      if (rows.some((row) => row.state === state)) return state;
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#listener.close(), this.#pool.end()]);
  }

  /** One receive statement; candidates moved to the dead-letter queue free their slots for others. */
  async #take(maxMessages: number, visibilityTimeoutMs: number): Promise<ReceivedMessage[]> {
    const taken: ReceivedMessage[] = [];
    for (;;) {
      const { rows } = await this.#query<ReceiveRow>(sql.RECEIVE, [
        this.name,
        maxMessages - taken.length,
        visibilityTimeoutMs,
        this.settings.maxReceiveCount,
        MAX_MESSAGE_BYTES,
      ]);
      let deadLettered = 0;
      for (const row of rows) {
        if (row.dead) deadLettered++;
        else taken.push(toReceived(row));
      }
      // Closed meanwhile: hand over what was taken rather than fail with it in hand.
      if (deadLettered === 0 || taken.length >= maxMessages || this.#closed) return taken;
    }
  }

  async #nextVisibleMs(): Promise<number | null> {
    const { rows } = await this.#query<{ next_ms: number | null }>(sql.NEXT_VISIBLE, [this.name]);
    return rows[0]?.next_ms ?? null;
  }

  async #byReceipt(what: string, query: pg.QueryConfig, receipt: string, extra?: unknown): Promise<void> {
    if (typeof receipt !== 'string' || receipt === '') throw new QueueError('INVALID_ARGUMENT', `receipt must be a non-empty string, got ${JSON.stringify(receipt)}`);
    const values = extra === undefined ? [this.name, receipt] : [this.name, receipt, extra];
    const { rowCount } = await this.#query(query, values);
    if (!rowCount) {
      throw new QueueError(
        'RECEIPT_STALE',
        `cannot ${what} the message of receipt ${receipt} on queue ${this.name}: it was received again since, dead-lettered, or deleted`,
      );
    }
  }

  /** Every failure of the store becomes QUEUE_UNAVAILABLE: to the caller, nothing was done. */
  async #query<R extends pg.QueryResultRow>(query: pg.QueryConfig, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new QueueError('QUEUE_CLOSED', `queue ${this.name} is closed`);
    try {
      return await this.#pool.query<R>(query, values);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new QueueError('QUEUE_UNAVAILABLE', `queue ${this.name} is unavailable: ${detail}`, { cause: error });
    }
  }
}
