// The worker pools' accounting at the HTTP edge, on the real app over stub ports (no database):
// every request takes exactly one worker and gives it back exactly once, whatever happens to it.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildShopApp } from './app.ts';
import { resolveShopConfig } from './config.ts';
import type { SchemaInitializer } from './initializer.ts';
import { ShopMetrics } from './metrics.ts';
import { resolvePatterns } from './patterns.ts';
import type { ShopPorts } from './ports.ts';
import { composeWorkerPools } from './worker-pools.ts';

const patterns = resolvePatterns({ workerPools: { mode: 'shared', workers: 1, backlog: 2 } });
const pools = composeWorkerPools(patterns.workerPools);
const main = pools.all()[0]!;

/** GET /products hangs until released: a request waiting on a dead dependency. */
let releaseListing: () => void = () => {};
const ports = {
  catalog: {
    listProducts: () =>
      new Promise((resolve) => {
        releaseListing = () => resolve({ value: [], source: 'database' });
      }),
    getProduct: async () => {
      throw new TypeError('a handler that throws');
    },
  },
  orders: {},
  health: { ping: async () => {} },
  reviews: { reviewsOf: async () => ({ value: [], source: 'store' }) },
  promo: { banner: async () => ({ value: { title: 't', text: 'x' }, source: 'store' }) },
} as unknown as ShopPorts;

let app: FastifyInstance;
let port = 0;

/** A request with its own client timeout: the status, or 0 when the client gave up. */
function send(method: string, path: string, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? -1));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve(0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function until(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(main.stats())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('worker pools at the HTTP edge', () => {
  before(async () => {
    const config = resolveShopConfig({ writer: { host: '127.0.0.1', port: 1, user: 'u', database: 'd' }, patterns });
    const initializer = { servesRequests: true, state: { status: 'ready' } } as unknown as SchemaInitializer;
    app = buildShopApp({ config, ports, initializer, metrics: new ShopMetrics({ instance_id: 'i-test' }), workerPools: pools });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(async () => {
    releaseListing();
    await app.close();
  });

  it('takes one worker per request and gives it back once: GET, HEAD, a handler that throws', async () => {
    assert.equal(await send('GET', '/health'), 200);
    assert.equal(await send('HEAD', '/health'), 200);
    assert.equal(await send('GET', '/products/13'), 500);
    assert.deepEqual(main.stats(), { busy: 0, waiting: 0, served: 3, refused: 0, abandoned: 0 });
  });

  it('serves no-route answers and /metrics beside the workers', async () => {
    assert.equal(await send('GET', '/nope'), 404);
    assert.equal(await send('GET', '/metrics'), 200);
    assert.equal(main.stats().served, 3);
  });

  it('drops a waiting request whose client went away, and keeps a running one on its worker until its handler ends', async () => {
    const held = send('GET', '/products', 5000);
    await until('the listing holding the worker', () => main.stats().busy === 1);
    // Waits in the backlog, then its client gives up: it leaves the backlog without running.
    assert.equal(await send('GET', '/health', 300), 0);
    await until('the abandoned request gone from the backlog', () => main.stats().waiting === 0);
    assert.equal(main.stats().abandoned, 1);
    releaseListing();
    assert.equal(await held, 200);
    // A client that goes away while its request runs: the worker stays held (as a sync worker's
    // would) until the handler ends, then is freed once.
    const gone = send('GET', '/products', 200);
    await until('the second listing running', () => main.stats().busy === 1);
    assert.equal(await gone, 0);
    assert.equal(main.stats().busy, 1);
    releaseListing();
    await until('the worker freed', () => main.stats().busy === 0);
    assert.equal(await send('GET', '/health'), 200);
    assert.deepEqual(main.stats(), { busy: 0, waiting: 0, served: 6, refused: 0, abandoned: 1 });
  });
});
