import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { jsonFrameworkErrors, jsonNotFound } from '../net/json-api.ts';

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
