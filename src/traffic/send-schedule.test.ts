import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATCH_UP_WINDOW_MS, decide, SendSchedule } from './send-schedule.ts';

describe('send schedule', () => {
  it('merges reads and writes in the order they fall due, each taken once', () => {
    const schedule = new SendSchedule({ readsPerSecond: 4, writesPerSecond: 2 });
    assert.deepEqual(
      [...schedule.takeDue(500)].map((r) => `${r.kind}@${r.dueMs}`),
      ['read@0', 'write@0', 'read@250', 'read@500', 'write@500'],
    );
    assert.deepEqual([...schedule.takeDue(500)], [], 'already taken');
    assert.deepEqual([...schedule.takeDue(750)].map((r) => `${r.kind}@${r.dueMs}`), ['read@750']);
  });

  it('never schedules a kind whose rate is 0', () => {
    const schedule = new SendSchedule({ readsPerSecond: 0, writesPerSecond: 2 });
    assert.deepEqual([...schedule.takeDue(1000)].map((r) => `${r.kind}@${r.dueMs}`), ['write@0', 'write@500', 'write@1000']);
    assert.deepEqual([...new SendSchedule({ readsPerSecond: 0, writesPerSecond: 0 }).takeDue(10_000)], []);
  });

  it('sends a request on time or a little late; skips one too late, and one due at the in-flight cap', () => {
    const request = { kind: 'read', dueMs: 1000 } as const;
    assert.equal(decide(request, 1000, 0, 10), 'send');
    assert.equal(decide(request, 1000 + CATCH_UP_WINDOW_MS, 9, 10), 'send');
    assert.equal(decide(request, 1001 + CATCH_UP_WINDOW_MS, 0, 10), 'behindSchedule');
    assert.equal(decide(request, 1000, 10, 10), 'atInFlightCap');
  });
});
