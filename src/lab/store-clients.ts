// What the lab itself keeps of Article 4's services: which parts of the services store the
// patterns use, the recovery worker's environment, and the lab's own clients of the store (the
// order queue's stats, dead letters and redrive; the shared breaker's record). The lab's clients
// go to the store straight, not through the fault proxy: the lab observes, it is not a customer,
// so a fault on a path never blinds `status`.
import { PostgresBreakerStore, type BreakerRecord, type StoredTransition } from '../resilience/circuit-breaker/index.ts';
import { ORDER_QUEUE_NAME, type DeadLetter, type MessageQueue, type QueueSettings, type QueueStats } from '../services/queue/message-queue.ts';
import { PostgresQueue } from '../services/queue/postgres-queue.ts';
import { SHOP_BREAKER_NAME } from '../shop/compose.ts';
import type { Patterns } from '../shop/patterns.ts';
import type { ServicesStore } from './services-store/index.ts';

/** Which parts of the services store the patterns use. */
export interface StoreUses {
  sharedBreaker: boolean;
  /** The read cache: read through (readCache not off) or a stale fallback for reviews and promo. */
  readCache: boolean;
  writeBuffer: boolean;
}

/** Which parts of the services store `patterns` use (reviews and promo are always there: no pattern turns them off). */
export function storeUses(patterns: Patterns): StoreUses {
  return {
    sharedBreaker: patterns.circuitBreaker.mode === 'shared',
    // The stale fallback answers from the read cache's last good reviews and banner.
    readCache: patterns.readCache.mode !== 'off' || patterns.dependencyClient.fallback === 'stale',
    writeBuffer: patterns.writeBuffer.mode !== 'off',
  };
}

/**
 * The recovery worker's environment: the instances' paths to the database writer, the order
 * queue and the breaker's store (their fault-proxy listeners: a fault there reaches the worker
 * too), the fleet's patterns (the breaker's settings), the queue's settings.
 */
export function recoveryWorkerEnv(instanceEnv: Record<string, string>, patterns: Patterns, queue: QueueSettings): Record<string, string> {
  const env: Record<string, string> = { SHOP_PATTERNS: JSON.stringify(patterns), QUEUE_SETTINGS: JSON.stringify(queue) };
  for (const name of ['DB_WRITER_URL', 'ORDER_QUEUE_URL', 'SERVICES_STORE_URL']) {
    const value = instanceEnv[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** The order queue as `status` and `GET /queue` show it. */
export interface LabQueueStatus {
  name: string;
  settings: QueueSettings;
  stats: QueueStats;
}

/** The lab's own clients of the services store, for what the patterns use. */
export class StoreClients {
  /** The order queue, when the patterns buffer writes. */
  readonly queue: MessageQueue | undefined;
  readonly queueSettings: QueueSettings;
  readonly #breakerStore: PostgresBreakerStore | undefined;

  constructor(store: ServicesStore, uses: StoreUses, queueSettings: QueueSettings) {
    this.queueSettings = queueSettings;
    this.queue = uses.writeBuffer ? new PostgresQueue({ connection: store.connectionConfig(), name: ORDER_QUEUE_NAME, settings: queueSettings }) : undefined;
    // One connection, a generous bound: `status` reads it now and then, never on a hot path.
    this.#breakerStore = uses.sharedBreaker ? new PostgresBreakerStore(store.connectionConfig(), { timeoutMs: 2000, maxConnections: 1 }) : undefined;
  }

  /** The order queue's name, settings and stats, or undefined when there is none. */
  async queueStatus(): Promise<LabQueueStatus | undefined> {
    if (!this.queue) return undefined;
    return { name: ORDER_QUEUE_NAME, settings: this.queueSettings, stats: await this.queue.stats() };
  }

  /** The dead letters (oldest first, at most `limit`), or undefined when there is no queue. */
  async deadLetters(limit: number): Promise<DeadLetter[] | undefined> {
    return this.queue?.deadLetters(limit);
  }

  /** The fleet's shared breaker as the store holds it, or undefined when the patterns share none. */
  async breakerState(): Promise<BreakerRecord | undefined> {
    return this.#breakerStore?.read(SHOP_BREAKER_NAME);
  }

  /** The fleet's shared breaker's transitions with the store's times, oldest first, or undefined when the patterns share none. */
  async breakerTransitions(): Promise<StoredTransition[] | undefined> {
    return this.#breakerStore?.transitions(SHOP_BREAKER_NAME);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.queue?.close(), this.#breakerStore?.close()]);
  }
}
