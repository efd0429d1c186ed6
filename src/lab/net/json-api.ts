// The JSON shape of the lab's HTTP APIs for what Fastify itself refuses (a URL it cannot route, a
// route that does not exist): {error, code}, naming the path but never echoing the query, where
// the live dashboard's token travels (`?token=`).
import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

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
