// A small pool of connections to the services store in which every statement is bounded: the
// queue and the cache stand for managed services that answer or fail, never hang. A blackholed
// store (a fault proxy that swallows bytes) must make a call reject in bounded time, so the
// shop can answer 503 instead of holding the customer's request.
import pg from 'pg';

/** Anything that runs a statement (a pg Client, a pooled client, the shop's Queryable): what a schema needs. */
export interface StatementRunner {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** Options of StorePool. */
export interface StorePoolOptions {
  /** Where the store is: host/port/user/password/database, or a connectionString. */
  connection: pg.PoolConfig;
  /** Bound on opening a connection (TCP and the startup handshake). */
  connectTimeoutMs: number;
  /** Bound on one statement once connected (also the server's statement_timeout). */
  statementTimeoutMs: number;
  /** Connections kept at most. */
  maxConnections: number;
  /** Shown in pg_stat_activity. */
  applicationName: string;
}

/** A statement did not answer within the pool's statementTimeoutMs. */
export class StoreTimeoutError extends Error {
  readonly code = 'STORE_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`the services store did not answer within ${timeoutMs} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** end() was called: a statement still waiting for a connection or an answer is given up. */
export class StoreClosedError extends Error {
  readonly code = 'STORE_CLOSED';
  constructor() {
    super('the connection pool to the services store is closed');
    this.name = 'StoreClosedError';
  }
}

/** Connection settings shared by the pool and a dedicated client (the queue's LISTEN client). */
export function storeClientConfig(options: StorePoolOptions): pg.ClientConfig {
  return {
    ...options.connection,
    connectionTimeoutMillis: options.connectTimeoutMs,
    // The server gives up too, so a slow (not blackholed) store does not commit a statement
    // long after the caller was told it failed.
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName,
    keepAlive: true,
  };
}

/** A pg.Pool whose statements are bounded and whose broken connections are never reused. */
export class StorePool {
  readonly #pool: pg.Pool;
  readonly #statementTimeoutMs: number;
  // Aborted by end(): every statement still under way gives up at once (see end()).
  readonly #ending = new AbortController();

  constructor(options: StorePoolOptions) {
    this.#statementTimeoutMs = options.statementTimeoutMs;
    this.#pool = new pg.Pool({
      ...storeClientConfig(options),
      max: options.maxConnections,
      idleTimeoutMillis: 10_000,
      // A process may end with idle connections still open (a worker invocation, a CLI command).
      allowExitOnIdle: true,
    });
    // An idle connection that breaks (the store restarted, a fault reset it) must not crash us;
    // the next statement reports the failure to its caller.
    this.#pool.on('error', () => {});
    // A connection that breaks while checked out (a fault proxy resets it mid-statement) emits
    // 'error' on the client, which the pool only listens for while it is idle: without a
    // listener of its own that error would crash the process. The statement's rejection reports it.
    this.#pool.on('connect', (client) => client.on('error', () => {}));
  }

  /** One statement, bounded; a connection whose statement timed out or failed mid-way is destroyed. */
  async query<R extends pg.QueryResultRow>(query: pg.QueryConfig, values: unknown[]): Promise<pg.QueryResult<R>> {
    const ended = this.#endedPromise();
    // pool.connect is bounded by connectionTimeoutMillis, also while waiting for a free connection.
    const connecting = this.#pool.connect();
    let client: pg.PoolClient;
    try {
      client = await Promise.race([connecting, ended.promise]);
    } catch (error) {
      // Ended while connecting: a connection that still arrives goes straight back.
      connecting.then((late) => late.release(true), () => {});
      ended.dispose();
      throw error;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        client.query<R>({ ...query, values }),
        ended.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreTimeoutError(this.#statementTimeoutMs)), this.#statementTimeoutMs);
        }),
      ]);
      client.release();
      return result;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    } finally {
      clearTimeout(timer);
      ended.dispose();
    }
  }

  /**
   * Closes every connection, without waiting for a statement under way: a blackholed store holds
   * a statement (or a connection's start-up) for as long as its timeout, which for Article 7's
   * SDK defaults is a minute. Such statements reject with StoreClosedError, and their sockets are
   * destroyed, since a polite Terminate would wait behind the held bytes too.
   */
  async end(): Promise<void> {
    if (!this.#ending.signal.aborted) {
      this.#ending.abort(new StoreClosedError());
      // pg-pool keeps every client it made, connecting or checked out, in _clients (not public API):
      // read defensively, so a pg-pool without it only loses the fast close.
      const clients = (this.#pool as unknown as { _clients?: unknown[] })._clients ?? [];
      for (const client of clients) (client as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
    await this.#pool.end();
  }

  /** A promise that rejects when end() is called, and a way to stop listening for it. */
  #endedPromise(): { promise: Promise<never>; dispose: () => void } {
    const signal = this.#ending.signal;
    let onAbort = (): void => {};
    const promise = new Promise<never>((_, reject) => {
      if (signal.aborted) return reject(signal.reason);
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    promise.catch(() => {}); // raced, never awaited alone
    return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
  }
}
