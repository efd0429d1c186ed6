import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DependencyClient,
  DependencyError,
  SDK_DEFAULT_CLIENT,
  isReachFailure,
  retryDelaysMs,
  validateClientSettings,
} from './dependency-client.ts';
import { StoreTimeoutError } from './postgres/index.ts';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('dependency client settings', () => {
  it('the SDK default is 60 s connect, 60 s read and 5 attempts (botocore legacy)', () => {
    assert.deepEqual(SDK_DEFAULT_CLIENT, { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4 });
    assert.equal(validateClientSettings(SDK_DEFAULT_CLIENT), SDK_DEFAULT_CLIENT);
  });

  it('refuses a zero, negative or fractional timeout and a negative retry count, naming the field and value', () => {
    // 0 would mean "no timeout" to pg: the very hang the settings exist to bound.
    assert.throws(() => validateClientSettings({ connectTimeoutMs: 0, readTimeoutMs: 1, retries: 0 }), /connectTimeoutMs must be a positive integer.*got 0/);
    assert.throws(() => validateClientSettings({ connectTimeoutMs: 1, readTimeoutMs: -5, retries: 0 }), /readTimeoutMs .*got -5/);
    assert.throws(() => validateClientSettings({ connectTimeoutMs: 1.5, readTimeoutMs: 1, retries: 0 }), /connectTimeoutMs .*got 1.5/);
    assert.throws(() => validateClientSettings({ connectTimeoutMs: 1, readTimeoutMs: 1, retries: -1 }), /retries must be a non-negative integer, got -1/);
    assert.throws(() => new DependencyClient('reviews', { connection: {}, client: { connectTimeoutMs: 0, readTimeoutMs: 1, retries: 0 } }), RangeError);
  });
});

describe('retryDelaysMs', () => {
  it('is full jitter on 50 ms doubling: random() * 50 * 2^n', () => {
    assert.deepEqual(retryDelaysMs(4, () => 1), [50, 100, 200, 400]);
    assert.deepEqual(retryDelaysMs(3, () => 0.5), [25, 50, 100]);
    assert.deepEqual(retryDelaysMs(2, () => 0), [0, 0]);
    assert.deepEqual(retryDelaysMs(0), []);
    for (const [n, delay] of retryDelaysMs(5).entries()) assert.ok(delay >= 0 && delay < 50 * 2 ** n, `delay ${n}: ${delay}`);
  });
});

describe('isReachFailure', () => {
  it('retries failures to reach the store', () => {
    assert.ok(isReachFailure(new StoreTimeoutError(300)), 'our read timeout');
    assert.ok(isReachFailure(withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')));
    assert.ok(isReachFailure(withCode('read ECONNRESET', 'ECONNRESET')));
    assert.ok(isReachFailure(new Error('Connection terminated due to connection timeout')), "pg-pool's connect timeout");
    assert.ok(isReachFailure(new Error('timeout exceeded when trying to connect')), 'waiting for a pooled connection');
    assert.ok(isReachFailure(new Error('timeout expired')), "pg's own connect timer");
    assert.ok(isReachFailure(withCode('canceling statement due to statement timeout', '57014')), "the server's statement_timeout");
    assert.ok(isReachFailure(withCode('sorry, too many clients already', '53300')));
    assert.ok(isReachFailure(withCode('terminating connection due to administrator command', '57P01')));
  });

  it('never retries a statement the store answered with an error', () => {
    assert.ok(!isReachFailure(withCode('relation "reviews" does not exist', '42P01')));
    assert.ok(!isReachFailure(withCode('syntax error at or near "SELEC"', '42601')));
    assert.ok(!isReachFailure(new DependencyError('DEPENDENCY_CLOSED', 'reviews', 0, 'the reviews client is closed')));
    assert.ok(!isReachFailure('a string'));
  });
});

describe('DependencyClient', () => {
  it('scrubs the password from the message of the last cause', async () => {
    // A password that is a word of the cause's message: nothing listens on port 1, so the cause is
    // "connect ECONNREFUSED 127.0.0.1:1" and the scrub must show in it.
    for (const connection of [
      { host: '127.0.0.1', port: 1, user: 'u', password: 'ECONNREFUSED', database: 'd' },
      { connectionString: 'postgresql://u:ECONNREFUSED@127.0.0.1:1/d' },
    ]) {
      const client = new DependencyClient('reviews', { connection, client: { connectTimeoutMs: 2000, readTimeoutMs: 2000, retries: 1 }, random: () => 0 });
      try {
        await assert.rejects(client.query({ text: 'SELECT 1' }, []), (error: unknown) => {
          assert.ok(error instanceof DependencyError, String(error));
          assert.equal(error.code, 'DEPENDENCY_UNAVAILABLE');
          assert.equal(error.attempts, 2);
          assert.equal(error.message, 'reviews is unavailable after 2 attempts: connect *** 127.0.0.1:1');
          return true;
        });
      } finally {
        await client.close();
      }
    }
  });
});
