// The lab start sequence's services part (src/lab/lab-services.ts: the cluster and the services
// store side by side, the fleet and the recovery worker side by side) and the lab's own metrics
// (src/lab/lab-metrics.ts), over real servers and a real worker process.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { labMetricsText } from '../src/lab/lab-metrics.ts';
import { existsSync } from 'node:fs';
import { PostgresCluster } from '../src/lab/cluster/postgres-cluster.ts';
import { startDatabases, startFleetWithWorker, type CleanupSteps } from '../src/lab/lab-services.ts';
import { SHOP_DATABASE } from '../src/lab/standalone-shop.ts';
import { RecoveryWorkerProcess } from '../src/lab/recovery-worker/worker-process.ts';
import { ServicesStore } from '../src/lab/services-store/index.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import { ARTICLE_QUEUE_SETTINGS, ORDER_QUEUE_NAME, PostgresQueue } from '../src/services/queue/index.ts';
import { within } from './helpers/deadline.ts';
import { sample } from './helpers/metrics.ts';
import { waitUntilGone } from './helpers/processes.ts';

const USES = { sharedBreaker: false, readCache: false, writeBuffer: true };

describe('the lab start sequence: the cluster and the services store side by side', () => {
  it('stops the services store that did start when the cluster fails, and throws the cluster\'s error', async () => {
    let store: ServicesStore | undefined;
    const cleanup: CleanupSteps = [];
    const starting = startDatabases({
      servicesStore: true,
      cleanup,
      progress: () => {},
      startCluster: () => Promise.reject(new Error('the cluster did not start')),
      startStore: () => ServicesStore.start().then((started) => (store = started)),
    });
    await assert.rejects(within(60_000, 'the start failing', starting), /the cluster did not start/);
    // Awaited together: the store's start had finished, and it was stopped before the error came.
    assert.ok(store, 'the store had started');
    assert.equal(store.server.running, false);
    assert.equal(existsSync(store.server.dataDir), false, 'its data folder is gone');
    assert.deepEqual(cleanup, [], 'nothing left for the lab to clean up');
  });

  it('stops the cluster that did start when the services store fails, and throws the store\'s error', async () => {
    let pids: number[] = [];
    const cleanup: CleanupSteps = [];
    const starting = startDatabases({
      servicesStore: true,
      cleanup,
      progress: () => {},
      startCluster: async () => {
        const cluster = await PostgresCluster.start({ databases: [SHOP_DATABASE] });
        pids = (await cluster.status()).members.map((m) => m.pid!);
        return cluster;
      },
      startStore: () => Promise.reject(new Error('the store did not start')),
    });
    try {
      await assert.rejects(within(60_000, 'the start failing', starting), /the store did not start/);
      assert.equal(pids.length, 2, 'the writer and the reader had started');
      assert.deepEqual(await waitUntilGone(pids, 5_000), [], 'both were stopped');
      assert.deepEqual(cleanup, []);
    } finally {
      // Only if the code under test failed to stop them: by PID, never by name.
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
    }
  });

  it('starts the cluster alone when the lab runs no store, and registers it for cleanup', async () => {
    const cleanup: CleanupSteps = [];
    const steps: string[] = [];
    const { cluster, servicesStore } = await within(60_000, 'the start', startDatabases({ servicesStore: false, cleanup, progress: (step) => steps.push(step) }));
    const pids = (await cluster.status()).members.map((m) => m.pid!);
    try {
      assert.equal(servicesStore, undefined);
      assert.deepEqual(steps, ['starting the PostgreSQL writer and reader']);
      assert.equal(cleanup.length, 1);
    } finally {
      for (const step of cleanup.reverse()) await step();
    }
    assert.deepEqual(await waitUntilGone(pids, 5_000), [], 'the cleanup step stopped it');
  });
});

describe('the lab start sequence with a write buffer', () => {
  let store: ServicesStore;
  before(async () => {
    store = await ServicesStore.start();
  });
  after(async () => {
    await store?.close();
  });

  it('fails the start with the worker\'s error, once the fleet has settled, when the recovery worker cannot start while the fleet is starting', async () => {
    // The worker was started beside the fleet with no rejection handler while the fleet's start
    // was awaited: a worker that failed first was an unhandled rejection, the lab's process died
    // and its cleanup never ran (node:test fails the file on an unhandled rejection).
    let fleetSettled = false;
    let workerFailed!: () => void;
    const failed = new Promise<void>((resolve) => (workerFailed = resolve));
    const cleanup: CleanupSteps = [];
    const starting = startFleetWithWorker({
      // The fleet settles only after the worker has failed (it refuses its environment at once), so
      // the worker's rejection always comes while the fleet is still starting, however slow the machine.
      startFleet: async () => {
        await within(30_000, 'the worker\'s start failing', failed);
        fleetSettled = true;
      },
      // The real start, seen through a promise of our own: watching `started` itself would handle
      // its rejection, and the code under test would no longer be the one that must.
      startWorker: (options) => {
        const started = RecoveryWorkerProcess.start(options);
        return new Promise((resolve, reject) =>
          started.then(resolve, (error: unknown) => {
            reject(error);
            // A turn of the event loop later: an unhandled rejection has been reported by then.
            setImmediate(workerFailed);
          }),
        );
      },
      store,
      uses: USES,
      queueSettings: ARTICLE_QUEUE_SETTINGS,
      workerEnv: () => ({}),
      cleanup,
      progress: () => {},
    });
    await assert.rejects(starting, /recovery worker exited before it was ready \(exit 2\)/);
    assert.ok(fleetSettled, 'the fleet\'s start was awaited before the error');
    // The lab's clients of the store are among the cleanup steps, and no worker is.
    assert.equal(cleanup.length, 1);
    for (const step of cleanup.reverse()) await step();
  });

  it('fails the start with the fleet\'s error and stops the worker that did start', async () => {
    const cleanup: CleanupSteps = [];
    const connection = store.connectionConfig();
    const url = `postgresql://${connection.user}:${encodeURIComponent(connection.password)}@${connection.host}:${connection.port}/${connection.database}`;
    const starting = startFleetWithWorker({
      startFleet: () => Promise.reject(new Error('the fleet did not start')),
      store,
      uses: USES,
      queueSettings: ARTICLE_QUEUE_SETTINGS,
      // A worker that starts: a database URL it only reaches on its first message.
      workerEnv: () => ({ DB_WRITER_URL: url, ORDER_QUEUE_URL: url, SHOP_PATTERNS: JSON.stringify(resolvePatterns({ preset: 'graceful', circuitBreaker: { mode: 'local' } })) }),
      cleanup,
      progress: () => {},
    });
    await assert.rejects(starting, /the fleet did not start/);
    // The clients' close and the worker's stop, both registered: the lab's catch runs them.
    assert.equal(cleanup.length, 2);
    for (const step of cleanup.reverse()) await step();
  });

  it('reads the queue\'s depth and oldest age, and the worker\'s counters and restarts, at scrape time', async () => {
    const queue = new PostgresQueue({ connection: store.connectionConfig(), name: ORDER_QUEUE_NAME });
    try {
      await queue.send('{}', { key: 'metrics-1' });
      await queue.send('{}', { key: 'metrics-2' });
      await queue.receive({ maxMessages: 1, waitTimeMs: 0 });
      const counters = { received: 3, committed: 1, replayed: 0, rejected: 0, deadLettered: 1, transientFailures: 1, errors: 0, staleReceipts: 0 };
      const status = { pid: null, running: false, restarts: 2, counters, lastExit: null, lastProblem: null };
      const text = await labMetricsText({ queue, recoveryWorker: { status: () => status } });
      assert.equal(sample(text, 'chaos_lab_queue_up'), 1);
      assert.equal(sample(text, 'chaos_lab_queue_depth'), 1);
      assert.equal(sample(text, 'chaos_lab_queue_in_flight'), 1);
      assert.match(text, /^chaos_lab_queue_dead_letters 0$/m);
      assert.ok(sample(text, 'chaos_lab_queue_oldest_age_seconds') > 0, text);
      assert.match(text, /^# TYPE chaos_lab_recovery_worker_restarts_total counter\nchaos_lab_recovery_worker_restarts_total 2$/m);
      assert.equal(sample(text, 'chaos_lab_recovery_worker_up'), 0);
      assert.equal(sample(text, 'chaos_lab_recovery_worker_received_total'), 3);
      assert.equal(sample(text, 'chaos_lab_recovery_worker_transient_failures_total'), 1);
      assert.equal(sample(text, 'chaos_lab_recovery_worker_dead_lettered_total'), 1);
    } finally {
      await queue.close();
    }
  });
});

describe('the lab\'s own metrics', () => {
  it('are empty for a lab with no queue and no worker', async () => {
    assert.equal(await labMetricsText({ queue: undefined, recoveryWorker: undefined }), '');
  });

  it('leave the queue\'s series out within their bound when the store does not answer', async () => {
    // A listener that accepts and never says a word: the queue's connection waits on it.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket.on('error', () => {})));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const queue = new PostgresQueue({ connection: { host: '127.0.0.1', port, user: 'postgres', password: 'x', database: 'services' }, name: ORDER_QUEUE_NAME, connectTimeoutMs: 10_000 });
    try {
      const started = performance.now();
      const text = await labMetricsText({ queue, recoveryWorker: undefined }, 300);
      assert.ok(performance.now() - started < 2000, `answered in ${Math.round(performance.now() - started)} ms`);
      assert.match(text, /^chaos_lab_queue_up 0$/m);
      assert.doesNotMatch(text, /chaos_lab_queue_depth/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await queue.close().catch(() => {});
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
