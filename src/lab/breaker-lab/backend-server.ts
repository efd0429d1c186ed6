// The unreliable backend (the seed's "unreliable backend Lambda"): answers every path with 200,
// or 500 at its failure rate, after its added latency, or never (hang). Its behaviour changes
// while it runs, through a control API behind a bearer token, and it counts every call it
// receives, per behaviour window, with timestamps.
import type { FastifyInstance } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import { requireBearerToken } from '../net/bearer-auth.ts';
import { CallLedger, resolveBehaviour } from './backend-behaviour.ts';
import { labHttpApp } from '../net/json-api.ts';

/** Where the control API lives: every other path is the service. */
export const BACKEND_CONTROL_PREFIX = '/_control';

/**
 * The backend's app. Control API (token):
 *
 *   GET /_control/behaviour          {behaviour, window}
 *   PUT /_control/behaviour          {failureRate?, latencyMs?, hang?}: fields left out are healthy
 *   GET /_control/calls?since=<ms>   {total, windows, calls (at or after since), dropped}
 *
 * Errors: 400 INVALID_BEHAVIOUR (names the field and the value), 401 UNAUTHORIZED.
 */
export function buildBackend(token: string, ledger = new CallLedger()): FastifyInstance {
  const app = labHttpApp();
  let served = 0;

  app.register(
    async (control) => {
      requireBearerToken(control, token, 'the backend takes the token its starter gave it in BACKEND_TOKEN');
      control.get('/behaviour', async () => ({ behaviour: ledger.behaviour, window: ledger.window }));
      control.put('/behaviour', async (request) => {
        const window = ledger.set(resolveBehaviour(request.body));
        return { behaviour: window.behaviour, window: window.index };
      });
      control.get<{ Querystring: { since?: string } }>('/calls', async (request, reply) => {
        const raw = request.query.since;
        const since = raw === undefined ? undefined : Number(raw);
        if (since !== undefined && !Number.isFinite(since)) {
          return reply.code(400).send({ error: `since must be epoch milliseconds, got ${JSON.stringify(raw)}`, code: 'INVALID_QUERY' });
        }
        return ledger.report(since);
      });
    },
    { prefix: BACKEND_CONTROL_PREFIX },
  );

  app.all('/*', async (_request, reply) => {
    const call = ledger.receive();
    const { behaviour } = call;
    // Accepted and read, never answered: the caller's own timeout is all that ends it (the
    // connection is cut when the backend closes: forceCloseConnections).
    if (call.outcome === 'hang') return new Promise<never>(() => {});
    if (behaviour.latencyMs > 0) await delay(behaviour.latencyMs);
    if (call.outcome === 'error') return reply.code(500).send({ error: 'the backend failed (injected)', code: 'BACKEND_FAILURE' });
    return { ok: true, served: ++served, at: call.at };
  });
  return app;
}
