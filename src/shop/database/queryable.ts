import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';

/** Anything that runs a statement: a pg Client, a pooled client. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string | QueryConfig, values?: unknown[]): Promise<QueryResult<R>>;
}

/** Where a database endpoint is: the cluster's writer or reader, or a proxy in front of them. */
export interface DatabaseEndpoint {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/** Which endpoint a statement goes to. */
export type EndpointRole = 'writer' | 'reader';
