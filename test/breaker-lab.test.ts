// The circuit-breaker lab (seed 003) on real processes: the unreliable backend, the gateway and
// its execution environments, the breaker function in both modes, the fault proxy and (shared
// mode) the services store.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BREAKER_LAB_LISTENERS, BreakerLab, type BreakerLabOptions, type InvocationRecord, type LabTransition } from '../src/lab/breaker-lab/index.ts';
import { within } from './helpers/deadline.ts';
import { alive, killFamily, waitUntilGone } from './helpers/processes.ts';

interface Answer {
  status: number;
  body: { code?: string; environment?: { id: string; invocation: number; pid: number }; backend?: unknown };
  environmentId: string | null;
  coldStart: boolean;
  ms: number;
}

async function call(lab: BreakerLab, timeoutMs = 10_000): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${lab.gatewayUrl}/call`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await response.json()) as Answer['body'];
  return {
    status: response.status,
    body,
    environmentId: response.headers.get('x-environment-id'),
    coldStart: response.headers.get('x-cold-start') === 'true',
    ms: performance.now() - started,
  };
}

/** Times a lab may take to start; a slow 2-core machine running other tests stays well inside it. */
const START_BOUND_MS = 30_000;

describe('breaker lab: backend and gateway', () => {
  let lab: BreakerLab;
  before(async () => {
    lab = await within(START_BOUND_MS, 'lab start', BreakerLab.start({ mode: 'local', concurrency: 2, queueSize: 1, maxInvocations: 3, idleMs: 60_000, clientTimeoutMs: 1000 }));
  });
  after(async () => {
    await lab?.close();
  });

  it('the backend fails, slows down and hangs on command, and counts every call per window', async () => {
    const direct = (timeoutMs = 5000): Promise<Response> => fetch(`${lab.backendUrl}/work`, { signal: AbortSignal.timeout(timeoutMs) });
    const since = Date.now();
    assert.equal((await direct()).status, 200);

    const failing = await lab.backend.setBehaviour({ failureRate: 1 });
    const error = await direct();
    assert.equal(error.status, 500);
    assert.equal(((await error.json()) as { code: string }).code, 'BACKEND_FAILURE');

    await lab.backend.setBehaviour({ latencyMs: 300 });
    const started = performance.now();
    assert.equal((await direct()).status, 200);
    assert.ok(performance.now() - started >= 290, 'the latency is added to the answer');

    const hanging = await lab.backend.setBehaviour({ hang: true });
    await assert.rejects(direct(500), { name: 'TimeoutError' }, 'a hung call is accepted and never answered');
    // The control API still answers while service calls hang.
    await lab.backend.setBehaviour({});

    const calls = await lab.backend.calls(since);
    assert.equal(calls.calls.length, 4);
    assert.deepEqual(calls.calls.map((c) => c.outcome), ['ok', 'error', 'ok', 'hang']);
    assert.ok(calls.calls.every((c) => c.at >= since && c.at <= Date.now()));
    assert.equal(calls.windows[failing.window]?.calls, 1);
    assert.equal(calls.windows[hanging.window]?.outcomes.hang, 1);
    assert.ok(calls.windows[hanging.window]?.endedAt !== null, 'a window ends when the behaviour changes');
  });

  it('the backend control API wants its token and names a bad field', async () => {
    const put = (body: unknown, token?: string): Promise<Response> =>
      fetch(`${lab.backendUrl}/_control/behaviour`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const unauthorized = await put({ failureRate: 1 });
    assert.equal(unauthorized.status, 401);
    assert.equal(((await unauthorized.json()) as { code: string }).code, 'UNAUTHORIZED');
    await assert.rejects(lab.backend.setBehaviour({ failureRate: 1.5 }), (error: { status: number; code: string; message: string }) => {
      assert.equal(error.status, 400);
      assert.equal(error.code, 'INVALID_BEHAVIOUR');
      assert.match(error.message, /failureRate must be a number from 0 to 1, got 1\.5/);
      return true;
    });
    await assert.rejects(lab.backend.setBehaviour({ latency: 5 } as never), /latency must be absent/);
    assert.equal((await lab.backend.behaviour()).behaviour.failureRate, 0, 'a refused change changes nothing');
  });

  it('module memory survives within an environment and not across a recycle', async () => {
    // One caller at a time: the most recently used warm environment takes each call.
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await call(lab));
    assert.ok(answers.every((a) => a.status === 200));
    const first = answers[0]!;
    const sameEnvironment = answers.filter((a) => a.environmentId === first.environmentId);
    const counters = sameEnvironment.map((a) => a.body.environment!.invocation);
    assert.deepEqual(counters, counters.map((_, i) => counters[0]! + i), 'the module-level counter grows within one environment');
    // maxInvocations is 3: the environment that served its third call was recycled, and a new
    // one started from fresh module memory.
    const recycled = answers.find((a) => a.environmentId !== first.environmentId && a.coldStart);
    assert.ok(recycled, `a recycled environment was replaced: ${JSON.stringify(answers.map((a) => [a.environmentId, a.body.environment?.invocation]))}`);
    assert.equal(recycled.body.environment!.invocation, 1, 'a new environment forgets what the old one had in memory');
    const metrics = await lab.gateway.metrics();
    assert.ok(metrics.recycles.maxInvocations >= 1);
    assert.ok(metrics.environments.every((e) => e.invocations <= 3));
  });

  it('runs at most `concurrency` environments, queues one request and throttles the rest with 429', async () => {
    await lab.backend.setBehaviour({ latencyMs: 600 });
    try {
      const before = await lab.gateway.metrics();
      // concurrency 2 + queue 1: 3 are served, 3 are throttled at once.
      const answers = await Promise.all(Array.from({ length: 6 }, () => call(lab)));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
      for (const throttled of answers.filter((a) => a.status === 429)) {
        assert.equal(throttled.body.code, 'THROTTLED');
        assert.ok(throttled.ms < 500, `a throttle is answered at once, not after ${throttled.ms} ms`);
      }
      const metrics = await lab.gateway.metrics();
      assert.equal(metrics.throttles - before.throttles, 3);
      assert.ok(metrics.peakEnvironments <= 2, `peak ${metrics.peakEnvironments} environments`);
      assert.ok(metrics.peakBusy <= 2);
      assert.ok(metrics.peakQueued >= 1);
    } finally {
      await lab.backend.setBehaviour({});
    }
  });

  it('answers 504 when the backend hangs past the client timeout, and 502 when the fault proxy resets its path', async () => {
    await lab.backend.setBehaviour({ hang: true });
    try {
      const hung = await call(lab);
      assert.equal(hung.status, 504);
      assert.equal(hung.body.code, 'BACKEND_TIMEOUT');
      assert.ok(hung.ms >= 950 && hung.ms < 5000, `answered after the 1000 ms client timeout, took ${Math.round(hung.ms)} ms`);
    } finally {
      await lab.backend.setBehaviour({});
    }
    const fault = await lab.faultProxy.client.addFault(BREAKER_LAB_LISTENERS.backend, { type: 'reset', durationMs: 30_000 });
    try {
      const reset = await call(lab);
      assert.equal(reset.status, 502);
      assert.equal(reset.body.code, 'BACKEND_UNREACHABLE');
    } finally {
      await lab.faultProxy.client.removeFault(BREAKER_LAB_LISTENERS.backend, fault.id);
    }
    const unauthorized = await fetch(`${lab.gatewayUrl}/_gateway/metrics`);
    assert.equal(unauthorized.status, 401, "the gateway's own API wants its token");
  });

  it('recycles an environment after idleMs without an invocation', async () => {
    const idleLab = await within(START_BOUND_MS, 'lab start', BreakerLab.start({ mode: 'local', concurrency: 1, idleMs: 300 }));
    try {
      const first = await call(idleLab);
      const second = await call(idleLab);
      assert.equal(second.environmentId, first.environmentId);
      assert.equal(second.body.environment!.invocation, 2);
      await within(5000, 'idle recycle', (async () => {
        while ((await idleLab.gateway.metrics()).recycles.idle < 1) await delay(50);
      })());
      const third = await call(idleLab);
      assert.notEqual(third.environmentId, first.environmentId);
      assert.equal(third.coldStart, true);
      assert.equal(third.body.environment!.invocation, 1);
    } finally {
      await idleLab.close();
    }
  });
});

/** What a scripted run saw. */
interface RunShape {
  outageCalls: number;
  environments: number;
  trips: LabTransition[];
  transitions: LabTransition[];
  invocations: InvocationRecord[];
  outageStartedAt: number;
  recoveredAt: number;
  lastAnswers: number[];
  startMs: number;
}

/**
 * Traffic on `lanes` callers, back to back: a healthy baseline, the backend failing every call
 * for `outageMs`, then healthy again for `recoveryMs`.
 */
async function scriptedRun(options: BreakerLabOptions, timing: { lanes: number; baselineMs: number; outageMs: number; recoveryMs: number }): Promise<RunShape> {
  const lab = await within(START_BOUND_MS, 'lab start', BreakerLab.start(options));
  try {
    let stop = false;
    const statuses: number[] = [];
    const lanes = Array.from({ length: timing.lanes }, async () => {
      while (!stop) {
        try {
          statuses.push((await call(lab, 5000)).status);
        } catch {
          statuses.push(0);
        }
        await delay(20);
      }
    });
    await delay(timing.baselineMs);
    const outage = await lab.backend.setBehaviour({ failureRate: 1 });
    await delay(timing.outageMs);
    const healthy = await lab.backend.setBehaviour({});
    const recoveredAt = (await lab.backend.calls()).windows[healthy.window]!.startedAt;
    await delay(timing.recoveryMs);
    const tail = statuses.length;
    await delay(500);
    stop = true;
    await within(10_000, 'traffic lanes', Promise.all(lanes));
    const calls = await lab.backend.calls();
    const transitions = await lab.transitions();
    const metrics = await lab.gateway.metrics();
    return {
      outageCalls: calls.windows[outage.window]!.calls,
      environments: metrics.environmentsStarted,
      trips: transitions.filter((t) => t.from === 'CLOSED' && t.to === 'OPEN'),
      transitions,
      invocations: await lab.gateway.invocations(),
      outageStartedAt: calls.windows[outage.window]!.startedAt,
      recoveredAt,
      lastAnswers: statuses.slice(tail),
      startMs: lab.startMs,
    };
  } finally {
    await lab.close();
  }
}

describe('breaker lab: BEFORE (local) vs AFTER (shared) on a failing backend', () => {
  const breaker = { failureThreshold: 3, recoveryTimeoutMs: 1200, trialLeaseMs: 3000 };
  const timing = { lanes: 4, baselineMs: 800, outageMs: 3000, recoveryMs: 2500 };
  const common = { concurrency: 4, queueSize: 8, maxInvocations: 40, idleMs: 30_000, clientTimeoutMs: 500, breaker, refreshIntervalMs: 200 } as const;

  it('local mode: every environment hammers the failing backend until its own breaker trips, and a recycled one starts again', async () => {
    const run = await scriptedRun({ mode: 'local', ...common }, timing);
    const tripped = new Set(run.trips.map((t) => t.source));
    assert.ok(tripped.size >= 2, `several environments tripped their own breaker: ${[...tripped].join(', ')}`);
    // Each trip took `failureThreshold` failing calls of that environment's own.
    assert.ok(
      run.outageCalls >= breaker.failureThreshold * run.trips.length,
      `${run.outageCalls} backend calls during the outage, for ${run.trips.length} trips at ${breaker.failureThreshold}`,
    );
    // Environments recycled during the outage came back with a CLOSED breaker and tripped again.
    const bornInOutage = new Set(run.invocations.filter((i) => i.coldStart && i.receivedAt >= run.outageStartedAt && i.receivedAt < run.recoveredAt).map((i) => i.environmentId));
    assert.ok([...tripped].some((id) => bornInOutage.has(id)), 'an environment started during the outage tripped its own fresh breaker');
    assert.ok(run.lastAnswers.length > 0 && run.lastAnswers.every((s) => s === 200), `healthy again after recovery: ${run.lastAnswers.join(',')}`);
    process.stdout.write(`# local: start ${run.startMs} ms, ${run.outageCalls} backend calls during the outage, ${run.trips.length} trips in ${tripped.size} of ${run.environments} environments\n`);
  });

  it('shared mode: trips once fleet-wide, one trial call per half-open window, and closes within recoveryTimeout + a trial', async () => {
    const run = await scriptedRun({ mode: 'shared', ...common }, timing);
    const opened = run.transitions.filter((t) => t.from === 'CLOSED' && t.to === 'OPEN');
    assert.equal(opened.length, 1, `the store's history: ${run.transitions.map((t) => `${t.from}->${t.to}`).join(', ')}`);
    // The threshold, plus calls other environments admitted before they saw the trip (about one
    // each; twice that for a loaded machine), plus one trial per half-open window.
    const halfOpen = run.transitions.filter((t) => t.to === 'HALF_OPEN');
    const bound = breaker.failureThreshold + 2 * common.concurrency + halfOpen.length;
    assert.ok(run.outageCalls <= bound, `${run.outageCalls} backend calls during the outage, at most ${bound} expected`);
    assert.ok(run.outageCalls >= breaker.failureThreshold);
    // Each half-open window (a generation of the store) had exactly one trial call, fleet-wide.
    assert.ok(halfOpen.length >= 1);
    const trials = run.invocations.filter((i) => i.meta?.['trial'] === true);
    for (const window of halfOpen) {
      const inWindow = trials.filter((i) => i.meta?.['generation'] === window.generation);
      assert.equal(inWindow.length, 1, `half-open generation ${window.generation}: ${inWindow.length} trial calls`);
    }
    assert.equal(trials.length, halfOpen.length, 'no trial call outside a half-open window');
    // After the backend recovered: the next trial (at most recoveryTimeout away) closes it.
    const closed = run.transitions.find((t) => t.from === 'HALF_OPEN' && t.to === 'CLOSED');
    assert.ok(closed, 'the circuit closed');
    const slackMs = common.clientTimeoutMs + common.refreshIntervalMs + 500;
    assert.ok(
      closed.at - run.recoveredAt <= breaker.recoveryTimeoutMs + slackMs,
      `closed ${Math.round(closed.at - run.recoveredAt)} ms after the backend recovered (recovery timeout ${breaker.recoveryTimeoutMs} ms)`,
    );
    assert.ok(run.lastAnswers.length > 0 && run.lastAnswers.every((s) => s === 200), `healthy again after recovery: ${run.lastAnswers.join(',')}`);
    process.stdout.write(`# shared: start ${run.startMs} ms, ${run.outageCalls} backend calls during the outage, ${opened.length} trip, ${halfOpen.length} half-open windows, closed ${Math.round(closed.at - run.recoveredAt)} ms after recovery\n`);
  });
});

describe('breaker lab: nothing outlives its owner', () => {
  it('every process of the lab, execution environments included, dies when its owner is SIGKILLed', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/start-breaker-lab-and-wait.ts', import.meta.url));
    const owner = spawn(process.execPath, [fixture, 'shared'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pids: number[] = [];
    try {
      const [line] = (await within(START_BOUND_MS, 'fixture ready', once(createInterface({ input: owner.stdout! }), 'line'))) as [string];
      const started = JSON.parse(line) as { lab: number[]; environments: number[]; status: number };
      assert.equal(started.status, 200);
      pids = [...started.lab, ...started.environments];
      assert.ok(started.environments.length >= 1 && pids.every(alive));
      owner.kill('SIGKILL');
      assert.deepEqual(await waitUntilGone(pids, 15_000), [], 'a lab process outlived its owner');
    } finally {
      await killFamily(owner.pid!, pids);
    }
  });
});
