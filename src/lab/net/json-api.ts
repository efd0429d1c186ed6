// The JSON shape of the lab's HTTP APIs: {error, code} for everything, also what Fastify itself
// refuses (a URL it cannot route, a route that does not exist), naming the path but never echoing
// the query, where the live dashboard's token travels (`?token=`).
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';

/** The path of a request URL, without its query. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Fastify's `frameworkErrors`: JSON {error, code}; a message that quotes the URL quotes its path only. */
export const jsonFrameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, request, reply) => {
  const url = request.url ?? '';
  const message = url.includes('?') ? error.message.split(url).join(pathOf(url)) : error.message;
  void (reply as FastifyReply).code(error.statusCode ?? 400).send({ error: message, code: error.code });
};

/** A not-found handler: 404 JSON naming the method and the path (not the query). */
export async function jsonNotFound(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return reply.code(404).send({ error: `no route ${request.method} ${pathOf(request.url)}`, code: 'ROUTE_NOT_FOUND' });
}

/** An error with a stable code and an HTTP status, answered as {error, code}. */
interface CodedError {
  message: string;
  code: string;
  status: number;
}

function isCoded(error: unknown): error is CodedError {
  const e = error as Partial<CodedError> | null;
  return typeof e === 'object' && e !== null && typeof e.code === 'string' && typeof e.status === 'number';
}

/**
 * A Fastify app for a lab server: no logger, JSON {error, code} for every error (a 4xx for bad
 * input, never a 500), and hung requests cut when it closes (the backend's hang mode).
 */
export function labHttpApp(): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    forceCloseConnections: true,
    frameworkErrors: jsonFrameworkErrors,
  });
  app.setNotFoundHandler(jsonNotFound);
  app.setErrorHandler(async (error: FastifyError, _request, reply) => {
    if (isCoded(error)) return reply.code(error.status).send({ error: error.message, code: error.code });
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message, code: error.code ?? 'BAD_REQUEST' });
    return reply.code(500).send({ error: 'internal error', code: 'INTERNAL_ERROR' });
  });
  return app;
}

/** The port a listening Fastify app got. */
export function listeningPort(app: FastifyInstance): number {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
