// The traffic generator's own limits, against a real local HTTP server that answers slowly: it
// never has more requests in flight than its cap, what it cannot send is its shortfall (not a
// failure of the system), it does not burst to catch up after falling behind, and it ends on time.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { MAX_IN_FLIGHT_REQUESTS, runTraffic } from '../src/traffic/traffic-generator.ts';
import { within } from './helpers/deadline.ts';

interface SlowServer {
  url: string;
  /** Requests being answered right now, and the most there ever were. */
  active: number;
  peakActive: number;
  answered: number;
  close: () => Promise<void>;
}

/** A shop-shaped server that holds every request `holdMs` (Infinity: never answers). */
async function slowServer(holdMs: number): Promise<SlowServer> {
  const state = { active: 0, peakActive: 0, answered: 0 };
  const server: Server = createServer((request, response) => {
    state.active++;
    state.peakActive = Math.max(state.peakActive, state.active);
    request.resume();
    const answer = (): void => {
      state.active--;
      state.answered++;
      if (request.method === 'POST') response.writeHead(201, { 'content-type': 'application/json' }).end(`{"order_id":${state.answered}}`);
      else response.writeHead(200, { 'content-type': 'application/json' }).end('{"source":"database"}');
    };
    if (holdMs !== Infinity) setTimeout(answer, holdMs);
    else response.on('close', () => state.active--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening', { signal: AbortSignal.timeout(5000) });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return Object.assign(state, {
    url,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close', { signal: AbortSignal.timeout(5000) }).catch(() => {});
    },
  });
}

describe('traffic generator limits', () => {
  it("records each second's latency, p50 and p99, reads and writes apart, by the second the request was sent", async () => {
    const server = await slowServer(150);
    try {
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 2000, readsPerSecond: 20, writesPerSecond: 5, timeoutMs: 2000 }));
      const seconds = result.series.filter((s) => s.reads.ok > 0);
      assert.ok(seconds.length >= 2, JSON.stringify(result.series));
      for (const s of seconds) {
        const { reads, writes } = s.latencyMs;
        assert.ok(reads, `second ${s.second}: read latency`);
        assert.equal(reads.count, s.reads.ok + s.reads.fail, 'every answered read of that second');
        // Held 150 ms by the server: never faster, and far below the client timeout.
        assert.ok(reads.p50 >= 145 && reads.p50 < 1000 && reads.p99 >= reads.p50 && reads.max >= reads.p99, JSON.stringify(reads));
        if (s.writes.ok > 0) assert.ok(writes && writes.p50 >= 145, JSON.stringify(writes));
      }
    } finally {
      await server.close();
    }
  });

  it('a second whose requests timed out records the client timeout as their latency', async () => {
    const server = await slowServer(Infinity);
    try {
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 600, readsPerSecond: 10, writesPerSecond: 0, timeoutMs: 400 }));
      const reads = result.series[0]!.latencyMs.reads;
      assert.ok(reads && reads.p50 >= 390 && reads.max < 1500, JSON.stringify(reads));
      assert.equal(result.series[0]!.latencyMs.writes, null, 'no writes were sent');
    } finally {
      await server.close();
    }
  });

  it('never has more requests in flight than its cap; what it cannot send is shortfall, not failure', async () => {
    const server = await slowServer(300);
    try {
      const durationMs = 1500;
      const timeoutMs = 2000;
      const started = Date.now();
      // 300 requests/s held 300 ms each need ~90 in flight; the cap allows 20.
      let outcomes = 0;
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs, readsPerSecond: 200, writesPerSecond: 100, timeoutMs, maxInFlightRequests: 20, onOutcome: () => outcomes++ }));
      const elapsed = Date.now() - started;
      assert.ok(server.peakActive <= 20, `the server saw at most the cap in flight: ${server.peakActive}`);
      assert.equal(result.generator.maxInFlightRequests, 20);
      assert.ok(result.generator.peakInFlightRequests <= 20);
      assert.ok(result.reads.notSent > 0 && result.writes.notSent > 0, `shortfall: ${result.reads.notSent} reads, ${result.writes.notSent} writes`);
      assert.equal(result.reads.notSent + result.writes.notSent, result.generator.notSentAtInFlightCap + result.generator.notSentBehindSchedule);
      assert.equal(result.reads.fail, 0, 'the server answered every request it got');
      assert.equal(result.writes.fail, 0);
      assert.equal(result.reads.ok + result.writes.ok, server.answered);
      assert.equal(outcomes, server.answered, 'stop conditions over the failure rate hear of answers only, never of what was not sent');
      const seriesNotSent = result.series.reduce((n, s) => n + s.reads.notSent + s.writes.notSent, 0);
      assert.equal(seriesNotSent, result.reads.notSent + result.writes.notSent, 'the per-second series counts the shortfall too');
      assert.ok(elapsed <= durationMs + timeoutMs + 1000, `returned after ${elapsed} ms`);
    } finally {
      await server.close();
    }
  });

  it(`caps requests in flight at ${MAX_IN_FLIGHT_REQUESTS} by default, whatever the rate`, async () => {
    const server = await slowServer(300);
    try {
      // 1,500 requests/s held 300 ms need ~450 in flight.
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 1000, readsPerSecond: 1000, writesPerSecond: 500, timeoutMs: 5000 }));
      assert.equal(result.generator.maxInFlightRequests, MAX_IN_FLIGHT_REQUESTS);
      assert.ok(server.peakActive <= MAX_IN_FLIGHT_REQUESTS, `the server saw ${server.peakActive} in flight`);
      assert.ok(result.reads.notSent + result.writes.notSent > 0);
      assert.equal(result.reads.fail + result.writes.fail, 0);
    } finally {
      await server.close();
    }
  });

  it('sends everything at a normal rate: no shortfall', async () => {
    const server = await slowServer(300);
    try {
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 1500, readsPerSecond: 30, writesPerSecond: 10, timeoutMs: 2000 }));
      assert.equal(result.generator.maxInFlightRequests, 160, 'the default: twice 40 requests/s × a 2 s timeout');
      assert.deepEqual([result.reads.notSent, result.writes.notSent], [0, 0]);
      assert.equal(result.reads.fail + result.writes.fail, 0);
      assert.ok(result.reads.ok >= 40 && result.writes.ok >= 13, `sent: ${result.reads.ok} reads, ${result.writes.ok} writes`);
    } finally {
      await server.close();
    }
  });

  it('skips, rather than bursts, what fell due while its event loop was blocked', async () => {
    const server = await slowServer(0);
    try {
      // Block the event loop for 1.5 s in the middle of the run.
      setTimeout(() => {
        const until = Date.now() + 1500;
        while (Date.now() < until);
      }, 300);
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 2500, readsPerSecond: 100, writesPerSecond: 0, timeoutMs: 2000 }));
      // Due during the block: ~150; all but the last second's worth (the catch-up window) skipped.
      assert.ok(result.generator.notSentBehindSchedule >= 30, `behind schedule: ${result.generator.notSentBehindSchedule}`);
      assert.equal(result.reads.notSent, result.generator.notSentBehindSchedule);
      assert.equal(result.reads.fail, 0);
    } finally {
      await server.close();
    }
  });

  it('ends on time when nothing answers: the duration, then at most the client timeout', async () => {
    const server = await slowServer(Infinity);
    try {
      const started = Date.now();
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 1000, readsPerSecond: 20, writesPerSecond: 10, timeoutMs: 500 }));
      const elapsed = Date.now() - started;
      assert.ok(elapsed <= 1000 + 500 + 500, `returned after ${elapsed} ms`);
      assert.ok(result.reads.fail > 0 && result.reads.ok === 0, 'unanswered requests are the system’s failures (timeouts)');
      assert.equal(result.reads.failByStatus['0'], result.reads.fail);
      assert.deepEqual([result.reads.notSent, result.writes.notSent], [0, 0], 'the cap (twice 30/s × 0.5 s) was never the limit');
    } finally {
      await server.close();
    }
  });

  it('accounts for every request that fell due before the end, also when the last tick comes late', async () => {
    // Regression: once the run's time was up, the last tick stopped before taking what had fallen
    // due since the tick before; those requests were neither sent nor counted as not sent.
    const server = await slowServer(0);
    try {
      // Block the event loop for 300 ms just before the end, so the last tick comes ~300 ms late.
      setTimeout(() => {
        const until = Date.now() + 300;
        while (Date.now() < until);
      }, 850);
      const result = await within(15_000, 'the traffic run', runTraffic({ url: server.url, durationMs: 1000, readsPerSecond: 200, writesPerSecond: 100, timeoutMs: 2000 }));
      const reads = result.reads.ok + result.reads.fail + result.reads.notSent;
      const writes = result.writes.ok + result.writes.queued + result.writes.stockOut + result.writes.fail + result.writes.notSent;
      assert.deepEqual([reads, writes], [200, 100], 'due at 0, 5, 10 … 995 ms: 200 reads; at 0, 10 … 990 ms: 100 writes');
    } finally {
      await server.close();
    }
  });
});
