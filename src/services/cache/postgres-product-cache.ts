// The read cache on the services store. Each put is one statement; the list and each product's
// own entry are written together, so a product read after a list read is never older than it.
import type pg from 'pg';
import { StorePool } from '../postgres/index.ts';
import type { PostgresConnectionConfig } from '../../lab/postgres/index.ts';
import type { ProductRow } from '../../shop/ports.ts';
import { CacheError, type CachedValue, type ProductCache } from './product-cache.ts';
import type { KeyValueCache } from './key-value-cache.ts';

/** Options of PostgresProductCache. */
export interface PostgresProductCacheOptions {
  /** The services store's database (its table made by ensureCacheSchema). */
  connection: PostgresConnectionConfig | pg.PoolConfig;
  /** Bound on opening a connection (default 1000 ms). */
  connectTimeoutMs?: number;
  /** Bound on one statement (default 1000 ms): a blackholed store makes a read fail, never hang. */
  statementTimeoutMs?: number;
  /** Pooled connections (default 4). */
  maxConnections?: number;
}

const LIST_KEY = 'products';

// Rows in key order: two instances writing the same keys lock them in the same order, so their
// upserts queue behind each other instead of deadlocking. DISTINCT ON: a list that named one
// product twice must not make the upsert touch a row twice (an error).
const PUT_PRODUCTS: pg.QueryConfig = {
  name: 'cache-put-products',
  text: `INSERT INTO cache_entries (key, value, cached_at)
    SELECT key, value, clock_timestamp() FROM (
      SELECT '${LIST_KEY}' AS key, $1::jsonb AS value
      UNION ALL
      SELECT DISTINCT ON (p->>'id') 'product:' || (p->>'id'), p FROM jsonb_array_elements($1::jsonb) AS p
    ) AS entries
    ORDER BY key
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, cached_at = excluded.cached_at`,
};

const PUT: pg.QueryConfig = {
  name: 'cache-put',
  text: `INSERT INTO cache_entries (key, value, cached_at) VALUES ($1, $2::jsonb, clock_timestamp())
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, cached_at = excluded.cached_at`,
};

const GET: pg.QueryConfig = {
  name: 'cache-get',
  text: `SELECT value, cached_at, (extract(epoch FROM clock_timestamp() - cached_at) * 1000)::float8 AS age_ms
    FROM cache_entries WHERE key = $1`,
};

/**
 * A ProductCache, and a KeyValueCache for any other entry, on PostgreSQL. Failures of the store
 * reject with CacheError CACHE_UNAVAILABLE.
 */
export class PostgresProductCache implements ProductCache, KeyValueCache {
  readonly #pool: StorePool;
  #closed = false;

  constructor(options: PostgresProductCacheOptions) {
    this.#pool = new StorePool({
      connection: options.connection,
      connectTimeoutMs: options.connectTimeoutMs ?? 1000,
      statementTimeoutMs: options.statementTimeoutMs ?? 1000,
      maxConnections: options.maxConnections ?? 4,
      applicationName: 'chaos-lab product cache',
    });
  }

  async putProducts(products: ProductRow[]): Promise<void> {
    await this.#query(PUT_PRODUCTS, [JSON.stringify(products)]);
  }

  async putProduct(product: ProductRow): Promise<void> {
    await this.#query(PUT, [productKey(product.id), JSON.stringify(product)]);
  }

  getProducts(): Promise<CachedValue<ProductRow[]> | undefined> {
    return this.#get<ProductRow[]>(LIST_KEY);
  }

  getProduct(id: number): Promise<CachedValue<ProductRow> | undefined> {
    return this.#get<ProductRow>(productKey(id));
  }

  async put(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    // undefined, a function: nothing JSON could hold (and the column is NOT NULL).
    if (json === undefined) throw new TypeError(`cache entry ${key}: the value must be a JSON value, got ${typeof value}`);
    await this.#query(PUT, [entryKey(key), json]);
  }

  async get<T>(key: string): Promise<CachedValue<T> | undefined> {
    return this.#get<T>(entryKey(key));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #get<T>(key: string): Promise<CachedValue<T> | undefined> {
    const { rows } = await this.#query<{ value: T; cached_at: Date; age_ms: number }>(GET, [key]);
    const row = rows[0];
    if (!row) return undefined;
    return { value: row.value, cachedAt: row.cached_at.toISOString(), ageMs: Math.max(0, Math.round(row.age_ms)) };
  }

  async #query<R extends pg.QueryResultRow>(query: pg.QueryConfig, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new CacheError('CACHE_CLOSED', 'the product cache is closed');
    try {
      return await this.#pool.query<R>(query, values);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new CacheError('CACHE_UNAVAILABLE', `the product cache is unavailable: ${detail}`, { cause: error });
    }
  }
}

function entryKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new RangeError(`a cache key must be a non-empty string, got ${JSON.stringify(key)}`);
  return key;
}

function productKey(id: number): string {
  if (!Number.isSafeInteger(id)) throw new RangeError(`product id must be an integer, got ${String(id)}`);
  return `product:${id}`;
}
