import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_GAP_SECONDS, TrafficSeconds } from './traffic-seconds.ts';

const T0 = 1_800_000_000_000; // a whole second, in ms

describe('TrafficSeconds', () => {
  it('counts answers by status in the second they ended, with that second latency', () => {
    const seconds = new TrafficSeconds();
    seconds.start(T0);
    seconds.add(200, 10, T0 + 100);
    seconds.add(200, 30, T0 + 900);
    seconds.add(503, 2, T0 + 999);
    seconds.add(200, 50, T0 + 1000); // the next second
    assert.deepEqual(seconds.flush(T0 + 1500), [{ second: T0 / 1000, byStatus: { '200': 2, '503': 1 }, latencyMs: { count: 3, p50: 10, p99: 30, max: 30 } }]);
    assert.deepEqual(seconds.flush(T0 + 2000), [{ second: T0 / 1000 + 1, byStatus: { '200': 1 }, latencyMs: { count: 1, p50: 50, p99: 50, max: 50 } }]);
  });

  it('hands out a second only once it is over, and each second once', () => {
    const seconds = new TrafficSeconds();
    seconds.start(T0);
    seconds.add(200, 1, T0 + 10);
    assert.deepEqual(seconds.flush(T0 + 999), []);
    assert.equal(seconds.flush(T0 + 1000).length, 1);
    assert.deepEqual(seconds.flush(T0 + 1999), []);
  });

  it('hands out idle seconds with no answers, so the timeline keeps moving', () => {
    const seconds = new TrafficSeconds();
    seconds.start(T0);
    assert.deepEqual(seconds.flush(T0 + 3200), [0, 1, 2].map((i) => ({ second: T0 / 1000 + i, byStatus: {}, latencyMs: null })));
  });

  it('counts a late answer (of a second already handed out) in the first open second', () => {
    const seconds = new TrafficSeconds();
    seconds.start(T0);
    seconds.flush(T0 + 2000);
    seconds.add(502, 7, T0 + 500);
    assert.deepEqual(seconds.flush(T0 + 3000), [{ second: T0 / 1000 + 2, byStatus: { '502': 1 }, latencyMs: { count: 1, p50: 7, p99: 7, max: 7 } }]);
  });

  it('a final flush hands out the current second, and a restart in that second does not hand it out twice', () => {
    const seconds = new TrafficSeconds();
    seconds.start(T0);
    seconds.add(200, 5, T0 + 1200);
    const last = seconds.flush(T0 + 1300, true);
    assert.deepEqual(last.map((s) => s.second), [T0 / 1000, T0 / 1000 + 1]);
    assert.deepEqual(last[1]!.byStatus, { '200': 1 });
    seconds.start(T0 + 1400);
    seconds.add(200, 5, T0 + 1500);
    assert.deepEqual(seconds.flush(T0 + 3000).map((s) => s.second), [T0 / 1000 + 2]);
  });

  it('after a long gap hands out only the last MAX_GAP_SECONDS seconds', () => {
    const seconds = new TrafficSeconds();
    seconds.start(T0);
    seconds.add(200, 1, T0);
    const events = seconds.flush(T0 + (MAX_GAP_SECONDS + 100) * 1000);
    assert.equal(events.length, MAX_GAP_SECONDS);
    assert.equal(events.at(-1)!.second, T0 / 1000 + MAX_GAP_SECONDS + 99);
    assert.ok(events.every((s) => s.latencyMs === null));
  });

  it('hands out nothing before it has started', () => {
    assert.deepEqual(new TrafficSeconds().flush(T0), []);
  });
});
