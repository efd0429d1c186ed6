// The unreliable backend as a process. BACKEND_TOKEN (env, never argv) protects its control
// API. Prints one JSON line when it listens: {"port": N, "pid": N}. Stops on SIGTERM, SIGINT,
// or when its owner goes away (stdin closes).
import { buildBackend } from './backend-server.ts';
import { stopWithOwner } from './guarded-child.ts';
import { listeningPort } from '../net/json-api.ts';

const token = process.env['BACKEND_TOKEN'] ?? '';
delete process.env['BACKEND_TOKEN'];
if (token.length < 16) {
  console.error('backend: BACKEND_TOKEN must be at least 16 characters');
  process.exit(2);
}
const app = buildBackend(token);
await app.listen({ host: '127.0.0.1', port: 0 });
stopWithOwner(() => app.close());
process.stdout.write(`${JSON.stringify({ port: listeningPort(app), pid: process.pid })}\n`);
