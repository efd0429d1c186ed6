// Latency in the journal's terms: how many answers, the median, the 99th percentile and the
// slowest, in whole milliseconds (nearest-rank percentiles: every value shown was measured).

/** Latencies in milliseconds: how many, the median, the 99th percentile and the slowest. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** The summary of `values` (milliseconds), or null when there are none. */
export function latencySummary(values: readonly number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { count: sorted.length, p50: Math.round(rank(0.5)), p99: Math.round(rank(0.99)), max: Math.round(sorted.at(-1)!) };
}
