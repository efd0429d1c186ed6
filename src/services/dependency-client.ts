// How the shop reaches a secondary dependency (Article 7: the reviews table, the promo bucket):
// boto3's Config in our terms. Every attempt is bounded by a connect timeout (opening a
// connection, or waiting for a pooled one) and a read timeout (one statement), and failures to
// reach the store are retried with botocore's legacy backoff. With the SDK's defaults a
// blackholed dependency holds the caller for minutes; with short timeouts and no retries it
// fails in about one timeout, which is all the article's AFTER asks of the client.
import type pg from 'pg';
import { retry, sleep } from '../resilience/backoff.ts';
import { isConnectionError } from '../shop/database/connection-errors.ts';
import type { PostgresConnectionConfig } from '../lab/postgres/index.ts';
import { StorePool, StoreTimeoutError } from './postgres/index.ts';

/** How a client of a secondary dependency behaves (Article 7: boto3's Config). */
export interface DependencyClientSettings {
  /** Bound on opening a connection (TCP + startup handshake), also on waiting for a pooled one. */
  connectTimeoutMs: number;
  /** Bound on one statement once connected. */
  readTimeoutMs: number;
  /** Attempts after the first (botocore max_attempts - 1); 0 = none. */
  retries: number;
}

/** botocore's defaults, what a client gets without thinking: 60 s connect, 60 s read, legacy retry mode (5 attempts). */
export const SDK_DEFAULT_CLIENT: DependencyClientSettings = { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4 };

/** botocore legacy mode's base delay for DynamoDB (its _retry.json: base 0.05 s, growth factor 2). */
export const RETRY_BASE_DELAY_MS = 50;

/** Stable codes of DependencyError. */
export type DependencyErrorCode =
  /** Every attempt failed to reach the store in time, or the statement failed. */
  | 'DEPENDENCY_UNAVAILABLE'
  /** close() was called. */
  | 'DEPENDENCY_CLOSED';

/** A call to a secondary dependency failed; `code` says how, `attempts` how many attempts were made. */
export class DependencyError extends Error {
  readonly code: DependencyErrorCode;
  /** Which dependency: 'reviews' | 'promo'. */
  readonly dependency: string;
  /** How many attempts were made (0 when the client was closed before the first). */
  readonly attempts: number;
  constructor(code: DependencyErrorCode, dependency: string, attempts: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DependencyError';
    this.code = code;
    this.dependency = dependency;
    this.attempts = attempts;
  }
}

/** Checks settings at the edge: a zero timeout would mean "no timeout" to pg, the very hang they exist to bound. */
export function validateClientSettings(settings: DependencyClientSettings): DependencyClientSettings {
  for (const field of ['connectTimeoutMs', 'readTimeoutMs'] as const) {
    const value = settings[field];
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${field} must be a positive integer of milliseconds, got ${String(value)}`);
  }
  if (!Number.isSafeInteger(settings.retries) || settings.retries < 0) {
    throw new RangeError(`retries must be a non-negative integer, got ${String(settings.retries)}`);
  }
  return settings;
}

/**
 * botocore legacy backoff with full jitter: before retry n (0-based) wait random() * 50 * 2^n ms.
 * Drawn once per call, so a test with an injected `random` knows every wait.
 */
export function retryDelaysMs(retries: number, random: () => number = Math.random): number[] {
  return Array.from({ length: retries }, (_, n) => random() * RETRY_BASE_DELAY_MS * 2 ** n);
}

// SQLSTATEs of a store that was reached but could not serve us: 57014 the server's own
// statement_timeout (a slow store, the twin of our read timeout), 53300 too many connections.
const UNREACHED_SQLSTATES = new Set(['57014', '53300']);

/**
 * True when `error` is a failure to reach the store (refused, reset, connect or read timeout),
 * worth another attempt; false for a statement the store answered with an error (a missing table),
 * which another attempt would only repeat.
 */
export function isReachFailure(error: unknown): boolean {
  if (error instanceof StoreTimeoutError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && UNREACHED_SQLSTATES.has(code)) return true;
  // pg's own connect timer: it fires together with the pool's, whose wrapping usually wins the race.
  if (error instanceof Error && error.message === 'timeout expired') return true;
  return isConnectionError(error);
}

/** Options of a client of a dependency on the services store (PostgresReviewStore, PostgresBlobStore). */
export interface DependencyStoreOptions {
  /** The services store's database (its tables made by ServicesStore.start). */
  connection: PostgresConnectionConfig | pg.PoolConfig;
  /** Timeouts and retries. */
  client: DependencyClientSettings;
  /** Pooled connections (default 10, botocore's max_pool_connections). */
  maxConnections?: number;
  /** The jitter's source (default Math.random); a test injects a fixed one. */
  random?: () => number;
}

/** A bounded pool on the services store whose statements are retried as the settings say; errors are DependencyErrors. */
export class DependencyClient {
  readonly dependency: string;
  readonly #pool: StorePool;
  readonly #settings: DependencyClientSettings;
  readonly #random: () => number;
  readonly #password: string | undefined;
  // Aborted by close(): a call waiting to retry stops at once instead of after its backoff.
  readonly #closing = new AbortController();

  constructor(dependency: string, options: DependencyStoreOptions) {
    this.dependency = dependency;
    this.#settings = validateClientSettings(options.client);
    this.#random = options.random ?? Math.random;
    this.#password = passwordOf(options.connection);
    this.#pool = new StorePool({
      connection: options.connection,
      connectTimeoutMs: this.#settings.connectTimeoutMs,
      statementTimeoutMs: this.#settings.readTimeoutMs,
      maxConnections: options.maxConnections ?? 10,
      applicationName: `chaos-lab ${dependency} client`,
    });
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /** One statement, with the settings' timeouts and retries. */
  async query<R extends pg.QueryResultRow>(query: pg.QueryConfig, values: unknown[]): Promise<pg.QueryResult<R>> {
    let attempts = 0;
    try {
      return await retry(
        async () => {
          if (this.closed) throw this.#closedError(attempts);
          attempts++;
          return await this.#pool.query<R>(query, values);
        },
        {
          delaysMs: retryDelaysMs(this.#settings.retries, this.#random),
          shouldRetry: isReachFailure,
          sleep: (ms) => sleep(ms, this.#closing.signal),
        },
      );
    } catch (error) {
      // Closed while the call was under way (waiting to retry, or its connection ended under it).
      if (this.closed) throw error instanceof DependencyError ? error : this.#closedError(attempts, error);
      const times = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
      throw new DependencyError('DEPENDENCY_UNAVAILABLE', this.dependency, attempts, `${this.dependency} is unavailable after ${times}: ${this.#describe(error)}`, {
        cause: error,
      });
    }
  }

  /** Closes every connection; calls after this reject with DEPENDENCY_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.#closing.abort(new Error(`the ${this.dependency} client is closed`));
    await this.#pool.end();
  }

  #closedError(attempts: number, cause?: unknown): DependencyError {
    return new DependencyError('DEPENDENCY_CLOSED', this.dependency, attempts, `the ${this.dependency} client is closed`, { cause });
  }

  // The last cause, for the message; a driver message never carries the password today, but a
  // message is logged and answered, so it is scrubbed rather than trusted.
  #describe(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return this.#password ? message.split(this.#password).join('***') : message;
  }
}

function passwordOf(connection: DependencyStoreOptions['connection']): string | undefined {
  let password: unknown = connection.password;
  if (password === undefined && 'connectionString' in connection && typeof connection.connectionString === 'string') {
    try {
      password = decodeURIComponent(new URL(connection.connectionString).password);
    } catch {
      password = undefined; // not a URL (a conninfo string): pg reports it, and the password is not ours to find
    }
  }
  return typeof password === 'string' && password !== '' ? password : undefined;
}
