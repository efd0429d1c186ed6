// The recovery worker process's configuration, read from its environment (the lab sets it; the
// passwords travel there, never on the command line), checked once and naming the bad value.
import { parseDatabaseUrl } from '../../shop/config.ts';
import type { DatabaseEndpoint } from '../../shop/database/queryable.ts';
import { checkResolvedPatterns, type Patterns } from '../../shop/patterns.ts';
import { ARTICLE_QUEUE_SETTINGS, type QueueSettings } from '../../services/queue/message-queue.ts';
import { resolveQueueSettings } from '../../services/queue/queue-settings.ts';

/** Everything the worker process needs. */
export interface RecoveryWorkerConfig {
  /** The database's writer, through the lab's db-writer listener (the same path as the instances'). */
  writer: DatabaseEndpoint;
  /** The order queue in the services store, through the order-queue listener. */
  queue: DatabaseEndpoint;
  /** The services store's breaker table, through the services-store listener: only for a shared breaker. */
  breakerStore: DatabaseEndpoint | undefined;
  /** The fleet's patterns (SHOP_PATTERNS): the breaker's settings, the statement timeout, the connection. */
  patterns: Patterns;
  queueSettings: QueueSettings;
  /** Recorded on orders whose message names no instance. */
  workerId: string;
  connectTimeoutMs: number;
}

/** A variable the worker cannot run with. */
export class RecoveryWorkerConfigError extends Error {
  readonly code = 'WORKER_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryWorkerConfigError';
  }
}

/** The name recorded on an order the worker places for a message that names no instance. */
export const RECOVERY_WORKER_ID = 'recovery-worker';

/**
 * DB_WRITER_URL, ORDER_QUEUE_URL, SERVICES_STORE_URL (required for a shared breaker),
 * SHOP_PATTERNS (resolved patterns, JSON), QUEUE_SETTINGS (JSON, each field optional: the
 * article's 90 s / 20 s / 10 by default), CONNECT_TIMEOUT_MS (default 5000).
 */
export function recoveryWorkerConfigFromEnv(env: Record<string, string | undefined>): RecoveryWorkerConfig {
  const patterns = parsePatterns(env['SHOP_PATTERNS']);
  const storeUrl = env['SERVICES_STORE_URL'];
  if (patterns.circuitBreaker.mode === 'shared' && !storeUrl) {
    throw new RecoveryWorkerConfigError('SERVICES_STORE_URL is required: patterns.circuitBreaker.mode is shared, and the worker shares the fleet\'s breaker');
  }
  const connectTimeoutMs = env['CONNECT_TIMEOUT_MS'] === undefined ? 5000 : Number(env['CONNECT_TIMEOUT_MS']);
  if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0) throw new RecoveryWorkerConfigError(`CONNECT_TIMEOUT_MS must be a positive number, got ${JSON.stringify(env['CONNECT_TIMEOUT_MS'])}`);
  return {
    writer: url(env, 'DB_WRITER_URL'),
    queue: url(env, 'ORDER_QUEUE_URL'),
    breakerStore: patterns.circuitBreaker.mode === 'shared' ? url(env, 'SERVICES_STORE_URL') : undefined,
    patterns,
    queueSettings: parseQueueSettings(env['QUEUE_SETTINGS']),
    workerId: env['WORKER_ID'] || RECOVERY_WORKER_ID,
    connectTimeoutMs,
  };
}

function url(env: Record<string, string | undefined>, name: string): DatabaseEndpoint {
  const value = env[name];
  if (!value) throw new RecoveryWorkerConfigError(`${name} is required (postgresql://user:password@host:port/database)`);
  try {
    return parseDatabaseUrl(value);
  } catch (error) {
    throw new RecoveryWorkerConfigError(`${name}: ${(error as Error).message}`);
  }
}

function parsePatterns(text: string | undefined): Patterns {
  if (text === undefined) throw new RecoveryWorkerConfigError('SHOP_PATTERNS is required: the fleet\'s resolved patterns, as JSON');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RecoveryWorkerConfigError(`SHOP_PATTERNS must be JSON (${(error as Error).message})`);
  }
  try {
    return checkResolvedPatterns(value, 'SHOP_PATTERNS');
  } catch (error) {
    throw new RecoveryWorkerConfigError((error as Error).message);
  }
}

/** QUEUE_SETTINGS: any of visibilityTimeoutMs, receiveWaitTimeMs, maxReceiveCount, over the article's. */
export function parseQueueSettings(text: string | undefined): QueueSettings {
  if (text === undefined || text.trim() === '') return { ...ARTICLE_QUEUE_SETTINGS };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RecoveryWorkerConfigError(`QUEUE_SETTINGS must be JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecoveryWorkerConfigError(`QUEUE_SETTINGS must be a JSON object, got ${text.slice(0, 60)}`);
  const settings: QueueSettings = { ...ARTICLE_QUEUE_SETTINGS };
  for (const [name, raw] of Object.entries(value)) {
    if (!(name in settings)) throw new RecoveryWorkerConfigError(`QUEUE_SETTINGS has no field ${JSON.stringify(name)} (it takes ${Object.keys(settings).join(', ')})`);
    // A long poll of 0 is a short poll (SQS allows it); the others must be positive.
    const min = name === 'receiveWaitTimeMs' ? 0 : 1;
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min) throw new RecoveryWorkerConfigError(`QUEUE_SETTINGS.${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`);
    settings[name as keyof QueueSettings] = raw;
  }
  try {
    return resolveQueueSettings(settings); // the queue's own bounds (a visibility timeout of at most 12 hours…)
  } catch (error) {
    throw new RecoveryWorkerConfigError(`QUEUE_SETTINGS: ${(error as Error).message}`);
  }
}
