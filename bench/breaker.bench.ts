// Per-call cost of a circuit breaker, ours side by side with opossum and cockatiel in one run:
//   success   CLOSED, the wrapped function resolves at once (the cost the breaker adds to every call)
//   rejected  OPEN, the call is refused without running the function (the fail-fast path)
//
//   node bench/breaker.bench.ts [--iterations 1000000] [--rounds 5]
//
// Each round runs every breaker in turn (so drift of the machine hits them alike) after a
// warm-up; the table shows the median round in ns per call, and a bare `await fn()` as the
// floor. Opossum runs with `timeout: false`: its default arms a 10 s timer per call, a feature
// the other two do not have in this configuration.
import { parseArgs } from 'node:util';
import { ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';
import Opossum from 'opossum';
import { localCircuitBreaker } from '../src/resilience/circuit-breaker/index.ts';

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } },
});
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);

/** One breaker under test: a way to run a call through it, ready in the state to measure. */
interface Subject {
  name: string;
  success: (fn: () => Promise<number>) => Promise<number>;
  rejected: (fn: () => Promise<number>) => Promise<number>;
  close(): void;
}

const succeed = (): Promise<number> => Promise.resolve(1);
const fail = (): Promise<number> => Promise.reject(new Error('down'));

async function subjects(): Promise<Subject[]> {
  const oursClosed = localCircuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 3_600_000 });
  const oursOpen = localCircuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 3_600_000 });
  for (let i = 0; i < 3; i++) await oursOpen.execute(fail).catch(() => {});

  const cockatielClosed = circuitBreaker(handleAll, { halfOpenAfter: 3_600_000, breaker: new ConsecutiveBreaker(3) });
  const cockatielOpen = circuitBreaker(handleAll, { halfOpenAfter: 3_600_000, breaker: new ConsecutiveBreaker(3) });
  for (let i = 0; i < 3; i++) await cockatielOpen.execute(fail).catch(() => {});

  const opossumOptions = { timeout: false as const, resetTimeout: 3_600_000 };
  const opossumClosed = new Opossum((fn: () => Promise<number>) => fn(), opossumOptions);
  const opossumOpen = new Opossum((fn: () => Promise<number>) => fn(), opossumOptions);
  opossumOpen.open();

  return [
    { name: 'bare await fn()', success: (fn) => fn(), rejected: (fn) => fn(), close() {} },
    {
      name: 'chaos-lab local',
      success: (fn) => oursClosed.execute(fn),
      rejected: (fn) => oursOpen.execute(fn),
      close() {},
    },
    {
      name: `cockatiel ${version('cockatiel')}`,
      success: (fn) => cockatielClosed.execute(fn),
      rejected: (fn) => cockatielOpen.execute(fn),
      close() {},
    },
    {
      name: `opossum ${version('opossum')}`,
      success: (fn) => opossumClosed.fire(fn),
      rejected: (fn) => opossumOpen.fire(fn),
      close() {
        opossumClosed.shutdown();
        opossumOpen.shutdown();
      },
    },
  ];
}

function version(name: string): string {
  const { createRequire } = process.getBuiltinModule('node:module');
  return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
}

/** ns per call of `count` sequential calls, each awaited (rejections caught). */
async function measure(run: (fn: () => Promise<number>) => Promise<number>, count: number, expectReject: boolean): Promise<number> {
  let rejected = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    try {
      await run(succeed);
    } catch {
      rejected++;
    }
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  if (expectReject && rejected !== count) throw new Error(`expected every call rejected, ${rejected} of ${count} were`);
  if (!expectReject && rejected !== 0) throw new Error(`expected no rejection, got ${rejected}`);
  return elapsed / count;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const list = await subjects();
const results = new Map<string, { success: number[]; rejected: number[] }>(list.map((s) => [s.name, { success: [], rejected: [] }]));
for (const subject of list) {
  await measure(subject.success, Math.min(200_000, iterations), false);
  if (subject.name !== 'bare await fn()') await measure(subject.rejected, Math.min(200_000, iterations), true);
}
for (let round = 0; round < rounds; round++) {
  for (const subject of list) {
    const entry = results.get(subject.name)!;
    entry.success.push(await measure(subject.success, iterations, false));
    if (subject.name !== 'bare await fn()') entry.rejected.push(await measure(subject.rejected, iterations, true));
  }
}
for (const subject of list) subject.close();

console.log(`circuit breaker per-call cost, median of ${rounds} rounds of ${iterations.toLocaleString('en-US')} calls (node ${process.version})`);
console.log(`${'breaker'.padEnd(20)}${'success ns/op'.padStart(15)}${'rejected (OPEN) ns/op'.padStart(24)}`);
for (const [name, { success, rejected }] of results) {
  const r = rejected.length > 0 ? median(rejected).toFixed(0) : '-';
  console.log(`${name.padEnd(20)}${median(success).toFixed(0).padStart(15)}${r.padStart(24)}`);
}
