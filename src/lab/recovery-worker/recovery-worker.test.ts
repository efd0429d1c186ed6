// The loop's pacing, with a stand-in queue (a pure unit: the queue's own semantics are tested on
// a real server in test/message-queue.test.ts, the worker's in test/recovery-worker.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageQueue } from '../../services/queue/message-queue.ts';
import { RecoveryWorker } from './recovery-worker.ts';

describe('RecoveryWorker pacing', () => {
  it('pauses after an empty short poll (receiveWaitTime 0) instead of spinning on the store', async () => {
    // Regression: with a template's receiveWaitTime 0s, an empty queue answered every receive at
    // once and the loop called the store again immediately, a busy loop on the store.
    const controller = new AbortController();
    let receives = 0;
    const queue = {
      receive: async () => {
        if (++receives === 5) controller.abort();
        return [];
      },
    } as unknown as MessageQueue;
    const waits: number[] = [];
    const worker = new RecoveryWorker({
      queue,
      applyOrder: async () => assert.fail('no message to apply'),
      ping: async () => {},
      receiveWaitTimeMs: 0,
      wait: async (ms) => void waits.push(ms),
    });
    await worker.run(controller.signal);
    assert.equal(receives, 5);
    assert.ok(waits.length >= 4, `a pause after each empty receive, got ${waits.length}`);
    for (const ms of waits) assert.ok(ms > 0 && ms <= 100, `each pause tops the receive up to 100 ms, got ${ms}`);
  });
});
