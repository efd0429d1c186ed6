// The bearer-token hook at the HTTP edge: which requests reach a route and which are refused.
// Every case is sent twice: through Fastify's inject (fast, but it normalises the URL as
// `new URL` does, so `/dashboard/../status` arrives as `/status`) and over a real socket, where
// the path reaches the hook exactly as a client wrote it.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { DASHBOARD_AUTH } from '../../dashboard/routes.ts';
import { requireBearerToken, type BearerTokenOptions } from './bearer-auth.ts';
import { jsonFrameworkErrors, jsonNotFound } from './json-api.ts';

const TOKEN = 'tok-4f1c9a7e2b8d';
const HINT = 'use the URL the command printed';

interface Answer {
  status: number;
  body: string;
}

interface Case {
  name: string;
  method: 'GET' | 'HEAD' | 'POST' | 'OPTIONS';
  path: string;
  authorization?: string;
}

/**
 * An app shaped as the dashboard's servers are (same Fastify options, JSON 404s), whose routes
 * answer with their own name: a body naming a protected route means the request reached it.
 */
async function appWith(options?: BearerTokenOptions): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false, frameworkErrors: jsonFrameworkErrors });
  if (options) requireBearerToken(app, TOKEN, HINT, options);
  else requireBearerToken(app, TOKEN, HINT);
  // A plain answer in place of the SSE stream: what is tested is who gets through, not the stream.
  app.get('/', async () => ({ route: 'page' }));
  app.get('/events', async () => ({ route: 'events' }));
  app.get('/status', async () => ({ route: 'status' }));
  app.post('/down', async () => ({ route: 'down' }));
  app.get('/dashboard/dashboard.js', async () => ({ route: 'dashboard.js' }));
  app.setNotFoundHandler(jsonNotFound);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

/** The request through inject. */
async function injected(app: FastifyInstance, c: Case): Promise<Answer> {
  const response = await app.inject({ method: c.method, url: c.path, headers: c.authorization === undefined ? {} : { authorization: c.authorization } });
  return { status: response.statusCode, body: response.body };
}

/** The request over a socket, its path sent byte for byte (node:http does not normalise it). */
function overSocket(port: number, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: c.method, path: c.path, headers: c.authorization === undefined ? {} : { authorization: c.authorization }, signal: AbortSignal.timeout(5000) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Both ways, each labelled for the assertion messages. */
async function bothWays(app: FastifyInstance, port: number, c: Case): Promise<Array<{ via: string; answer: Answer }>> {
  return [
    { via: 'inject', answer: await injected(app, c) },
    { via: 'socket', answer: await overSocket(port, c) },
  ];
}

const PROTECTED_BODIES = [/"route":"status"/, /"route":"down"/, /"route":"page"/, /"route":"events"/];

/**
 * Refused by the hook: a 401 in its shape (not a 404 from further in: a path the hook let by to
 * be turned away by the router is one a wildcard route would serve), never a protected route's
 * answer, never the token.
 */
function assertRefused(c: Case, via: string, answer: Answer): void {
  const what = `${c.method} ${c.path}${c.authorization === undefined ? '' : ` [authorization: ${c.authorization}]`} via ${via}`;
  assert.equal(answer.status, 401, `${what}: refused, got ${answer.status} ${answer.body}`);
  for (const body of PROTECTED_BODIES) assert.doesNotMatch(answer.body, body, `${what}: reached a protected route`);
  assert.ok(!answer.body.includes(TOKEN), `${what}: the answer holds the token: ${answer.body}`);
  if (answer.status === 401 && c.method !== 'HEAD') {
    assert.deepEqual(JSON.parse(answer.body), { error: `missing or wrong token (${HINT})`, code: 'UNAUTHORIZED' }, what);
  }
}

describe('requireBearerToken with the dashboard options', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => ({ app, port } = await appWith(DASHBOARD_AUTH)));
  after(() => app.close());

  const refused: Case[] = [
    { name: 'no token', method: 'GET', path: '/status' },
    { name: 'no token on the page', method: 'GET', path: '/' },
    { name: 'no token on the stream', method: 'GET', path: '/events' },
    { name: 'no token on a POST', method: 'POST', path: '/down' },
    { name: 'a wrong token', method: 'GET', path: '/status', authorization: 'Bearer tok-wrong' },
    { name: 'a wrong query token on the page', method: 'GET', path: '/?token=tok-wrong' },
    { name: 'a wrong token of the same length', method: 'GET', path: '/status', authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
    { name: 'an empty bearer token', method: 'GET', path: '/status', authorization: 'Bearer ' },
    { name: 'an empty query token', method: 'GET', path: '/events?token=' },
    { name: 'a lowercase scheme', method: 'GET', path: '/status', authorization: `bearer ${TOKEN}` },
    { name: 'the token without a scheme', method: 'GET', path: '/status', authorization: TOKEN },
    { name: 'a query token on a control route', method: 'GET', path: `/status?token=${TOKEN}` },
    { name: 'a query token on a POST control route', method: 'POST', path: `/down?token=${TOKEN}` },
    { name: 'a query token on a POST to the page', method: 'POST', path: `/?token=${TOKEN}` },
    { name: 'a query token with HEAD', method: 'HEAD', path: `/?token=${TOKEN}` },
    { name: 'a doubled slash', method: 'GET', path: `//events?token=${TOKEN}` },
    { name: 'a trailing slash', method: 'GET', path: `/events/?token=${TOKEN}` },
    { name: 'another case', method: 'GET', path: `/EVENTS?token=${TOKEN}` },
    { name: 'a %-encoded letter', method: 'GET', path: `/%65vents?token=${TOKEN}` },
    { name: 'a dot-dot out of the public prefix', method: 'GET', path: '/dashboard/../status' },
    { name: 'an encoded dot-dot out of the public prefix', method: 'GET', path: '/dashboard/%2e%2e/status' },
    { name: 'a dot-dot with an encoded slash', method: 'GET', path: '/dashboard/..%2fstatus' },
    { name: 'a dot-dot out of the public prefix with a query token', method: 'GET', path: `/dashboard/../status?token=${TOKEN}` },
    { name: 'a POST to a public file', method: 'POST', path: '/dashboard/dashboard.js' },
    { name: 'an OPTIONS to a public file', method: 'OPTIONS', path: '/dashboard/dashboard.js' },
    { name: 'a wrong query token before the right one', method: 'GET', path: `/events?token=tok-bad&token=${TOKEN}` },
    { name: 'the token under another name', method: 'GET', path: `/events?Token=${TOKEN}` },
    { name: 'an unknown route', method: 'GET', path: '/nowhere' },
    { name: 'a file under the public folder that is not on the list', method: 'GET', path: '/dashboard/secret.js' },
    { name: 'a public file with a trailing slash', method: 'GET', path: '/dashboard/dashboard.js/' },
  ];

  for (const c of refused) {
    it(`refuses ${c.name}: ${c.method} ${c.path}`, async () => {
      for (const { via, answer } of await bothWays(app, port, c)) assertRefused(c, via, answer);
    });
  }

  const allowed: Array<Case & { route: string }> = [
    { name: 'the query token on the page', method: 'GET', path: `/?token=${TOKEN}`, route: 'page' },
    { name: 'the query token on the stream', method: 'GET', path: `/events?token=${TOKEN}`, route: 'events' },
    { name: 'the query token among other parameters', method: 'GET', path: `/events?x=1&token=${TOKEN}`, route: 'events' },
    { name: 'a public file without a token', method: 'GET', path: '/dashboard/dashboard.js', route: 'dashboard.js' },
    { name: 'a public file with a query', method: 'GET', path: '/dashboard/dashboard.js?v=2', route: 'dashboard.js' },
    ...(
      [
        ['GET', '/', 'page'],
        ['GET', '/events', 'events'],
        ['GET', '/status', 'status'],
        ['POST', '/down', 'down'],
        ['GET', '/dashboard/dashboard.js', 'dashboard.js'],
      ] as const
    ).map(([method, path, route]) => ({ name: 'the header', method, path, authorization: `Bearer ${TOKEN}`, route })),
  ];

  for (const c of allowed) {
    it(`lets through ${c.name}: ${c.method} ${c.path}${c.authorization ? ' with Authorization: Bearer' : ''}`, async () => {
      for (const { via, answer } of await bothWays(app, port, c)) {
        assert.equal(answer.status, 200, `${via}: ${answer.body}`);
        assert.deepEqual(JSON.parse(answer.body), { route: c.route }, via);
      }
    });
  }
});

describe('requireBearerToken without options (as the fault proxy and the breaker lab use it)', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => ({ app, port } = await appWith()));
  after(() => app.close());

  const refused: Case[] = [
    { name: 'the page', method: 'GET', path: `/?token=${TOKEN}` },
    { name: 'the stream', method: 'GET', path: `/events?token=${TOKEN}` },
    { name: 'a control route', method: 'GET', path: `/status?token=${TOKEN}` },
    { name: 'a POST', method: 'POST', path: `/down?token=${TOKEN}` },
    { name: 'a would-be public file', method: 'GET', path: '/dashboard/dashboard.js' },
    { name: 'a would-be public file with the query token', method: 'GET', path: `/dashboard/dashboard.js?token=${TOKEN}` },
  ];
  for (const c of refused) {
    it(`refuses the query token or no token on ${c.name}: ${c.method} ${c.path}`, async () => {
      for (const { via, answer } of await bothWays(app, port, c)) {
        assert.equal(answer.status, 401, `${via}: ${answer.body}`);
        assertRefused(c, via, answer);
      }
    });
  }

  it('lets the header through', async () => {
    const answers = await bothWays(app, port, { name: 'header', method: 'GET', path: '/status', authorization: `Bearer ${TOKEN}` });
    for (const { via, answer } of answers) assert.deepEqual([answer.status, JSON.parse(answer.body)], [200, { route: 'status' }], via);
  });
});
