// The fault proxy as a process of its own, so that faults outlive (and are leased to) the
// controllers that set them. Prints one JSON line when ready: {"controlUrl": "...", "pid": N, "proxies": [...]}.
//
//   FAULT_PROXY_TOKEN=<secret> node src/lab/fault-proxy/main.ts [--control-port N] [--proxy name=host:port[@listenPort]]…
//
// The control API wants `Authorization: Bearer <token>`. The token comes in the environment,
// never on the command line: argv is readable by every user in /proc, environ only by this
// one. Run by hand without FAULT_PROXY_TOKEN, the proxy makes a token and prints it in the
// ready line ("token"). host is a loopback address (127.x.x.x, [::1]) or localhost; listenPort
// is 0 (any free port) or 1024 and above.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { buildFaultProxyApi } from './control-api.ts';
import { FaultProxy, PortInUseError } from './fault-proxy.ts';
import { FaultSpecError } from './fault-type.ts';

// Shorter than this is guessable: the spawner gives 64 hex characters.
const MIN_TOKEN_LENGTH = 16;
const PROXY = /^([a-z][a-z0-9_-]*)=(?:\[([0-9a-fA-F:.]+)\]|([^:@[\]]+)):(\d+)(?:@(\d+))?$/;

const { values } = parseArgs({
  options: { 'control-port': { type: 'string', default: '0' }, proxy: { type: 'string', multiple: true, default: [] } },
});

const given = process.env['FAULT_PROXY_TOKEN'];
// Not passed on to anything this process might start.
delete process.env['FAULT_PROXY_TOKEN'];
if (given !== undefined && given.length < MIN_TOKEN_LENGTH) {
  console.error(`FAULT_PROXY_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters, got ${given.length}`);
  process.exit(2);
}
const token = given || randomBytes(32).toString('hex');

const proxy = new FaultProxy();
const api = buildFaultProxyApi(proxy, token);
for (const spec of values.proxy) {
  const match = PROXY.exec(spec);
  if (!match) {
    console.error(`--proxy must look like name=127.0.0.1:5432[@listenPort] (or name=[::1]:5432), got ${JSON.stringify(spec)}`);
    process.exit(2);
  }
  const host = match[2] ?? match[3]!;
  try {
    await proxy.addProxy({ name: match[1]!, upstream: { host, port: Number(match[4]) }, listenPort: match[5] ? Number(match[5]) : 0 });
  } catch (error) {
    if (!(error instanceof FaultSpecError || error instanceof PortInUseError)) throw error;
    console.error(`--proxy ${spec}: ${error.message}`);
    process.exit(2);
  }
}
await api.listen({ host: '127.0.0.1', port: Number(values['control-port']) });
const address = api.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
const ready = { controlUrl: `http://127.0.0.1:${port}`, pid: process.pid, proxies: proxy.list(), ...(given ? {} : { token }) };
process.stdout.write(`${JSON.stringify(ready)}\n`);

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
