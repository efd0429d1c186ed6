import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { CircuitOpenError } from '../resilience/circuit-breaker/index.ts';
import type { ShopConfig } from './config.ts';
import { errorBody, invalid, ShopError } from './errors.ts';
import type { SchemaInitializer } from './initializer.ts';
import type { ShopMetrics } from './metrics.ts';
import { conflictsOf } from './order-request.ts';
import { patternsName } from './patterns.ts';
import { WorkersBusyError } from '../resilience/bulkhead.ts';
import { DatabaseFailure, type OrderRequestStatus, type Served, type ShopPorts } from './ports.ts';
import { DependencyUnavailable, type SecondaryDependency } from './secondary-ports.ts';
import type { WorkerPools } from './worker-pools.ts';
import { describeValue, MAX_INT4, MAX_KEY_LENGTH, parseId, parseIdempotencyKey, parseOrderRequest, parseRequestKey } from './validation.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What served the answer, for metrics: 'database', 'store' (a secondary dependency's), 'cache' (the read cache), 'queue' (the write buffer) or 'none'. */
    source: string;
  }
}

/** What the shop's HTTP app is built from. */
export interface ShopAppDependencies {
  config: ShopConfig;
  /** The domain ports the routes talk to, already wrapped as the patterns say (composePorts). */
  ports: ShopPorts;
  initializer: SchemaInitializer;
  metrics: ShopMetrics;
  /** The worker pools (patterns.workerPools); absent or off: every request is served at once. */
  workerPools?: WorkerPools;
}

const productSchema = {
  type: 'object',
  properties: { id: { type: 'integer' }, name: { type: 'string' }, price: { type: 'number' }, stock: { type: 'integer' } },
} as const;

/** Builds the Chaos Shop HTTP app (Article 1's API) over the shop's ports. */
export function buildShopApp({ config, ports, initializer, metrics, workerPools }: ShopAppDependencies): FastifyInstance {
  // maxParamLength: an order request's key is an Idempotency-Key (up to 255 characters, up to 765 percent-encoded).
  const app = Fastify({
    bodyLimit: config.bodyLimitBytes,
    logger: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The router's own refusals (a path parameter past maxParamLength, a bad percent-encoding) never reach
    // setErrorHandler: without this Fastify answers them in its own shape ({error: "Bad Request", message, statusCode}).
    // They skip the onResponse hook too (no route context), so they are counted here.
    frameworkErrors: (error, request, reply) => {
      const answer = routerError(error, request.url);
      metrics.requests.inc({ method: request.method, route: 'unmatched', status: answer.statusCode, source: 'none' });
      // The handler's reply type is generic over a route schema it has none of here.
      void (reply as FastifyReply).code(answer.statusCode).send(errorBody(answer));
    },
  });
  app.decorateRequest('source', 'none');
  // Only JSON bodies: anything else is 415. Our own parser, for messages that say what is wrong.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, parseJsonBody(text as string));
    } catch (error) {
      done(error as ShopError, undefined);
    }
  });

  /**
   * Runs a port call that reaches the database: 503 until the schema is initialised (in mode
   * once, not after its failure: see SchemaInitializer.servesRequests); a database failure becomes
   * a JSON 500 that carries the driver's message, counted by role and kind; a call the circuit
   * breaker refused becomes 503 CIRCUIT_OPEN at once. With the read cache or the write buffer on,
   * those failures reach here only when the fallback could not answer either (its ShopError: 503
   * CACHE_EMPTY, CACHE_UNAVAILABLE, QUEUE_UNAVAILABLE) or were not an outage (a statement error).
   */
  async function fromDatabase<T>(request: FastifyRequest, call: () => Promise<T>): Promise<T> {
    if (!initializer.servesRequests) {
      const state = initializer.state;
      const lastError = 'lastError' in state ? state.lastError : undefined;
      throw new ShopError(503, 'DB_NOT_READY', `database not initialised yet${lastError ? `: ${lastError}` : ''}`);
    }
    request.source = 'database';
    try {
      return await call();
    } catch (error) {
      if (error instanceof ShopError) {
        request.source = 'none';
        throw error;
      }
      if (error instanceof CircuitOpenError) {
        request.source = 'none';
        throw new ShopError(503, 'CIRCUIT_OPEN', CIRCUIT_OPEN_MESSAGE[error.state]);
      }
      if (!(error instanceof DatabaseFailure)) throw error;
      metrics.databaseErrors.inc({ role: error.role, kind: error.kind });
      throw new ShopError(500, 'DB_ERROR', error.message);
    }
  }

  const patterns = patternsName(config.patterns);

  // Article 7's worker pools: each route's handler runs on a worker of its pool, held until the
  // handler is done, as a sync worker is held for a whole request (the routes are wrapped as they
  // are registered, below). A request still waiting for a worker when its client goes away leaves
  // the backlog without running.
  if (workerPools) {
    app.addHook('onRoute', (route) => {
      const pool = workerPools.forRoute(route.url ?? '');
      if (!pool) return;
      const handler = route.handler as (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;
      route.handler = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
        return pool.run(async () => handler.call(this, request, reply), abandonSignal(reply));
      };
    });
  }

  /**
   * Runs a secondary dependency's port call: the answer says where it came from (the store, or
   * the read cache when the stale fallback answered); a dependency that did not answer is the
   * article's fast 503 "reviews temporarily unavailable", with the reason.
   */
  async function fromDependency<T>(request: FastifyRequest, dependency: SecondaryDependency, call: () => Promise<Served<T>>): Promise<Served<T>> {
    try {
      const served = await call();
      request.source = served.source;
      return served;
    } catch (error) {
      if (!(error instanceof DependencyUnavailable)) throw error;
      metrics.dependencyFailures.inc({ dependency, configured: String(error.configured) });
      const code = `${dependency.toUpperCase()}_${error.configured ? 'UNAVAILABLE' : 'NOT_CONFIGURED'}`;
      throw new ShopError(503, code, `${dependency} temporarily unavailable`, { reason: error.reason });
    }
  }

  /** Whether a product may exist: false only when the catalog says it does not (a catalog that cannot tell must not fail the reviews). */
  async function productMayExist(id: number): Promise<boolean> {
    if (!initializer.servesRequests) return true;
    try {
      return (await ports.catalog.getProduct(id)).value !== undefined;
    } catch {
      return true;
    }
  }

  app.get('/', async () => ({
    service: 'chaos-shop',
    instance_id: config.instanceId,
    availability_zone: config.availabilityZone,
    private_ip: config.privateIp,
    status: 'running',
    patterns,
  }));

  // Shallow: touches no dependency, so a database blip never takes instances out of rotation.
  app.get('/health', async () => ({ status: 'healthy' }));

  app.get('/health/deep', async (request, reply) => {
    request.source = 'database';
    const started = performance.now();
    try {
      await ports.health.ping();
      return { status: 'healthy', database: 'connected', latency_ms: elapsedMs(started) };
    } catch (error) {
      if (!(error instanceof DatabaseFailure)) throw error;
      metrics.databaseErrors.inc({ role: error.role, kind: error.kind });
      return reply.code(500).send({ status: 'unhealthy', database: 'error', error: error.message });
    }
  });

  app.get(
    '/products',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              products: { type: 'array', items: productSchema },
              count: { type: 'integer' },
              db_latency_ms: { type: 'number' },
              served_by: { type: 'string' },
              source: { type: 'string' },
              cache_age_ms: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request) => {
      const started = performance.now();
      const served = await fromDatabase(request, () => ports.catalog.listProducts());
      request.source = served.source;
      const rows = served.value;
      const answer = { products: rows, count: rows.length, db_latency_ms: elapsedMs(started), served_by: config.instanceId, source: served.source };
      // Article 4's "source": "cache", with how old the entry is: stale data, and the customer can tell.
      return served.source === 'cache' ? { ...answer, cache_age_ms: served.ageMs ?? 0 } : answer;
    },
  );

  app.get<{ Params: { id: string } }>('/products/:id', async (request) => {
    const id = parseId(request.params.id, 'product');
    const served = await fromDatabase(request, () => ports.catalog.getProduct(id));
    request.source = served.source;
    const product = served.value;
    if (product === undefined) throw new ShopError(404, 'PRODUCT_NOT_FOUND', 'product not found', { product_id: id });
    // Article 1's shape plus where it came from (Article 4: database reads say so, cache reads give their age).
    return served.source === 'cache' ? { ...product, source: 'cache', cache_age_ms: served.ageMs ?? 0 } : { ...product, source: 'database' };
  });

  // Article 7: the reviews (a key-value table, DynamoDB there). No reviews and no such product: 404, as for the product.
  app.get<{ Params: { id: string } }>('/products/:id/reviews', async (request) => {
    const id = parseId(request.params.id, 'product');
    const served = await fromDependency(request, 'reviews', () => ports.reviews.reviewsOf(id));
    if (served.value.length === 0 && !(await productMayExist(id))) throw new ShopError(404, 'PRODUCT_NOT_FOUND', 'product not found', { product_id: id });
    return withSource({ product_id: id, reviews: served.value }, served);
  });

  // Article 7: the promo banner (an object in a bucket, S3 there).
  app.get('/promo', async (request) => {
    const served = await fromDependency(request, 'promo', () => ports.promo.banner());
    return withSource({ banner: served.value }, served);
  });

  app.post('/orders', async (request, reply) => {
    const order = parseOrderRequest(request.body);
    const idempotencyKey = parseIdempotencyKey(request.headers['idempotency-key']);
    const result = await fromDatabase(request, () => ports.orders.placeOrder({ ...order, idempotencyKey }));
    if (result.queued) request.source = 'queue';
    if (result.replayed && idempotencyKey !== undefined) reply.header('idempotent-replayed', 'true');
    return reply.code(result.httpStatus).type('application/json; charset=utf-8').send(result.body);
  });

  // Where a 202 (or any keyed order) stands: a 202 that cannot be followed up is a dead end for a customer.
  app.get<{ Params: { key: string } }>('/orders/requests/:key', async (request) => {
    const key = parseRequestKey(request.params.key);
    const found = await fromDatabase(request, () => ports.orders.orderRequest(key));
    if (found === undefined) {
      throw new ShopError(404, 'ORDER_REQUEST_NOT_FOUND', 'no order request with this key: neither the database nor the order queue knows it', { idempotency_key: key });
    }
    return requestStatusBody(key, found);
  });

  app.get<{ Params: { id: string } }>('/orders/:id', async (request) => {
    const id = parseId(request.params.id, 'order');
    const found = await fromDatabase(request, () => ports.orders.getOrder(id));
    if (found === undefined) throw new ShopError(404, 'ORDER_NOT_FOUND', 'order not found', { order_id: id });
    return found;
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.setNotFoundHandler(async (request) => {
    throw new ShopError(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  app.setErrorHandler(async (error: FastifyError | ShopError, _request, reply) => {
    // Left the backlog with its client: an expected event, not an internal error (and nothing to send).
    if (error instanceof ClientGoneError) return reply.code(499).send({ error: error.message, code: error.code });
    if (error instanceof ShopError) return reply.code(error.statusCode).send(errorBody(error));
    if (error instanceof WorkersBusyError) return reply.code(503).send({ error: error.message, code: error.code, pool: error.pool });
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: error.message, code: error.code ?? 'BAD_REQUEST' });
    }
    return reply.code(500).send({ error: 'internal error', code: 'INTERNAL_ERROR' });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: reply.statusCode, source: request.source });
    metrics.requestDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  return app;
}

const CIRCUIT_OPEN_MESSAGE = {
  OPEN: 'database unavailable: the circuit breaker is open after consecutive database failures; the database was not called, try again later',
  HALF_OPEN: "database unavailable: the circuit breaker is testing the database with one trial call; the database was not called, try again later",
} as const;

/** A secondary dependency's answer: where it came from, and when it is the stale fallback's, how old (beyond Article 7). */
function withSource<T extends Record<string, unknown>>(body: T, served: Served<unknown>): T & Record<string, unknown> {
  if (served.source === 'cache') return { ...body, source: 'cache', stale: true, cache_age_ms: served.ageMs ?? 0 };
  return { ...body, source: served.source };
}

/** A request whose client closed its connection while it waited for a worker: it never ran, and nobody is there to answer. */
class ClientGoneError extends Error {
  readonly code = 'CLIENT_GONE';
  constructor() {
    super('the client closed the connection while the request waited for a worker');
    this.name = 'ClientGoneError';
  }
}

/** Aborts when the request's connection closes before its answer was sent: its client is gone. */
function abandonSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new ClientGoneError());
  });
  return controller.signal;
}

/** The follow-up endpoint's answer for one key: its own status, and the later orders refused for reusing it. */
function requestStatusBody(key: string, found: OrderRequestStatus): Record<string, unknown> {
  const conflicts = conflictsOf(found);
  const withConflicts = (body: Record<string, unknown>): Record<string, unknown> => (conflicts.length === 0 ? body : { ...body, conflicts });
  switch (found.status) {
    case 'confirmed':
      return withConflicts({ idempotency_key: key, status: 'confirmed', order: found.order });
    case 'rejected':
      return withConflicts({ idempotency_key: key, status: 'rejected', reason: found.reason, http_status: found.httpStatus, answer: found.answer });
    case 'pending':
      return found.deadLettered ? { idempotency_key: key, status: 'pending', dead_lettered: true } : { idempotency_key: key, status: 'pending' };
  }
}

/** The longest path parameter the router matches; a longer one is refused before any route runs. */
const MAX_PARAM_LENGTH = 1024;

/**
 * The shop's answer to an error the router raised before any route ran: a parameter too long for
 * maxParamLength names the parameter it was (the order request key, a product or order id), as
 * the route's own validation would; a path that is not valid percent-encoding is 400 INVALID_URL.
 */
function routerError(error: FastifyError, url: string): ShopError {
  const path = url.split('?')[0] ?? url;
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const segment = path.slice(path.lastIndexOf('/') + 1);
    const length = decodedLength(segment);
    if (path.startsWith('/orders/requests/')) {
      return invalid('INVALID_KEY', `order request key must be an Idempotency-Key: 1 to ${MAX_KEY_LENGTH} visible ASCII characters, got ${length} characters`, { length });
    }
    const what = path.startsWith('/products/') ? 'product' : path.startsWith('/orders/') ? 'order' : undefined;
    if (what !== undefined) return invalid('INVALID_ID', `${what} id must be a positive integer up to ${MAX_INT4}, got ${length} characters`, { length });
    return invalid('INVALID_URL', `a path segment is longer than ${MAX_PARAM_LENGTH} characters (${length})`, { length });
  }
  if (error.code === 'FST_ERR_BAD_URL') return invalid('INVALID_URL', `the path is not valid percent-encoding: ${describeValue(path)}`);
  return new ShopError(error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400, error.code ?? 'BAD_REQUEST', error.message);
}

/** A path segment's length once percent-decoded (its raw length when it does not decode). */
function decodedLength(segment: string): number {
  try {
    return decodeURIComponent(segment).length;
  } catch {
    return segment.length;
  }
}

/** Parses a JSON body, refusing empty bodies and prototype-poisoning keys (__proto__, constructor.prototype). */
function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw invalid('INVALID_JSON', 'request body is empty but content-type is application/json');
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const reason = (error as Error).message.includes('forbidden') ? 'it contains a forbidden __proto__ or constructor key' : (error as Error).message;
    throw invalid('INVALID_JSON', `request body is not valid JSON: ${reason}`);
  }
}

function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
