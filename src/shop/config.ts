import type { DatabaseEndpoint } from './database/queryable.ts';
import { applyRecoveryTimeoutEnv, checkResolvedPatterns, PatternsError, resolvePatterns, type Patterns } from './patterns.ts';

/** Everything one shop instance needs, as given by its caller; see resolveShopConfig for defaults. */
export interface ShopOptions {
  instanceId?: string;
  availabilityZone?: string;
  privateIp?: string;
  /** Address to listen on; loopback only. */
  host?: string;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  /** What the instance does (resolvePatterns); default: the resilient preset. */
  patterns?: Patterns;
  writer: DatabaseEndpoint;
  /** Reader endpoint; defaults to the writer (a single-server setup). */
  reader?: DatabaseEndpoint;
  /**
   * The lab's services store (SERVICES_STORE_URL): where a shared circuit breaker keeps its
   * state. Required when patterns.circuitBreaker.mode is shared, unused otherwise.
   */
  servicesStore?: DatabaseEndpoint;
  /**
   * The read cache's way into the services store (READ_CACHE_URL): required when
   * patterns.readCache is on. Its own address, so an experiment can cut it apart from the others.
   */
  readCacheStore?: DatabaseEndpoint;
  /** The order queue's way into the services store (ORDER_QUEUE_URL): required when patterns.writeBuffer is on. */
  orderQueueStore?: DatabaseEndpoint;
  /**
   * The reviews table's way into the services store (REVIEWS_URL; DynamoDB in Article 7). Without
   * it the shop answers GET /products/:id/reviews 503 REVIEWS_NOT_CONFIGURED.
   */
  reviewsStore?: DatabaseEndpoint;
  /** The promo bucket's way into the services store (PROMO_URL; S3 in Article 7). Without it GET /promo is 503 PROMO_NOT_CONFIGURED. */
  promoStore?: DatabaseEndpoint;
  connectTimeoutMs?: number;
  bodyLimitBytes?: number;
}

/** The services store's ways in: each needed only by the patterns that use it. */
type StoreOptions = 'servicesStore' | 'readCacheStore' | 'orderQueueStore' | 'reviewsStore' | 'promoStore';

/** A shop configuration with every default applied (the stores stay optional: only the patterns that use them need them). */
export type ShopConfig = Required<Omit<ShopOptions, StoreOptions>> & Pick<ShopOptions, StoreOptions>;

/** Defaults: the resilient patterns (Article 3's AFTER; initialisation is a pattern too). */
export const SHOP_DEFAULTS = {
  instanceId: 'i-local',
  availabilityZone: 'local-a',
  privateIp: '127.0.0.1',
  host: '127.0.0.1',
  port: 0,
  patterns: resolvePatterns('resilient'),
  connectTimeoutMs: 5000,
  bodyLimitBytes: 16 * 1024,
} as const satisfies Omit<ShopConfig, 'writer' | 'reader' | StoreOptions>;

/** Applies defaults and checks values, naming the bad one. */
export function resolveShopConfig(options: ShopOptions): ShopConfig {
  const config: ShopConfig = {
    ...SHOP_DEFAULTS,
    ...definedOnly(options),
    reader: options.reader ?? options.writer,
  } as ShopConfig;
  // Resolved by the caller (the edge); checked here, never re-defaulted.
  config.patterns = checkResolvedPatterns(config.patterns, 'patterns');
  // A shared breaker with nowhere to keep its state would silently be a local one: refused.
  if (config.patterns.circuitBreaker.mode === 'shared' && config.servicesStore === undefined) {
    throw new PatternsError([
      "patterns.circuitBreaker.mode: shared keeps the breaker's state in the lab's services store, and this shop was given none (servicesStore, or SERVICES_STORE_URL for an instance process); use local, got \"shared\"",
    ]);
  }
  // A cache or a queue with no store would silently be no pattern at all: refused, naming the variable.
  if (config.patterns.readCache.mode !== 'off' && config.readCacheStore === undefined) {
    throw new PatternsError([
      `patterns.readCache.mode: ${config.patterns.readCache.mode} keeps the product cache in the lab's services store, and this shop was given none (readCacheStore, or READ_CACHE_URL for an instance process); use off, got ${JSON.stringify(config.patterns.readCache.mode)}`,
    ]);
  }
  if (config.patterns.dependencyClient.fallback === 'stale' && config.readCacheStore === undefined) {
    throw new PatternsError([
      `patterns.dependencyClient.fallback: stale answers from the read cache in the lab's services store, and this shop was given none (readCacheStore, or READ_CACHE_URL for an instance process); use error, got "stale"`,
    ]);
  }
  if (config.patterns.writeBuffer.mode !== 'off' && config.orderQueueStore === undefined) {
    throw new PatternsError([
      `patterns.writeBuffer.mode: ${config.patterns.writeBuffer.mode} sends orders to the order queue in the lab's services store, and this shop was given none (orderQueueStore, or ORDER_QUEUE_URL for an instance process); use off, got ${JSON.stringify(config.patterns.writeBuffer.mode)}`,
    ]);
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new Error(`port must be an integer from 0 to 65535, got ${JSON.stringify(config.port)}`);
  }
  for (const name of ['connectTimeoutMs', 'bodyLimitBytes'] as const) {
    if (!Number.isFinite(config[name]) || config[name] <= 0) throw new Error(`${name} must be a positive number, got ${config[name]}`);
  }
  return config;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Parses a postgresql:// URL into an endpoint. */
export function parseDatabaseUrl(url: string): DatabaseEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the URL: it may carry the password.
    throw new Error(`not a database URL (expected postgresql://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new Error(`database URL must start with postgresql://, got ${JSON.stringify(parsed.protocol)}`);
  }
  const endpoint: DatabaseEndpoint = {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 5432,
    database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    user: decodeURIComponent(parsed.username) || 'postgres',
  };
  if (parsed.password) endpoint.password = decodeURIComponent(parsed.password);
  return endpoint;
}

/**
 * Reads a shop configuration from environment variables, as an instance process gets it:
 * INSTANCE_ID, AZ, PRIVATE_IP, PORT, SHOP_PATTERNS (the resolved patterns as JSON, checked and
 * never re-defaulted; absent: the resilient preset), DB_WRITER_URL, DB_READER_URL,
 * SERVICES_STORE_URL (the services store, for a shared breaker), READ_CACHE_URL (the store, for
 * the read cache), ORDER_QUEUE_URL (the store, for the write buffer), REVIEWS_URL and PROMO_URL (the
 * store, for Article 7's reviews table and promo bucket) and CB_RECOVERY_TIMEOUT (seconds,
 * as Article 4's app reads it: it replaces the resolved patterns' circuitBreaker.recoveryTimeoutMs,
 * explicitly, here; see applyRecoveryTimeoutEnv).
 */
export function shopOptionsFromEnv(env: NodeJS.ProcessEnv): ShopOptions {
  if (env['STRATEGY'] !== undefined) {
    throw new Error(`STRATEGY is no longer read: set SHOP_PATTERNS to resolved patterns (JSON; see schema/patterns.schema.json), got STRATEGY=${JSON.stringify(env['STRATEGY'].slice(0, 40))}`);
  }
  if (env['INIT_MODE'] !== undefined) {
    // Initialisation is a pattern now, recorded with the others (lab.json, journals): one place says it.
    throw new Error(
      `INIT_MODE is no longer read: initialisation is a pattern, set SHOP_PATTERNS' initialisation.mode (once or background; e.g. --patterns '{"initialisation":{"mode":"once"}}'), got INIT_MODE=${JSON.stringify(env['INIT_MODE'].slice(0, 40))}`,
    );
  }
  const writerUrl = env['DB_WRITER_URL'];
  if (!writerUrl) throw new Error('DB_WRITER_URL is required (postgresql://user:password@host:port/database)');
  const readerUrl = env['DB_READER_URL'];
  const storeUrl = env['SERVICES_STORE_URL'];
  const cacheUrl = env['READ_CACHE_URL'];
  const queueUrl = env['ORDER_QUEUE_URL'];
  const reviewsUrl = env['REVIEWS_URL'];
  const promoUrl = env['PROMO_URL'];
  const patterns = patternsFromEnv(env['SHOP_PATTERNS']);
  return {
    instanceId: env['INSTANCE_ID'],
    availabilityZone: env['AZ'],
    privateIp: env['PRIVATE_IP'],
    port: env['PORT'] === undefined ? undefined : Number(env['PORT']),
    patterns: applyRecoveryTimeoutEnv(patterns ?? SHOP_DEFAULTS.patterns, env),
    writer: parseDatabaseUrl(writerUrl),
    reader: readerUrl ? parseDatabaseUrl(readerUrl) : undefined,
    servicesStore: storeUrl ? parseStoreUrl(storeUrl, 'SERVICES_STORE_URL') : undefined,
    readCacheStore: cacheUrl ? parseStoreUrl(cacheUrl, 'READ_CACHE_URL') : undefined,
    orderQueueStore: queueUrl ? parseStoreUrl(queueUrl, 'ORDER_QUEUE_URL') : undefined,
    reviewsStore: reviewsUrl ? parseStoreUrl(reviewsUrl, 'REVIEWS_URL') : undefined,
    promoStore: promoUrl ? parseStoreUrl(promoUrl, 'PROMO_URL') : undefined,
  };
}

/** SHOP_PATTERNS: resolved patterns as JSON, as the lab hands them to an instance. */
function patternsFromEnv(text: string | undefined): Patterns | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`SHOP_PATTERNS: must be the resolved patterns as JSON, got text that is not JSON (${(error as Error).message})`, { cause: error });
  }
  return checkResolvedPatterns(value, 'SHOP_PATTERNS');
}

function parseStoreUrl(url: string, variable: string): DatabaseEndpoint {
  try {
    return parseDatabaseUrl(url);
  } catch (error) {
    throw new Error(`${variable}: ${(error as Error).message}`, { cause: error });
  }
}
