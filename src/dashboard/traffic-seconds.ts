// The live timeline's points: the load balancer's answers counted per wall-clock second, by the
// second each answer ended (not the second it was sent: a 10 s timeout shows where the client
// got its 504). Pure: time comes in as arguments, the caller's clock drives `flush`.
import { latencySummary } from '../traffic/latency.ts';
import type { SecondEvent } from './protocol.ts';

/** Seconds emitted at most when one flush closes a long gap (a suspended process): the history's length. */
export const MAX_GAP_SECONDS = 900;

interface OpenSecond {
  byStatus: Record<string, number>;
  durationsMs: number[];
}

/**
 * Collects answers into seconds and hands out each second once it is over. A second with no
 * answer is handed out too (empty `byStatus`, `latencyMs` null): while a lab is followed, the
 * timeline's x axis keeps moving when the lab is idle, and "no traffic" is visible as such.
 */
export class TrafficSeconds {
  /** The first second not handed out yet (Unix seconds); undefined before the first start. */
  #next: number | undefined;
  readonly #open = new Map<number, OpenSecond>();

  /** Starts counting at the second of `nowMs` (or the first second not handed out yet, if later). */
  start(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    this.#next = this.#next === undefined ? second : Math.max(this.#next, second);
  }

  /**
   * One answer that ended at `atMs`. An answer of a second already handed out (a clock that
   * stepped back, a flush that ran early) counts in the first open second: late, never lost.
   */
  add(status: number, durationMs: number, atMs: number): void {
    if (this.#next === undefined) this.start(atMs);
    const second = Math.max(Math.floor(atMs / 1000), this.#next!);
    let open = this.#open.get(second);
    if (!open) {
      open = { byStatus: {}, durationsMs: [] };
      this.#open.set(second, open);
    }
    const key = String(status);
    open.byStatus[key] = (open.byStatus[key] ?? 0) + 1;
    open.durationsMs.push(durationMs);
  }

  /**
   * Every second that is over at `nowMs` (those before its second), oldest first, empty ones
   * included; `final`: the current second too (the lab is going away, no answer will follow).
   * A gap longer than MAX_GAP_SECONDS hands out only its last MAX_GAP_SECONDS.
   */
  flush(nowMs: number, final = false): SecondEvent[] {
    if (this.#next === undefined) return [];
    const end = Math.floor(nowMs / 1000) + (final ? 1 : 0); // exclusive
    if (end <= this.#next) return [];
    // Answers counted in seconds beyond `end` (a clock that stepped back) stay open.
    const from = Math.max(this.#next, end - MAX_GAP_SECONDS);
    for (const second of this.#open.keys()) if (second < from) this.#open.delete(second);
    const events: SecondEvent[] = [];
    for (let second = from; second < end; second++) {
      const open = this.#open.get(second);
      this.#open.delete(second);
      events.push({ second, byStatus: open?.byStatus ?? {}, latencyMs: open ? latencySummary(open.durationsMs) : null });
    }
    this.#next = end;
    return events;
  }
}
