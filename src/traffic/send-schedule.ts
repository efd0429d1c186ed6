// When each request of an open-model traffic run is due, and what to do with one that cannot go
// out on time. Pure: time is the elapsed milliseconds the caller passes in.

/** A request kind of the traffic generator. */
export type RequestKind = 'read' | 'write';

/** One request the schedule says is due. */
export interface DueRequest {
  kind: RequestKind;
  /** When it was due, in milliseconds from the start of the run. */
  dueMs: number;
}

/** What becomes of a due request: sent, or not sent and counted as the generator's shortfall. */
export type SendDecision = 'send' | 'atInFlightCap' | 'behindSchedule';

/**
 * How late a request may still be sent. A timer that fires late (a busy event loop, a GC pause)
 * finds several requests due at once: those due within this window go out late, those older are
 * skipped, so that a generator that fell behind never bursts to catch up.
 */
export const CATCH_UP_WINDOW_MS = 1000;

/** Fixed-rate schedules of reads and writes, merged in the order requests fall due. */
export class SendSchedule {
  readonly #intervalMs: Record<RequestKind, number>;
  readonly #next: Record<RequestKind, number> = { read: 0, write: 0 };

  constructor(rates: { readsPerSecond: number; writesPerSecond: number }) {
    this.#intervalMs = {
      read: rates.readsPerSecond > 0 ? 1000 / rates.readsPerSecond : Infinity,
      write: rates.writesPerSecond > 0 ? 1000 / rates.writesPerSecond : Infinity,
    };
  }

  /** Every request due at or before `elapsedMs` and not yet taken, earliest first. */
  *takeDue(elapsedMs: number): Generator<DueRequest> {
    for (;;) {
      const readAt = this.#dueOfNext('read');
      const writeAt = this.#dueOfNext('write');
      const kind: RequestKind = readAt <= writeAt ? 'read' : 'write';
      const dueMs = Math.min(readAt, writeAt);
      if (dueMs > elapsedMs) return;
      this.#next[kind]++;
      yield { kind, dueMs };
    }
  }

  #dueOfNext(kind: RequestKind): number {
    // A kind with no rate is never due (and 0 × Infinity would be NaN).
    return this.#intervalMs[kind] === Infinity ? Infinity : this.#next[kind] * this.#intervalMs[kind];
  }
}

/** Sends a due request unless it is too late or the in-flight cap is reached. */
export function decide(request: DueRequest, elapsedMs: number, inFlight: number, maxInFlightRequests: number): SendDecision {
  if (request.dueMs < elapsedMs - CATCH_UP_WINDOW_MS) return 'behindSchedule';
  if (inFlight >= maxInFlightRequests) return 'atInFlightCap';
  return 'send';
}
