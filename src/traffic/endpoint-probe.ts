// Article 7's probe: "a probe hits all three endpoints every second". An open loop per endpoint:
// a request every `everyMs` whether or not the previous one has answered, because a hanging
// dependency must be able to pile requests up, as the article's few requests per second do to
// the workers that wait on it. A closed loop (Article 1's curl) would send one request per
// timeout to a hanging endpoint and never show the pile-up.

/** One answer (or its absence) from one endpoint. */
export interface EndpointResult {
  /** The endpoint's name (products, reviews, promo). */
  endpoint: string;
  /** When the request was sent (epoch ms). */
  sentAt: number;
  /** The HTTP status; 0 for a client timeout or a broken connection (curl's 000). */
  status: number;
  /** From sending to the whole answer read (to the timeout, for a timeout). */
  latencyMs: number;
  /** A 200 whose JSON says "stale": true (the last good answer from a cache). */
  stale: boolean;
}

/** Per endpoint: answers so far, for the progress line. */
export type EndpointTotals = Record<string, { ok: number; stale: number; fail: number; notSent: number }>;

/** Options of an endpoint probe. */
export interface EndpointProbeOptions {
  /** The load balancer (or any base URL). */
  url: string;
  /** Endpoint name → path (starting with /), probed in this order every tick. */
  endpoints: Record<string, string>;
  /** Between two requests to the same endpoint (Article 7: 1 s). */
  everyMs: number;
  /** Client timeout (Article 7: 5 s); a timeout is status 0. */
  timeoutMs: number;
  durationMs: number;
  /**
   * Requests in flight per endpoint at most; a request due while this many are unanswered is not
   * sent and counted in `notSent` (never waited for: waiting would close the loop). Default: twice
   * what a hanging endpoint holds when every request runs to the timeout, at most
   * MAX_IN_FLIGHT_PER_ENDPOINT.
   */
  maxInFlightPerEndpoint?: number;
  /** Called with every result as it arrives; whatever it throws is ignored. */
  onResult?: (result: EndpointResult) => void;
  /** Called every `statusEveryMs` with the totals so far (the CLI's ENDPOINTS line). */
  onStatus?: (totals: EndpointTotals, elapsedMs: number) => void;
  statusEveryMs?: number;
  /**
   * Stops the probe at once: sending stops and the requests in flight are aborted and left out of
   * the results (they never answered; see `cancelled` in runEndpointProbe).
   */
  signal?: AbortSignal;
}

/** What a probe run saw. */
export interface EndpointProbeRun {
  results: EndpointResult[];
  /** Per endpoint: due but not sent (the in-flight cap reached, or a tick so late it was skipped). */
  notSent: Record<string, number>;
  maxInFlightPerEndpoint: number;
  /** Per endpoint: the most requests in flight at once. */
  peakInFlight: Record<string, number>;
  startedAt: number;
}

/**
 * The most requests a probe keeps in flight to one endpoint. Past a few hundred sockets on a small
 * machine the probe's own event loop becomes the bottleneck, and late reads would look like the
 * system's timeouts (the traffic generator's MAX_IN_FLIGHT_REQUESTS, for the same reason).
 */
export const MAX_IN_FLIGHT_PER_ENDPOINT = 256;

function defaultMaxInFlight(everyMs: number, timeoutMs: number): number {
  return Math.min(MAX_IN_FLIGHT_PER_ENDPOINT, Math.max(1, 2 * Math.ceil(timeoutMs / everyMs)));
}

/** Whether a 200's body says it is the cache's last good answer ("stale": true). */
function isStale(text: string): boolean {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null && (body as Record<string, unknown>)['stale'] === true;
  } catch {
    return false;
  }
}

function call<A extends unknown[]>(callback: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    const result: unknown = callback?.(...args);
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // An observer can never break a run.
  }
}

/**
 * Probes every endpoint every `everyMs` for `durationMs`, open loop, and returns every result once
 * the requests in flight have answered or timed out (at most `timeoutMs` after sending stops). If
 * the signal aborts, it returns at once without the requests still in flight. Never throws for
 * what the endpoints do.
 */
export async function runEndpointProbe(options: EndpointProbeOptions): Promise<EndpointProbeRun> {
  const names = Object.keys(options.endpoints);
  const { everyMs, timeoutMs } = options;
  const maxInFlightPerEndpoint = options.maxInFlightPerEndpoint ?? defaultMaxInFlight(everyMs, timeoutMs);
  const results: EndpointResult[] = [];
  const notSent: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const peakInFlight: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const inFlight = new Map<string, Set<Promise<void>>>(names.map((n) => [n, new Set()]));
  const totals: EndpointTotals = Object.fromEntries(names.map((n) => [n, { ok: 0, stale: 0, fail: 0, notSent: 0 }]));
  // One deadline for the whole drain besides each request's own timeout: the probe returns at
  // most timeoutMs after sending stops, whatever a request's fetch does with its signal.
  const drain = new AbortController();
  // The caller's abort (Ctrl-C, the run stopping) cuts the requests in flight at once instead of
  // draining them: nobody waits for their answers any more. They are left out of everything (the
  // results, the totals, onResult), not counted as status 0, because a status 0 says the endpoint
  // timed out or broke, and here it was the probe that gave up. So after an abort, results plus
  // notSent can be fewer than the ticks; peakInFlight still counts the requests that were cut.
  let cancelled = false;
  const cancel = (): void => {
    cancelled = true;
    drain.abort();
  };
  if (options.signal?.aborted) cancel();
  else options.signal?.addEventListener('abort', cancel, { once: true });
  const startedAt = Date.now();

  const request = async (endpoint: string, path: string): Promise<void> => {
    const sentAt = Date.now();
    let status: number;
    let stale = false;
    try {
      const response = await fetch(`${options.url}${path}`, { signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), drain.signal]) });
      const text = await response.text();
      status = response.status;
      stale = status === 200 && isStale(text);
    } catch {
      if (cancelled) return;
      status = 0;
    }
    const result: EndpointResult = { endpoint, sentAt, status, latencyMs: Date.now() - sentAt, stale };
    results.push(result);
    const t = totals[endpoint]!;
    if (status === 200) t.ok++;
    else t.fail++;
    if (stale) t.stale++;
    call(options.onResult, { ...result });
  };

  const sendTick = (): void => {
    for (const name of names) {
      const pending = inFlight.get(name)!;
      if (pending.size >= maxInFlightPerEndpoint) {
        notSent[name]!++;
        totals[name]!.notSent++;
        continue;
      }
      const work = request(name, options.endpoints[name]!);
      pending.add(work);
      peakInFlight[name] = Math.max(peakInFlight[name]!, pending.size);
      void work.finally(() => pending.delete(work));
    }
  };

  await new Promise<void>((resolve) => {
    let ticks = 0; // ticks sent or skipped so far; tick i is due at startedAt + i * everyMs
    let lastStatus = startedAt;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', finish);
      resolve();
    };
    const step = (): void => {
      const elapsed = Date.now() - startedAt;
      if (options.signal?.aborted) return finish();
      // Due ticks before the end; one that fell due more than a tick ago (the event loop was
      // held) is skipped and counted, not sent late in a burst.
      const due = Math.min(Math.floor(elapsed / everyMs) + 1, Math.ceil(options.durationMs / everyMs));
      while (ticks < due) {
        const late = elapsed - ticks * everyMs > everyMs;
        if (late && ticks < due - 1) {
          for (const name of names) {
            notSent[name]!++;
            totals[name]!.notSent++;
          }
        } else sendTick();
        ticks++;
      }
      const statusEveryMs = options.statusEveryMs ?? 10_000;
      if (options.onStatus && Date.now() - lastStatus >= statusEveryMs) {
        lastStatus = Date.now();
        call(options.onStatus, structuredClone(totals), elapsed);
      }
      if (elapsed >= options.durationMs) return finish();
      const next = Math.min(startedAt + ticks * everyMs, startedAt + options.durationMs);
      timer = setTimeout(step, Math.max(0, next - Date.now()));
    };
    options.signal?.addEventListener('abort', finish, { once: true });
    step();
  });
  // At the normal end, answers still count: the requests in flight get up to the client timeout.
  const backstop = setTimeout(() => drain.abort(), timeoutMs);
  try {
    await Promise.all([...inFlight.values()].flatMap((set) => [...set]));
  } finally {
    clearTimeout(backstop);
    options.signal?.removeEventListener('abort', cancel);
  }
  results.sort((a, b) => a.sentAt - b.sentAt);
  return { results, notSent, maxInFlightPerEndpoint, peakInFlight, startedAt };
}
