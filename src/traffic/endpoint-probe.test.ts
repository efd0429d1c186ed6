import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runEndpointProbe, type EndpointResult } from './endpoint-probe.ts';

/** A small shop: /ok answers, /stale answers from a "cache", /down refuses, /hang never answers. */
function startServer(): Promise<{ server: Server; url: string; arrivals: Map<string, number> }> {
  const arrivals = new Map<string, number>();
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    arrivals.set(path, (arrivals.get(path) ?? 0) + 1);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (path === '/ok') json(200, { source: 'store' });
    else if (path === '/stale') json(200, { source: 'cache', stale: true, cache_age_ms: 1200 });
    else if (path === '/stale-text') json(200, { stale: 'true' });
    else if (path === '/down') json(503, { error: 'reviews temporarily unavailable' });
    else held.push(res); // a dependency that hangs: the answer never comes
  });
  server.on('close', () => held.forEach((res) => res.destroy()));
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals }));
  });
}

const of = (results: EndpointResult[], endpoint: string): EndpointResult[] => results.filter((r) => r.endpoint === endpoint);

describe('endpoint probe', () => {
  let server: Server;
  let url: string;
  let arrivals: Map<string, number>;
  before(async () => ({ server, url, arrivals } = await startServer()));
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  // A cadence of 50 ms over 500 ms: a stall of the event loop on a loaded machine skips late ticks
  // (by design), so these tests count ticks as sent or not sent rather than expecting a minimum sent.
  it('sends to a hanging endpoint on schedule without waiting for its answers, so requests pile up, and times each out as status 0', async () => {
    arrivals.clear();
    const started = Date.now();
    const run = await runEndpointProbe({ url, endpoints: { products: '/ok', reviews: '/hang' }, everyMs: 50, timeoutMs: 300, durationMs: 500 });
    const ticks = Math.ceil(500 / 50);
    for (const name of ['products', 'reviews']) assert.equal(of(run.results, name).length + run.notSent[name]!, ticks, `${name}: every tick sent or counted as not sent`);
    const hung = of(run.results, 'reviews');
    assert.ok(run.peakInFlight['reviews']! > 1, `the open loop sent again while one still hung: peak ${run.peakInFlight['reviews']}`);
    // A request can time out before the server accepts it, so the server may see fewer than were sent.
    const reached = arrivals.get('/hang') ?? 0;
    assert.ok(reached > 1 && reached <= hung.length, `more than one hung at the server at once: ${reached} of ${hung.length}`);
    for (const r of hung) {
      assert.equal(r.status, 0);
      assert.ok(r.latencyMs >= 290 && r.latencyMs < 2000, `timed out at the client timeout: ${r.latencyMs}`);
    }
    assert.ok(of(run.results, 'products').every((r) => r.status === 200 && !r.stale));
    assert.ok(Date.now() - started < 500 + 300 + 1000, 'returns within the duration plus the client timeout');
  });

  it('counts what the in-flight cap did not send, and keeps probing the other endpoints on time', async () => {
    // timeoutMs past durationMs: the two capped requests hang for the whole run, so exactly two are sent.
    const run = await runEndpointProbe({ url, endpoints: { products: '/ok', reviews: '/hang' }, everyMs: 50, timeoutMs: 1000, durationMs: 500, maxInFlightPerEndpoint: 2 });
    assert.equal(run.maxInFlightPerEndpoint, 2);
    assert.equal(of(run.results, 'reviews').length, 2, 'two in flight, then the cap');
    assert.equal(run.notSent['reviews'], 10 - 2);
    assert.equal(of(run.results, 'products').length + run.notSent['products']!, 10, 'products: every tick sent or counted as not sent');
    assert.ok(of(run.results, 'products').length > 2, `the cap on one endpoint never holds another: ${of(run.results, 'products').length} sent`);
  });

  it('marks a 200 whose JSON says "stale": true, and records refusals with their status', async () => {
    const run = await runEndpointProbe({ url, endpoints: { fresh: '/ok', cached: '/stale', odd: '/stale-text', down: '/down' }, everyMs: 25, timeoutMs: 1000, durationMs: 100 });
    assert.ok(of(run.results, 'cached').length > 0 && of(run.results, 'cached').every((r) => r.status === 200 && r.stale));
    assert.ok(of(run.results, 'fresh').every((r) => !r.stale));
    assert.ok(of(run.results, 'odd').every((r) => !r.stale), 'only the boolean true is stale');
    assert.ok(of(run.results, 'down').length > 0 && of(run.results, 'down').every((r) => r.status === 503 && !r.stale));
    assert.deepEqual(run.results.map((r) => r.sentAt), [...run.results.map((r) => r.sentAt)].sort((a, b) => a - b), 'in the order sent');
  });

  it('stops sending when its signal aborts, and an observer that throws breaks nothing', async () => {
    const abort = new AbortController();
    const seen: EndpointResult[] = [];
    const statuses: number[] = [];
    const started = Date.now();
    const run = await runEndpointProbe({
      url,
      endpoints: { products: '/ok' },
      everyMs: 10,
      timeoutMs: 1000,
      durationMs: 60_000,
      statusEveryMs: 1,
      signal: abort.signal,
      onResult: (result) => {
        seen.push(result);
        if (seen.length === 5) abort.abort();
        throw new Error('an observer that throws');
      },
      onStatus: (totals) => {
        statuses.push(totals['products']!.ok);
        throw new Error('an observer that throws');
      },
    });
    assert.ok(Date.now() - started < 5000, 'stopped long before its duration');
    assert.ok(run.results.length >= 5 && run.results.length < 50, `${run.results.length} results`);
    assert.equal(seen.length, run.results.length, 'every result was shown');
    assert.ok(statuses.length > 0, 'totals were shown');
  });

  it('returns within a few ms of its signal aborting, without waiting for the requests in flight to time out', async () => {
    // Regression: an abort only stopped sending, and the drain then waited up to timeoutMs for a hanging endpoint.
    const abort = new AbortController();
    let abortedAt = 0;
    let seenProducts = 0;
    const run = await runEndpointProbe({
      url,
      endpoints: { products: '/ok', reviews: '/hang' },
      everyMs: 50,
      timeoutMs: 5000,
      durationMs: 60_000,
      signal: abort.signal,
      onResult: (result) => {
        // Abort once the products endpoint has answered a few times, so reviews has requests hanging.
        if (result.endpoint === 'products' && ++seenProducts === 4) {
          abortedAt = Date.now();
          abort.abort();
        }
      },
    });
    const tookMs = Date.now() - abortedAt;
    assert.ok(abortedAt > 0, 'the abort happened');
    assert.ok(tookMs < 200, `returned ${tookMs} ms after the abort`);
    assert.ok(run.peakInFlight['reviews']! > 1, `requests were hanging when it aborted: peak ${run.peakInFlight['reviews']}`);
    assert.deepEqual(of(run.results, 'reviews'), [], 'the requests cut by the abort are left out, not counted as timeouts');
    assert.ok(of(run.results, 'products').length >= 4 && of(run.results, 'products').every((r) => r.status === 200));
  });
});
