/** One probe: when it was sent, and the status (0 for a timeout, curl's 000). */
export interface ProbeResult {
  at: number;
  status: number;
}

/** Options of a probe loop. */
export interface ProbeOptions {
  url: string;
  /** Path to probe (Article 1: /products). */
  path?: string;
  /** Between probes (Article 1: 2 s). */
  everyMs?: number;
  /** Client timeout (Article 1: curl --max-time 5). */
  timeoutMs?: number;
  durationMs: number;
  /** Called with each result, e.g. to print `HH:MM:SS - code`. */
  onProbe?: (result: ProbeResult) => void;
  signal?: AbortSignal;
}

/** Formats a probe as Article 1 prints it: `23:17:29 - 502`, `000` for a timeout. */
export function formatProbe(result: ProbeResult): string {
  const time = new Date(result.at).toISOString().slice(11, 19);
  return `${time} - ${result.status === 0 ? '000' : result.status}`;
}

/**
 * Article 1's probe loop: one request every `everyMs`, each waited for (a closed model, like
 * the article's curl loop), for `durationMs`.
 */
export async function runProbe(options: ProbeOptions): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  const end = Date.now() + options.durationMs;
  while (Date.now() < end && !options.signal?.aborted) {
    const at = Date.now();
    let status: number;
    try {
      const response = await fetch(`${options.url}${options.path ?? '/products'}`, { signal: AbortSignal.timeout(options.timeoutMs ?? 5000) });
      await response.arrayBuffer();
      status = response.status;
    } catch {
      status = 0;
    }
    const result = { at, status };
    results.push(result);
    try {
      const returned: unknown = options.onProbe?.({ ...result });
      if (returned instanceof Promise) returned.catch(() => {});
    } catch {
      // An observer can never break a run.
    }
    const wait = at + (options.everyMs ?? 2000) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, Math.max(0, end - Date.now()))));
  }
  return results;
}

/** The detection window of a probe run: from the first failure to the last (null when none failed). */
export function detectionWindow(results: readonly ProbeResult[]): { firstFailureAt: number; lastFailureAt: number; failures: number } | null {
  const failures = results.filter((r) => r.status !== 200);
  if (failures.length === 0) return null;
  return { firstFailureAt: failures[0]!.at, lastFailureAt: failures.at(-1)!.at, failures: failures.length };
}
