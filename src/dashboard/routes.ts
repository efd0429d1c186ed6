// The live dashboard's HTTP routes, on whichever Fastify app serves them (the lab's control API
// under `up`, a small server of its own under `run`). The app's bearer-token hook guards them:
// DASHBOARD_AUTH says which take the token from the URL and which need none.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { BearerTokenOptions } from '../lab/net/bearer-auth.ts';
import type { LiveFeed } from './live-feed.ts';
import { streamFeed } from './sse.ts';

const require = createRequire(import.meta.url);
const PAGE_DIR = new URL('./page/', import.meta.url);

/**
 * The page's own scripts, native ES modules that import one another by these names: dashboard.js
 * is the entry index.html loads. A module missing here would 404 and stop the whole page.
 */
const PAGE_SCRIPTS = [
  'dashboard.js',
  'dashboard-actions.js',
  'dashboard-dom.js',
  'dashboard-fault-params.js',
  'dashboard-log.js',
  'dashboard-map.js',
  'dashboard-session.js',
  'dashboard-timeline.js',
] as const;

/** The static files served, by name: the page's own from src/dashboard/page/, uPlot from its npm package (never copied into src). */
const STATIC_FILES: ReadonlyMap<string, { path: () => string | URL; type: string }> = new Map([
  ...PAGE_SCRIPTS.map((name) => [name, { path: () => new URL(name, PAGE_DIR), type: 'text/javascript; charset=utf-8' }] as const),
  ['dashboard.css', { path: () => new URL('dashboard.css', PAGE_DIR), type: 'text/css; charset=utf-8' }],
  ['uPlot.iife.min.js', { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
  ['uPlot.min.css', { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' }],
]);

/**
 * The page and its stream take the token from `?token=` (EventSource sends no header); the
 * static files hold no secret and need none: exactly those paths, so a route added under
 * /dashboard/ later is not public by accident.
 */
export const DASHBOARD_AUTH: BearerTokenOptions = { queryTokenPaths: ['/', '/events'], publicPaths: [...STATIC_FILES.keys()].map((name) => `/dashboard/${name}`) };

/**
 * GET / (the page), GET /events (the feed as Server-Sent Events), GET /dashboard/:file (the
 * static allow-list; anything else 404 JSON). Files are read at request time: a page edited
 * while the lab runs is served as it is now.
 */
export function registerDashboardRoutes(app: FastifyInstance, feed: LiveFeed): void {
  app.get('/', async (_request, reply) => {
    const page = await readFile(new URL('index.html', PAGE_DIR), 'utf8').catch(() => undefined);
    if (page === undefined) return reply.code(404).send({ error: 'the dashboard page is missing from this installation (src/dashboard/page/index.html)', code: 'DASHBOARD_FILE_MISSING' });
    // The URL carries the token: no Referer takes it anywhere.
    return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8').send(page);
  });

  app.get('/events', (_request, reply) => {
    reply.hijack();
    streamFeed(reply.raw, feed);
  });

  app.get<{ Params: { file: string } }>('/dashboard/:file', async (request, reply) => {
    const file = STATIC_FILES.get(request.params.file);
    if (!file) {
      return reply.code(404).send({ error: `no dashboard file ${JSON.stringify(request.params.file)} (there are ${[...STATIC_FILES.keys()].join(', ')})`, code: 'NO_SUCH_FILE' });
    }
    const text = await readFile(file.path()).catch(() => undefined);
    if (text === undefined) return reply.code(404).send({ error: `the dashboard file ${request.params.file} is missing from this installation`, code: 'DASHBOARD_FILE_MISSING' });
    return reply.header('cache-control', 'no-store').type(file.type).send(text);
  });
}
