import pg from 'pg';
import { sleep } from '../resilience/backoff.ts';
import type { DatabaseEndpoint } from './database/queryable.ts';
import type { InitialisationPattern } from './patterns.ts';
import { initSchema } from './schema.ts';

/** Where initialisation stands. */
export type InitState =
  | { status: 'pending'; attempts: number; lastError?: string }
  | { status: 'ready'; attempts: number }
  | { status: 'failed'; attempts: number; lastError: string };

/** Wait after failed attempt number `attempt` (from 1): 2 s, 4 s, 8 s, … capped at 30 s by default. */
export function initRetryDelayMs(attempt: number, initialDelayMs: number, maxDelayMs: number): number {
  return Math.min(initialDelayMs * 2 ** Math.min(attempt - 1, 30), maxDelayMs);
}

/** Options of the initialiser. */
export interface InitializerOptions {
  writer: DatabaseEndpoint;
  connectTimeoutMs: number;
  /** background: retry until it works (Article 4's fix); once: one attempt (Article 4's trap). */
  pattern: InitialisationPattern;
  onAttemptFailed?: (error: unknown, nextDelayMs: number | undefined) => void;
}

/**
 * Creates the schema on its own short-lived connection (like the article's init_db), in the
 * background, so that /health answers at once while the database is still on its way.
 */
export class SchemaInitializer {
  readonly #options: InitializerOptions;
  readonly #abort = new AbortController();
  #state: InitState = { status: 'pending', attempts: 0 };
  #done: Promise<void> | undefined;

  constructor(options: InitializerOptions) {
    this.#options = options;
  }

  get state(): InitState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state.status === 'ready';
  }

  /**
   * Whether requests may go to the database: once it is ready; and, in mode once, also after the
   * one attempt failed. That is Article 4's trap, reproduced: the app logged "will retry on first
   * request", never retried, and every request then ran into the missing tables (500 forever).
   * In mode background requests wait (503 DB_NOT_READY) until a retry succeeds.
   */
  get servesRequests(): boolean {
    return this.#state.status === 'ready' || (this.#state.status === 'failed' && this.#options.pattern.mode === 'once');
  }

  /** Starts initialising; the returned promise settles when it is ready, has given up, or was stopped. */
  start(): Promise<void> {
    this.#done ??= this.#run();
    return this.#done;
  }

  /** Stops retrying. */
  stop(): void {
    this.#abort.abort(new Error('initialisation stopped'));
  }

  async #run(): Promise<void> {
    const { pattern } = this.#options;
    for (let attempt = 1; !this.#abort.signal.aborted; attempt++) {
      try {
        await this.#attempt();
        this.#state = { status: 'ready', attempts: attempt };
        return;
      } catch (error) {
        const lastError = (error as Error).message;
        const delay = pattern.mode === 'once' ? undefined : initRetryDelayMs(attempt, pattern.initialDelayMs, pattern.maxDelayMs);
        this.#options.onAttemptFailed?.(error, delay);
        if (delay === undefined) {
          this.#state = { status: 'failed', attempts: attempt, lastError };
          return;
        }
        this.#state = { status: 'pending', attempts: attempt, lastError };
        try {
          await sleep(delay, this.#abort.signal);
        } catch {
          return;
        }
      }
    }
  }

  async #attempt(): Promise<void> {
    const client = new pg.Client({ ...this.#options.writer, connectionTimeoutMillis: this.#options.connectTimeoutMs });
    client.on('error', () => {});
    try {
      await client.connect();
      await initSchema(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
}
