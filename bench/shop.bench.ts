// Throughput benchmark of the Chaos Shop on one embedded PostgreSQL server.
//
// What it measures: for each set of patterns (a preset), requests per second and latency (p50, p99)
// of two scenarios, each preceded by a ~1 s warm-up that is not counted:
//   products  GET /products (one prepared SELECT of the ten products)
//   orders    POST /orders {"product_id": N, "quantity": 1}, N round-robin over the ten
//             products (one call to the plpgsql function place_order per request); stock is
//             first raised to 100,000,000 so that the run measures 201s, not 409s.
// Load: autocannon, 16 keep-alive connections on loopback, one request in flight on each.
// It also reports how CPU time was split between the shop, PostgreSQL and the load generator.
//
// Where things run: PostgreSQL is its own processes (postmaster + one backend per
// connection); the shop runs in this process (startStandaloneShop); autocannon runs in a
// child process (load-generator.ts). Putting autocannon in the shop's process would make it
// share the shop's event loop and heap, so the shop would be slowed by its own client and
// the latencies would include time spent queued behind the client's work. In its own process
// it still competes for the same cores (nothing can prevent that on one machine; its share is
// in the CPU columns), but the OS schedules it independently, as it would a real client.
//
// The 'cpu shop' column is this whole process (the shop plus this script's bookkeeping, which
// is idle during a run).
//
// Run:  npm run bench -- [--duration 10] [--patterns resilient|naive|both] [--connections 16]
//   or  node_modules/.bin/node bench/shop.bench.ts --patterns both
// Ctrl-C stops the load, the shop and PostgreSQL.
//
// Reading the numbers: on a small shared VM, runs of the same code differ by 20-30 % from one
// minute to the next (same code, same CPU split, different speed). Compare changes by
// alternating runs (A, B, A, B), never one run against one older run.
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SHOP_DATABASE, startStandaloneShop, type StandaloneShop } from '../src/lab/standalone-shop.ts';
import { resolvePatterns, type PresetName } from '../src/shop/patterns.ts';
import { machineBusyPercent, measureCpu, withChildren, type CpuSplit } from './cpu-usage.ts';
import { LoadGenerator } from './load-generator-client.ts';
import type { LoadSummary, Scenario } from './load-generator.ts';

interface BenchOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  presets: PresetName[];
}

interface Row {
  scenario: Scenario;
  preset: PresetName;
  load: LoadSummary;
  cpu: CpuSplit | undefined;
}

const SCENARIOS: readonly Scenario[] = ['products', 'orders'];
const USAGE = 'usage: node bench/shop.bench.ts [--duration S] [--warmup S] [--connections N] [--patterns resilient|naive|both]';
const HUGE_STOCK = 100_000_000;

// ---------------------------------------------------------------------------------------------
// Options

class UsageError extends Error {}

const OPTIONS = {
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '1' },
  connections: { type: 'string', default: '16' },
  patterns: { type: 'string', default: 'resilient' },
} as const;

function parseOptions(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const preset = values.patterns;
  if (preset !== 'naive' && preset !== 'resilient' && preset !== 'both') {
    throw new UsageError(`--patterns must be naive, resilient or both, got ${JSON.stringify(preset)}`);
  }
  return {
    durationS: positiveInteger('--duration', values.duration),
    warmupS: positiveInteger('--warmup', values.warmup),
    connections: positiveInteger('--connections', values.connections),
    presets: preset === 'both' ? ['resilient', 'naive'] : [preset],
  };
}

function positiveInteger(name: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

// ---------------------------------------------------------------------------------------------
// Load generator child process

// ---------------------------------------------------------------------------------------------
// Shop and database

/** Starts PostgreSQL and a shop and waits for the schema; close() may be called more than once. */
async function startShop(preset: PresetName): Promise<StandaloneShop> {
  const started = await startStandaloneShop({ patterns: resolvePatterns(preset), instanceId: `i-bench-${preset}` });
  let closing: Promise<void> | undefined;
  const standalone: StandaloneShop = { postgres: started.postgres, shop: started.shop, close: () => (closing ??= started.close()) };
  await standalone.shop.whenInitialised();
  const state = standalone.shop.initializer.state;
  if (state.status !== 'ready') {
    await standalone.close();
    throw new Error(`shop schema did not initialise: ${JSON.stringify(state)}`);
  }
  return standalone;
}

/** Sets every product's stock so that the order scenario never runs out (direct SQL, not the API). */
async function raiseStock(standalone: StandaloneShop): Promise<void> {
  const client = new pg.Client({ connectionString: standalone.postgres.connectionString(SHOP_DATABASE) });
  await client.connect();
  try {
    await client.query('UPDATE products SET stock = $1', [HUGE_STOCK]);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

async function runScenario(
  generator: LoadGenerator,
  standalone: StandaloneShop,
  preset: PresetName,
  scenario: Scenario,
  options: BenchOptions,
): Promise<Row> {
  if (scenario === 'orders') await raiseStock(standalone);
  const spec = { url: standalone.shop.url, scenario, connections: options.connections };
  await generator.run({ ...spec, durationS: options.warmupS });
  const groups = [
    { name: 'shop', pids: () => [process.pid] },
    { name: 'postgres', pids: () => withChildren(standalone.postgres.pid) },
    { name: 'loadgen', pids: () => (generator.pid === undefined ? [] : [generator.pid]) },
  ];
  const stopCpu = measureCpu(groups);
  const load = await generator.run({ ...spec, durationS: options.durationS });
  const row = { scenario, preset, load, cpu: stopCpu() };
  console.error(`  ${scenario.padEnd(8)} ${describe(row)}`);
  return row;
}

/** Runs both scenarios on a fresh shop; `track` gets the shop (even while starting) for Ctrl-C. */
async function benchPatterns(
  generator: LoadGenerator,
  preset: PresetName,
  options: BenchOptions,
  track: (shop: Promise<StandaloneShop> | undefined) => void,
): Promise<Row[]> {
  console.error(`patterns ${preset}: starting PostgreSQL and the shop…`);
  const starting = startShop(preset);
  track(starting);
  const standalone = await starting;
  const { postgres } = standalone;
  console.error(`  PostgreSQL pid ${postgres.pid} on port ${postgres.port} (data ${postgres.dataDir}), shop at ${standalone.shop.url}`);
  try {
    const rows: Row[] = [];
    for (const scenario of SCENARIOS) rows.push(await runScenario(generator, standalone, preset, scenario, options));
    return rows;
  } finally {
    track(undefined);
    await standalone.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function requestsPerSecond(load: LoadSummary): number {
  return load.completed / load.durationS;
}

function statusSummary(load: LoadSummary): string {
  return Object.entries(load.statusCounts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code}:${count}`)
    .join(' ');
}

function describe(row: Row): string {
  const { load } = row;
  return `${Math.round(requestsPerSecond(load))} req/s, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms, ${statusSummary(load)}`;
}

function percent(cpu: CpuSplit | undefined, name: string): string {
  const value = cpu?.[name];
  return value === undefined ? '-' : `${Math.round(value)}%`;
}

function printTable(rows: readonly Row[]): void {
  const header = ['scenario', 'patterns', 'req/s', 'p50 ms', 'p99 ms', 'statuses', 'non-2xx', 'errors/timeouts', 'cpu shop', 'cpu pg', 'cpu loadgen', 'cpu other', 'cpu machine'];
  const lines = rows.map(({ scenario, preset, load, cpu }) => [
    scenario === 'products' ? 'GET /products' : 'POST /orders',
    preset,
    Math.round(requestsPerSecond(load)).toLocaleString('en-US'),
    load.p50Ms.toFixed(2),
    load.p99Ms.toFixed(2),
    statusSummary(load),
    String(load.non2xx),
    `${load.errors}/${load.timeouts}`,
    percent(cpu, 'shop'),
    percent(cpu, 'postgres'),
    percent(cpu, 'loadgen'),
    percent(cpu, 'other'),
    percent(cpu, 'machine'),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]): string => cells.map((cell, i) => (i < 2 || i === 5 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(format(line));
  console.log('cpu columns: percent of one core over the measured run (100% = one core fully busy);');
  console.log("'other' = machine busy time not used by the shop, postgres or the load generator (other processes, kernel).");
  const disturbed = rows.filter(({ cpu }) => (cpu?.other ?? 0) > 15);
  for (const { scenario, preset, cpu } of disturbed) {
    console.log(`WARNING: ${scenario}/${preset} shared the machine with other work (${percent(cpu, 'other')} of a core): its numbers are low.`);
  }
}

async function printMachine(options: BenchOptions): Promise<void> {
  console.log(`node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${process.platform}/${process.arch}`);
  console.log(`${options.connections} keep-alive connections, ${options.warmupS} s warm-up + ${options.durationS} s measured per run`);
  // Numbers from a machine that is already busy are not comparable: say so up front.
  const busy = await machineBusyPercent();
  if (busy !== undefined) {
    const note = busy > 15 ? '  WARNING: something else is using the CPU; results will be low' : '';
    console.log(`machine busy before start: ${Math.round(busy)}% of one core${note}`);
  }
  console.log('');
}

// ---------------------------------------------------------------------------------------------
// Main

let stopping = false;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  await printMachine(options);
  let current: Promise<StandaloneShop> | undefined;
  let generator: LoadGenerator | undefined;

  // Ctrl-C: stop the load, then the shop and its PostgreSQL (once it has finished starting, so
  // that nothing is left half-made); a second Ctrl-C exits at once.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`\n${signal}: stopping…`);
    generator?.stop();
    const shop = current;
    current = undefined;
    void Promise.resolve(shop)
      .then((started) => started?.close())
      .catch((error: unknown) => console.error(`error while stopping: ${(error as Error).stack ?? String(error)}`))
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    generator = await LoadGenerator.start();
    const rows: Row[] = [];
    for (const preset of options.presets) {
      rows.push(...(await benchPatterns(generator, preset, options, (shop) => (current = shop))));
    }
    console.log('');
    printTable(rows);
  } finally {
    generator?.stop();
  }
}

main().catch((error: unknown) => {
  if (stopping) return; // interrupted: the signal handler exits
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : ((error as Error).stack ?? error));
  process.exitCode = 1;
});
