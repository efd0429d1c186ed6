// The promo bucket on the services store, reached as the shop's dependency client settings say
// (timeouts, retries): a blackholed store rejects in bounded time with DEPENDENCY_UNAVAILABLE.
import type pg from 'pg';
import { DependencyClient, type DependencyStoreOptions } from '../dependency-client.ts';
import type { BlobStore, StoredBlob } from './blob-store.ts';

/** Options of PostgresBlobStore. */
export type PostgresBlobStoreOptions = DependencyStoreOptions;

const GET: pg.QueryConfig = {
  name: 'blob-get',
  text: 'SELECT body, content_type, updated_at FROM blobs WHERE bucket = $1 AND key = $2',
};

/** A BlobStore on PostgreSQL. */
export class PostgresBlobStore implements BlobStore {
  readonly #client: DependencyClient;

  constructor(options: PostgresBlobStoreOptions) {
    this.#client = new DependencyClient('promo', options);
  }

  async get(bucket: string, key: string): Promise<StoredBlob | undefined> {
    const { rows } = await this.#client.query<{ body: Buffer; content_type: string; updated_at: Date }>(GET, [bucket, key]);
    const row = rows[0];
    if (!row) return undefined;
    return { body: row.body, contentType: row.content_type, updatedAt: row.updated_at.toISOString() };
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
