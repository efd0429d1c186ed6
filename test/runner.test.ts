// The runner's lifecycle on real parts: stop conditions, interruption (Ctrl-C), rollbacks,
// faults that report what they did and are undone, observers that throw, a steady state that
// does not hold before the run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal } from '../src/chaos/journal.ts';
import type { Lab } from '../src/lab/lab.ts';
import { planRun } from '../src/chaos/plan.ts';
import { PROFILES } from '../src/chaos/profiles.ts';
import { runExperiment, type RunObserver, type RunOptions } from '../src/chaos/runner.ts';
import { validateTemplate } from '../src/chaos/template.ts';
import { waitUntilGone } from './helpers/processes.ts';

const base = {
  title: 'runner test',
  description: 'a template built for the runner tests',
  duration: '120s', // 6 s under the quick profile
  lab: { instances: 2, loadBalancer: { healthCheck: { interval: '10s', timeout: '5s' } } },
  traffic: { readsPerSecond: 3, writesPerSecond: 1, productId: 2 },
  rollbacks: [
    { name: 'clear faults', actionId: 'lab:network:clear' },
    { name: 'register the proxy', actionId: 'lab:db-proxy:register' },
  ],
};

/**
 * A run is interrupted after this long, so that a run that hangs still rolls back and tears its
 * lab down (the runner's own cleanup) before the test's 120 s timeout abandons it.
 */
const RUN_BOUND_MS = 90_000;

async function run(template: Record<string, unknown>, mode: string, options: { signal?: AbortSignal; observer?: RunObserver; seed?: number; onLab?: RunOptions['onLab'] } = {}): Promise<Journal> {
  const valid = validateTemplate(template);
  const bound = AbortSignal.timeout(RUN_BOUND_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, bound]) : bound;
  const journal = await runExperiment({ plan: planRun('runner-test', valid, mode, PROFILES.quick), template: valid, ...options, signal });
  const pids = journal.fleet.instances.map((i) => i.pid ?? 0).filter((p) => p > 0);
  assert.ok(pids.length > 0 || journal.stopReason?.kind === 'error', 'instances recorded');
  assert.deepEqual(await waitUntilGone(pids, 5000), [], 'every instance is gone');
  return journal;
}

const states = (journal: Journal): string[] => journal.states.map((s) => s.state);

/** The smallest run: 1 s of traffic under the quick profile, one wait. */
const SHORT = { ...base, duration: '20s', modes: { resilient: {} }, actions: { warm: { actionId: 'lab:wait', duration: '10s' } } };

/**
 * Whether anything answers HTTP at `url` within 2 s: a status, or the connection's error
 * (refused once the lab's load balancer is closed).
 */
async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Records onLab's calls and the run's states and progress in one sequence, and what the lab looked
 * like at each call (its load balancer's targets are cleared when it closes).
 */
function labWatcher(onHandOver?: () => void) {
  const sequence: string[] = [];
  const seen: { lab?: Lab; urlAtHandOver?: string; answeredAtHandOver?: Promise<boolean>; targetsAtLetGo?: number } = {};
  const observer: RunObserver = {
    state: (state) => sequence.push(`state ${state}`),
    progress: (line) => {
      if (line === 'tearing the lab down') sequence.push(line);
    },
  };
  const onLab = (lab: Lab | undefined): void => {
    if (lab) {
      sequence.push('onLab(lab)');
      seen.lab = lab;
      seen.urlAtHandOver = lab.loadBalancer.url;
      seen.answeredAtHandOver = answers(lab.loadBalancer.url);
      onHandOver?.();
    } else {
      sequence.push('onLab(undefined)');
      seen.targetsAtLetGo = seen.lab?.loadBalancer.targets().length;
    }
  };
  return { sequence, seen, observer, onLab };
}

describe('experiment runner', () => {
  it('stops when a stop condition fires, and still rolls back and audits', async () => {
    const journal = await run(
      {
        ...base,
        modes: { naive: { lab: { patterns: 'naive', databaseProxy: false } } },
        targets: { cluster: { resourceType: 'lab:db-cluster', selectionMode: 'ALL' } },
        actions: {
          warm: { actionId: 'lab:wait', duration: '20s' },
          failover: { actionId: 'lab:db:failover', startAfter: ['warm'] },
          later: { actionId: 'lab:wait', duration: '100s', startAfter: ['failover'] },
        },
        stopConditions: [{ name: 'customers see failures', metric: 'traffic.failureRate', operator: '>', threshold: 0.5, window: '20s' }],
      },
      'naive',
      { seed: 1234 },
    );
    assert.equal(journal.status, 'stopped');
    assert.equal(journal.stopReason?.kind, 'stop-condition');
    assert.match(journal.stopReason!.detail, /customers see failures/);
    assert.deepEqual(states(journal), ['pending', 'initiating', 'running', 'stopping', 'stopped']);
    const condition = journal.stopConditions[0]!;
    assert.equal(condition.fired, true);
    assert.ok(condition.value! > 0.5);
    assert.ok(journal.traffic!.durationMs < 5500, `traffic stopped early: ${journal.traffic!.durationMs} ms`);
    assert.notEqual(journal.actions.find((a) => a.name === 'later')!.state, 'pending');
    assert.deepEqual(journal.rollbacks.map((r) => r.state), ['completed', 'completed']);
    assert.equal(journal.seed, 1234);
    assert.ok(journal.audit, 'audited although stopped');
    assert.equal(journal.audit.lost, 0);
  });

  it('on interruption, undoes a fault it applied, rolls back, and observers that throw change nothing', async () => {
    const abort = new AbortController();
    const throwing: RunObserver = {
      state: (state) => {
        if (state === 'running') setTimeout(() => abort.abort(), 2500);
        throw new Error('observer bug');
      },
      progress: () => {
        throw new Error('observer bug');
      },
      status: () => {
        throw new Error('observer bug');
      },
      action: () => {
        throw new Error('observer bug');
      },
    };
    const journal = await run(
      {
        ...base,
        modes: { resilient: {} },
        targets: { writer: { resourceType: 'lab:dependency', resourceTags: { Role: 'writer' }, selectionMode: 'ALL' } },
        actions: {
          warm: { actionId: 'lab:wait', duration: '20s' },
          cut: { actionId: 'lab:network:disrupt', targets: { Dependencies: 'writer' }, duration: '200s', parameters: { fault: 'blackhole' }, startAfter: ['warm'] },
        },
      },
      'resilient',
      { signal: abort.signal, observer: throwing },
    );
    assert.equal(journal.status, 'stopped');
    assert.equal(journal.stopReason?.kind, 'interrupted');
    const cut = journal.actions.find((a) => a.name === 'cut')!;
    assert.deepEqual(cut.targets, { Dependencies: ['db-writer'] });
    const faults = cut.effect!['faults'] as Array<{ dependency: string; type: string; openConnections: number }>;
    assert.equal(faults.length, 1);
    assert.deepEqual([faults[0]!.dependency, faults[0]!.type], ['db-writer', 'blackhole']);
    assert.ok(faults[0]!.openConnections >= 1, 'the instances had connections open through it');
    assert.ok(cut.cutShortAfterMs !== undefined && cut.cutShortAfterMs < 10_000, 'undone when the run stopped, not after 10 s');
    assert.equal((cut.undo!['removed'] as unknown[]).length, 1);
    assert.equal(journal.rollbacks[0]!.state, 'completed');
    assert.ok(journal.traffic!.writes.ok > 0);
    assert.ok(journal.audit);
    assert.equal(journal.audit.lost, 0, 'writes held by the blackhole were not acknowledged');
    assert.equal(journal.audit.stockConserved, true);
  });

  it('holds a fault without a duration until the run ends, and cancels what never started', async () => {
    const journal = await run(
      {
        ...base,
        modes: { resilient: {} },
        actions: {
          warm: { actionId: 'lab:wait', duration: '20s' },
          outage: { actionId: 'lab:db-proxy:deregister', startAfter: ['warm'] },
          long: { actionId: 'lab:wait', duration: '200s', startAfter: ['warm'] },
          never: { actionId: 'lab:wait', duration: '1s', startAfter: ['long'] },
          'never-either': { actionId: 'lab:db-proxy:register', startAfter: ['never'] },
        },
      },
      'resilient',
    );
    assert.equal(journal.status, 'completed');
    const outage = journal.actions.find((a) => a.name === 'outage')!;
    assert.equal(outage.state, 'completed');
    assert.deepEqual(outage.undo, { registered: true, closedConnections: 0 }, 'registered again at the end of the run');
    const heldMs = Date.parse(outage.endedAt!) - Date.parse(outage.startedAt!);
    assert.ok(heldMs >= 4000, `held for the rest of the run: ${heldMs} ms`);
    assert.ok(journal.traffic!.writes.fail > 0, 'the outage landed');
    const long = journal.actions.find((a) => a.name === 'long')!;
    assert.ok(long.cutShortAfterMs !== undefined, 'a wait longer than the run is cut short');
    assert.deepEqual(
      journal.actions.filter((a) => a.name.startsWith('never')).map((a) => a.state),
      ['cancelled', 'cancelled'],
    );
    assert.equal(journal.audit!.lost, 0);
  });

  it('hands the Lab to onLab once it started, and takes it back before it closes', async () => {
    const watch = labWatcher();
    const journal = await run(SHORT, 'resilient', { observer: watch.observer, onLab: watch.onLab });
    assert.equal(journal.status, 'completed');
    assert.deepEqual(watch.sequence, [
      'state pending',
      'state initiating',
      'onLab(lab)',
      'state running',
      'tearing the lab down',
      'onLab(undefined)',
      'state completed',
    ]);
    assert.ok(watch.seen.lab, 'a Lab was handed over');
    assert.equal(await watch.seen.answeredAtHandOver, true, 'handed over once started: its load balancer answered');
    assert.equal(watch.seen.targetsAtLetGo, 2, 'taken back while the lab still ran (its load balancer had its two targets)');
    assert.equal(await answers(watch.seen.urlAtHandOver!), false, 'the lab is closed once the run returns');
  });

  it('takes the Lab back from onLab and closes it when the run is stopped right after the hand-over', async () => {
    const abort = new AbortController();
    const watch = labWatcher(() => abort.abort());
    const journal = await run(SHORT, 'resilient', { signal: abort.signal, observer: watch.observer, onLab: watch.onLab });
    assert.equal(journal.status, 'stopped');
    assert.equal(journal.stopReason?.kind, 'interrupted');
    assert.deepEqual(watch.sequence, [
      'state pending',
      'state initiating',
      'onLab(lab)',
      'state stopping',
      'tearing the lab down',
      'onLab(undefined)',
      'state stopped',
    ]);
    assert.equal(watch.seen.targetsAtLetGo, 2, 'taken back before the lab closed');
    assert.equal(await answers(watch.seen.urlAtHandOver!), false, 'the lab is closed once the run returns');
    assert.equal(journal.traffic, null, 'stopped before any traffic');
  });

  it('injects nothing when the steady state does not hold before the run', async () => {
    const journal = await run(
      {
        ...base,
        modes: { resilient: {} },
        targets: { shops: { resourceType: 'lab:instance', selectionMode: 'ALL' } },
        actions: { kill: { actionId: 'lab:instance:kill', targets: { Instances: 'shops' } } },
        steadyStateHypothesis: { title: 'an impossible steady state', probes: [{ name: 'teapot', path: '/products', tolerance: { status: 418 } }] },
      },
      'resilient',
    );
    assert.equal(journal.status, 'failed');
    assert.equal(journal.stopReason?.kind, 'hypothesis-before');
    assert.equal(journal.steadyState.before?.met, false);
    assert.equal(journal.steadyState.before?.probes[0]?.status, 200);
    assert.equal(journal.actions[0]!.state, 'cancelled', 'the kill never ran');
    assert.ok(journal.fleet.instances.every((i) => i.state === 'running' || i.state === 'terminated'));
    assert.equal(journal.traffic, null);
  });
});
