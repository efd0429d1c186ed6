// The fault proxy as a process of its own, so that faults outlive (and are leased to) the
// controllers that set them. Prints one JSON line when ready: {"controlUrl": "...", "pid": N}.
//
//   node src/lab/fault-proxy/main.ts [--control-port N] [--proxy name=host:port[@listenPort]]…
import { parseArgs } from 'node:util';
import { buildFaultProxyApi } from './control-api.ts';
import { FaultProxy } from './fault-proxy.ts';

const { values } = parseArgs({
  options: { 'control-port': { type: 'string', default: '0' }, proxy: { type: 'string', multiple: true, default: [] } },
});

const proxy = new FaultProxy();
const api = buildFaultProxyApi(proxy);
for (const spec of values.proxy) {
  const match = /^([a-z][a-z0-9_-]*)=([\d.]+):(\d+)(?:@(\d+))?$/.exec(spec);
  if (!match) {
    console.error(`--proxy must look like name=127.0.0.1:5432[@listenPort], got ${JSON.stringify(spec)}`);
    process.exit(2);
  }
  await proxy.addProxy({ name: match[1]!, upstream: { host: match[2]!, port: Number(match[3]) }, listenPort: match[4] ? Number(match[4]) : 0 });
}
await api.listen({ host: '127.0.0.1', port: Number(values['control-port']) });
const address = api.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ controlUrl: `http://127.0.0.1:${port}`, pid: process.pid, proxies: proxy.list() })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await api.close();
  await proxy.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// Our owner is gone when stdin closes: stop with it, never outlive the lab.
process.stdin.on('end', () => void stop());
process.stdin.on('error', () => void stop());
process.stdin.resume();
