import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { EndpointRole } from './queryable.ts';

/** The two connection strategies of Article 3. */
export type StrategyName = 'naive' | 'resilient';

/** The strategies, for validation and help texts. */
export const STRATEGIES: readonly StrategyName[] = ['naive', 'resilient'];

/** How the shop reaches its database; one implementation per connection strategy. */
export interface ShopDatabase {
  readonly strategy: StrategyName;
  /** True when failed statements are retried, so a write must carry an idempotency key. */
  readonly retriesStatements: boolean;
  /** Runs one statement on `role`'s endpoint. */
  query<R extends QueryResultRow = QueryResultRow>(role: EndpointRole, query: QueryConfig): Promise<QueryResult<R>>;
  /** One `SELECT 1` on the writer, without retries: what /health/deep reports. */
  ping(): Promise<void>;
  /** Closes every connection. */
  close(): Promise<void>;
}
