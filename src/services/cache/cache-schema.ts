// The read cache's table on the services store: a key-value table (the DynamoDB table of
// Article 4) whose rows carry the store's time of writing, so every reader computes one age.
import type { StatementRunner } from '../postgres/index.ts';

/** The cache table. Keys: 'products' (the list) and 'product:<id>' (one product). */
export const CACHE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS cache_entries (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL,
  cached_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
`;

/** Creates the cache table (idempotent; run it once, from one process: concurrent CREATEs can collide). */
export async function ensureCacheSchema(client: StatementRunner): Promise<void> {
  await client.query(CACHE_SCHEMA_SQL);
}
