// Promo (Article 7's S3 bucket): objects on the services store, the banner among them.
export { PROMO_BUCKET, PROMO_BANNER_KEY } from './blob-store.ts';
export type { BlobStore, PromoBanner, StoredBlob } from './blob-store.ts';
export { PostgresBlobStore } from './postgres-blob-store.ts';
export type { PostgresBlobStoreOptions } from './postgres-blob-store.ts';
export { BLOB_SCHEMA_SQL, SEED_BANNER, ensureBlobSchema, putBlob, seedPromo } from './blob-schema.ts';
