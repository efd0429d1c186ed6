import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { Coalescer } from '../resilience/coalesce.ts';
import secureJson from 'secure-json-parse';
import type { ShopConfig } from './config.ts';
import { isConnectionError } from './database/connection-errors.ts';
import type { EndpointRole } from './database/queryable.ts';
import type { ShopDatabase } from './database/shop-database.ts';
import { errorBody, invalid, ShopError } from './errors.ts';
import type { SchemaInitializer } from './initializer.ts';
import type { ShopMetrics } from './metrics.ts';
import { parseId, parseIdempotencyKey, parseOrderRequest } from './validation.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What served the answer, for metrics: 'database' or 'none'. */
    source: string;
  }
}

/** What the shop's HTTP app is built from. */
export interface ShopAppDependencies {
  config: ShopConfig;
  database: ShopDatabase;
  initializer: SchemaInitializer;
  metrics: ShopMetrics;
}

// Named statements are prepared once per connection and reused: no parse and plan per request.
const LIST_PRODUCTS: QueryConfig = {
  name: 'list-products',
  text: 'SELECT id, name, price::float8 AS price, stock FROM products ORDER BY id',
};
const GET_PRODUCT = 'SELECT id, name, price::float8 AS price, stock FROM products WHERE id = $1';
const GET_ORDER = `
  SELECT o.id AS order_id, o.product_id, p.name AS product_name, o.quantity, o.total::float8 AS total, o.status,
         to_char(o.created_at, 'YYYY-MM-DD HH24:MI:SS.US') AS created_at
  FROM orders o JOIN products p ON p.id = o.product_id WHERE o.id = $1`;
const PLACE_ORDER = 'SELECT http_status, body, replayed FROM place_order($1, $2, $3, $4)';

// Prefix of the keys the resilient strategy gives orders that came without one, so that its
// own retries can never place an order twice.
const INTERNAL_KEY_PREFIX = 'chaos-lab-retry:';

const productSchema = {
  type: 'object',
  properties: { id: { type: 'integer' }, name: { type: 'string' }, price: { type: 'number' }, stock: { type: 'integer' } },
} as const;

/** Builds the Chaos Shop HTTP app (Article 1's API) over a database strategy. */
export function buildShopApp({ config, database, initializer, metrics }: ShopAppDependencies): FastifyInstance {
  const app = Fastify({ bodyLimit: config.bodyLimitBytes, logger: false, return503OnClosing: true });
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

  /** Runs a statement, turning failures into a JSON 5xx that carries the driver's message. */
  async function query<R extends QueryResultRow>(
    request: FastifyRequest,
    role: EndpointRole,
    statement: QueryConfig,
    run: () => Promise<QueryResult<R>> = () => database.query<R>(role, statement),
  ) {
    if (!initializer.ready) {
      const state = initializer.state;
      const lastError = 'lastError' in state ? state.lastError : undefined;
      throw new ShopError(503, 'DB_NOT_READY', `database not initialised yet${lastError ? `: ${lastError}` : ''}`);
    }
    request.source = 'database';
    try {
      return await run();
    } catch (error) {
      const kind = isConnectionError(error) ? 'connection' : 'statement';
      metrics.databaseErrors.inc({ role, kind });
      throw new ShopError(500, 'DB_ERROR', (error as Error).message || 'database error');
    }
  }

  // Concurrent product listings share one query (never an older one than the request: see
  // Coalescer). Under load this halves the shop's CPU per listing; at the articles' few
  // requests per second every request still gets a query of its own.
  const productList = new Coalescer<QueryResult<QueryResultRow>>(() => database.query('reader', LIST_PRODUCTS));

  app.get('/', async () => ({
    service: 'chaos-shop',
    instance_id: config.instanceId,
    availability_zone: config.availabilityZone,
    private_ip: config.privateIp,
    status: 'running',
    strategy: config.strategy,
  }));

  // Shallow: touches no dependency, so a database blip never takes instances out of rotation.
  app.get('/health', async () => ({ status: 'healthy' }));

  app.get('/health/deep', async (request, reply) => {
    request.source = 'database';
    const started = performance.now();
    try {
      await database.ping();
      return { status: 'healthy', database: 'connected', latency_ms: elapsedMs(started) };
    } catch (error) {
      metrics.databaseErrors.inc({ role: 'writer', kind: isConnectionError(error) ? 'connection' : 'statement' });
      return reply.code(500).send({ status: 'unhealthy', database: 'error', error: (error as Error).message });
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
            },
          },
        },
      },
    },
    async (request) => {
      const started = performance.now();
      const { rows } = await query(request, 'reader', LIST_PRODUCTS, () => productList.run());
      return { products: rows, count: rows.length, db_latency_ms: elapsedMs(started), served_by: config.instanceId, source: 'database' };
    },
  );

  app.get<{ Params: { id: string } }>('/products/:id', async (request) => {
    const id = parseId(request.params.id, 'product');
    const { rows } = await query(request, 'reader', { name: 'get-product', text: GET_PRODUCT, values: [id] });
    if (rows.length === 0) throw new ShopError(404, 'PRODUCT_NOT_FOUND', 'product not found', { product_id: id });
    return rows[0];
  });

  app.post('/orders', async (request, reply) => {
    const order = parseOrderRequest(request.body);
    const clientKey = parseIdempotencyKey(request.headers['idempotency-key']);
    const key = clientKey ?? (database.retriesStatements ? `${INTERNAL_KEY_PREFIX}${randomUUID()}` : null);
    const { rows } = await query<{ http_status: number; body: string; replayed: boolean }>(request, 'writer', {
      name: 'place-order',
      text: PLACE_ORDER,
      values: [order.productId, order.quantity, key, config.instanceId],
    });
    const result = rows[0];
    if (!result) throw new ShopError(500, 'DB_ERROR', 'place_order returned no row');
    if (result.replayed && clientKey !== undefined) reply.header('idempotent-replayed', 'true');
    return reply.code(result.http_status).type('application/json; charset=utf-8').send(result.body);
  });

  app.get<{ Params: { id: string } }>('/orders/:id', async (request) => {
    const id = parseId(request.params.id, 'order');
    const statement = { name: 'get-order', text: GET_ORDER, values: [id] };
    let { rows } = await query(request, 'reader', statement);
    // Read your writes: an order just placed may not have reached the reader yet.
    if (rows.length === 0 && config.reader !== config.writer) ({ rows } = await query(request, 'writer', statement));
    if (rows.length === 0) throw new ShopError(404, 'ORDER_NOT_FOUND', 'order not found', { order_id: id });
    return rows[0];
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.setNotFoundHandler(async (request) => {
    throw new ShopError(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  app.setErrorHandler(async (error: FastifyError | ShopError, _request, reply) => {
    if (error instanceof ShopError) return reply.code(error.statusCode).send(errorBody(error));
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
