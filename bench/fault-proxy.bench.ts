// What a fault-free fault proxy costs: a pgbench-like read workload (the shop's products
// query, 16 connections, each running it back to back) against PostgreSQL directly and
// through the fault proxy (running as its own process, as in the lab).
//
//   npm run bench:proxy -- [--duration 10]
//
// Prints queries/s and p50/p99 latency for both paths and the ratio. The load generator runs
// in this process; the proxy and PostgreSQL in theirs (on 2 cores all of them compete).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { spawnFaultProxy } from '../src/lab/fault-proxy/spawn.ts';
import { PostgresServer } from '../src/lab/postgres/postgres-server.ts';
import { initSchema } from '../src/shop/schema.ts';
import type { Address } from '../src/lab/fault-proxy/connection.ts';

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
      const client = new pg.Client({ ...address, user: 'postgres', database: 'postgres' });
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

function row(label: string, r: Result): string {
  return `${label.padEnd(22)} ${Math.round(r.perSecond).toString().padStart(8)} q/s   p50 ${r.p50Ms.toFixed(3)} ms   p99 ${r.p99Ms.toFixed(3)} ms`;
}

const server = await PostgresServer.start();
const faultProxy = await spawnFaultProxy([{ name: 'db', upstream: { host: server.host, port: server.port } }]);
let interrupted = false;
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
  console.log(`fault proxy bench: ${connections} connections, ${durationMs / 1000} s per run, node ${process.version}`);
  await run(direct, 1000); // warm-up: caches, JIT
  await run(proxied, 1000);
  // Alternate the runs so that drift of the machine affects both paths alike.
  const directRuns: Result[] = [];
  const proxiedRuns: Result[] = [];
  for (let i = 0; i < 2 && !interrupted; i++) {
    directRuns.push(await run(direct, durationMs / 2));
    console.log(row(`direct (run ${i + 1})`, directRuns.at(-1)!));
    proxiedRuns.push(await run(proxied, durationMs / 2));
    console.log(row(`fault proxy (run ${i + 1})`, proxiedRuns.at(-1)!));
  }
  const mean = (runs: Result[]): number => runs.reduce((sum, r) => sum + r.perSecond, 0) / runs.length;
  const ratio = mean(proxiedRuns) / mean(directRuns);
  console.log(`\nthrough the proxy: ${(ratio * 100).toFixed(1)}% of direct throughput (goal: at least 90%)`);
  const p50Added = proxiedRuns.reduce((s, r) => s + r.p50Ms, 0) / proxiedRuns.length - directRuns.reduce((s, r) => s + r.p50Ms, 0) / directRuns.length;
  console.log(`added p50 latency: ${p50Added.toFixed(3)} ms`);
} finally {
  await faultProxy.stop();
  await server.destroy();
}
