import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** True when `authorization` is exactly `Bearer <token>`, compared in constant time. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  // timingSafeEqual throws on buffers of different lengths; the length is no secret.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Answers every request without the token (any route, known or not) with 401 JSON
 * {error: `missing or wrong token (${hint})`, code: 'UNAUTHORIZED'}.
 */
export function requireBearerToken(app: FastifyInstance, token: string, hint: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, token)) {
      return reply.code(401).send({ error: `missing or wrong token (${hint})`, code: 'UNAUTHORIZED' });
    }
  });
}
