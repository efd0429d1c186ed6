// The benchmark's load generator: autocannon, in a child process of its own.
//
// shop.bench.ts forks this file once, then sends it one LoadSpec per run over IPC and gets a
// LoadSummary back for each. Living in its own process keeps autocannon off the shop's event
// loop (and out of its garbage collector): the shop and the load generator still share the
// machine's cores, but the OS schedules them independently, as it would a real client.
import autocannon, { type AutocannonRequest } from 'autocannon';

/** The two measured scenarios. */
export type Scenario = 'products' | 'orders';

/** What the parent asks for. */
export interface LoadSpec {
  url: string;
  scenario: Scenario;
  durationS: number;
  connections: number;
}

/** What the parent gets back; latencies in milliseconds. */
export interface LoadSummary {
  completed: number;
  durationS: number;
  statusCounts: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
}

const PRODUCT_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const JSON_HEADERS = { 'content-type': 'application/json' };

/** GET /products, or POST /orders spread round-robin over the ten products (one shared counter). */
function requestsFor(scenario: Scenario): AutocannonRequest[] {
  if (scenario === 'products') return [{ method: 'GET', path: '/products' }];
  const bodies = PRODUCT_IDS.map((id) => JSON.stringify({ product_id: id, quantity: 1 }));
  let next = 0;
  return [
    {
      method: 'POST',
      path: '/orders',
      headers: JSON_HEADERS,
      body: bodies[0],
      setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
    },
  ];
}

/** Growable list of latencies: autocannon's own histogram rounds to whole milliseconds. */
class LatencyRecorder {
  #values = new Float64Array(1 << 16);
  #count = 0;

  record(ms: number): void {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = ms;
  }

  /** Nearest-rank percentile, `p` from 0 to 100. */
  percentile(sorted: Float64Array, p: number): number {
    if (sorted.length === 0) return Number.NaN;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] ?? Number.NaN;
  }

  sorted(): Float64Array {
    return this.#values.slice(0, this.#count).sort();
  }
}

function runLoad(spec: LoadSpec): Promise<LoadSummary> {
  const latencies = new LatencyRecorder();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: spec.url, connections: spec.connections, duration: spec.durationS, pipelining: 1, timeout: 10, requests: requestsFor(spec.scenario) },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const sorted = latencies.sorted();
        resolve({
          completed: result.requests.total,
          durationS: result.duration,
          statusCounts: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          p50Ms: latencies.percentile(sorted, 50),
          p99Ms: latencies.percentile(sorted, 99),
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => latencies.record(responseTimeMs));
  });
}

/** Sends to the parent; if it is already gone (Ctrl-C while starting), just leave. */
function reply(message: object): void {
  process.send?.(message, undefined, {}, (error: Error | null) => {
    if (error) process.exit(0);
  });
}

// One run at a time, as long as the parent keeps the IPC channel open.
process.on('message', (spec: LoadSpec) => {
  runLoad(spec).then(
    (summary) => reply({ ok: true, summary }),
    (error: unknown) => reply({ ok: false, error: String((error as Error)?.stack ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: leave it to the parent, which stops us with SIGTERM.
process.on('SIGINT', () => {});
reply({ ready: true });
