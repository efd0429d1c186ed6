// The degradation section's arithmetic: when the database returned (from the runner's own
// records), the time to drain, and the bounds derived from the plan.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditWaitLimitMs, databaseReturnedAt, degradationRecord, drainGoalMs, timeToDrainMs } from './degradation.ts';
import type { Timeline } from './observations.ts';
import { planRun, type PlannedShopLab } from './plan.ts';
import { PROFILES } from './profiles.ts';
import { validateTemplate } from './template.ts';

const template = validateTemplate({
  title: 'outage',
  description: 'test',
  duration: '240s',
  modes: { graceful: { lab: { patterns: 'graceful' } } },
  actions: { wait: { actionId: 'lab:wait', duration: '30s' }, outage: { actionId: 'lab:db-proxy:deregister', duration: '180s', startAfter: ['wait'] } },
});
const lab = planRun('outage', template, 'graceful', PROFILES.quick).lab as PlannedShopLab;

const timeline = (actions: Timeline['actions']): Timeline => ({ runningAt: 1000, endedAt: 13_000, failures: [], actions });

describe('degradation: the database return, the drain, the bounds', () => {
  it('the database returned when the deregistration was undone, or when the targets were registered', () => {
    assert.equal(databaseReturnedAt(timeline([{ name: 'wait', actionId: 'lab:wait', startedAt: 1000, undoneAt: null }])), undefined);
    assert.equal(databaseReturnedAt(timeline([{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: 11_500 }])), 11_500);
    assert.equal(databaseReturnedAt(timeline([{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: null }])), undefined, 'never came back');
    assert.equal(databaseReturnedAt(timeline([{ name: 'arrives', actionId: 'lab:db-proxy:register', startedAt: 1500, undoneAt: null }])), 1500);
  });

  it('the time to drain runs to the first sample at or after the return with nothing queued or in flight', () => {
    const samples = [
      { at: 11_000, depth: 0, inFlight: 0, deadLetters: 0 }, // before the return: not the drain
      { at: 11_600, depth: 150, inFlight: 1, deadLetters: 0 },
      { at: 12_900, depth: 0, inFlight: 1, deadLetters: 0 },
      { at: 13_000, depth: 0, inFlight: 0, deadLetters: 0 },
    ];
    assert.equal(timeToDrainMs(samples, 11_500), 1500);
    assert.equal(timeToDrainMs(samples.slice(0, 3), 11_500), null, 'never drained');
  });

  it("bounds the audit's wait and sets the drain goal from the plan, scaled", () => {
    // quick: recovery 30 s → 1.5 s, visibility 90 s → 4.5 s, 30 s → 1.5 s.
    assert.equal(auditWaitLimitMs(lab, PROFILES.quick), 1500 + 4500 + 1500);
    // The 5 s to apply the backlog is work, not a wait: the same ~180 orders under every profile.
    assert.equal(drainGoalMs(lab), 1500 + 5000);
  });

  it('builds the section from the timeline and the samples: offsets from the running phase, remaining at the last sample', () => {
    const record = degradationRecord({
      lab,
      timeline: {
        ...timeline([{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: 11_500 }]),
        traffic: {
          reads: { ok: 10, fail: 0, notSent: 0, bySource: { database: 6, cache: 4 }, failByStatus: {} },
          writes: { ok: 3, queued: 2, stockOut: 1, fail: 0, notSent: 0, failByStatus: {} },
        },
      },
      sampler: {
        sampleEveryMs: 50,
        failedSamples: 1,
        samples: [
          { at: 11_600, depth: 2, inFlight: 0, deadLetters: 0 },
          { at: 12_000, depth: 0, inFlight: 0, deadLetters: 1 },
        ],
      },
      auditWait: { limitMs: 7500, waitedMs: 10, idle: true },
    });
    assert.deepEqual(record.reads, { database: 6, cache: 4, fail: 0 });
    assert.deepEqual(record.writes, { ok: 3, queued: 2, stockOut: 1, fail: 0 });
    assert.equal(record.databaseReturnedAtMs, 10_500);
    assert.deepEqual(record.drain, { timeToDrainMs: 500, goalMs: 6500, met: true });
    assert.deepEqual(record.queue?.series.map((s) => s.atMs), [10_600, 11_000]);
    assert.deepEqual([record.queue?.remaining, record.queue?.deadLetters, record.queue?.peakDepth, record.queue?.failedSamples], [0, 1, 2, 1]);
    assert.equal(record.worker, null);
  });
});
