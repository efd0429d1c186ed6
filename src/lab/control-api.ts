import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { LiveFeed } from '../dashboard/live-feed.ts';
import { DASHBOARD_AUTH, registerDashboardRoutes } from '../dashboard/routes.ts';
import { QueueError } from '../services/queue/message-queue.ts';
import { ClusterError } from './cluster/postgres-cluster.ts';
import { FaultProxyApiError } from './fault-proxy/client.ts';
import type { FaultSpec } from './fault-proxy/fault-proxy.ts';
import { InstanceGroupError } from './fleet/instance-group.ts';
import type { Lab } from './lab.ts';
import { labMetricsText } from './lab-metrics.ts';
import { requireBearerToken } from './net/bearer-auth.ts';
import { jsonFrameworkErrors, jsonNotFound } from './net/json-api.ts';

const INSTANCE_ACTIONS = ['stop', 'kill', 'pause', 'resume', 'terminate'] as const;
// What a client may say about a fault. Not ownerPid: a fault set through the lab is leased to
// the lab's own process, so it lives as long as the lab and no longer; a client choosing the
// owner could tie it to PID 1 and make it outlive the lab's own cleanup.
const FAULT_FIELDS = ['dependency', 'type', 'params', 'direction', 'toxicity', 'durationMs'];

/**
 * The lab's control API, on loopback, behind a bearer token that `up` writes into the lab's
 * folder. Every operation answers with what it did.
 *
 *   GET  /status
 *   GET  /metrics  the load balancer's, the order queue's (depth, in flight, dead letters, oldest
 *                  age) and the recovery worker's (counters, restarts), in Prometheus text
 *   POST /instances/:id/(stop|kill|pause|resume|terminate)
 *   POST /failover
 *   POST /db-proxy/(deregister|register)
 *   GET  /faults   POST /faults {dependency, type, params?, durationMs?, direction?, toxicity?}   DELETE /faults
 *   GET  /queue    the order queue: settings, depth, in flight, dead letters (with their last error), oldest age
 *   POST /queue/redrive {limit?}   moves dead letters back to the queue: {moved}
 *   POST /down     stops the lab
 *
 * With a live feed (`up`): the live dashboard too, on the same port: GET / (the page) and GET
 * /events (its stream) take the token as `?token=` as well (a browser's EventSource sends no
 * header), GET /dashboard/:file (static files) needs none; every other route still wants the header.
 */
export function buildControlApi(lab: Lab, token: string, onDown: () => void, dashboard?: LiveFeed): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // A URL Fastify cannot route (bad %-encoding, too long an id) answers in this API's shape too.
    frameworkErrors: jsonFrameworkErrors,
  });
  requireBearerToken(app, token, 'see the token file in the lab folder', dashboard ? DASHBOARD_AUTH : {});
  if (dashboard) registerDashboardRoutes(app, dashboard);

  app.get('/status', async () => lab.status());
  // The load balancer's metrics in Prometheus text (healthy/unhealthy host counts, requests by
  // status), then the lab's own: the order queue and the recovery worker, when it runs them.
  app.get('/metrics', async (_request, reply) => {
    const [balancer, own] = await Promise.all([lab.loadBalancer.registry.metrics(), labMetricsText(lab)]);
    const separator = balancer === '' || balancer.endsWith('\n') ? '' : '\n';
    return reply.type(lab.loadBalancer.registry.contentType).send(`${balancer}${separator}${own}`);
  });

  app.post<{ Params: { id: string; action: string } }>('/instances/:id/:action', async (request, reply) => {
    const { id, action } = request.params;
    if (!(INSTANCE_ACTIONS as readonly string[]).includes(action)) {
      return reply.code(400).send({ error: `instance action must be one of ${INSTANCE_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`, code: 'INVALID_ACTION' });
    }
    const instance = lab.group[action as (typeof INSTANCE_ACTIONS)[number]](id);
    return { action, instance };
  });

  app.post('/failover', async () => {
    const { readerRebuilt, ...result } = await lab.cluster.failover();
    readerRebuilt.catch(() => {});
    return result;
  });

  app.post<{ Params: { action: string } }>('/db-proxy/:action', async (request, reply) => {
    if (request.params.action === 'deregister') return lab.databaseProxy.deregister();
    if (request.params.action === 'register') return lab.databaseProxy.register();
    return reply.code(400).send({ error: `db-proxy action must be deregister or register, got ${JSON.stringify(request.params.action)}`, code: 'INVALID_ACTION' });
  });

  app.get('/faults', async () => lab.faultProxy.client.faults());
  app.post<{ Body: FaultSpec & { dependency?: unknown } }>('/faults', async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return reply.code(400).send({ error: 'request body must be a JSON object', code: 'INVALID_BODY' });
    if ('ownerPid' in body) {
      return reply.code(400).send({ error: `ownerPid cannot be chosen: a fault set through the lab is leased to the lab itself, got ${JSON.stringify(body.ownerPid)}`, code: 'INVALID_FIELD' });
    }
    const unknown = Object.keys(body).find((field) => !FAULT_FIELDS.includes(field));
    if (unknown !== undefined) {
      return reply.code(400).send({ error: `a fault has no field ${JSON.stringify(unknown)} (it takes ${FAULT_FIELDS.join(', ')})`, code: 'INVALID_FIELD' });
    }
    const { dependency, ...spec } = body;
    // The dependencies this lab has: the services store's only when it runs one (every lab, unless started without it).
    const names = lab.dependencies.map((d) => d.name);
    if (typeof dependency !== 'string' || !names.includes(dependency)) {
      return reply.code(400).send({ error: `dependency must be one of ${names.join(', ')}, got ${JSON.stringify(dependency)}`, code: 'INVALID_DEPENDENCY' });
    }
    // Leased to the lab's own process: the fault outlives the command that asked for it, not the lab.
    return reply.code(201).send(await lab.faultProxy.client.addFault(dependency, spec));
  });
  app.delete('/faults', async () => lab.faultProxy.client.clearFaults());

  // The order queue, in a lab whose patterns buffer writes; 409 NO_QUEUE in any other.
  app.get('/queue', async (_request, reply) => {
    const status = await lab.queueStatus();
    if (!status) return noQueue(reply);
    return { ...status, deadLetters: (await lab.deadLetters(DEAD_LETTERS_SHOWN)) ?? [] };
  });
  app.post<{ Body: unknown }>('/queue/redrive', async (request, reply) => {
    if (!lab.queue) return noQueue(reply);
    const body = request.body ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return reply.code(400).send({ error: 'request body must be a JSON object', code: 'INVALID_BODY' });
    const unknown = Object.keys(body).find((field) => field !== 'limit');
    if (unknown !== undefined) return reply.code(400).send({ error: `redrive has no field ${JSON.stringify(unknown)} (it takes limit)`, code: 'INVALID_FIELD' });
    const { limit } = body as { limit?: unknown };
    if (limit !== undefined && !(typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 && limit <= 100_000)) {
      return reply.code(400).send({ error: `limit must be an integer from 1 to 100000, got ${JSON.stringify(limit)}`, code: 'INVALID_FIELD' });
    }
    return lab.queue.redrive(limit === undefined ? {} : { limit });
  });

  app.post('/down', async () => {
    setImmediate(onDown);
    return { stopping: true };
  });

  app.setNotFoundHandler(jsonNotFound);
  app.setErrorHandler(async (error: FastifyError | Error, _request, reply) => {
    if (error instanceof InstanceGroupError) return reply.code(error.code === 'NO_SUCH_INSTANCE' ? 404 : 409).send({ error: error.message, code: error.code });
    if (error instanceof ClusterError) return reply.code(409).send({ error: error.message, code: error.code });
    if (error instanceof FaultProxyApiError) return reply.code(error.status).send({ error: error.message, code: error.code });
    if (error instanceof QueueError) return reply.code(error.code === 'INVALID_ARGUMENT' ? 400 : 503).send({ error: error.message, code: error.code });
    const status = (error as FastifyError).statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message, code: (error as FastifyError).code ?? 'BAD_REQUEST' });
    return reply.code(500).send({ error: error.message, code: 'INTERNAL_ERROR' });
  });
  return app;
}

/** Dead letters GET /queue lists (the oldest first). */
const DEAD_LETTERS_SHOWN = 100;

function noQueue(reply: FastifyReply): FastifyReply {
  return reply.code(409).send({ error: 'this lab runs no order queue: its patterns have writeBuffer off (start it with --patterns graceful)', code: 'NO_QUEUE' });
}
