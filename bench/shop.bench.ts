// Throughput benchmark of the Chaos Shop on one embedded PostgreSQL server.
//
// What it measures: for each variant (a preset, a breaker variant, or a bare Node HTTP server),
// requests per second and latency (p50, p99) of two scenarios, each preceded by a ~1 s warm-up
// that is not counted:
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
// Variants (--patterns, one or a comma-separated list, run side by side in one run):
//   naive, resilient, resilient-breaker   the presets
//   resilient-shared-breaker              resilient plus a shared breaker on the services store
//                                         (a third PostgreSQL server, reached straight)
//   bare                                  a bare node:http server in this process answering the
//                                         same bodies (captured from a shop run earlier in the
//                                         run, else built from the seed): the ceiling of the
//                                         machine's HTTP path, no database, no framework
//   graceful                              Article 4's AFTER: shared breaker, read cache, write buffer
//   resilient-cache, resilient-buffer     resilient plus only the read cache, or only the write buffer
//   both = resilient,naive; breaker = resilient,resilient-breaker,resilient-shared-breaker,bare;
//   degradation = resilient,resilient-cache,resilient-buffer,graceful
// With several variants the table adds each variant's throughput as a share of the first
// variant's (the breaker must keep >= 90% of the resilient shop's; the read cache >= 80% of
// GET /products, the write buffer >= 90% of POST /orders, with the database up). --rounds N
// repeats the whole list N times (A, B, C, A, B, C: the alternation that makes a comparison on
// a noisy VM mean something) and reports each variant's median round.
//
// Run:  npm run bench -- [--duration 10] [--patterns resilient|naive|both|breaker|a,b,…] [--connections 16] [--rounds 1]
//   or  node_modules/.bin/node bench/shop.bench.ts --patterns breaker --rounds 3
// Ctrl-C stops the load, the shop and PostgreSQL.
//
// Reading the numbers: on a small shared VM, runs of the same code differ by 20-30 % from one
// minute to the next (same code, same CPU split, different speed). Compare changes by
// alternating runs (A, B, A, B), never one run against one older run.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SHOP_DATABASE, startStandaloneShop, type StandaloneShop } from '../src/lab/standalone-shop.ts';
import { storeUses } from '../src/lab/store-clients.ts';
import { SEED_PRODUCTS } from '../src/shop/schema.ts';
import { machineBusyPercent, measureCpu, withChildren, type CpuSplit } from './cpu-usage.ts';
import { LoadGenerator } from './load-generator-client.ts';
import type { LoadSummary, Scenario } from './load-generator.ts';
import { VARIANT_GROUPS, VARIANTS, variantPatterns, type Variant } from './shop-variants.ts';

interface BenchOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  rounds: number;
  variants: Variant[];
}

interface Row {
  scenario: Scenario;
  preset: Variant;
  load: LoadSummary;
  cpu: CpuSplit | undefined;
}

const SCENARIOS: readonly Scenario[] = ['products', 'orders'];
const USAGE = `usage: node bench/shop.bench.ts [--duration S] [--warmup S] [--connections N] [--rounds N] [--patterns ${[...VARIANTS, ...Object.keys(VARIANT_GROUPS)].join('|')}|a,b,…]`;
const HUGE_STOCK = 100_000_000;

// ---------------------------------------------------------------------------------------------
// Options

class UsageError extends Error {}

const OPTIONS = {
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '1' },
  connections: { type: 'string', default: '16' },
  patterns: { type: 'string', default: 'resilient' },
  rounds: { type: 'string', default: '1' },
} as const;

function parseOptions(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const variants: Variant[] = [];
  for (const name of values.patterns.split(',').map((part) => part.trim())) {
    const group = VARIANT_GROUPS[name];
    if (group) variants.push(...group);
    else if ((VARIANTS as readonly string[]).includes(name)) variants.push(name as Variant);
    else throw new UsageError(`--patterns must be ${[...VARIANTS, ...Object.keys(VARIANT_GROUPS)].join(', ')} or a comma-separated list of them, got ${JSON.stringify(name)}`);
  }
  return {
    durationS: positiveInteger('--duration', values.duration),
    warmupS: positiveInteger('--warmup', values.warmup),
    connections: positiveInteger('--connections', values.connections),
    rounds: positiveInteger('--rounds', values.rounds),
    variants: [...new Set(variants)],
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

/** What a run loads: its URL, the processes whose CPU counts as the database's, and how to stop it. */
interface Target {
  url: string;
  /** Database processes (none for the bare server). */
  databasePids(): number[];
  /** Sets every product's stock so that the order scenario never runs out (direct SQL, not the API). */
  raiseStock(): Promise<void>;
  describe(): string;
  /** May be called more than once. */
  close(): Promise<void>;
}

/** Starts PostgreSQL and a shop and waits for the schema. */
async function startShop(variant: Exclude<Variant, 'bare'>): Promise<Target> {
  const patterns = variantPatterns(variant);
  // The services store only where the variant's patterns use it, as before Article 7: an idle
  // third server would add its processes to the measured ones.
  const usesStore = Object.values(storeUses(patterns)).some(Boolean);
  const started = await startStandaloneShop({ patterns, instanceId: `i-bench-${variant}`, servicesStore: usesStore });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= started.close());
  await started.shop.whenInitialised();
  const state = started.shop.initializer.state;
  if (state.status !== 'ready') {
    await close();
    throw new Error(`shop schema did not initialise: ${JSON.stringify(state)}`);
  }
  const { postgres, servicesStore } = started;
  return {
    url: started.shop.url,
    databasePids: () => [...withChildren(postgres.pid), ...(servicesStore ? withChildren(servicesStore.server.pid) : [])],
    raiseStock: () => raiseStock(started),
    describe: () =>
      `PostgreSQL pid ${postgres.pid} on port ${postgres.port} (data ${postgres.dataDir})${servicesStore ? `, services store pid ${servicesStore.server.pid}` : ''}, shop at ${started.shop.url}`,
    close,
  };
}

/** The bodies the bare server answers: captured from a shop earlier in the run, else built from the seed. */
const capturedBodies: Partial<Record<Scenario, string>> = {};

function bareBody(scenario: Scenario): string {
  const captured = capturedBodies[scenario];
  if (captured) return captured;
  const products = SEED_PRODUCTS.map((p) => ({ ...p, stock: HUGE_STOCK }));
  if (scenario === 'products') return JSON.stringify({ products, count: products.length, db_latency_ms: 0.5, served_by: 'i-bench-bare', source: 'database' });
  const p = products[0]!;
  return JSON.stringify({ order_id: 1, product_id: p.id, product_name: p.name, quantity: 1, total: p.price, status: 'confirmed', created_at: '2026-01-01 00:00:00.000000' });
}

/**
 * A bare node:http server answering GET /products 200 and POST /orders 201 (after reading the
 * body) with the shop's bodies: what this machine's HTTP path costs with no framework, no
 * validation and no database, the ceiling the shop's numbers are read against.
 */
async function startBare(): Promise<Target> {
  const products = Buffer.from(bareBody('products'));
  const order = Buffer.from(bareBody('orders'));
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: Buffer): void => {
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      response.end(body);
    };
    if (request.method === 'GET' && request.url === '/products') return send(200, products);
    if (request.method === 'POST' && request.url === '/orders') {
      request.resume();
      request.on('end', () => send(201, order));
      return;
    }
    send(404, Buffer.from('{"error":"not found","code":"ROUTE_NOT_FOUND"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    databasePids: () => [],
    raiseStock: async () => {},
    describe: () => `bare node:http server at ${url}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

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
  target: Target,
  preset: Variant,
  scenario: Scenario,
  options: BenchOptions,
): Promise<Row> {
  if (scenario === 'orders') await target.raiseStock();
  if (preset !== 'bare' && !capturedBodies[scenario]) capturedBodies[scenario] = await sampleBody(target.url, scenario);
  const spec = { url: target.url, scenario, connections: options.connections };
  await generator.run({ ...spec, durationS: options.warmupS });
  const groups = [
    { name: 'shop', pids: () => [process.pid] },
    { name: 'postgres', pids: () => target.databasePids() },
    { name: 'loadgen', pids: () => (generator.pid === undefined ? [] : [generator.pid]) },
  ];
  const stopCpu = measureCpu(groups);
  const load = await generator.run({ ...spec, durationS: options.durationS });
  const row = { scenario, preset, load, cpu: stopCpu() };
  console.error(`  ${scenario.padEnd(8)} ${describe(row)}`);
  return row;
}

/** One response of the shop, as the bare server will answer it. */
async function sampleBody(url: string, scenario: Scenario): Promise<string> {
  const response =
    scenario === 'products'
      ? await fetch(`${url}/products`)
      : await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"product_id": 1, "quantity": 1}' });
  return response.text();
}

/** Runs both scenarios on a fresh shop (or bare server); `track` gets it (even while starting) for Ctrl-C. */
async function benchVariant(
  generator: LoadGenerator,
  variant: Variant,
  options: BenchOptions,
  track: (target: Promise<Target> | undefined) => void,
): Promise<Row[]> {
  console.error(`${variant}: starting${variant === 'bare' ? ' the bare server' : ' PostgreSQL and the shop'}…`);
  const starting = variant === 'bare' ? startBare() : startShop(variant);
  track(starting);
  const target = await starting;
  console.error(`  ${target.describe()}`);
  try {
    const rows: Row[] = [];
    for (const scenario of SCENARIOS) rows.push(await runScenario(generator, target, variant, scenario, options));
    return rows;
  } finally {
    track(undefined);
    await target.close();
  }
}

/** Each variant's and scenario's median round (by req/s), in the order the variants were given. */
function medianRows(rows: readonly Row[], variants: readonly Variant[]): Row[] {
  const out: Row[] = [];
  for (const scenario of SCENARIOS) {
    for (const variant of variants) {
      const runs = rows.filter((row) => row.scenario === scenario && row.preset === variant).sort((a, b) => requestsPerSecond(a.load) - requestsPerSecond(b.load));
      const median = runs[Math.floor((runs.length - 1) / 2)];
      if (median) out.push(median);
    }
  }
  return out;
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

/**
 * The shop's CPU time per request: what the patterns cost the shop, and far steadier than req/s
 * when other work shares the machine (a slower request rate leaves the per-request cost as is).
 */
function shopMicrosPerRequest(row: Row): string {
  const busy = row.cpu?.['shop'];
  if (busy === undefined || row.load.completed === 0) return '-';
  return ((busy / 100) * 1e6 / requestsPerSecond(row.load)).toFixed(0);
}

function printTable(rows: readonly Row[], relative: boolean): void {
  // The first variant of each scenario is the baseline the others are a share of.
  const baseline = new Map<Scenario, number>();
  for (const row of rows) if (!baseline.has(row.scenario)) baseline.set(row.scenario, requestsPerSecond(row.load));
  const share = (row: Row): string => `${Math.round((requestsPerSecond(row.load) / baseline.get(row.scenario)!) * 100)}%`;
  const header = ['scenario', 'patterns', 'req/s', ...(relative ? ['vs first'] : []), 'shop µs/req', 'p50 ms', 'p99 ms', 'statuses', 'non-2xx', 'errors/timeouts', 'cpu shop', 'cpu pg', 'cpu loadgen', 'cpu other', 'cpu machine'];
  const lines = rows.map((row) => [
    row.scenario === 'products' ? 'GET /products' : 'POST /orders',
    row.preset,
    Math.round(requestsPerSecond(row.load)).toLocaleString('en-US'),
    ...(relative ? [share(row)] : []),
    shopMicrosPerRequest(row),
    row.load.p50Ms.toFixed(2),
    row.load.p99Ms.toFixed(2),
    statusSummary(row.load),
    String(row.load.non2xx),
    `${row.load.errors}/${row.load.timeouts}`,
    percent(row.cpu, 'shop'),
    percent(row.cpu, 'postgres'),
    percent(row.cpu, 'loadgen'),
    percent(row.cpu, 'other'),
    percent(row.cpu, 'machine'),
  ]);
  const statuses = header.indexOf('statuses');
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]): string => cells.map((cell, i) => (i < 2 || i === statuses ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(format(line));
  console.log('cpu columns: percent of one core over the measured run (100% = one core fully busy);');
  console.log("'other' = machine busy time not used by the shop, postgres or the load generator (other processes, kernel).");
  console.log("'cpu pg' includes the services store's server for the shared breaker.");
  if (relative) console.log("'vs first' = req/s as a share of the first variant's on the same scenario.");
  console.log("'shop µs/req' = the shop process's CPU time per request (cpu shop / req/s): the patterns' cost, steadier than req/s on a shared machine.");
  const disturbed = rows.filter(({ cpu }) => (cpu?.other ?? 0) > 15);
  for (const { scenario, preset, cpu } of disturbed) {
    console.log(`WARNING: ${scenario}/${preset} shared the machine with other work (${percent(cpu, 'other')} of a core): its numbers are low.`);
  }
}

async function printMachine(options: BenchOptions): Promise<void> {
  console.log(`node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${process.platform}/${process.arch}`);
  console.log(`${options.connections} keep-alive connections, ${options.warmupS} s warm-up + ${options.durationS} s measured per run, ${options.rounds} round(s) of ${options.variants.join(', ')}`);
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
  let current: Promise<Target> | undefined;
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
    for (let round = 1; round <= options.rounds; round++) {
      if (options.rounds > 1) console.error(`round ${round} of ${options.rounds}`);
      for (const variant of options.variants) {
        rows.push(...(await benchVariant(generator, variant, options, (target) => (current = target))));
      }
    }
    console.log('');
    if (options.rounds > 1) console.log(`median of ${options.rounds} rounds per variant and scenario:`);
    printTable(medianRows(rows, options.variants), options.variants.length > 1);
  } finally {
    generator?.stop();
  }
}

main().catch((error: unknown) => {
  if (stopping) return; // interrupted: the signal handler exits
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : ((error as Error).stack ?? error));
  process.exitCode = 1;
});
