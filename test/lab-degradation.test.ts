// `chaos-lab up --patterns graceful` end to end (Article 4): the services store with its three
// listeners, the recovery worker, orders queued while the database proxy's targets are away and
// drained once they are back, and the `queue` commands (dead letters, redrive) against it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { LabInfo, LabQueueStatus, LabStatus } from '../src/lab/lab.ts';
import { ORDER_QUEUE_NAME, PostgresQueue, type DeadLetter } from '../src/services/queue/index.ts';
import { until } from './helpers/deadline.ts';
import { call } from './helpers/lab.ts';
import { sample } from './helpers/metrics.ts';
import { CLI, labCommand, spawnUp, waitReady, type UpProcess } from './helpers/lab-cycle.ts';
import { alive, descendants, killFamily, waitUntilGone } from './helpers/processes.ts';

// Article 4's patterns with a 2 s recovery timeout, so the circuit closes within the test.
const PATTERNS = JSON.stringify({ preset: 'graceful', circuitBreaker: { recoveryTimeoutMs: 2000 } });

/** The control API's GET /metrics text. */
async function metricsOf(dir: string, info: LabInfo): Promise<string> {
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const response = await fetch(`${info.controlUrl}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  return response.text();
}

/** The control API straight (the CLI's text is checked where it matters; a CLI process per poll costs ~1 s on 2 cores). */
async function api<T>(dir: string, info: LabInfo, path: string): Promise<T> {
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const response = await fetch(`${info.controlUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, path);
  return (await response.json()) as T;
}

describe('chaos-lab up --patterns graceful', () => {
  let dir: string;
  let up: UpProcess | undefined;
  let info: LabInfo;
  let family: number[] = [];
  const status = (_dir: string): Promise<LabStatus> => api<LabStatus>(dir, info, '/status');
  const queue = (_dir: string): Promise<LabQueueStatus & { deadLetters: DeadLetter[] }> => api(dir, info, '/queue');
  const metrics = (): Promise<string> => metricsOf(dir, info);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-graceful-'));
    up = spawnUp(dir, { file: process.execPath, args: [CLI, 'up', '--dir', dir, '--patterns', PATTERNS] });
    try {
      info = await waitReady(up, 60_000);
    } catch (error) {
      await killFamily(up.child.pid!);
      throw error;
    }
    family = descendants(up.child.pid!);
  });
  after(async () => {
    if (up) await killFamily(up.child.pid!, family);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the services store behind five listeners, the recovery worker, and shows the queue and the breaker', async () => {
    const s = await status(dir);
    assert.deepEqual(
      s.dependencies.map((d) => [d.name, d.kind, d.role, d.instanceEnv]),
      [
        ['db-writer', 'database', 'writer', 'DB_WRITER_URL'],
        ['db-reader', 'database', 'reader', 'DB_READER_URL'],
        ['services-store', 'key-value-store', 'breaker-state', 'SERVICES_STORE_URL'],
        ['read-cache', 'key-value-store', 'read-cache', 'READ_CACHE_URL'],
        ['order-queue', 'queue', 'write-buffer', 'ORDER_QUEUE_URL'],
        ['reviews', 'key-value-store', 'reviews', 'REVIEWS_URL'],
        ['promo', 'object-store', 'promo', 'PROMO_URL'],
      ],
    );
    // Five listeners, one store: each path can be cut on its own.
    assert.equal(new Set(s.dependencies.slice(2).map((d) => d.listen.port)).size, 5);
    assert.ok(s.dependencies.slice(2).every((d) => d.upstream.port === info.endpoints.servicesStore!.port));
    assert.ok(s.recoveryWorker?.running && alive(s.recoveryWorker.pid!), 'the recovery worker runs');
    assert.deepEqual(s.queue?.settings, { visibilityTimeoutMs: 90_000, receiveWaitTimeMs: 20_000, maxReceiveCount: 10 });
    assert.equal(s.breaker?.state, 'CLOSED');
    const text = await labCommand(dir, 'status');
    assert.match(text.stdout, /^breaker shop-database: CLOSED, generation \d+/m);
    assert.match(text.stdout, /^queue order-buffer: depth 0, in flight 0, dead letters 0, oldest message -$/m);
    assert.match(text.stdout, /^recovery worker: pid \d+, restarts 0; received \d+, committed \d+/m);
  });

  it('queues orders while the database proxy has no targets, and the worker drains them once it has', async () => {
    assert.match((await labCommand(dir, 'proxy', 'deregister')).stdout, /deregistered/);
    const keys: string[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const answer = await call(info.loadBalancerUrl, 'POST', '/orders', { product_id: 2, quantity: 1 }, { 'idempotency-key': `graceful-${i}` });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        keys.push(String(answer.body['idempotency_key']));
      }
      const waiting = await labCommand(dir, 'queue');
      assert.match(waiting.stdout, /^queue order-buffer: depth \d+, in flight \d+, dead letters 0, oldest message \d+\.\d s$/m);
      assert.equal((await queue(dir)).stats.sent, 2);
      // The same as metrics: both orders waiting (or one in the worker's hands), the oldest aging.
      const text = await metrics();
      assert.equal(sample(text, 'chaos_lab_queue_depth') + sample(text, 'chaos_lab_queue_in_flight'), 2);
      assert.ok(sample(text, 'chaos_lab_queue_oldest_age_seconds') > 0, text);
    } finally {
      await labCommand(dir, 'proxy', 'register');
    }
    // The worker waits for the circuit, then applies both (the recovery timeout is 2 s).
    await until('the queue drained', async () => {
      const { stats } = await queue(dir);
      return stats.depth === 0 && stats.inFlight === 0 && stats.deleted === 2;
    }, 30_000, 100);
    const s = await status(dir);
    assert.equal(s.recoveryWorker!.counters.committed, 2);
    assert.equal(s.recoveryWorker!.counters.deadLettered, 0);
    assert.deepEqual(keys, ['graceful-0', 'graceful-1']);
  });

  it('lists a body that is not an order among the dead letters with its reason, and `queue redrive` moves it back', async () => {
    // Put on the queue by hand, through the order-queue listener as an instance reaches it.
    const s = await status(dir);
    const environ = readFileSync(`/proc/${s.instances[0]!.pid}/environ`, 'utf8').split('\0');
    const url = environ.find((entry) => entry.startsWith('ORDER_QUEUE_URL='))!.slice('ORDER_QUEUE_URL='.length);
    const client = new PostgresQueue({ connection: { connectionString: url }, name: ORDER_QUEUE_NAME });
    try {
      await client.send('this is not an order', { key: 'by-hand' });
    } finally {
      await client.close();
    }
    await until('the message dead-lettered', async () => (await queue(dir)).stats.deadLetters === 1, 15_000, 100);
    const listed = await labCommand(dir, 'queue');
    assert.match(listed.stdout, /dead letters 1/);
    assert.match(listed.stdout, /key by-hand {2}received 1x {2}dead-lettered .*: message body is not JSON/);

    const redriven = await labCommand(dir, 'queue', 'redrive');
    assert.equal(redriven.code, 0, redriven.stderr);
    assert.equal(redriven.stdout.trim(), 'moved 1 dead letter(s) back to the queue');
    // Back on the queue, received again, and dead-lettered again: it is still not an order.
    await until('the worker dead-lettering it again', async () => (await status(dir)).recoveryWorker!.counters.deadLettered === 2, 15_000, 100);
    assert.equal((await queue(dir)).deadLetters.length, 1);
    const bad = await labCommand(dir, 'queue', 'redrive', '--limit', '0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit must be an integer from 1 to 100000, got "0"/);
  });

  it('serves the queue\'s depth, in flight, dead letters and oldest age, and the worker\'s counters and restarts, on GET /metrics', async () => {
    // After the test before: the queue drained, the body that is not an order dead-lettered again.
    await until('the dead letter settled', async () => {
      const { stats } = await queue(dir);
      return stats.depth === 0 && stats.inFlight === 0;
    }, 15_000, 100);
    const text = await metrics();
    // Present, not merely 0 (sample() says 0 for a series that is missing).
    for (const name of ['chaos_lab_queue_up', 'chaos_lab_queue_depth', 'chaos_lab_queue_in_flight', 'chaos_lab_queue_dead_letters', 'chaos_lab_queue_oldest_age_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} gauge\n${name} \\S+$`, 'm'), name);
    }
    assert.equal(sample(text, 'chaos_lab_queue_up'), 1);
    assert.equal(sample(text, 'chaos_lab_queue_depth'), 0);
    assert.equal(sample(text, 'chaos_lab_queue_in_flight'), 0);
    assert.equal(sample(text, 'chaos_lab_queue_dead_letters'), 1);
    assert.equal(sample(text, 'chaos_lab_queue_oldest_age_seconds'), 0);
    const worker = (await status(dir)).recoveryWorker!;
    assert.equal(sample(text, 'chaos_lab_recovery_worker_up'), 1);
    assert.match(text, /^chaos_lab_recovery_worker_restarts_total 0$/m);
    assert.equal(sample(text, 'chaos_lab_recovery_worker_committed_total'), worker.counters.committed);
    assert.equal(sample(text, 'chaos_lab_recovery_worker_committed_total'), 2);
    assert.equal(sample(text, 'chaos_lab_recovery_worker_dead_lettered_total'), 2);
    assert.equal(sample(text, 'chaos_lab_recovery_worker_received_total'), worker.counters.received);
    // The load balancer's series are still there, before the lab's.
    assert.match(text, /^chaos_lb_healthy_host_count \d+$/m);
    assert.ok(text.indexOf('chaos_lb_healthy_host_count') < text.indexOf('chaos_lab_queue_up'));
  });

  it('stops the recovery worker and the services store with the lab', async () => {
    const s = await status(dir);
    const pids = [s.recoveryWorker!.pid!, ...s.instances.map((i) => i.pid!)];
    assert.match((await labCommand(dir, 'down')).stdout, /stopping the lab/);
    assert.notEqual(await Promise.race([up!.exited, delay(30_000, 'timeout')]), 'timeout', 'up exited');
    assert.deepEqual(await waitUntilGone(pids, 10_000), []);
    assert.deepEqual(await waitUntilGone(family, 10_000), []);
  });
});
