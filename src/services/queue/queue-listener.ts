// The long poll's wake-up: one dedicated connection that LISTENs on the queue channel. A send
// commits a NOTIFY; the listener counts the notifications for its queue, so a receive that
// found nothing can tell whether a send landed while it was looking (the count moved) and look
// again at once instead of sleeping through it. Notifications can be lost (the connection
// breaks, the store restarts): the long poll re-checks every recheckMs (1 s by default) anyway, so the
// listener is an accelerator, never the only way a message is found.
import pg from 'pg';
import { QUEUE_CHANNEL } from './queue-schema.ts';

/** After a failed connection attempt, do not try again before this (a receive must not pay for it every time). */
const RECONNECT_AFTER_MS = 1000;

/** A LISTEN connection that counts the notifications for one queue. */
export class QueueListener {
  readonly #config: pg.ClientConfig;
  readonly #queue: string;
  readonly #timeoutMs: number;
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #lastFailureAt = -Infinity;
  #generation = 0;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(config: pg.ClientConfig, queue: string, timeoutMs: number) {
    this.#config = config;
    this.#queue = queue;
    this.#timeoutMs = timeoutMs;
  }

  /** Notifications seen so far (and connection losses, which may have hidden some). */
  get generation(): number {
    return this.#generation;
  }

  /** Makes sure the LISTEN is in place; never rejects (without it, the long poll just re-checks every recheckMs). */
  ensure(): Promise<void> {
    if (this.#closed || this.#client) return Promise.resolve();
    if (performance.now() - this.#lastFailureAt < RECONNECT_AFTER_MS) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Resolves on a notification after `generation`, after `ms`, or on abort, whichever is first. */
  wait(generation: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || this.#generation !== generation || signal?.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Ends the connection and releases every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake();
    await this.#connecting;
    const client = this.#client;
    this.#client = undefined;
    if (client) await endWithin(client, this.#timeoutMs);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#config);
    // A broken LISTEN connection must not crash the process: drop it, wake the waiters (a
    // notification may have been lost with it), and connect again on the next receive.
    const lost = (): void => {
      if (this.#client === client) this.#client = undefined;
      this.#wake();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === QUEUE_CHANNEL && message.payload === this.#queue) this.#wake();
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await client.connect();
          await client.query(`LISTEN ${pg.escapeIdentifier(QUEUE_CHANNEL)}`);
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('LISTEN timed out')), this.#timeoutMs);
        }),
      ]);
      if (this.#closed) {
        void endWithin(client, this.#timeoutMs);
        return;
      }
      this.#client = client;
    } catch {
      this.#lastFailureAt = performance.now();
      void endWithin(client, this.#timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  #wake(): void {
    this.#generation++;
    for (const waiter of [...this.#waiters]) waiter();
  }
}

// end() waits for the server to close the socket; a blackholed store never does, so a close
// must not wait for it longer than a statement would.
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
