import pg from 'pg';
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { DatabaseEndpoint, EndpointRole } from './queryable.ts';
import type { ShopDatabase } from './shop-database.ts';

/** Options of the naive strategy. */
export interface NaiveDatabaseOptions {
  writer: DatabaseEndpoint;
  connectTimeoutMs: number;
}

/**
 * Article 3's BEFORE: one persistent connection to the writer endpoint, created on first use,
 * never checked and never replaced. Reads go to the writer too. Once the server restarts or
 * fails over, the connection is dead and every request fails until the instance restarts:
 * that is the behaviour the experiment exists to show.
 */
export class NaiveDatabase implements ShopDatabase {
  readonly strategy = 'naive' as const;
  readonly retriesStatements = false;
  readonly #options: NaiveDatabaseOptions;
  #connection: Promise<pg.Client> | undefined;
  #closed = false;
  // Statements wait their turn on the one connection (pg deprecates queueing on a busy client).
  #turn: Promise<unknown> = Promise.resolve();

  constructor(options: NaiveDatabaseOptions) {
    this.#options = options;
  }

  query<R extends QueryResultRow = QueryResultRow>(_role: EndpointRole, query: QueryConfig): Promise<QueryResult<R>> {
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
    const { writer, connectTimeoutMs } = this.#options;
    const client = new pg.Client({ ...writer, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    // Without a listener a dropped connection would crash the process; the naive strategy
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
