import pg from 'pg';
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { DatabaseEndpoint } from './queryable.ts';
import type { EndpointConnection } from './shop-database.ts';

/** Options of a persistent connection. */
export interface PersistentConnectionOptions {
  endpoint: DatabaseEndpoint;
  connectTimeoutMs: number;
  /** A statement unanswered for this long fails; null: it waits forever (Article 3's naive shop). */
  queryTimeoutMs: number | null;
}

/**
 * The `persistent` connection pattern, Article 3's BEFORE: one connection to the endpoint,
 * created on first use, never checked and never replaced. Once the server restarts or fails
 * over, the connection is dead and every statement fails until the instance restarts: that is
 * the behaviour the experiment exists to show.
 */
export class PersistentConnection implements EndpointConnection {
  readonly #options: PersistentConnectionOptions;
  #connection: Promise<pg.Client> | undefined;
  #closed = false;
  // Statements wait their turn on the one connection (pg deprecates queueing on a busy client).
  #turn: Promise<unknown> = Promise.resolve();

  constructor(options: PersistentConnectionOptions) {
    this.#options = options;
  }

  query<R extends QueryResultRow = QueryResultRow>(query: QueryConfig): Promise<QueryResult<R>> {
    return this.#inTurn(async () => (await this.#client()).query<R>(query));
  }

  async ping(): Promise<void> {
    await this.#inTurn(async () => (await this.#client()).query('SELECT 1'));
  }

  #inTurn<T>(statement: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(statement, statement);
    this.#turn = result.catch(() => {});
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    try {
      await (await connection).end();
    } catch {
      // A connection that never opened or already died has nothing to close.
    }
  }

  #client(): Promise<pg.Client> {
    if (this.#closed) return Promise.reject(new Error('database connection is closed'));
    if (this.#connection) return this.#connection;
    const { endpoint, connectTimeoutMs, queryTimeoutMs } = this.#options;
    const client = new pg.Client({
      ...endpoint,
      connectionTimeoutMillis: connectTimeoutMs,
      ...(queryTimeoutMs === null ? {} : { query_timeout: queryTimeoutMs }),
      keepAlive: true,
    });
    // Without a listener a dropped connection would crash the process; the persistent pattern
    // notices nothing, and later queries fail with "not queryable".
    client.on('error', () => {});
    const connecting = client.connect().then(
      () => client,
      (error: unknown) => {
        // Like the article's code: a connection that could not be opened is tried again
        // on the next request. Only a connection that opened is kept forever.
        this.#connection = undefined;
        throw error;
      },
    );
    this.#connection = connecting;
    return connecting;
  }
}
