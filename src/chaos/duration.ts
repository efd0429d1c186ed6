/** A duration as templates write it: 500ms, 30s, 2m, or ISO 8601 like PT30S, PT2M, PT1M30S. */
const SHORT = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const ISO = /^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/;

/** The longest duration a template may give: a day (timers beyond 2^31 ms would fire at once). */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

/** True when `text` is a duration this module can parse, more than 0 and at most a day. */
export function isDuration(text: string): boolean {
  if (!SHORT.test(text) && !(ISO.test(text) && text !== 'PT')) return false;
  const ms = parseDurationMs(text);
  return ms > 0 && ms <= MAX_DURATION_MS;
}

/** True for a duration, or for zero written as one (0s, 0ms, PT0S): a queue's receive wait of 0 is SQS's short polling. */
export function isDurationOrZero(text: string): boolean {
  if (isDuration(text)) return true;
  if (!SHORT.test(text) && !(ISO.test(text) && text !== 'PT')) return false;
  return parseDurationMs(text) === 0;
}

/** Parses a duration into milliseconds; throws on anything else. */
export function parseDurationMs(text: string): number {
  const short = SHORT.exec(text);
  if (short) {
    const value = Number(short[1]);
    return Math.round(short[2] === 'ms' ? value : short[2] === 's' ? value * 1000 : value * 60_000);
  }
  const iso = ISO.exec(text);
  if (iso && text !== 'PT') return Math.round(Number(iso[1] ?? 0) * 60_000 + Number(iso[2] ?? 0) * 1000);
  throw new Error(`not a duration: ${JSON.stringify(text)} (use 500ms, 30s, 2m or PT30S)`);
}

/** Formats milliseconds for people: 850 ms, 12.4 s, 2 min 5 s. */
export function formatMs(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.round(ms / 100) < 600) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
