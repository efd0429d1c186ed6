// What a fault-free fault proxy costs, in two workloads, each against PostgreSQL directly and
// through the fault proxy (running as its own process, as in the lab):
//   raw   pgbench-like: the shop's products query, 16 connections running it back to back
//   shop  the shop's read path: GET /products on a resilient shop instance, 16 keep-alive
//         HTTP connections (autocannon in a child process)
//
//   npm run bench:proxy -- [--duration 10]
//
// Prints throughput and p50/p99 latency for both paths and the ratio. Runs alternate (A, B,
// A, B) so that drift of the machine affects both paths alike. On 2 cores the load generator,
// the proxy and PostgreSQL all compete for CPU: the raw workload measures the proxy's cost
// when the machine has no spare cycle at all.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { spawnFaultProxy } from '../src/lab/fault-proxy/spawn.ts';
import { createDatabase } from '../src/lab/standalone-shop.ts';
import { startShop } from '../src/shop/shop-instance.ts';
import { LoadGenerator } from './load-generator-client.ts';
import { PostgresServer } from '../src/lab/postgres/postgres-server.ts';
import { initSchema } from '../src/shop/schema.ts';
import type { Address } from '../src/lab/fault-proxy/connection.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '16' } } });
const durationMs = Number(values.duration) * 1000;
const connections = Number(values.connections);
const QUERY = { name: 'list-products', text: 'SELECT id, name, price::float8 AS price, stock FROM products ORDER BY id' };

interface Result {
  queries: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function run(address: Address, ms: number): Promise<Result> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ ...address, user: 'postgres', password: server.password, database: 'postgres' });
      await client.connect();
      return client;
    }),
  );
  const latencies: number[] = [];
  const deadline = performance.now() + ms;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        const started = performance.now();
        await client.query(QUERY);
        latencies.push(performance.now() - started);
      }
    }),
  );
  await Promise.all(clients.map((client) => client.end()));
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { queries: latencies.length, perSecond: latencies.length / (ms / 1000), p50Ms: at(0.5), p99Ms: at(0.99) };
}

function row(label: string, r: Result, unit: string): string {
  return `  ${label.padEnd(22)} ${Math.round(r.perSecond).toString().padStart(8)} ${unit}   p50 ${r.p50Ms.toFixed(3)} ms   p99 ${r.p99Ms.toFixed(3)} ms`;
}

let interrupted = false;

/** Warms both paths up, alternates two runs of each, prints the ratio and the added latency. */
async function compare(measure: (address: Address, ms: number) => Promise<Result>, direct: Address, proxied: Address, unit: string): Promise<void> {
  await measure(direct, 1000); // warm-up: caches, JIT
  await measure(proxied, 1000);
  const directRuns: Result[] = [];
  const proxiedRuns: Result[] = [];
  for (let i = 0; i < 2 && !interrupted; i++) {
    directRuns.push(await measure(direct, durationMs / 2));
    console.log(row(`direct (run ${i + 1})`, directRuns.at(-1)!, unit));
    proxiedRuns.push(await measure(proxied, durationMs / 2));
    console.log(row(`fault proxy (run ${i + 1})`, proxiedRuns.at(-1)!, unit));
  }
  if (directRuns.length === 0) return;
  const mean = (runs: Result[], pick: (r: Result) => number): number => runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
  const ratio = mean(proxiedRuns, (r) => r.perSecond) / mean(directRuns, (r) => r.perSecond);
  const addedP50 = mean(proxiedRuns, (r) => r.p50Ms) - mean(directRuns, (r) => r.p50Ms);
  console.log(`  through the proxy: ${(ratio * 100).toFixed(1)}% of direct throughput (goal: at least 90%), p50 +${addedP50.toFixed(3)} ms`);
}

const server = await PostgresServer.start();
const faultProxy = await spawnFaultProxy([{ name: 'db', upstream: { host: server.host, port: server.port } }]);
process.on('SIGINT', () => {
  interrupted = true;
  console.log('\ninterrupted: cleaning up');
});
try {
  const setup = new pg.Client({ connectionString: server.connectionString() });
  await setup.connect();
  await initSchema(setup);
  await setup.end();
  const direct = { host: server.host, port: server.port };
  const proxied = faultProxy.proxies[0]!.listen;
  console.log(`fault proxy bench: ${connections} connections, ${durationMs / 1000} s per path, node ${process.version}`);

  console.log('\nraw: the products query, back to back');
  await compare(
    (address, ms) => run(address, ms),
    direct,
    proxied,
    'q/s',
  );

  console.log('\nshop: GET /products on a resilient instance');
  await createDatabase(server, 'chaos_shop');
  const generator = await LoadGenerator.start();
  try {
    await compare(
      async (address, ms) => {
        const endpoint = { ...address, database: 'chaos_shop', user: 'postgres', password: server.password };
        const shop = await startShop({ writer: endpoint, patterns: resolvePatterns('resilient'), instanceId: 'i-bench' });
        try {
          await shop.whenInitialised();
          const summary = await generator.run({ url: shop.url, scenario: 'products', durationS: ms / 1000, connections });
          return { queries: summary.completed, perSecond: summary.completed / summary.durationS, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms };
        } finally {
          await shop.close();
        }
      },
      direct,
      proxied,
      'req/s',
    );
  } finally {
    generator.stop();
  }
} finally {
  await faultProxy.stop();
  await server.destroy();
}
