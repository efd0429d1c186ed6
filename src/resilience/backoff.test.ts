import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exponentialDelays, retry } from './backoff.ts';

describe('exponentialDelays', () => {
  it('doubles from the initial delay and caps at the maximum', () => {
    assert.deepEqual(exponentialDelays(500, 2000, 3), [500, 1000, 2000]);
    assert.deepEqual(exponentialDelays(2000, 30_000, 6), [2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});

describe('retry', () => {
  const transient = new Error('Connection terminated unexpectedly');
  const fatal = new Error('syntax error');
  const isTransient = (error: unknown): boolean => error === transient;

  it('waits 0.5 s, 1 s and 2 s between attempts, then gives up with the last error', async () => {
    const waits: number[] = [];
    let attempts = 0;
    await assert.rejects(
      retry(
        async () => {
          attempts++;
          throw transient;
        },
        { delaysMs: [500, 1000, 2000], shouldRetry: isTransient, sleep: async (ms) => void waits.push(ms) },
      ),
      transient,
    );
    assert.equal(attempts, 4);
    assert.deepEqual(waits, [500, 1000, 2000]);
  });

  it('returns the first success', async () => {
    let attempts = 0;
    const result = await retry(
      async () => {
        if (++attempts < 3) throw transient;
        return 'ok';
      },
      { delaysMs: [1, 1, 1], shouldRetry: isTransient, sleep: async () => {} },
    );
    assert.equal(result, 'ok');
    assert.equal(attempts, 3);
  });

  it('does not retry errors that retrying cannot fix', async () => {
    let attempts = 0;
    await assert.rejects(
      retry(
        async () => {
          attempts++;
          throw fatal;
        },
        { delaysMs: [1, 1, 1], shouldRetry: isTransient, sleep: async () => {} },
      ),
      fatal,
    );
    assert.equal(attempts, 1);
  });
});
