// The recovery worker's loop (Article 4's Lambda, batch size 1): receive one queued order, apply
// it with the shop's own order transaction and the message's idempotency key, and settle the
// message by what the database answered. In-process and I/O-free apart from its ports, so a test
// drives it over a real queue and a real database without a process around it.
import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitOpenError, type CircuitBreaker } from '../../resilience/circuit-breaker/index.ts';
import { isDatabaseUnavailable } from '../../shop/circuit-breaker-ports.ts';
import { OrderMessageError, parseOrderMessage, type OrderMessage } from '../../shop/order-message.ts';
import type { OrderOutcome, PlaceOrder } from '../../shop/ports.ts';
import type { MessageQueue, ReceivedMessage } from '../../services/queue/message-queue.ts';

/** What the worker has done since it started. */
export interface RecoveryWorkerCounters {
  /** Messages received (a redelivery counts again). */
  received: number;
  /** Orders placed (201, first time for their key). */
  committed: number;
  /** Keys already answered (by the shop before it queued, or an earlier delivery): the first answer again. */
  replayed: number;
  /** Business rejections (404 product, 409 stock, 422 key reused): final, deleted, never dead-lettered. */
  rejected: number;
  /** Bodies that are not orders, moved to the dead-letter queue with the reason. */
  deadLettered: number;
  /** The database away (or the circuit open): the message is left to be delivered again. */
  transientFailures: number;
  /** Any other failure (a statement the database refused): left for redelivery, and dead-lettered after maxReceiveCount. */
  errors: number;
  /** Settled by a receipt that a later delivery had replaced (its visibility had expired): that delivery settles it. */
  staleReceipts: number;
}

/** One thing the worker did, for logs and tests (the loop itself never prints). */
export type RecoveryWorkerEvent =
  | { type: 'settled'; outcome: 'committed' | 'replayed' | 'rejected' | 'dead-lettered'; messageId: string; key: string | null; receiveCount: number; httpStatus?: number; reason?: string }
  | { type: 'left'; outcome: 'transient' | 'error'; messageId: string; key: string | null; receiveCount: number; error: string }
  | { type: 'waiting'; breakerState: string }
  | { type: 'queue-error'; operation: string; error: string };

/** The shop's order transaction as the worker calls it: `servedBy` is recorded on the order. */
export type ApplyOrder = (order: PlaceOrder, servedBy: string) => Promise<OrderOutcome>;

/** What the loop works with. */
export interface RecoveryWorkerOptions {
  queue: MessageQueue;
  /** The shop's order transaction (databasePorts(...).orders.placeOrder), never retried inside: redelivery is the retry. */
  applyOrder: ApplyOrder;
  /** A cheap call to the database (the health port's ping): the worker's own trial while the circuit is not closed. */
  ping: () => Promise<void>;
  /** The fleet's breaker (shared through the services store); undefined: the patterns have none. */
  breaker?: CircuitBreaker;
  /** How long to wait between trials while the circuit is not closed (default 250 ms). */
  breakerPollMs?: number;
  /** The long poll of one receive (default: the queue's own receiveWaitTimeMs). */
  receiveWaitTimeMs?: number;
  /** First wait after the queue failed (doubles up to 5 s). */
  queueRetryDelayMs?: number;
  /** Injected wait (default node:timers/promises setTimeout); rejects or resolves early on abort. */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
  onEvent?: (event: RecoveryWorkerEvent) => void;
}

/** Statuses place_order answers for a business rejection: recorded in idempotency_keys, final. */
const BUSINESS_REJECTIONS = new Set([404, 409, 422]);
const MAX_QUEUE_RETRY_DELAY_MS = 5000;
/** The least time one empty receive takes, waiting included: a short-polling worker looks ten times a second. */
const MIN_EMPTY_RECEIVE_MS = 100;

const defaultWait = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal }).catch(() => {});

/**
 * The loop. Batch size 1. It receives only while the circuit is CLOSED and, after a message it
 * left because the database was away, only once a ping through the breaker has gone through:
 * while the database is away it pings, not receives, so an outage costs the message one receive
 * (a receive counts towards maxReceiveCount; ten burnt receives would dead-letter a good order).
 */
export class RecoveryWorker {
  readonly #options: RecoveryWorkerOptions;
  readonly #counters: RecoveryWorkerCounters = { received: 0, committed: 0, replayed: 0, rejected: 0, deadLettered: 0, transientFailures: 0, errors: 0, staleReceipts: 0 };
  readonly #wait: (ms: number, signal: AbortSignal) => Promise<void>;
  #queueDelayMs: number;

  constructor(options: RecoveryWorkerOptions) {
    this.#options = options;
    this.#wait = options.wait ?? defaultWait;
    this.#queueDelayMs = options.queueRetryDelayMs ?? 250;
  }

  /** A copy of the counters. */
  get counters(): RecoveryWorkerCounters {
    return { ...this.#counters };
  }

  /**
   * Runs until `signal` aborts. The message in hand when it does is finished (its database call is
   * bounded by the statement timeout); one abandoned instead (the process killed) is redelivered
   * once its visibility timeout passes, and its key makes the second application a replay.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { breaker } = this.#options;
    // A fresh breaker knows nothing of the fleet's circuit and says CLOSED: the first look is a
    // ping through it, which reads the store first (and, the circuit open, fails fast). Reset
    // after the database was found away (below), so the next receive waits for a ping that works.
    let looked = false;
    while (!signal.aborted) {
      if (breaker && (!looked || breaker.state !== 'CLOSED')) {
        looked = await this.#trial(breaker, signal);
        continue;
      }
      let messages: ReceivedMessage[];
      const started = performance.now();
      try {
        messages = await this.#options.queue.receive({ maxMessages: 1, waitTimeMs: this.#options.receiveWaitTimeMs, signal });
        this.#queueDelayMs = this.#options.queueRetryDelayMs ?? 250;
      } catch (error) {
        if (signal.aborted) return;
        this.#emit({ type: 'queue-error', operation: 'receive', error: messageOf(error) });
        await this.#wait(this.#queueDelayMs, signal);
        this.#queueDelayMs = Math.min(this.#queueDelayMs * 2, MAX_QUEUE_RETRY_DELAY_MS);
        continue;
      }
      for (const message of messages) {
        // The database away: the next receive waits for a ping through the breaker. Receiving
        // again at once would hand out the same message (visible again, see #leave) while the
        // circuit is still CLOSED, one receive per failure the breaker needs to open, and a
        // flapping database would dead-letter a good order; this way an outage costs one receive.
        if ((await this.process(message)) === 'transient') looked = false;
      }
      // A short poll (receiveWaitTime 0, as SQS allows) answers an empty queue at once: pause so
      // that the worker does not spin on the store.
      const spentMs = performance.now() - started;
      if (messages.length === 0 && spentMs < MIN_EMPTY_RECEIVE_MS) await this.#wait(MIN_EMPTY_RECEIVE_MS - spentMs, signal);
    }
  }

  /**
   * Applies one received message and settles it (exposed for tests that hand it a message):
   * 'transient' when it was left for redelivery because the database was away, else 'done'.
   */
  async process(message: ReceivedMessage): Promise<'done' | 'transient'> {
    this.#counters.received++;
    let order: OrderMessage;
    try {
      order = parseOrderMessage(message.body);
    } catch (error) {
      if (!(error instanceof OrderMessageError)) throw error;
      // Not an order: no redelivery will ever make it one.
      if (await this.#settle('deadLetter', () => this.#options.queue.deadLetter(message.receipt, error.message))) {
        this.#counters.deadLettered++;
        this.#emit({ type: 'settled', outcome: 'dead-lettered', messageId: message.messageId, key: message.key, receiveCount: message.receiveCount, reason: error.message });
      }
      return 'done';
    }
    let outcome: OrderOutcome;
    try {
      const apply = (): Promise<OrderOutcome> => this.#options.applyOrder({ productId: order.product_id, quantity: order.quantity, idempotencyKey: order.key }, order.served_by);
      outcome = await (this.#options.breaker ? this.#options.breaker.execute(apply) : apply());
    } catch (error) {
      return this.#leave(message, error);
    }
    const rejected = BUSINESS_REJECTIONS.has(outcome.httpStatus);
    if (outcome.httpStatus !== 201 && !rejected) {
      return this.#leave(message, new Error(`place_order answered ${outcome.httpStatus}: ${outcome.body.slice(0, 200)}`));
    }
    // Committed, replayed or rejected: the answer is in idempotency_keys, final for this key.
    // A business rejection is a valid result, not an error (Article 4): deleted, never retried.
    // Counted by what the database did, whether or not this receipt still deletes the message.
    const kind = outcome.replayed ? 'replayed' : rejected ? 'rejected' : 'committed';
    this.#counters[kind]++;
    this.#emit({ type: 'settled', outcome: kind, messageId: message.messageId, key: message.key, receiveCount: message.receiveCount, httpStatus: outcome.httpStatus });
    await this.#settle('delete', () => this.#options.queue.deleteMessage(message.receipt));
    return 'done';
  }

  /** The message stays on the queue: it is delivered again. 'transient': the database was away. */
  async #leave(message: ReceivedMessage, error: unknown): Promise<'done' | 'transient'> {
    const transient = error instanceof CircuitOpenError || isDatabaseUnavailable(error);
    const text = messageOf(error);
    if (transient) this.#counters.transientFailures++;
    else this.#counters.errors++;
    this.#emit({ type: 'left', outcome: transient ? 'transient' : 'error', messageId: message.messageId, key: message.key, receiveCount: message.receiveCount, error: text });
    await this.#settle('recordError', () => this.#options.queue.recordError(message.receipt, text));
    // With a breaker, the database away makes the message visible again at once: the loop's next
    // step is a ping through the breaker (run), not a receive, so nothing spins and no receive is
    // burnt, and the message is first in line once the database answers instead of waiting out a
    // 90 s visibility timeout. Without one, or for any other failure, the visibility timeout
    // paces the retries, as SQS paces a Lambda that raised.
    if (transient && this.#options.breaker) await this.#settle('changeVisibility', () => this.#options.queue.changeVisibility(message.receipt, 0));
    return transient ? 'transient' : 'done';
  }

  /**
   * A queue call that settles a message. False when it did not: a stale receipt means a later
   * delivery holds the message (its visibility expired while this one was applied) and settles
   * it; the queue out of reach means this delivery expires and is applied again, as a replay.
   */
  async #settle(operation: string, call: () => Promise<void>): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'RECEIPT_STALE') this.#counters.staleReceipts++;
      else this.#emit({ type: 'queue-error', operation, error: messageOf(error) });
      return false;
    }
  }

  /**
   * One ping through the breaker (the circuit's trial once its recovery timeout has run; while it
   * is closed, a failed ping counts towards opening it); true when it went through and the circuit
   * is closed, else false after a wait.
   */
  async #trial(breaker: CircuitBreaker, signal: AbortSignal): Promise<boolean> {
    try {
      await breaker.execute(this.#options.ping);
      // The ping went through: the circuit is closed, or this was the trial and it closes it
      // (the store's answer may take a moment: then the next look sees CLOSED).
      if (breaker.state === 'CLOSED') return true;
    } catch {
      // Open (fails fast, no database call), or the trial failed: wait and look again.
    }
    this.#emit({ type: 'waiting', breakerState: breaker.state });
    await this.#wait(this.#options.breakerPollMs ?? 250, signal);
    return false;
  }

  #emit(event: RecoveryWorkerEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // an observer cannot break the loop
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
