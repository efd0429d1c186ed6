// The degradation section's arithmetic: when the database returned (from the runner's own
// records), the time to drain, and the bounds derived from the plan.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageQueue } from '../services/queue/message-queue.ts';
import { applyingMs, auditWaitLimitMs, databaseReturnedAt, degradationRecord, drainGoalMs, QueueSampler, timeToDrainMs } from './degradation.ts';
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

type TimedAction = Omit<Timeline['actions'][number], 'targets'> & { targets?: string[] };
const timeline = (actions: TimedAction[], rollbacks: Timeline['rollbacks'] = []): Timeline => ({
  runningAt: 1000,
  endedAt: 13_000,
  failures: [],
  actions: actions.map((a) => ({ targets: [], ...a })),
  rollbacks,
});

describe('degradation: the database return, the drain, the bounds', () => {
  it('the database returned when the deregistration was undone, or when the targets were registered', () => {
    assert.equal(databaseReturnedAt(timeline([{ name: 'wait', actionId: 'lab:wait', startedAt: 1000, undoneAt: null }])), undefined);
    assert.equal(databaseReturnedAt(timeline([{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: 11_500 }])), 11_500);
    assert.equal(databaseReturnedAt(timeline([{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: null }])), undefined, 'never came back');
    assert.equal(databaseReturnedAt(timeline([{ name: 'arrives', actionId: 'lab:db-proxy:register', startedAt: 1500, undoneAt: null }])), 1500);
  });

  it('a rollback that registered the targets is a return; one that found them registered is not', () => {
    // Only the deregistration's undo and the register action counted: a run stopped before its
    // return, brought back by the rollback, read "the database never came back".
    const stopped = [{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: null }];
    const registering = { name: 'register', actionId: 'lab:db-proxy:register', at: 14_000, state: 'completed' as const, effect: { wasRegistered: false, registered: true, closedConnections: 0 } };
    assert.equal(databaseReturnedAt(timeline(stopped, [registering])), 14_000);
    const undone = [{ name: 'outage', actionId: 'lab:db-proxy:deregister', startedAt: 2500, undoneAt: 11_500 }];
    assert.equal(databaseReturnedAt(timeline(undone, [{ ...registering, effect: { ...registering.effect, wasRegistered: true } }])), 11_500, 'the undo brought it back, the rollback found it there');
    assert.equal(databaseReturnedAt(timeline(stopped, [{ ...registering, state: 'failed', effect: undefined }])), undefined, 'a failed rollback brought nothing back');
  });

  it("a network fault on the database's way in ends with its undo; one on another dependency is no return", () => {
    const disrupt = (targets: string[]): TimedAction => ({ name: 'cut', actionId: 'lab:network:disrupt', startedAt: 2500, undoneAt: 9000, targets });
    assert.equal(databaseReturnedAt(timeline([disrupt(['db-writer'])])), 9000);
    assert.equal(databaseReturnedAt(timeline([disrupt(['order-queue'])])), undefined, 'the queue, not the database');
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
    // Applying: from the last sample before the backlog first shrank (11_600) to the drained one.
    assert.equal(applyingMs(samples, 11_500), 1400);
    assert.equal(applyingMs(samples.slice(0, 3), 11_500), null, 'never drained');
  });

  it("bounds the audit's wait and sets the drain goal from the plan, scaled", () => {
    // quick: recovery 30 s → 1.5 s, visibility 90 s → 4.5 s; applying the backlog is work, not
    // scaled: 30 s scaled (1.5 s) was less than the drain goal's own 5 s to apply it.
    assert.equal(auditWaitLimitMs(lab, PROFILES.quick), 1500 + 4500 + 5000);
    assert.equal(auditWaitLimitMs(planRun('outage', template, 'graceful', PROFILES.article).lab as PlannedShopLab, PROFILES.article), 30_000 + 90_000 + 30_000);
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
        lastSampleFailed: false,
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
    assert.deepEqual(record.drain, { timeToDrainMs: 500, goalMs: 6500, goal: { breakerRecoveryMs: 1500, applyBacklogMs: 5000 }, applyingMs: 400, met: true });
    assert.deepEqual(record.queue?.series.map((s) => s.atMs), [10_600, 11_000]);
    assert.deepEqual([record.queue?.remaining, record.queue?.deadLetters, record.queue?.peakDepth, record.queue?.failedSamples], [0, 1, 2, 1]);
    assert.equal(record.worker, null);
  });

  it("the queue's end state is unknown (null) when its latest sample went unanswered, never 0 or an older sample", async () => {
    // remaining/deadLetters defaulted to 0 when no sample succeeded (the article's clean "0 / 0"),
    // and an older sample stood for the end state when only the last ones failed.
    let answer: 'yes' | 'no' = 'no';
    const queue: Pick<MessageQueue, 'stats'> = {
      stats: async () => {
        if (answer === 'no') throw new Error('store cut');
        return { depth: 4, inFlight: 1, deadLetters: 2, oldestAgeMs: 10, sent: 5, deleted: 0 };
      },
    };
    const sampler = new QueueSampler(queue, 10);
    const recordOf = (): ReturnType<typeof degradationRecord> =>
      degradationRecord({ lab, timeline: timeline([]), sampler: { sampleEveryMs: 10, samples: sampler.samples, failedSamples: sampler.failedSamples, lastSampleFailed: sampler.lastSampleFailed } });
    await sampler.sample();
    assert.deepEqual([recordOf().queue?.remaining, recordOf().queue?.deadLetters], [null, null], 'no sample answered');
    answer = 'yes';
    await sampler.sample();
    assert.deepEqual([recordOf().queue?.remaining, recordOf().queue?.deadLetters], [5, 2]);
    answer = 'no';
    const waited = await sampler.waitUntilIdle(30);
    assert.equal(waited.idle, false);
    assert.deepEqual([recordOf().queue?.remaining, recordOf().queue?.deadLetters], [null, null], 'the answered sample is older than the end');
    assert.equal(recordOf().queue?.failedSamples, sampler.failedSamples);
  });
});
