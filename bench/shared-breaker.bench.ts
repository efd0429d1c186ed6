// The shared circuit breaker's cost in store round trips, and how fast a fleet learns of a trip:
//   healthy  10,000 successful calls through one sharedCircuitBreaker on the services store:
//            reads and writes (goal: no write; at most one read per refresh interval), back to
//            back and paced over several seconds; and stateless invocations (a fresh breaker each)
//   fleet    4 processes, each calling a dependency that fails in 5 ms, back to back on 2 lanes:
//            time from the threshold-th failure (fleet-wide) to every instance failing fast, and
//            the calls that still reached the dependency after it
//
//   node bench/shared-breaker.bench.ts [--rounds 5] [--refresh-ms 1000]
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { ServicesStore } from '../src/lab/services-store/index.ts';
import {
  PostgresBreakerStore,
  sharedCircuitBreaker,
  type BreakerRecord,
  type BreakerStore,
  type BreakerWrite,
  type CircuitBreaker,
} from '../src/resilience/circuit-breaker/index.ts';
import { startFleet, stopFleet, type BreakerWorker } from '../test/fixtures/shared-breaker-fleet.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, 'refresh-ms': { type: 'string', default: '1000' } } });
const rounds = Number(values.rounds);
const refreshIntervalMs = Number(values['refresh-ms']);
const THRESHOLD = 3;

/** Counts round trips to the store. */
class CountingStore implements BreakerStore {
  reads = 0;
  writes = 0;
  readonly #inner: BreakerStore;
  constructor(inner: BreakerStore) {
    this.#inner = inner;
  }
  read(name: string): Promise<BreakerRecord> {
    this.reads++;
    return this.#inner.read(name);
  }
  #write(write: Promise<BreakerWrite>): Promise<BreakerWrite> {
    this.writes++;
    return write;
  }
  recordFailure(...args: Parameters<BreakerStore['recordFailure']>): Promise<BreakerWrite> {
    return this.#write(this.#inner.recordFailure(...args));
  }
  resetFailures(...args: Parameters<BreakerStore['resetFailures']>): Promise<BreakerWrite> {
    return this.#write(this.#inner.resetFailures(...args));
  }
  acquireTrial(...args: Parameters<BreakerStore['acquireTrial']>): Promise<BreakerWrite> {
    return this.#write(this.#inner.acquireTrial(...args));
  }
  completeTrial(...args: Parameters<BreakerStore['completeTrial']>): Promise<BreakerWrite> {
    return this.#write(this.#inner.completeTrial(...args));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
let names = 0;
const uniqueName = (what: string): string => `bench-${what}-${process.pid}-${++names}`;

async function timeCalls(breaker: CircuitBreaker, count: number, pacedMs: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    await breaker.execute(async () => i);
    // Paced: 100 calls per step, a step every pacedMs, so the run spans several refresh intervals.
    if (pacedMs > 0 && i % 100 === 99) await delay(pacedMs);
  }
  return performance.now() - started;
}

const services = await ServicesStore.start();
const store = new PostgresBreakerStore(services.connectionConfig());
try {
  console.log(`shared circuit breaker on the services store (PostgreSQL), refresh interval ${refreshIntervalMs} ms, node ${process.version}`);
  console.log('\nhealthy state, 10,000 successful calls');
  console.log(`${'run'.padEnd(44)}${'ms'.padStart(8)}${'reads'.padStart(8)}${'writes'.padStart(8)}`);
  for (const [label, pacedMs] of [['shared, back to back', 0], ['shared, paced (100 calls / 50 ms, ~5 s)', 50]] as const) {
    const counting = new CountingStore(store);
    const breaker = sharedCircuitBreaker({ name: uniqueName('healthy'), store: counting, refreshIntervalMs });
    const ms = await timeCalls(breaker, 10_000, pacedMs);
    await breaker.close();
    console.log(`${label.padEnd(44)}${ms.toFixed(0).padStart(8)}${String(counting.reads).padStart(8)}${String(counting.writes).padStart(8)}`);
  }
  {
    const name = uniqueName('stateless');
    const counting = new CountingStore(store);
    const invocations = 200;
    const started = performance.now();
    for (let i = 0; i < invocations; i++) {
      const breaker = sharedCircuitBreaker({ name, store: counting, refreshIntervalMs });
      await breaker.execute(async () => i);
      await breaker.close();
    }
    const ms = performance.now() - started;
    console.log(
      `${`${invocations} stateless invocations (1 call each)`.padEnd(44)}${ms.toFixed(0).padStart(8)}${String(counting.reads).padStart(8)}${String(counting.writes).padStart(8)}`,
    );
  }

  console.log(`\n4-instance fleet (4 processes, 2 lanes each), dependency failing in 5 ms, threshold ${THRESHOLD}, ${rounds} rounds`);
  const toAllFast: number[] = [];
  const afterTrip: number[] = [];
  const trips: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const name = uniqueName('fleet');
    let fleet: BreakerWorker[] = [];
    try {
      fleet = await startFleet(4, {
        name,
        store: services.connectionConfig(),
        settings: { failureThreshold: THRESHOLD, recoveryTimeoutMs: 60_000 },
        refreshIntervalMs,
        trialLeaseMs: 10_000,
        storeTimeoutMs: 250,
      });
      await Promise.all(fleet.map((w) => w.send({ cmd: 'run', calls: 1, outcome: 'succeed', delayMs: 0 })));
      const results = await Promise.all(fleet.map((w) => w.send({ cmd: 'until-open', concurrency: 2, outcome: 'fail', delayMs: 5, timeoutMs: 20_000 }, 30_000)));
      const failures = results.flatMap((r) => r.failedAt).sort((a, b) => a - b);
      const tripAt = failures[THRESHOLD - 1]!;
      const lastFast = Math.max(...results.map((r) => r.firstOpenAt ?? Number.POSITIVE_INFINITY));
      toAllFast.push(lastFast - tripAt);
      afterTrip.push(failures.length - THRESHOLD);
      trips.push((await store.transitions(name)).filter((t) => t.from === 'CLOSED' && t.to === 'OPEN').length);
    } finally {
      await stopFleet(fleet);
    }
  }
  console.log(`time from the threshold-th failure to all 4 instances failing fast: median ${median(toAllFast).toFixed(1)} ms, max ${Math.max(...toAllFast).toFixed(1)} ms (${toAllFast.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(`calls that reached the failing dependency after the threshold-th failure: median ${median(afterTrip)} (${afterTrip.join(', ')})`);
  console.log(`CLOSED->OPEN transitions in the store per round: ${trips.join(', ')}`);
} finally {
  await store.close();
  await services.close();
}
process.exit(0);
