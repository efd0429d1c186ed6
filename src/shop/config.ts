import { exponentialDelays } from '../resilience/backoff.ts';
import type { DatabaseEndpoint } from './database/queryable.ts';
import { STRATEGIES, type StrategyName } from './database/shop-database.ts';

/** How schema initialisation behaves when the database is not there yet (Article 4). */
export type InitMode = 'background' | 'once';

/** Everything one shop instance needs, as given by its caller; see resolveShopConfig for defaults. */
export interface ShopOptions {
  instanceId?: string;
  availabilityZone?: string;
  privateIp?: string;
  /** Address to listen on; loopback only. */
  host?: string;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  strategy?: StrategyName;
  writer: DatabaseEndpoint;
  /** Reader endpoint; defaults to the writer (a single-server setup). */
  reader?: DatabaseEndpoint;
  connectTimeoutMs?: number;
  /** Resilient strategy: a statement unanswered for this long fails and is retried (a naive instance waits forever). */
  queryTimeoutMs?: number;
  poolSize?: number;
  retryDelaysMs?: readonly number[];
  validateAfterIdleMs?: number;
  initMode?: InitMode;
  initInitialDelayMs?: number;
  initMaxDelayMs?: number;
  bodyLimitBytes?: number;
}

/** A shop configuration with every default applied. */
export type ShopConfig = Required<ShopOptions>;

/** Defaults: Article 3's retry schedule, Article 4's initialisation backoff. */
export const SHOP_DEFAULTS = {
  instanceId: 'i-local',
  availabilityZone: 'local-a',
  privateIp: '127.0.0.1',
  host: '127.0.0.1',
  port: 0,
  strategy: 'resilient',
  connectTimeoutMs: 5000,
  queryTimeoutMs: 5000,
  poolSize: 10,
  retryDelaysMs: exponentialDelays(500, 2000, 3), // 0.5 s, 1 s, 2 s
  validateAfterIdleMs: 1000,
  initMode: 'background',
  initInitialDelayMs: 2000,
  initMaxDelayMs: 30_000,
  bodyLimitBytes: 16 * 1024,
} as const satisfies Omit<ShopConfig, 'writer' | 'reader' | 'retryDelaysMs'> & { retryDelaysMs: readonly number[] };

/** Applies defaults and checks values, naming the bad one. */
export function resolveShopConfig(options: ShopOptions): ShopConfig {
  const config: ShopConfig = {
    ...SHOP_DEFAULTS,
    ...definedOnly(options),
    reader: options.reader ?? options.writer,
  } as ShopConfig;
  if (!STRATEGIES.includes(config.strategy)) {
    throw new Error(`strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(config.strategy)}`);
  }
  if (config.initMode !== 'background' && config.initMode !== 'once') {
    throw new Error(`initMode must be background or once, got ${JSON.stringify(config.initMode)}`);
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new Error(`port must be an integer from 0 to 65535, got ${JSON.stringify(config.port)}`);
  }
  for (const name of ['connectTimeoutMs', 'queryTimeoutMs', 'poolSize', 'initInitialDelayMs', 'initMaxDelayMs', 'bodyLimitBytes'] as const) {
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
 * INSTANCE_ID, AZ, PRIVATE_IP, PORT, STRATEGY, DB_WRITER_URL, DB_READER_URL, INIT_MODE.
 */
export function shopOptionsFromEnv(env: NodeJS.ProcessEnv): ShopOptions {
  const writerUrl = env['DB_WRITER_URL'];
  if (!writerUrl) throw new Error('DB_WRITER_URL is required (postgresql://user:password@host:port/database)');
  const readerUrl = env['DB_READER_URL'];
  return {
    instanceId: env['INSTANCE_ID'],
    availabilityZone: env['AZ'],
    privateIp: env['PRIVATE_IP'],
    port: env['PORT'] === undefined ? undefined : Number(env['PORT']),
    strategy: env['STRATEGY'] as StrategyName | undefined,
    initMode: env['INIT_MODE'] as InitMode | undefined,
    writer: parseDatabaseUrl(writerUrl),
    reader: readerUrl ? parseDatabaseUrl(readerUrl) : undefined,
  };
}
