// The worker process's environment, checked once, each problem naming the variable and the value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePatterns } from '../../shop/patterns.ts';
import { parseQueueSettings, recoveryWorkerConfigFromEnv } from './worker-config.ts';

const URL = 'postgresql://postgres:s%2Fcret@127.0.0.1:5432/services';
const env = (over: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  DB_WRITER_URL: 'postgresql://postgres:pw@127.0.0.1:5433/chaos_shop',
  ORDER_QUEUE_URL: URL,
  SERVICES_STORE_URL: URL,
  SHOP_PATTERNS: JSON.stringify(resolvePatterns('graceful')),
  ...over,
});

describe('the recovery worker configuration', () => {
  it('reads the paths, the fleet patterns and the article queue settings by default', () => {
    const config = recoveryWorkerConfigFromEnv(env());
    assert.equal(config.writer.port, 5433);
    assert.equal(config.queue.password, 's/cret');
    assert.equal(config.breakerStore?.database, 'services');
    assert.equal(config.patterns.circuitBreaker.mode, 'shared');
    assert.deepEqual(config.queueSettings, { visibilityTimeoutMs: 90_000, receiveWaitTimeMs: 20_000, maxReceiveCount: 10 });
    assert.equal(config.workerId, 'recovery-worker');
  });

  it('needs the store for a shared breaker, and no store for a local one', () => {
    assert.throws(() => recoveryWorkerConfigFromEnv(env({ SERVICES_STORE_URL: undefined })), /SERVICES_STORE_URL is required: patterns.circuitBreaker.mode is shared/);
    const local = JSON.stringify(resolvePatterns({ preset: 'graceful', circuitBreaker: { mode: 'local' } }));
    assert.equal(recoveryWorkerConfigFromEnv(env({ SERVICES_STORE_URL: undefined, SHOP_PATTERNS: local })).breakerStore, undefined);
  });

  it('names the bad variable and value', () => {
    assert.throws(() => recoveryWorkerConfigFromEnv(env({ ORDER_QUEUE_URL: undefined })), /ORDER_QUEUE_URL is required/);
    assert.throws(() => recoveryWorkerConfigFromEnv(env({ DB_WRITER_URL: 'http://x' })), /DB_WRITER_URL: database URL must start with postgresql:\/\//);
    assert.throws(() => recoveryWorkerConfigFromEnv(env({ SHOP_PATTERNS: '{' })), /SHOP_PATTERNS must be JSON/);
    assert.throws(() => parseQueueSettings('{"visibilityTimeout": 5}'), /QUEUE_SETTINGS has no field "visibilityTimeout"/);
    assert.throws(() => parseQueueSettings('{"maxReceiveCount": 0}'), /QUEUE_SETTINGS.maxReceiveCount must be an integer of at least 1, got 0/);
    assert.throws(() => parseQueueSettings('{"visibilityTimeoutMs": 86400000}'), /QUEUE_SETTINGS: visibilityTimeoutMs must be an integer from 0 to 43200000/);
    assert.deepEqual(parseQueueSettings('{"visibilityTimeoutMs": 1500, "receiveWaitTimeMs": 0}'), { visibilityTimeoutMs: 1500, receiveWaitTimeMs: 0, maxReceiveCount: 10 });
  });
});
