// The recovery worker as a process (the Lambda stand-in). Configured by its environment (see
// worker-config.ts). Prints one JSON line once it runs: {"pid": N}. Reports its counters to the
// lab over the IPC channel after every message ({type: "counters", counters}). Stops on SIGTERM,
// SIGINT, or when its owner goes away (stdin closes, or the IPC channel does): the message in hand
// is finished within the bound, or abandoned and redelivered.
import { PostgresBreakerStore } from '../../resilience/circuit-breaker/index.ts';
import { composeCircuitBreaker, composeDatabase } from '../../shop/compose.ts';
import { databasePorts } from '../../shop/database-ports.ts';
import type { Patterns } from '../../shop/patterns.ts';
import type { ShopPorts } from '../../shop/ports.ts';
import { ORDER_QUEUE_NAME } from '../../services/queue/message-queue.ts';
import { PostgresQueue } from '../../services/queue/postgres-queue.ts';
import { stopWithOwner } from '../breaker-lab/guarded-child.ts';
import { RecoveryWorker, type RecoveryWorkerEvent } from './recovery-worker.ts';
import { recoveryWorkerConfigFromEnv, RecoveryWorkerConfigError, type RecoveryWorkerConfig } from './worker-config.ts';
import type { WorkerReport } from './worker-process.ts';

let config: RecoveryWorkerConfig;
try {
  config = recoveryWorkerConfigFromEnv(process.env);
} catch (error) {
  console.error(`recovery worker: ${error instanceof RecoveryWorkerConfigError ? error.message : String(error)}`);
  process.exit(2);
}
// Passwords are in these; nothing after this point needs them from the environment.
for (const name of ['DB_WRITER_URL', 'ORDER_QUEUE_URL', 'SERVICES_STORE_URL']) delete process.env[name];

// The shop's database access without statement retries: redelivery is the worker's retry, and a
// message held through retries into a dead database would only wait out its visibility timeout.
// Batch size 1 needs one writer connection (two: the ping may overlap a slow statement).
const patterns: Patterns = {
  ...config.patterns,
  retry: { delaysMs: [] },
  readWriteSplit: false,
  connection: config.patterns.connection.kind === 'pool' ? { ...config.patterns.connection, size: 2 } : config.patterns.connection,
};
const database = composeDatabase(patterns, { writer: config.writer, reader: config.writer, connectTimeoutMs: config.connectTimeoutMs });
const portsOptions = { retriesStatements: false, readYourWrites: false };
const health = databasePorts(database, { instanceId: config.workerId, ...portsOptions }).health;
// The order transaction records the instance that accepted the order (served_by), so the ports
// are per instance: one each, built once (a fleet has a few instances; the map is bounded against
// a queue full of made-up names, and rebuilt from scratch past the bound).
const MAX_PORTS = 64;
const ordersByInstance = new Map<string, ShopPorts['orders']>();
function ordersOf(servedBy: string): ShopPorts['orders'] {
  const instanceId = servedBy || config.workerId;
  let orders = ordersByInstance.get(instanceId);
  if (!orders) {
    if (ordersByInstance.size >= MAX_PORTS) ordersByInstance.clear();
    orders = databasePorts(database, { instanceId, ...portsOptions }).orders;
    ordersByInstance.set(instanceId, orders);
  }
  return orders;
}
const store = config.breakerStore ? new PostgresBreakerStore({ ...config.breakerStore }) : undefined;
// The fleet's breaker, by the same name in the same store: one circuit for the instances and the worker.
const breaker = composeCircuitBreaker(patterns, { store, connectTimeoutMs: config.connectTimeoutMs });
const queue = new PostgresQueue({ connection: { ...config.queue }, name: ORDER_QUEUE_NAME, settings: config.queueSettings });

const report = (message: WorkerReport): void => {
  if (process.send && process.connected) process.send(message, undefined, {}, () => {});
};
const worker = new RecoveryWorker({
  queue,
  // The shop's own order transaction, the order recorded as served by the instance that accepted it.
  applyOrder: (order, servedBy) => ordersOf(servedBy).placeOrder(order),
  ping: () => health.ping(),
  breaker,
  receiveWaitTimeMs: config.queueSettings.receiveWaitTimeMs,
  onEvent: (event: RecoveryWorkerEvent) => {
    if (event.type === 'waiting') return; // every poll interval while the circuit is open: not news
    report({ type: 'event', event });
    if (event.type === 'settled' || event.type === 'left') report({ type: 'counters', counters: worker.counters });
  },
});

const abort = new AbortController();
const running = worker.run(abort.signal).catch((error: unknown) => {
  console.error(`recovery worker: ${(error as Error).message}`);
  process.exitCode = 1;
});

const stop = stopWithOwner(async () => {
  abort.abort();
  await running;
  report({ type: 'counters', counters: worker.counters });
  await Promise.allSettled([queue.close(), database.close(), breaker?.close()]);
  await store?.close();
});
process.on('disconnect', stop);
void running.then(() => {
  if (!abort.signal.aborted) stop();
});
process.stdout.write(`${JSON.stringify({ pid: process.pid })}\n`);
