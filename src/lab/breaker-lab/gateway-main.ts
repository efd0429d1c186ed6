// The gateway as a process. GATEWAY_TOKEN protects its own API; GATEWAY_CONFIG (JSON, see
// GatewayConfig) says what the pool runs; both in the environment, never argv (the function's
// environment may hold the services store's password). Prints one JSON line when it listens:
// {"port": N, "pid": N}. Stops, and stops its environments, on SIGTERM, SIGINT, or when its
// owner goes away (stdin closes); its environments are guarded by its own process guard too.
import { startEnvironment } from './function-environment.ts';
import { EnvironmentPool } from './environment-pool.ts';
import { validatePoolSettings, type GatewayConfig } from './gateway-config.ts';
import { buildGateway, GatewayLog } from './gateway-server.ts';
import { stopWithOwner } from './guarded-child.ts';
import { listeningPort } from '../net/json-api.ts';

const token = process.env['GATEWAY_TOKEN'] ?? '';
const rawConfig = process.env['GATEWAY_CONFIG'] ?? '';
delete process.env['GATEWAY_TOKEN'];
delete process.env['GATEWAY_CONFIG'];
if (token.length < 16) {
  console.error('gateway: GATEWAY_TOKEN must be at least 16 characters');
  process.exit(2);
}
let config: GatewayConfig;
try {
  config = JSON.parse(rawConfig) as GatewayConfig;
  validatePoolSettings(config);
  if (typeof config.functionModule !== 'string' || config.functionModule === '') throw new Error('functionModule must be a path');
} catch (error) {
  console.error(`gateway: GATEWAY_CONFIG: ${(error as Error).message}`);
  process.exit(2);
}

const log = new GatewayLog();
const pool = new EnvironmentPool(config, (id) =>
  startEnvironment(id, { functionModule: config.functionModule, env: config.functionEnv }, (environmentId, at, event) => log.addEvent(environmentId, at, event)),
);
const app = buildGateway(pool, log, token);
await app.listen({ host: '127.0.0.1', port: 0 });
stopWithOwner(async () => {
  await pool.close();
  await app.close();
}, 5000);
process.stdout.write(`${JSON.stringify({ port: listeningPort(app), pid: process.pid })}\n`);
