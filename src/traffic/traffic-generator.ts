import { randomUUID } from 'node:crypto';
import type { OrderLedger } from '../audit/ledger.ts';
import { classifyRead, classifyWrite } from './outcome.ts';

/** Traffic settings; the defaults are Article 3's. */
export interface TrafficOptions {
  /** The load balancer (or an instance). */
  url: string;
  durationMs: number;
  readsPerSecond?: number;
  writesPerSecond?: number;
  productId?: number;
  quantity?: number;
  /** Client timeout; an unanswered request counts as status 0. */
  timeoutMs?: number;
  /** Every write is recorded here with its Idempotency-Key and what the client was told. */
  ledger?: OrderLedger;
  /** Called every `statusEveryMs` with the totals so far (the articles' STATUS lines). */
  onStatus?: (totals: TrafficTotals, elapsedMs: number) => void;
  statusEveryMs?: number;
  /** Called with every answer as it arrives (for stop conditions over the failure rate). */
  onOutcome?: (kind: 'read' | 'write', failed: boolean, status: number, sentAt: number) => void;
  signal?: AbortSignal;
}

/** Counts in the articles' terms. */
export interface TrafficTotals {
  reads: { ok: number; fail: number; bySource: Record<string, number>; failByStatus: Record<string, number> };
  writes: { ok: number; queued: number; stockOut: number; fail: number; failByStatus: Record<string, number> };
}

/** One second of traffic, for the journal's time series. */
export interface TrafficSecond extends TrafficTotals {
  second: number;
}

/** What a run of traffic saw. */
export interface TrafficResult extends TrafficTotals {
  series: TrafficSecond[];
  durationMs: number;
}

function emptyTotals(): TrafficTotals {
  return { reads: { ok: 0, fail: 0, bySource: {}, failByStatus: {} }, writes: { ok: 0, queued: 0, stockOut: 0, fail: 0, failByStatus: {} } };
}

function observe(options: TrafficOptions, kind: 'read' | 'write', failed: boolean, status: number, sentAt: number): void {
  try {
    const result: unknown = options.onOutcome?.(kind, failed, status, sentAt);
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // An observer can never break a run.
  }
}

async function send(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
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
 * Idempotency-Key, classified as the articles count them, per second. Bounded by durationMs.
 */
export async function runTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const readsPerSecond = options.readsPerSecond ?? 3;
  const writesPerSecond = options.writesPerSecond ?? 1;
  const timeoutMs = options.timeoutMs ?? 5000;
  const productId = options.productId ?? 1;
  const quantity = options.quantity ?? 1;
  const totals = emptyTotals();
  const series: TrafficSecond[] = [];
  const started = Date.now();
  const secondOf = (at: number): TrafficSecond => {
    const second = Math.floor((at - started) / 1000);
    while (series.length <= second) series.push({ second: series.length, ...emptyTotals() });
    return series[second]!;
  };
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  const read = async (): Promise<void> => {
    const sentAt = Date.now();
    const { status, body } = await send(`${options.url}/products`, {}, timeoutMs);
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
      timeoutMs,
    );
    const outcome = classifyWrite(status);
    for (const t of [totals, secondOf(sentAt)]) {
      t.writes[outcome]++;
      if (outcome === 'fail') t.writes.failByStatus[status] = (t.writes.failByStatus[status] ?? 0) + 1;
    }
    observe(options, 'write', outcome === 'fail', status, sentAt);
    const orderId = typeof body?.['order_id'] === 'number' ? (body['order_id'] as number) : null;
    options.ledger?.record({ key, productId, quantity, sentAt, answeredAt: Date.now(), status, orderId });
  };

  // One tick every 10 ms; each kind fires when its own schedule is due.
  const schedule = { reads: 0, writes: 0 };
  let lastStatus = started;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = Date.now() - started;
      if (elapsed >= options.durationMs || options.signal?.aborted) {
        clearInterval(timer);
        resolve();
        return;
      }
      while (readsPerSecond > 0 && schedule.reads * (1000 / readsPerSecond) <= elapsed) {
        schedule.reads++;
        track(read());
      }
      while (writesPerSecond > 0 && schedule.writes * (1000 / writesPerSecond) <= elapsed) {
        schedule.writes++;
        track(write());
      }
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
  // Requests already sent are waited for (each is bounded by the client timeout).
  await Promise.all([...inFlight]);
  return { ...totals, series, durationMs: Date.now() - started };
}
