// The blobs table on the services store (the S3 bucket of Article 7: objects by bucket and key)
// and its seed: the promo banner.
import type { StatementRunner } from '../postgres/index.ts';
import { PROMO_BANNER_KEY, PROMO_BUCKET, type PromoBanner } from './blob-store.ts';

/** The blobs table. `body` is any bytes: the store keeps what it is given, the shop validates. */
export const BLOB_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS blobs (
  bucket       text NOT NULL,
  key          text NOT NULL,
  body         bytea NOT NULL,
  content_type text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (bucket, key)
);
`;

/** The seed banner at promo/banner.json. */
export const SEED_BANNER: PromoBanner = {
  title: 'Autumn desk upgrade',
  text: 'Ten percent off keyboards, hubs and everything else on your desk this week.',
  discount_percent: 10,
};

const PUT = `INSERT INTO blobs (bucket, key, body, content_type, updated_at) VALUES ($1, $2, $3, $4, clock_timestamp())`;

/** Creates the blobs table (idempotent; run it once, from one process: concurrent CREATEs can collide). */
export async function ensureBlobSchema(client: StatementRunner): Promise<void> {
  await client.query(BLOB_SCHEMA_SQL);
}

/** Puts the seed banner (JSON: {"title", "text", "discount_percent"}) at promo/banner.json unless one is there. */
export async function seedPromo(client: StatementRunner): Promise<void> {
  // DO NOTHING: a store restarted over its data keeps the banner it holds.
  await client.query(`${PUT} ON CONFLICT (bucket, key) DO NOTHING`, [
    PROMO_BUCKET,
    PROMO_BANNER_KEY,
    Buffer.from(JSON.stringify(SEED_BANNER)),
    'application/json',
  ]);
}

/** Stores `body` at bucket/key, replacing what is there: for tests and experiments that need a particular, or a bad, object. */
export async function putBlob(client: StatementRunner, bucket: string, key: string, body: Buffer | string, contentType: string): Promise<void> {
  await client.query(
    `${PUT} ON CONFLICT (bucket, key) DO UPDATE SET body = excluded.body, content_type = excluded.content_type, updated_at = excluded.updated_at`,
    [bucket, key, typeof body === 'string' ? Buffer.from(body) : body, contentType],
  );
}
