// Where the patterns become behaviour: the connection patterns build the database access, and
// the port patterns wrap the ports the routes talk to. The one place that reads `Patterns`
// (besides GET /, which names them), so a route never branches on what the shop is.
import { retry } from '../resilience/backoff.ts';
import { isConnectionError } from './database/connection-errors.ts';
import { ConnectionPool } from './database/connection-pool.ts';
import { PersistentConnection } from './database/persistent-connection.ts';
import type { DatabaseEndpoint, EndpointRole } from './database/queryable.ts';
import type { EndpointConnection, ShopDatabase } from './database/shop-database.ts';
import { databasePorts } from './database-ports.ts';
import type { Patterns } from './patterns.ts';
import type { ShopPorts } from './ports.ts';

/** Where the database is, and how long a connection may take to open. */
export interface DatabaseTarget {
  writer: DatabaseEndpoint;
  /** The reader endpoint (the writer in a single-server setup). */
  reader: DatabaseEndpoint;
  connectTimeoutMs: number;
  /** Called before each retry of a statement, for logs and metrics. */
  onRetry?: (role: EndpointRole, error: unknown, attempt: number) => void;
}

/**
 * The database access the patterns describe: a persistent connection or a checked pool per
 * endpoint, with the statement timeout; the reader used for reads when the read/write split is
 * on (else everything goes to the writer); statements that lose their connection retried on
 * the retry schedule.
 */
export function composeDatabase(patterns: Patterns, target: DatabaseTarget): ShopDatabase {
  const connect = (endpoint: DatabaseEndpoint): EndpointConnection => {
    const { connection, queryTimeoutMs } = patterns;
    if (connection.kind === 'persistent') return new PersistentConnection({ endpoint, connectTimeoutMs: target.connectTimeoutMs, queryTimeoutMs });
    return new ConnectionPool({ endpoint, connectTimeoutMs: target.connectTimeoutMs, queryTimeoutMs, size: connection.size, validateAfterIdleMs: connection.validateAfterIdleMs });
  };
  const writer = connect(target.writer);
  // A reader of its own whenever reads are split, even onto the writer's endpoint (a single
  // server): Article 3's resilient shop has a pool per endpoint, so reads never queue behind writes.
  const reader = patterns.readWriteSplit ? connect(target.reader) : writer;
  const byRole: ShopDatabase = {
    query: (role, statement) => (role === 'writer' ? writer : reader).query(statement),
    ping: () => writer.ping(),
    close: async () => {
      await Promise.all(reader === writer ? [writer.close()] : [writer.close(), reader.close()]);
    },
  };
  const { delaysMs } = patterns.retry;
  return delaysMs.length === 0 ? byRole : withStatementRetry(byRole, delaysMs, target.onRetry);
}

/** Retries a statement that lost its connection after each delay in turn (Article 3: 0.5 s, 1 s, 2 s). */
export function withStatementRetry(
  database: ShopDatabase,
  delaysMs: readonly number[],
  onRetry?: (role: EndpointRole, error: unknown, attempt: number) => void,
): ShopDatabase {
  return {
    query: (role, statement) =>
      retry(() => database.query(role, statement), {
        delaysMs,
        shouldRetry: isConnectionError,
        onRetry: (error, attempt) => onRetry?.(role, error, attempt),
      }),
    // /health/deep reports the database as it is this moment: never retried.
    ping: () => database.ping(),
    close: () => database.close(),
  };
}

/**
 * The ports the routes talk to, over `database`, wrapped as the patterns say. The seam for the
 * port patterns: the circuit breaker wraps these ports here (around the database calls, with a
 * DatabaseFailure of kind connection counting as a failure, never a business answer); later a
 * read cache wraps the catalog and a write buffer the orders. Until the breaker lands,
 * resolvePatterns refuses every circuitBreaker mode but off, so there is nothing to wrap yet.
 */
export function composePorts(database: ShopDatabase, patterns: Patterns, options: { instanceId: string; readerIsWriter: boolean }): ShopPorts {
  return databasePorts(database, {
    instanceId: options.instanceId,
    retriesStatements: patterns.retry.delaysMs.length > 0,
    readYourWrites: patterns.readWriteSplit && !options.readerIsWriter,
  });
}
