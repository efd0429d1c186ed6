// The traffic generator at the highest rate a template can ask for: 200 reads + 100 writes per
// second under the quick profile (×20), i.e. 6,000 requests/s, against a fast local server in
// its own process (so that the numbers are the generator's, not the server's).
//
//   node bench/traffic-overload.bench.ts [--duration 6] [--reads 4000] [--writes 2000] [--timeout 5]
//
// Prints the wall time of runTraffic against its duration, the peak RSS of this process, and
// what the generator sent, what was answered, and what it could not send (its shortfall).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { runTraffic } from '../src/traffic/traffic-generator.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    reads: { type: 'string', default: '4000' },
    writes: { type: 'string', default: '2000' },
    timeout: { type: 'string', default: '5' },
  },
});
const durationMs = Number(values.duration) * 1000;
const timeoutMs = Number(values.timeout) * 1000;

// A shop-shaped server that answers at once: GET /products 200, POST /orders 201.
const SERVER = `
const http = require('node:http');
let id = 0;
const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    if (request.method === 'POST') response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ order_id: ++id, status: 'confirmed' }));
    else response.writeHead(200, { 'content-type': 'application/json' }).end('{"source":"database","products":[]}');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const [chunk] = (await Promise.race([once(child.stdout, 'data'), new Promise((_, reject) => setTimeout(() => reject(new Error('server did not start in 10 s')), 10_000))])) as [Buffer];
  const url = `http://127.0.0.1:${String(chunk).trim()}`;
  const started = Date.now();
  const result = await runTraffic({ url, durationMs, readsPerSecond: Number(values.reads), writesPerSecond: Number(values.writes), timeoutMs });
  const wallMs = Date.now() - started;
  const maxRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in kilobytes
  const answered = result.reads.ok + result.reads.fail + result.writes.ok + result.writes.queued + result.writes.stockOut + result.writes.fail;
  console.log(`asked: ${values.reads} reads/s + ${values.writes} writes/s for ${durationMs} ms (timeout ${timeoutMs} ms)`);
  console.log(`wall time: ${wallMs} ms (${(wallMs / durationMs).toFixed(2)}× the duration)`);
  console.log(`peak RSS: ${maxRssMb.toFixed(0)} MB`);
  console.log(`answered: ${answered} (${Math.round(answered / (durationMs / 1000))}/s); reads ok ${result.reads.ok} fail ${result.reads.fail} ${JSON.stringify(result.reads.failByStatus)}; writes ok ${result.writes.ok} fail ${result.writes.fail}`);
  console.log(`not sent (generator shortfall): ${result.reads.notSent} reads, ${result.writes.notSent} writes`);
  console.log(`generator: ${JSON.stringify(result.generator)}`);
} finally {
  child.kill();
}
process.exit(0);
