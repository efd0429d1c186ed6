import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { EndpointRole } from './queryable.ts';

/** Statements on one endpoint, as a connection pattern holds them (a persistent connection, a pool). */
export interface EndpointConnection {
  /** Runs one statement. */
  query<R extends QueryResultRow = QueryResultRow>(query: QueryConfig): Promise<QueryResult<R>>;
  /** One `SELECT 1`: what /health/deep reports. */
  ping(): Promise<void>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** How the shop reaches its database: statements by endpoint role, as the patterns compose it (see compose.ts). */
export interface ShopDatabase {
  /** Runs one statement on `role`'s endpoint. */
  query<R extends QueryResultRow = QueryResultRow>(role: EndpointRole, query: QueryConfig): Promise<QueryResult<R>>;
  /** One `SELECT 1` on the writer, without retries: what /health/deep reports. */
  ping(): Promise<void>;
  /** Closes every connection. */
  close(): Promise<void>;
}
