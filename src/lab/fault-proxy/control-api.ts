import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { requireBearerToken } from '../net/bearer-auth.ts';
import { FaultNotFoundError, PortInUseError, type FaultProxy, type FaultSpec, type ProxySpec } from './fault-proxy.ts';
import { FaultSpecError } from './fault-type.ts';
import { FAULT_TYPES } from './faults/index.ts';
import { jsonFrameworkErrors, jsonNotFound } from '../net/json-api.ts';

/**
 * The fault proxy's control API (Toxiproxy's :8474, in JSON over HTTP on loopback), behind a
 * bearer token (`Authorization: Bearer <token>`; 401 otherwise): loopback is shared by every
 * user of the machine, and this API can stall any lab or open a listener.
 *
 * Errors: 400 INVALID_FAULT / INVALID_PROXY (the message names the field and the value),
 * 401 UNAUTHORIZED, 404 NOT_FOUND / ROUTE_NOT_FOUND, 409 PORT_IN_USE.
 *
 *
 *   GET    /fault-types                 the registered fault types
 *   GET    /proxies                     every proxy with its connections and faults
 *   POST   /proxies                     {name, upstream: {host, port}, listenPort?}
 *   GET    /proxies/:name
 *   DELETE /proxies/:name
 *   POST   /proxies/:name/faults        {type, params?, direction?, toxicity?, durationMs?, ownerPid?}
 *   DELETE /proxies/:name/faults/:id
 *   GET    /faults                      every active fault
 *   DELETE /faults                      removes them all
 */
export function buildFaultProxyApi(proxy: FaultProxy, token: string): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // A URL Fastify cannot route (bad %-encoding, too long a name) answers in this API's shape too.
    frameworkErrors: jsonFrameworkErrors,
  });
  requireBearerToken(app, token, 'the fault proxy takes the token its starter gave it in FAULT_PROXY_TOKEN');

  app.get('/fault-types', async () =>
    [...FAULT_TYPES.values()].map((type) => ({ name: type.name, description: type.description, defaultDirections: type.defaultDirections })),
  );
  app.get('/proxies', async () => proxy.list());
  app.post<{ Body: ProxySpec }>('/proxies', async (request, reply) => reply.code(201).send(await proxy.addProxy(objectBody(request.body) as unknown as ProxySpec)));
  app.get<{ Params: { name: string } }>('/proxies/:name', async (request) => proxy.status(request.params.name));
  app.delete<{ Params: { name: string } }>('/proxies/:name', async (request, reply) => {
    await proxy.removeProxy(request.params.name);
    return reply.code(204).send();
  });
  app.post<{ Params: { name: string }; Body: FaultSpec }>('/proxies/:name/faults', async (request, reply) =>
    reply.code(201).send(await proxy.addFault(request.params.name, objectBody(request.body) as unknown as FaultSpec)),
  );
  app.delete<{ Params: { name: string; id: string } }>('/proxies/:name/faults/:id', async (request) =>
    proxy.removeFault(request.params.name, request.params.id),
  );
  app.get('/faults', async () => proxy.faults());
  app.delete('/faults', async () => proxy.clearFaults());

  app.setNotFoundHandler(jsonNotFound);
  app.setErrorHandler(async (error: FastifyError, _request, reply) => {
    if (error instanceof FaultSpecError) return reply.code(400).send({ error: error.message, code: error.code });
    if (error instanceof FaultNotFoundError) return reply.code(404).send({ error: error.message, code: error.code });
    if (error instanceof PortInUseError) return reply.code(409).send({ error: error.message, code: error.code });
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message, code: error.code ?? 'BAD_REQUEST' });
    return reply.code(500).send({ error: 'internal error', code: 'INTERNAL_ERROR' });
  });
  return app;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FaultSpecError('request body must be a JSON object');
  return body as Record<string, unknown>;
}
