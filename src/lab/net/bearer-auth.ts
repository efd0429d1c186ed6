import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pathOf } from './json-api.ts';

/** True when `authorization` is exactly `Bearer <token>`, compared in constant time. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  return sameSecret(authorization ?? '', `Bearer ${token}`);
}

/** Where else than the Authorization header a token may come from, and what needs none. */
export interface BearerTokenOptions {
  /**
   * Paths whose GET may carry the token as `?token=` instead: a browser's EventSource cannot
   * send a header, so the live dashboard's page and stream take it from the URL the CLI
   * printed (as Jupyter does). Exact paths, GET only; every other route still needs the header.
   */
  queryTokenPaths?: readonly string[];
  /** Paths served without a token (static files that hold no secret): exact paths, GET and HEAD only. */
  publicPaths?: readonly string[];
}

/**
 * Answers every request without the token (any route, known or not) with 401 JSON
 * {error: `missing or wrong token (${hint})`, code: 'UNAUTHORIZED'}; `options` opens the
 * query-token paths and the public paths, and nothing else.
 */
export function requireBearerToken(app: FastifyInstance, token: string, hint: string, options: BearerTokenOptions = {}): void {
  app.addHook('onRequest', async (request, reply) => {
    if (bearerMatches(request.headers.authorization, token)) return;
    if (options.queryTokenPaths || options.publicPaths) {
      const url = request.raw.url ?? '';
      const path = pathOf(url);
      if (options.publicPaths?.includes(path) && (request.method === 'GET' || request.method === 'HEAD')) return;
      if (request.method === 'GET' && options.queryTokenPaths?.includes(path) && path !== url) {
        const given = new URLSearchParams(url.slice(path.length + 1)).get('token');
        if (given !== null && sameSecret(given, token)) return;
      }
    }
    return reply.code(401).send({ error: `missing or wrong token (${hint})`, code: 'UNAUTHORIZED' });
  });
}

/** `given` equals `expected`, compared in constant time (the length is no secret). */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  // timingSafeEqual throws on buffers of different lengths.
  return a.length === b.length && timingSafeEqual(a, b);
}
