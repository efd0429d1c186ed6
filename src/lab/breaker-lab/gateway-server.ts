// The gateway (API Gateway in front of a Lambda function): every request is one invocation of
// the function on the pool's execution environments. It keeps the record of each invocation
// and of the events the environments report (breaker transitions), for a run to read.
import type { FastifyInstance } from 'fastify';
import { requireBearerToken } from '../net/bearer-auth.ts';
import type { EnvironmentPool } from './environment-pool.ts';
import type { FunctionEvent } from './function-protocol.ts';
import { labHttpApp } from '../net/json-api.ts';

/** Where the gateway's own API lives: every other path invokes the function. */
export const GATEWAY_CONTROL_PREFIX = '/_gateway';

/** One request the gateway answered. Times are wall-clock epoch ms. */
export interface InvocationRecord {
  /** Its rank among the gateway's requests (1 for the first). */
  id: number;
  receivedAt: number;
  answeredAt: number;
  status: number;
  /** The answer's error code (CIRCUIT_OPEN, BACKEND_TIMEOUT, THROTTLED, …); null on success. */
  code: string | null;
  /** null when no environment ran it (throttled, init failed). */
  environmentId: string | null;
  coldStart: boolean;
  /** What the function reported beside its answer (the breaker function: backendCalled, trial, rejected, fallback, state, generation, storeAvailable). */
  meta: Record<string, unknown> | null;
}

/** One event an environment reported. */
export interface EnvironmentEvent {
  environmentId: string;
  /** When the environment emitted it (wall-clock epoch ms). */
  at: number;
  event: Record<string, unknown>;
}

// Records kept: a long run at full speed stays bounded.
const MAX_RECORDS = 200_000;

/** The gateway's record of invocations and events. */
export class GatewayLog {
  readonly invocations: InvocationRecord[] = [];
  readonly events: EnvironmentEvent[] = [];
  #next = 0;

  nextId(): number {
    return ++this.#next;
  }

  addInvocation(record: InvocationRecord): void {
    push(this.invocations, record);
  }

  addEvent(environmentId: string, at: number, event: Record<string, unknown>): void {
    push(this.events, { environmentId, at, event });
  }
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_RECORDS) list.splice(0, list.length - MAX_RECORDS);
}

/**
 * The gateway's app. Its own API (token):
 *
 *   GET /_gateway/metrics                 the pool's counters
 *   GET /_gateway/invocations?since=<ms>  invocation records answered at or after since
 *   GET /_gateway/events?since=<ms>       events the environments reported at or after since
 *
 * Every other request invokes the function; the gateway's own answers are 429 THROTTLED,
 * 502 FUNCTION_CRASHED / FUNCTION_INIT_FAILED, 504 FUNCTION_TIMEOUT, 503 GATEWAY_CLOSING.
 */
export function buildGateway(pool: EnvironmentPool, log: GatewayLog, token: string): FastifyInstance {
  const app = labHttpApp();

  app.register(
    async (control) => {
      requireBearerToken(control, token, 'the gateway takes the token its starter gave it in GATEWAY_TOKEN');
      control.get('/metrics', async () => pool.metrics());
      control.get<{ Querystring: { since?: string } }>('/invocations', async (request) => {
        const since = sinceOf(request.query.since);
        return log.invocations.filter((record) => record.answeredAt >= since);
      });
      control.get<{ Querystring: { since?: string } }>('/events', async (request) => {
        const since = sinceOf(request.query.since);
        return log.events.filter((event) => event.at >= since);
      });
    },
    { prefix: GATEWAY_CONTROL_PREFIX },
  );

  app.all('/*', async (request, reply) => {
    const id = log.nextId();
    const receivedAt = Date.now();
    const [path = '/'] = request.url.split('?');
    const event: FunctionEvent = { method: request.method, path, query: request.query as Record<string, string>, body: request.body ?? null };
    const record = (status: number, code: string | null, environmentId: string | null, coldStart: boolean, meta: Record<string, unknown> | null): void =>
      log.addInvocation({ id, receivedAt, answeredAt: Date.now(), status, code, environmentId, coldStart, meta });
    try {
      const result = await pool.invoke(event);
      const { status, body, meta } = result.response;
      const code = typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string' ? (body as { code: string }).code : null;
      record(status, status < 400 ? null : code, result.environmentId, result.coldStart, meta ?? null);
      return reply
        .code(status)
        .header('x-environment-id', result.environmentId)
        .header('x-cold-start', String(result.coldStart))
        .header('x-invocation-id', String(id))
        .send(body);
    } catch (error) {
      const { status = 502, code = 'FUNCTION_CRASHED', message } = error as { status?: number; code?: string; message: string };
      record(status, code, null, false, null);
      return reply.code(status).header('x-invocation-id', String(id)).send({ error: message, code });
    }
  });
  return app;
}

function sinceOf(raw: string | undefined): number {
  const since = raw === undefined ? 0 : Number(raw);
  if (!Number.isFinite(since)) throw Object.assign(new Error(`since must be epoch milliseconds, got ${JSON.stringify(raw)}`), { code: 'INVALID_QUERY', status: 400 });
  return since;
}
