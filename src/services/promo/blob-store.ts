// The promo dependency's small interface (the S3 bucket of Article 7): an object's bytes, its
// content type and when it was last written. The shop parses and validates the banner.

/** The bucket the promo banner lives in. */
export const PROMO_BUCKET = 'promo';
/** The banner's key in PROMO_BUCKET. */
export const PROMO_BANNER_KEY = 'banner.json';

/** What the seed banner holds (what the shop expects; the store does not enforce it). */
export interface PromoBanner {
  title: string;
  text: string;
  discount_percent: number;
}

/** An object as stored. */
export interface StoredBlob {
  body: Buffer;
  contentType: string;
  /** When it was last written (ISO, the store's clock). */
  updatedAt: string;
}

/** An object store. Failures reject with DependencyError (dependency 'promo'). */
export interface BlobStore {
  /** The object, or undefined when there is none at bucket/key. */
  get(bucket: string, key: string): Promise<StoredBlob | undefined>;
  close(): Promise<void>;
}
