import pg from 'pg';
import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { retry } from '../../resilience/backoff.ts';
import { isConnectionError } from './connection-errors.ts';
import type { DatabaseEndpoint, EndpointRole } from './queryable.ts';
import type { ShopDatabase } from './shop-database.ts';

/** Options of the resilient strategy. */
export interface ResilientDatabaseOptions {
  writer: DatabaseEndpoint;
  reader: DatabaseEndpoint;
  connectTimeoutMs: number;
  /** A statement without an answer after this long fails (and its connection is dropped), so a hung database cannot hang the shop. */
  queryTimeoutMs: number;
  /** Connections per endpoint. */
  poolSize: number;
  /** Waits before each retry of a statement that lost its connection (Article 3: 0.5 s, 1 s, 2 s). */
  retryDelaysMs: readonly number[];
  /** A connection idle for longer than this is checked with SELECT 1 before use. */
  validateAfterIdleMs: number;
  /** Called on every retry, for logs and metrics. */
  onRetry?: (role: EndpointRole, error: unknown, attempt: number) => void;
}

/**
 * Article 3's AFTER: a pool per endpoint, reads on the reader and writes on the writer;
 * connections checked before use and replaced when dead; statements that lose their
 * connection retried with exponential backoff.
 *
 * The check before use is skipped for a connection that was used within
 * `validateAfterIdleMs`: under load a connection that just answered is alive, and a SELECT 1
 * per request would double the round trips. A connection that dies while idle is dropped by
 * the pool as soon as its socket reports the error.
 */
export class ResilientDatabase implements ShopDatabase {
  readonly strategy = 'resilient' as const;
  readonly retriesStatements = true;
  readonly #options: ResilientDatabaseOptions;
  readonly #pools: Record<EndpointRole, pg.Pool>;
  readonly #lastUsed = new WeakMap<PoolClient, number>();

  constructor(options: ResilientDatabaseOptions) {
    this.#options = options;
    const pool = (endpoint: DatabaseEndpoint): pg.Pool => {
      const created = new pg.Pool({
        ...endpoint,
        max: options.poolSize,
        connectionTimeoutMillis: options.connectTimeoutMs,
        query_timeout: options.queryTimeoutMs,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
      });
      created.on('error', () => {}); // an idle connection died: the pool has already dropped it
      return created;
    };
    this.#pools = { writer: pool(options.writer), reader: pool(options.reader) };
  }

  query<R extends QueryResultRow = QueryResultRow>(role: EndpointRole, query: QueryConfig): Promise<QueryResult<R>> {
    return retry(() => this.#withClient(role, (client) => client.query<R>(query)), {
      delaysMs: this.#options.retryDelaysMs,
      shouldRetry: isConnectionError,
      onRetry: (error, attempt) => this.#options.onRetry?.(role, error, attempt),
    });
  }

  async ping(): Promise<void> {
    await this.#withClient('writer', (client) => client.query('SELECT 1'));
  }

  async close(): Promise<void> {
    await Promise.all([this.#pools.writer.end(), this.#pools.reader.end()]);
  }

  async #withClient<T>(role: EndpointRole, use: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#checkedClient(role);
    try {
      const result = await use(client);
      this.#lastUsed.set(client, Date.now());
      client.release();
      return result;
    } catch (error) {
      // A broken connection is destroyed, not returned to the pool.
      client.release(isConnectionError(error) ? (error as Error) : undefined);
      throw error;
    } finally {
      client.off('error', ignore);
    }
  }

  /** Borrows a connection, replacing those found dead, up to the pool size plus one. */
  async #checkedClient(role: EndpointRole): Promise<PoolClient> {
    const pool = this.#pools[role];
    for (let attempt = 0; ; attempt++) {
      const client = await pool.connect();
      // The pool listens for errors only on idle connections. A checked-out connection that
      // breaks (a reset under a query) also emits 'error', which would crash the process
      // unheard; the query in flight fails with it anyway, and that is what we act on.
      client.on('error', ignore);
      const lastUsed = this.#lastUsed.get(client);
      if (lastUsed === undefined || Date.now() - lastUsed <= this.#options.validateAfterIdleMs) return client;
      try {
        await client.query('SELECT 1');
        return client;
      } catch (error) {
        client.off('error', ignore);
        client.release(error as Error);
        if (attempt >= this.#options.poolSize) throw error;
      }
    }
  }
}

function ignore(): void {}
