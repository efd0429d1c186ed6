// Article 3's connection patterns (the naive and resilient presets) and Article 4's initialisation lesson, against a real
// PostgreSQL server that is restarted, stopped and started late under the shop.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../src/lab/net/free-port.ts';
import { PostgresServer } from '../src/lab/postgres/postgres-server.ts';
import { resolvePatterns } from '../src/shop/patterns.ts';
import { startShop } from '../src/shop/shop-instance.ts';
import { within } from './helpers/deadline.ts';
import { call, startTestShop, usePostgres, withClient } from './helpers/lab.ts';
import { descendants, killFamily, waitUntilGone } from './helpers/processes.ts';

const postgres = usePostgres();

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the time it took. */
async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now() - started;
    await delay(50);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('naive patterns (Article 3 BEFORE)', () => {
  it('breaks when the database restarts and stays broken, while /health still answers', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { patterns: resolvePatterns('naive') });
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      await server.restart('fast');
      // The database is back and accepts new connections, but the instance's one connection is dead.
      await withClient(shop.config.writer, (c) => c.query('SELECT 1'));
      for (let i = 0; i < 5; i++) {
        const products = await call(shop.url, 'GET', '/products');
        assert.equal(products.status, 500);
        assert.equal(products.body['code'], 'DB_ERROR');
        await delay(200);
      }
      const order = await call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 1 });
      assert.equal(order.status, 500);
      const deep = await call(shop.url, 'GET', '/health/deep');
      assert.equal(deep.status, 500);
      assert.equal(deep.body['status'], 'unhealthy');
      assert.equal(deep.body['database'], 'error');
      assert.equal(typeof deep.body['error'], 'string');
      assert.equal((await call(shop.url, 'GET', '/health')).status, 200, 'the shallow check never touches the database');
    } finally {
      await shop.close();
    }
  });
});

describe('resilient patterns (Article 3 AFTER)', () => {
  it('recovers by itself after the database restarts', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { patterns: resolvePatterns('resilient') });
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      await server.restart('fast');
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      assert.equal((await call(shop.url, 'POST', '/orders', { product_id: 1, quantity: 1 })).status, 201);
      assert.equal((await call(shop.url, 'GET', '/health/deep')).status, 200);
    } finally {
      await shop.close();
    }
  });

  it('rides through a short outage within its retry budget (0.5 s + 1 s + 2 s), placing each order once', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { patterns: resolvePatterns('resilient') });
    try {
      assert.equal((await call(shop.url, 'GET', '/products')).status, 200);
      // fast, not immediate: no crash recovery at the next start, so the timing below holds on a busy machine.
      await server.stop('fast');
      const started = Date.now();
      const read = call(shop.url, 'GET', '/products');
      const write = call(shop.url, 'POST', '/orders', { product_id: 2, quantity: 3 });
      await delay(1000);
      await server.start();
      const [readResult, writeResult] = await Promise.all([read, write]);
      assert.equal(readResult.status, 200);
      assert.equal(writeResult.status, 201);
      assert.ok(Date.now() - started < 3500 + 1000, 'answered within the retry budget');
      const orders = await withClient(shop.config.writer, async (c) => (await c.query('SELECT count(*)::int AS n FROM orders WHERE product_id = 2')).rows[0].n);
      assert.equal(orders, 1);
      const metrics = await (await fetch(`${shop.url}/metrics`)).text();
      assert.match(metrics, /chaos_shop_database_retries_total\{[^}]*role="writer"[^}]*\} [1-9]/);
    } finally {
      await shop.close();
    }
  });

  it('gives up after three retries when the database stays away, with a JSON 500', async () => {
    const server = postgres();
    const shop = await startTestShop(server, { patterns: resolvePatterns({ preset: 'resilient', retry: { delaysMs: [50, 100, 200] } }) });
    try {
      await server.stop('fast');
      const started = Date.now();
      const products = await call(shop.url, 'GET', '/products');
      assert.equal(products.status, 500);
      assert.equal(products.body['code'], 'DB_ERROR');
      assert.ok(Date.now() - started >= 350, 'waited through the three backoffs');
      const metrics = await (await fetch(`${shop.url}/metrics`)).text();
      assert.match(metrics, /chaos_shop_database_retries_total\{[^}]*role="reader"[^}]*\} 3/);
    } finally {
      await shop.close();
      await server.start();
    }
  });
});

describe('initialisation (Article 4)', () => {
  for (const preset of ['naive', 'resilient'] as const) {
    it(`serves /health at once and picks up a database that comes up late, without a restart (${preset})`, async () => {
      const port = await freePort();
      const late = await PostgresServer.create({ port });
      const shop = await startShop({
        patterns: resolvePatterns({ preset, initialisation: { mode: 'background', initialDelayMs: 100, maxDelayMs: 400 } }),
        writer: late.connectionConfig(),
      });
      try {
        assert.equal((await call(shop.url, 'GET', '/health')).status, 200);
        const early = await call(shop.url, 'GET', '/products');
        assert.equal(early.status, 503);
        assert.equal(early.body['code'], 'DB_NOT_READY');
        await delay(500);
        await late.start();
        await waitFor(async () => (await call(shop.url, 'GET', '/products')).status === 200, 5000);
        assert.ok(shop.initializer.state.attempts > 1, 'initialisation was retried');
      } finally {
        await shop.close();
        await late.destroy();
      }
    });
  }

  it("with initialisation once, a database that comes up late is never initialised and every request fails on the missing tables (Article 4's 500 forever)", async () => {
    const port = await freePort();
    const late = await PostgresServer.create({ port });
    const shop = await startShop({ writer: late.connectionConfig(), patterns: resolvePatterns({ initialisation: { mode: 'once' } }) });
    try {
      await shop.whenInitialised();
      assert.equal(shop.initializer.state.status, 'failed');
      await late.start();
      // The connection now succeeds, but nothing ever creates the tables: the article's app said
      // "will retry on first request" and never did, so the requests go through and fail.
      for (let i = 0; i < 3; i++) {
        const products = await call(shop.url, 'GET', '/products');
        assert.equal(products.status, 500, JSON.stringify(products.body));
        assert.equal(products.body['code'], 'DB_ERROR');
        assert.match(String(products.body['error']), /relation "products" does not exist/);
      }
      assert.equal(shop.initializer.state.status, 'failed');
      assert.equal(shop.initializer.state.attempts, 1);
    } finally {
      await shop.close();
      await late.destroy();
    }
  });
});

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const SHOP_MAIN = fileURLToPath(new URL('../src/shop/main.ts', import.meta.url));
const execute = promisify(execFile);

/** Runs a command to its end (bounded), with its exit code and output. */
async function exec(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execute(process.execPath, args, { timeout: 20_000, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('patterns at the edges: --patterns and SHOP_PATTERNS', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-patterns-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('chaos-lab shop refuses a bad --patterns (JSON text, a file, an unknown preset) with exit 2, naming the field and the value', async () => {
    const json = await exec([CLI, 'shop', '--patterns', '{"circuitBreaker":{"mode":"local","failureThreshold":-1}}']);
    assert.equal(json.code, 2, json.stderr);
    assert.match(json.stderr, /--patterns: patterns\.circuitBreaker\.failureThreshold: must be >= 1, got -1/);
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'preset: resilient\nretry: { delaysMs: [500, -1] }\n');
    const fromFile = await exec([CLI, 'shop', '--patterns', file]);
    assert.equal(fromFile.code, 2, fromFile.stderr);
    assert.ok(fromFile.stderr.includes(`--patterns ${file}: patterns.retry.delaysMs[1]: must be >= 0, got -1`), fromFile.stderr);
    const unknown = await exec([CLI, 'shop', '--patterns', 'paranoid']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--patterns must be a preset \(naive, resilient, resilient-breaker, graceful, coupled, isolated, isolated-stale\), JSON text .*, got "paranoid"/);
    const recovery = await exec([CLI, 'shop', '--patterns', 'resilient-breaker'], { ...process.env, CB_RECOVERY_TIMEOUT: '-5' });
    assert.equal(recovery.code, 2, recovery.stderr);
    assert.match(recovery.stderr, /CB_RECOVERY_TIMEOUT: must be a number of seconds above 0 and at most 3600 \(e\.g\. 30\), got "-5"/);
    // Article 7's patterns are checked like the others: the field and the value named.
    const badPools = await exec([CLI, 'up', '--patterns', '{"workerPools":{"mode":"shared","workers":0}}', '--dir', join(dir, 'lab')]);
    assert.equal(badPools.code, 2);
    assert.match(badPools.stderr, /patterns\.workerPools\.workers: must be >= 1, got 0/);
    const badBuffer = await exec([CLI, 'up', '--patterns', '{"writeBuffer":{"mode":"kafka"}}', '--dir', join(dir, 'lab')]);
    assert.equal(badBuffer.code, 2);
    assert.match(badBuffer.stderr, /patterns\.writeBuffer\.mode: must be one of off, queue, got "kafka"/);
  });

  it('--strategy is a usage error that says to use --patterns', async () => {
    for (const command of ['shop', 'up']) {
      const { code, stderr } = await exec([CLI, command, '--strategy', 'naive', '--dir', join(dir, 'lab')].slice(0, command === 'shop' ? 4 : 6));
      assert.equal(code, 2, stderr);
      assert.match(stderr, /--strategy is gone: use --patterns naive\|resilient/);
    }
  });

  it('chaos-lab shop runs the patterns of a --patterns file, and GET / names them', async () => {
    const file = join(dir, 'tuned.json');
    await writeFile(file, JSON.stringify({ preset: 'naive', queryTimeoutMs: 2000 }));
    const child = spawn(process.execPath, [CLI, 'shop', '--patterns', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pids = [child.pid!];
    try {
      const lines = createInterface({ input: child.stdout! });
      const url = await within(60_000, 'the shop starting', (async () => {
        for await (const line of lines) {
          const match = /^Chaos Shop \(patterns (\S+), instance \S+\) at (\S+)$/.exec(line);
          if (match) {
            assert.equal(match[1], 'custom');
            return match[2]!;
          }
        }
        throw new Error('the shop exited before it was ready');
      })());
      pids.push(...descendants(child.pid!));
      const root = await call(url, 'GET', '/');
      assert.equal(root.body['patterns'], 'custom');
      assert.equal((await call(url, 'GET', '/products')).status, 200);
      child.kill('SIGTERM');
      const [code] = (await within(20_000, 'the shop stopping', once(child, 'exit'))) as [number | null];
      assert.equal(code, 0);
      assert.deepEqual(await waitUntilGone(pids, 10_000), [], 'the shop and its PostgreSQL are gone');
    } finally {
      await killFamily(child.pid!, pids);
    }
  });

  it('an instance process refuses a malformed SHOP_PATTERNS with exit 2, naming the field, and never re-defaults it', async () => {
    const env = { PATH: process.env['PATH'] ?? '', DB_WRITER_URL: 'postgresql://postgres:x@127.0.0.1:1/chaos_shop' };
    const resilient = resolvePatterns('resilient');
    const cases: Array<[string, string, RegExp]> = [
      ['a pool of zero', JSON.stringify({ ...resilient, connection: { kind: 'pool', size: 0, validateAfterIdleMs: 1000 } }), /SHOP_PATTERNS\.connection\.size: must be >= 1, got 0/],
      ['not JSON', '{connection: pool}', /SHOP_PATTERNS: must be the resolved patterns as JSON/],
      // A preset name is an input, not a resolved value: the edge resolves it, the instance does not.
      ['a preset name', JSON.stringify('resilient'), /SHOP_PATTERNS: must be /],
      ['a field left to default', JSON.stringify({ ...resilient, retry: undefined }), /SHOP_PATTERNS\.retry: is required/],
      // A shared breaker with nowhere to keep its state would silently be a local one.
      ['a shared breaker without SERVICES_STORE_URL', JSON.stringify({ ...resilient, circuitBreaker: { mode: 'shared', failureThreshold: 3, recoveryTimeoutMs: 30000 } }), /patterns\.circuitBreaker\.mode: shared keeps the breaker's state in the lab's services store, and this shop was given none/],
      ['a store address in SHOP_PATTERNS', JSON.stringify({ ...resilient, circuitBreaker: { mode: 'shared', failureThreshold: 3, recoveryTimeoutMs: 30000, store: { host: '127.0.0.1', port: 1 } } }), /SHOP_PATTERNS\.circuitBreaker\.store: is not a pattern/],
    ];
    const breaker = JSON.stringify(resolvePatterns('resilient-breaker'));
    cases.push(['a bad CB_RECOVERY_TIMEOUT', breaker, /CB_RECOVERY_TIMEOUT: must be a number of seconds above 0 and at most 3600 \(e\.g\. 30\), got "30s"/]);
    for (const [what, value, expected] of cases) {
      const extra = what === 'a bad CB_RECOVERY_TIMEOUT' ? { CB_RECOVERY_TIMEOUT: '30s' } : {};
      const { code, stderr } = await exec([SHOP_MAIN], { ...env, SHOP_PATTERNS: value, ...extra });
      assert.equal(code, 2, `${what}: ${stderr}`);
      assert.match(stderr, expected, what);
    }
    const old = await exec([SHOP_MAIN], { ...env, STRATEGY: 'naive' });
    assert.equal(old.code, 2);
    assert.match(old.stderr, /STRATEGY is no longer read: set SHOP_PATTERNS/);
    // Initialisation is a pattern now: the old variable is refused, naming the pattern to set.
    const initMode = await exec([SHOP_MAIN], { ...env, INIT_MODE: 'once' });
    assert.equal(initMode.code, 2);
    assert.match(initMode.stderr, /INIT_MODE is no longer read: initialisation is a pattern, set SHOP_PATTERNS' initialisation\.mode \(once or background/);
    // A cache or a queue with no way into the store would silently be no pattern at all.
    const graceful = JSON.stringify(resolvePatterns('graceful'));
    const store = { SERVICES_STORE_URL: 'postgresql://postgres:x@127.0.0.1:1/services' };
    const noCache = await exec([SHOP_MAIN], { ...env, ...store, ORDER_QUEUE_URL: store.SERVICES_STORE_URL, SHOP_PATTERNS: graceful });
    assert.equal(noCache.code, 2, noCache.stderr);
    assert.match(noCache.stderr, /patterns\.readCache\.mode: write-through keeps the product cache in the lab's services store, and this shop was given none \(readCacheStore, or READ_CACHE_URL/);
    const noQueue = await exec([SHOP_MAIN], { ...env, ...store, READ_CACHE_URL: store.SERVICES_STORE_URL, SHOP_PATTERNS: graceful });
    assert.equal(noQueue.code, 2, noQueue.stderr);
    assert.match(noQueue.stderr, /patterns\.writeBuffer\.mode: queue sends orders to the order queue in the lab's services store, and this shop was given none \(orderQueueStore, or ORDER_QUEUE_URL/);
  });
});
