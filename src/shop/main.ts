// One shop instance as a process of its own, configured by environment variables (see
// shopOptionsFromEnv). Prints one JSON line when it listens: {"ready": true, "port": N, "pid": N}.
// SIGTERM stops it gracefully; it also stops when its parent goes away (stdin closes), so an
// instance never outlives the lab that launched it.
import { resolveShopConfig, shopOptionsFromEnv } from './config.ts';
import { startShop } from './shop-instance.ts';

let options;
try {
  options = shopOptionsFromEnv(process.env);
  // Checked here too, so that a bad configuration (a shared breaker with no store) exits 2 with its message.
  resolveShopConfig(options);
} catch (error) {
  console.error(`chaos-shop: ${(error as Error).message}`);
  process.exit(2);
}
const shop = await startShop(options);
process.stdout.write(`${JSON.stringify({ ready: true, port: shop.port, pid: process.pid })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Graceful, but bounded: a request hung on a dead database must not hold the instance forever.
  setTimeout(() => process.exit(1), 5000).unref();
  setTimeout(() => shop.app.server.closeAllConnections(), 1000).unref();
  await shop.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.on('error', () => void stop());
process.stdin.resume();
