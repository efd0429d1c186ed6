import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { MappableLab } from './lab-map.ts';
import { LiveFeed, type FeedEvent } from './live-feed.ts';
import type { HelloEvent } from './protocol.ts';

const HELLO: HelloEvent = { kind: 'up', canAct: true, title: 't', startedAt: '2027-01-15T08:00:00.000Z', dependencies: ['db-writer'], faultTypes: ['blackhole'] };
const T0 = Date.parse('2027-01-15T08:00:00.000Z');

/** The parts of a lab the feed reads, as plain objects: what each answers is set by the test. */
function labParts() {
  const parts = {
    failing: false,
    registered: true,
    breaker: 'CLOSED',
    faults: [] as Array<{ id: string; proxy: string; type: string; createdAt: string; expiresAt: string }>,
    loadBalancer: Object.assign(new EventEmitter(), { targets: () => [{ id: 'i-1', state: 'healthy', inRotation: true, ejected: false }] }),
    group: Object.assign(new EventEmitter(), { instances: () => [{ id: 'i-1', zone: 'a', state: 'running', paused: false, pid: 10, address: { host: '127.0.0.1', port: 5000 } }] }),
    cluster: Object.assign(new EventEmitter(), {
      status: async () => {
        if (parts.failing) throw new Error('cluster gone');
        return { members: [{ name: 'pg-1', role: 'writer', running: true }], endpoints: { writer: { target: 'pg-1' }, reader: { target: null } }, failoverInProgress: false };
      },
    }),
    databaseProxyInPath: true,
    databaseProxy: { status: () => ({ registered: parts.registered }) },
    faultProxy: { client: { faults: async () => parts.faults } },
    breakerState: async () => ({ state: parts.breaker }),
    queueStatus: async () => undefined,
  };
  return parts;
}

const asLab = (parts: ReturnType<typeof labParts>): MappableLab => parts as unknown as MappableLab;

describe('LiveFeed', () => {
  let now = T0;
  beforeEach(() => {
    now = T0 + 200;
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(() => mock.timers.reset());

  /** Moves the clock and the timers on by `ms`, and lets the map reads (promises) settle. */
  async function advance(ms: number): Promise<void> {
    for (let step = 0; step < ms; step += 100) {
      now += 100;
      mock.timers.tick(100);
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
  }

  it('sends a new subscriber hello, the history and the map in order; bye on close, also to one that comes later', async () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const lab = labParts();
    feed.followLab(asLab(lab));
    lab.loadBalancer.emit('response', { status: 200, durationMs: 12, at: now });
    await advance(1000);
    feed.log('control', 'a line');
    const events: FeedEvent[] = [];
    feed.subscribe((event) => events.push(event));
    assert.deepEqual(events.map((e) => e.event), ['hello', 'second', 'log', 'map']);
    assert.deepEqual(events[1]!.data, { second: T0 / 1000, byStatus: { '200': 1 }, latencyMs: { count: 1, p50: 12, p99: 12, max: 12 } });
    feed.close('the lab was stopped');
    assert.deepEqual(events.at(-1), { event: 'bye', data: { reason: 'the lab was stopped' } });
    assert.equal(lab.loadBalancer.listenerCount('response'), 0, 'the lab is let go');
    const late: string[] = [];
    feed.subscribe((event) => late.push(event.event));
    assert.equal(late.at(-1), 'bye');
  });

  it('hands out idle seconds while a lab is followed, and none once it is let go', async () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const seconds: number[] = [];
    feed.subscribe((event) => event.event === 'second' && seconds.push(event.data.second));
    const unfollow = feed.followLab(asLab(labParts()));
    await advance(3000);
    assert.deepEqual(seconds, [T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 2]);
    unfollow();
    assert.equal(seconds.at(-1), T0 / 1000 + 3, 'letting go hands out the current second');
    await advance(3000);
    assert.equal(seconds.length, 4, 'and nothing after');
  });

  it('keeps the last map when the lab does not answer, and never throws for it', async () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const lab = labParts();
    const maps: string[] = [];
    feed.subscribe((event) => event.event === 'map' && maps.push(event.data.at));
    feed.followLab(asLab(lab));
    await advance(1000);
    const last = feed.map;
    assert.ok(last);
    lab.failing = true;
    const count = maps.length;
    await advance(3000);
    assert.equal(maps.length, count);
    assert.equal(feed.map, last);
    lab.failing = false;
    await advance(1000);
    assert.ok(maps.length > count);
  });

  it('turns a fault into a band that ends when it is gone, and the proxy and breaker changes into log lines', async () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const lab = labParts();
    const events: FeedEvent[] = [];
    feed.subscribe((event) => events.push(event));
    feed.followLab(asLab(lab));
    await advance(1000);
    lab.faults = [{ id: 'f-1', proxy: 'db-writer', type: 'blackhole', createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 30_000).toISOString() }];
    lab.registered = false;
    lab.breaker = 'OPEN';
    await advance(1000);
    const band = events.find((e) => e.event === 'band');
    assert.ok(band && band.event === 'band');
    assert.deepEqual([band.data.label, band.data.endedAt, band.data.plannedEndAt], ['blackhole on db-writer', null, new Date(T0 + 1200 + 30_000).toISOString()]);
    const logs = (): string[] => events.flatMap((e) => (e.event === 'log' ? [`${e.data.kind}: ${e.data.text}`] : []));
    assert.ok(logs().some((l) => l === 'fault: fault f-1: blackhole on db-writer for 30 s'), logs().join('\n'));
    assert.ok(logs().includes('database: database proxy: targets deregistered'), logs().join('\n'));
    assert.ok(logs().includes('breaker: breaker CLOSED -> OPEN'), logs().join('\n'));
    lab.faults = [];
    await advance(1000);
    const ended = events.filter((e) => e.event === 'band').at(-1)!;
    assert.ok(ended.event === 'band' && ended.data.id === band.data.id && ended.data.endedAt !== null);
    assert.ok(logs().includes('fault: fault f-1: blackhole on db-writer ended (removed)'), logs().join('\n'));
    feed.close('done');
  });

  it('ends an expired fault\'s band when it expired, not when the next map noticed', async () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const lab = labParts();
    const events: FeedEvent[] = [];
    feed.subscribe((event) => events.push(event));
    feed.followLab(asLab(lab));
    await advance(1000);
    const expiresAt = new Date(now + 1450).toISOString();
    lab.faults = [{ id: 'f-1', proxy: 'db-writer', type: 'blackhole', createdAt: new Date(now).toISOString(), expiresAt }];
    await advance(1000);
    lab.faults = [];
    await advance(2000);
    const ended = events.filter((e) => e.event === 'band').at(-1)!;
    assert.ok(ended.event === 'band' && ended.data.endedAt === expiresAt, JSON.stringify(ended));
    feed.close('done');
  });

  // A run's next lab (or a breaker-lab run, which has no Lab) used to be shown with the last lab's fleet, running and healthy.
  it('empties the map when a lab is let go, and keeps the last one (without faults) when the feed closes', async () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const lab = labParts();
    feed.followLab(asLab(lab));
    await advance(1000);
    assert.equal(feed.map?.instances.length, 1);
    feed.unfollow();
    assert.deepEqual([feed.map?.instances, feed.map?.database.members], [[], []]);
    feed.followLab(asLab(lab));
    await advance(1000);
    lab.faults = [{ id: 'f-2', proxy: 'db-writer', type: 'blackhole', createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 60_000).toISOString() }];
    await advance(1000);
    assert.equal(feed.map?.faults.length, 1);
    feed.close('the lab was stopped');
    assert.deepEqual([feed.map?.instances.length, feed.map?.faults], [1, []], 'the page\'s last state: the fleet as it was');
  });

  it('logs the lab\'s own events: targets, the group, the cluster', () => {
    const feed = new LiveFeed({ hello: HELLO, now: () => now });
    const lab = labParts();
    const lines: string[] = [];
    feed.subscribe((event) => event.event === 'log' && lines.push(`${event.data.kind}: ${event.data.text}`));
    feed.followLab(asLab(lab));
    lab.loadBalancer.emit('state-change', { target: 'i-1', from: 'healthy', to: 'unhealthy', reason: 'health checks failed', at: new Date(now).toISOString() });
    lab.group.emit('event', { type: 'stop', instanceId: 'i-1', zone: 'a', at: new Date(now).toISOString() });
    lab.cluster.emit('failover', { promoted: 'pg-2', demoted: 'pg-1', cutConnections: 3, writerUnavailableMs: 800, startedAt: new Date(now).toISOString() });
    assert.deepEqual(lines, [
      'target: target i-1 healthy -> unhealthy (health checks failed)',
      'fleet: stop i-1 (zone a)',
      'database: failover: pg-2 promoted to writer, pg-1 stopped; writer unavailable 800 ms, 3 connections cut',
    ]);
    feed.close('done');
    assert.equal(lab.cluster.listenerCount('failover'), 0);
  });

  it('turns a run\'s action records into a band (planned end from its duration) and log lines', () => {
    const feed = new LiveFeed({ hello: { ...HELLO, kind: 'run', canAct: false }, now: () => now });
    const events: FeedEvent[] = [];
    feed.subscribe((event) => events.push(event));
    const startedAt = new Date(now).toISOString();
    const record = { name: 'cut', actionId: 'lab:fault', targets: { Dependency: ['db-writer'] }, parameters: {}, durationMs: 10_000, state: 'running' as const, startedAt };
    feed.noteAction(record);
    feed.noteAction({ ...record, state: 'completed', endedAt: new Date(now + 10_000).toISOString(), effect: { faultId: 'f-1' } });
    feed.noteRunState('running', 'naive');
    const bands = events.flatMap((e) => (e.event === 'band' ? [e.data] : []));
    assert.deepEqual(bands, [
      { id: 'action-1', label: 'cut (lab:fault)', startedAt, endedAt: null, plannedEndAt: new Date(now + 10_000).toISOString() },
      { id: 'action-1', label: 'cut (lab:fault)', startedAt, endedAt: new Date(now + 10_000).toISOString(), plannedEndAt: new Date(now + 10_000).toISOString() },
    ]);
    const logs = events.flatMap((e) => (e.event === 'log' ? [e.data.text] : []));
    assert.deepEqual(logs, ['action cut (lab:fault) started on db-writer', 'action cut (lab:fault) completed {"faultId":"f-1"}', 'naive: running']);
    const map = events.at(-1)!;
    assert.ok(map.event === 'map' && map.data.run?.state === 'running' && map.data.instances.length === 0);
  });
});
