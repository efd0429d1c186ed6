import { randomUUID } from 'node:crypto';
import type { OrderLedger } from '../audit/ledger.ts';
import { latencySummary, type LatencySummary } from './latency.ts';
import { classifyRead, classifyWrite } from './outcome.ts';
import { decide, SendSchedule, type DueRequest, type RequestKind } from './send-schedule.ts';

/**
 * The most requests the generator keeps in flight, whatever the rate. Past a few hundred, on a
 * small machine, the generator itself becomes the bottleneck: every socket and promise it holds
 * slows the event loop that must read the answers, answers read late time out, and the report
 * would blame the system for the generator's overload.
 */
export const MAX_IN_FLIGHT_REQUESTS = 256;

/** Traffic settings; the defaults are Article 3's. */
export interface TrafficOptions {
  /** The load balancer (or an instance, or the circuit-breaker lab's gateway). */
  url: string;
  /** The path reads GET (default /products, the shop's catalogue). */
  readPath?: string;
  durationMs: number;
  readsPerSecond?: number;
  writesPerSecond?: number;
  productId?: number;
  quantity?: number;
  /** Client timeout; an unanswered request counts as status 0. */
  timeoutMs?: number;
  /**
   * Requests in flight at most; a request due while this many are unanswered is not sent and is
   * counted as `notSent` (the generator's shortfall, not a failure of the system). Default: twice
   * what the rates need if every request ran to the timeout, at most MAX_IN_FLIGHT_REQUESTS.
   */
  maxInFlightRequests?: number;
  /** Every write is recorded here with its Idempotency-Key and what the client was told. */
  ledger?: OrderLedger;
  /** Called every `statusEveryMs` with the totals so far (the articles' STATUS lines). */
  onStatus?: (totals: TrafficTotals, elapsedMs: number) => void;
  statusEveryMs?: number;
  /** Called with every answer as it arrives (for stop conditions over the failure rate). */
  onOutcome?: (kind: 'read' | 'write', failed: boolean, status: number, sentAt: number) => void;
  signal?: AbortSignal;
}

/**
 * Counts in the articles' terms, plus `notSent`: requests the schedule asked for that the
 * generator did not send (its in-flight cap was reached, or it fell behind its schedule). They
 * are neither answers nor failures of the system.
 */
export interface TrafficTotals {
  reads: { ok: number; fail: number; notSent: number; bySource: Record<string, number>; failByStatus: Record<string, number> };
  writes: { ok: number; queued: number; stockOut: number; fail: number; notSent: number; failByStatus: Record<string, number> };
}

/** One second of traffic, for the journal's time series. */
export interface TrafficSecond extends TrafficTotals {
  second: number;
  /**
   * How long the requests sent that second took to be answered (a timeout counts as its client
   * timeout), reads and writes apart; null: none of that kind was answered.
   */
  latencyMs: { reads: LatencySummary | null; writes: LatencySummary | null };
}

/** The generator's own limits over a run: why requests were not sent. */
export interface GeneratorStats {
  maxInFlightRequests: number;
  peakInFlightRequests: number;
  /** Not sent: due while `maxInFlightRequests` were unanswered. */
  notSentAtInFlightCap: number;
  /** Not sent: due so long ago, when the generator got to them, that sending them would be a burst. */
  notSentBehindSchedule: number;
}

/** What a run of traffic saw. */
export interface TrafficResult extends TrafficTotals {
  series: TrafficSecond[];
  durationMs: number;
  generator: GeneratorStats;
}

function emptyTotals(): TrafficTotals {
  return {
    reads: { ok: 0, fail: 0, notSent: 0, bySource: {}, failByStatus: {} },
    writes: { ok: 0, queued: 0, stockOut: 0, fail: 0, notSent: 0, failByStatus: {} },
  };
}

/**
 * The default cap: twice what an open model at these rates holds when every request runs to the
 * timeout (the twice absorbs timer jitter), so that a hung system shows as timeouts, not as
 * shortfall; at most MAX_IN_FLIGHT_REQUESTS.
 */
function defaultMaxInFlight(readsPerSecond: number, writesPerSecond: number, timeoutMs: number): number {
  const needed = Math.ceil(((readsPerSecond + writesPerSecond) * timeoutMs) / 1000);
  return Math.min(MAX_IN_FLIGHT_REQUESTS, Math.max(1, 2 * needed));
}

function observe(options: TrafficOptions, kind: 'read' | 'write', failed: boolean, status: number, sentAt: number): void {
  try {
    const result: unknown = options.onOutcome?.(kind, failed, status, sentAt);
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // An observer can never break a run.
  }
}

async function send(url: string, init: RequestInit, signal: AbortSignal): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  try {
    const response = await fetch(url, { ...init, signal });
    const text = await response.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return { status: response.status, body };
  } catch {
    return { status: 0, body: undefined }; // a timeout or a broken connection: curl's 000
  }
}

/**
 * Article 3's traffic generator: reads of GET /products and writes of POST /orders at fixed
 * rates (an open model: a slow answer does not slow the next request), each write with an
 * Idempotency-Key, classified as the articles count them, per second. Sending stops at
 * durationMs (or the signal); requests still in flight then get at most the client timeout, so
 * the run returns within durationMs + timeoutMs. What the generator cannot send (in-flight cap,
 * behind schedule) is counted as `notSent`, never as a failure, and is not passed to onOutcome.
 */
export async function runTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const readsPerSecond = options.readsPerSecond ?? 3;
  const writesPerSecond = options.writesPerSecond ?? 1;
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxInFlightRequests = options.maxInFlightRequests ?? defaultMaxInFlight(readsPerSecond, writesPerSecond, timeoutMs);
  const productId = options.productId ?? 1;
  const quantity = options.quantity ?? 1;
  const totals = emptyTotals();
  const started = Date.now();
  const series: Array<TrafficTotals & { second: number }> = [];
  // Each second's answer times, by the second the request was sent; summarised once at the end.
  const latencies: Array<{ reads: number[]; writes: number[] }> = [];
  const recordLatency = (kind: 'reads' | 'writes', sentAt: number): void => {
    const second = Math.max(0, Math.floor((sentAt - started) / 1000));
    while (latencies.length <= second) latencies.push({ reads: [], writes: [] });
    latencies[second]![kind].push(Date.now() - sentAt);
  };
  const generator: GeneratorStats = { maxInFlightRequests, peakInFlightRequests: 0, notSentAtInFlightCap: 0, notSentBehindSchedule: 0 };
  const secondOf = (at: number): TrafficTotals & { second: number } => {
    const second = Math.max(0, Math.floor((at - started) / 1000));
    while (series.length <= second) series.push({ second: series.length, ...emptyTotals() });
    return series[second]!;
  };
  // One deadline for the whole drain, besides each request's own timeout: whatever a request's
  // fetch does with its signal, the run returns at most timeoutMs after sending stops.
  const drain = new AbortController();
  const requestSignal = (): AbortSignal => AbortSignal.any([AbortSignal.timeout(timeoutMs), drain.signal]);
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    inFlight.add(work);
    generator.peakInFlightRequests = Math.max(generator.peakInFlightRequests, inFlight.size);
    void work.finally(() => inFlight.delete(work));
  };

  const read = async (): Promise<void> => {
    const sentAt = Date.now();
    const { status, body } = await send(`${options.url}${options.readPath ?? '/products'}`, {}, requestSignal());
    recordLatency('reads', sentAt);
    const outcome = classifyRead(status);
    const bucket = secondOf(sentAt);
    for (const t of [totals, bucket]) {
      t.reads[outcome]++;
      if (outcome === 'fail') t.reads.failByStatus[status] = (t.reads.failByStatus[status] ?? 0) + 1;
      if (outcome === 'ok') {
        const source = typeof body?.['source'] === 'string' ? (body['source'] as string) : 'unknown';
        t.reads.bySource[source] = (t.reads.bySource[source] ?? 0) + 1;
      }
    }
    observe(options, 'read', outcome === 'fail', status, sentAt);
  };
  const write = async (): Promise<void> => {
    const sentAt = Date.now();
    const key = randomUUID();
    const { status, body } = await send(
      `${options.url}/orders`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ product_id: productId, quantity }) },
      requestSignal(),
    );
    recordLatency('writes', sentAt);
    const outcome = classifyWrite(status);
    for (const t of [totals, secondOf(sentAt)]) {
      t.writes[outcome]++;
      if (outcome === 'fail') t.writes.failByStatus[status] = (t.writes.failByStatus[status] ?? 0) + 1;
    }
    observe(options, 'write', outcome === 'fail', status, sentAt);
    const orderId = typeof body?.['order_id'] === 'number' ? (body['order_id'] as number) : null;
    options.ledger?.record({ key, productId, quantity, sentAt, answeredAt: Date.now(), status, orderId });
  };
  const notSent = (kind: RequestKind, dueMs: number): void => {
    for (const t of [totals, secondOf(started + dueMs)]) t[kind === 'read' ? 'reads' : 'writes'].notSent++;
  };

  // One tick every 10 ms sends what has fallen due since the last, in the order it fell due.
  const schedule = new SendSchedule({ readsPerSecond, writesPerSecond });
  let lastStatus = started;
  await new Promise<void>((resolve) => {
    const dispatch = (request: DueRequest, elapsed: number): void => {
      const decision = decide(request, elapsed, inFlight.size, maxInFlightRequests);
      if (decision === 'send') {
        track(request.kind === 'read' ? read() : write());
        return;
      }
      if (decision === 'atInFlightCap') generator.notSentAtInFlightCap++;
      else generator.notSentBehindSchedule++;
      notSent(request.kind, request.dueMs);
    };
    const tick = (): void => {
      const elapsed = Date.now() - started;
      if (options.signal?.aborted) {
        clearInterval(timer);
        resolve();
        return;
      }
      if (elapsed >= options.durationMs) {
        // The last tick comes late: what fell due before the end still belongs to the run, so it
        // is sent (or counted as not sent) like any other; only what is due at the end or later is not.
        for (const request of schedule.takeDue(options.durationMs)) if (request.dueMs < options.durationMs) dispatch(request, elapsed);
        clearInterval(timer);
        resolve();
        return;
      }
      for (const request of schedule.takeDue(elapsed)) dispatch(request, elapsed);
      const statusEveryMs = options.statusEveryMs ?? 5000;
      if (options.onStatus && Date.now() - lastStatus >= statusEveryMs) {
        lastStatus = Date.now();
        try {
          const result: unknown = options.onStatus(structuredClone(totals), elapsed);
          if (result instanceof Promise) result.catch(() => {});
        } catch {
          // An observer can never break a run.
        }
      }
    };
    const timer = setInterval(tick, 10);
    tick();
  });
  // Requests already sent are waited for, each at most the client timeout from now.
  const backstop = setTimeout(() => drain.abort(), timeoutMs);
  try {
    await Promise.all([...inFlight]);
  } finally {
    clearTimeout(backstop);
  }
  const timed: TrafficSecond[] = series.map((s) => ({
    ...s,
    latencyMs: { reads: latencySummary(latencies[s.second]?.reads ?? []), writes: latencySummary(latencies[s.second]?.writes ?? []) },
  }));
  return { ...totals, series: timed, durationMs: Date.now() - started, generator };
}
