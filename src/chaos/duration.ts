/** A duration as templates write it: 500ms, 30s, 2m, or ISO 8601 like PT30S, PT2M, PT1M30S. */
const SHORT = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const ISO = /^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/;

/** True when `text` is a duration this module can parse. */
export function isDuration(text: string): boolean {
  return SHORT.test(text) || (ISO.test(text) && text !== 'PT');
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
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
