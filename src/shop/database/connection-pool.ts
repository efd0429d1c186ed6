import pg from 'pg';
import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { isConnectionError } from './connection-errors.ts';
import type { DatabaseEndpoint } from './queryable.ts';
import type { EndpointConnection } from './shop-database.ts';

/** Options of a connection pool. */
export interface ConnectionPoolOptions {
  endpoint: DatabaseEndpoint;
  connectTimeoutMs: number;
  /** A statement without an answer after this long fails (and its connection is dropped), so a hung database cannot hang the shop; null: no limit. */
  queryTimeoutMs: number | null;
  /** Connections to the endpoint. */
  size: number;
  /** A connection idle for longer than this is checked with SELECT 1 before use. */
  validateAfterIdleMs: number;
}

/**
 * The `pool` connection pattern, Article 3's AFTER: connections checked before use and replaced
 * when dead.
 *
 * The check before use is skipped for a connection that was used within
 * `validateAfterIdleMs`: under load a connection that just answered is alive, and a SELECT 1
 * per request would double the round trips. A connection that dies while idle is dropped by
 * the pool as soon as its socket reports the error.
 */
export class ConnectionPool implements EndpointConnection {
  readonly #options: ConnectionPoolOptions;
  readonly #pool: pg.Pool;
  readonly #lastUsed = new WeakMap<PoolClient, number>();

  constructor(options: ConnectionPoolOptions) {
    this.#options = options;
    this.#pool = new pg.Pool({
      ...options.endpoint,
      max: options.size,
      connectionTimeoutMillis: options.connectTimeoutMs,
      ...(options.queryTimeoutMs === null ? {} : { query_timeout: options.queryTimeoutMs }),
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    });
    this.#pool.on('error', () => {}); // an idle connection died: the pool has already dropped it
  }

  query<R extends QueryResultRow = QueryResultRow>(query: QueryConfig): Promise<QueryResult<R>> {
    return this.#withClient((client) => client.query<R>(query));
  }

  async ping(): Promise<void> {
    await this.#withClient((client) => client.query('SELECT 1'));
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #withClient<T>(use: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#checkedClient();
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
  async #checkedClient(): Promise<PoolClient> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.#pool.connect();
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
        if (attempt >= this.#options.size) throw error;
      }
    }
  }
}

function ignore(): void {}
