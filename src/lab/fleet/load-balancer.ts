import { EventEmitter } from 'node:events';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  ALB_HEALTH_CHECK_DEFAULTS,
  inRotation,
  initialHealth,
  recordHealthCheck,
  recordRequest,
  type EjectionSettings,
  type HealthCheckSettings,
  type StateChange,
  type TargetHealth,
  type TargetState,
} from './target-health.ts';

/** A target: one instance's address. */
export interface TargetSpec {
  id: string;
  zone: string;
  host: string;
  port: number;
}

/** Options of the load balancer. */
export interface LoadBalancerOptions {
  port?: number;
  healthCheck?: Partial<HealthCheckSettings>;
  /** Path of the health check (default /health). */
  healthCheckPath?: string;
  /** A target that does not answer within this long gives the client a 504 (default 10 s). */
  targetTimeoutMs?: number;
  /** Retry a failed idempotent request (or a POST with an Idempotency-Key) once on another target. */
  retry?: boolean;
  /** Take a target out of rotation after consecutive failed requests (passive ejection). */
  ejection?: EjectionSettings;
}

/** One target's state, as reported. */
export interface TargetStatus extends TargetSpec {
  state: TargetState;
  inRotation: boolean;
  ejected: boolean;
  since: string;
}

/** A target state change, with its time. */
export interface TargetStateChange extends Omit<StateChange, 'at'> {
  target: string;
  at: string;
}

/** One answer the load balancer gave a client: a target's, or its own (502, 503, 504, 4xx). */
export interface LoadBalancerResponse {
  status: number;
  /** From the request's arrival to its answer written, in milliseconds. */
  durationMs: number;
  /** When the answer was written, Unix time in milliseconds. */
  at: number;
}

/** Events: 'state-change' when a target changes health state; 'response' for every answer (emitted only while someone listens). */
export interface LoadBalancerEvents {
  'state-change': [TargetStateChange];
  response: [LoadBalancerResponse];
}

interface Target {
  spec: TargetSpec;
  health: TargetHealth;
  timer: NodeJS.Timeout | undefined;
  /** Keep-alive sockets to this target only: destroyed when it leaves rotation, so nothing lingers on a dead target. */
  agent: Agent;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const MAX_BODY_BYTES = 1024 * 1024;

type Outcome =
  | { ok: true; status: number; headers: IncomingMessage['headers']; body: Buffer }
  | { ok: false; kind: 'connect' | 'reset' | 'timeout'; message: string };

/**
 * The Application Load Balancer on one machine: HTTP on loopback, round robin over targets in
 * rotation, active health checks with the target group's parameters, and (as ALB does) routing
 * to every target when none is healthy. A target that refuses or resets gives the client a
 * 502, one that does not answer in time a 504: Article 1's detection window. Beyond the
 * article, optionally: one retry on another target, and passive ejection.
 */
export class LoadBalancer extends EventEmitter<LoadBalancerEvents> {
  readonly #settings: HealthCheckSettings;
  readonly #options: LoadBalancerOptions;
  readonly #targets = new Map<string, Target>();
  readonly #changes: TargetStateChange[] = [];
  readonly registry = new Registry();
  readonly #requests: Counter<'status' | 'target'>;
  #server: Server | undefined;
  #next = 0;
  #port = 0;

  constructor(options: LoadBalancerOptions = {}) {
    super();
    this.#options = options;
    this.#settings = { ...ALB_HEALTH_CHECK_DEFAULTS, ...options.healthCheck };
    this.#requests = new Counter({
      name: 'chaos_lb_requests_total',
      help: 'Requests answered by the load balancer, by status and target (none when it answered itself)',
      labelNames: ['status', 'target'],
      registers: [this.registry],
    });
    const count = (state: 'healthy' | 'unhealthy') => () => [...this.#targets.values()].filter((t) => (state === 'healthy' ? inRotation(t.health, Date.now()) : !inRotation(t.health, Date.now()))).length;
    new Gauge({ name: 'chaos_lb_healthy_host_count', help: 'Targets in rotation', registers: [this.registry], collect() { this.set(count('healthy')()); } });
    new Gauge({ name: 'chaos_lb_unhealthy_host_count', help: 'Targets out of rotation', registers: [this.registry], collect() { this.set(count('unhealthy')()); } });
  }

  /** The health check settings in force. */
  get healthCheck(): HealthCheckSettings {
    return { ...this.#settings };
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async listen(): Promise<string> {
    const server = createServer((request, response) => void this.#handle(request, response));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
    this.#server = server;
    return this.url;
  }

  /** Adds a target in the initial state; health checks start at once. */
  register(spec: TargetSpec): void {
    if (this.#targets.has(spec.id)) return;
    const target: Target = { spec, health: initialHealth(Date.now()), timer: undefined, agent: new Agent({ keepAlive: true, maxSockets: 64 }) };
    this.#targets.set(spec.id, target);
    void this.#check(target);
  }

  /** Removes a target. */
  deregister(id: string): void {
    const target = this.#targets.get(id);
    if (!target) return;
    clearTimeout(target.timer);
    target.agent.destroy();
    this.#targets.delete(id);
  }

  /** Every target with its state. */
  targets(): TargetStatus[] {
    const now = Date.now();
    return [...this.#targets.values()].map((t) => ({
      ...t.spec,
      state: t.health.state,
      inRotation: inRotation(t.health, now),
      ejected: t.health.ejectedUntil > now,
      since: new Date(t.health.since).toISOString(),
    }));
  }

  /** Target state changes so far, oldest first. */
  stateChanges(): TargetStateChange[] {
    return [...this.#changes];
  }

  async close(): Promise<void> {
    for (const target of this.#targets.values()) {
      clearTimeout(target.timer);
      target.agent.destroy();
    }
    this.#targets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  async #check(target: Target): Promise<void> {
    if (!this.#targets.has(target.spec.id)) return;
    // A fixed cadence, like ALB: the next check is due one interval after this one started,
    // however long this one takes (the timeout is shorter than the interval).
    target.timer = setTimeout(() => void this.#check(target), this.#settings.intervalMs);
    target.timer.unref();
    const ok = await this.#probe(target.spec);
    if (!this.#targets.has(target.spec.id)) return;
    const { health, change } = recordHealthCheck(target.health, ok, this.#settings, Date.now());
    target.health = health;
    if (change) {
      if (change.to === 'unhealthy') target.agent.destroy(); // no pooled socket keeps a dead target busy
      const event = { target: target.spec.id, from: change.from, to: change.to, reason: change.reason, at: new Date(change.at).toISOString() };
      this.#changes.push(event);
      this.emit('state-change', event);
    }
  }

  /** One health check: GET /health answering 200 within the timeout. */
  #probe(spec: TargetSpec): Promise<boolean> {
    return new Promise((resolve) => {
      const request = httpRequest(
        { host: spec.host, port: spec.port, path: this.#options.healthCheckPath ?? '/health', method: 'GET', agent: false, timeout: this.#settings.timeoutMs },
        (response) => {
          response.resume();
          resolve(response.statusCode === 200);
        },
      );
      request.on('timeout', () => request.destroy(new Error('health check timed out')));
      request.on('error', () => resolve(false));
      request.end();
    });
  }

  /** Round robin over targets in rotation; every target when none is (ALB fails open). */
  #pick(exclude: Set<string>): Target | undefined {
    const now = Date.now();
    const all = [...this.#targets.values()].filter((t) => !exclude.has(t.spec.id));
    let candidates = all.filter((t) => inRotation(t.health, now));
    if (candidates.length === 0 && ![...this.#targets.values()].some((t) => inRotation(t.health, now))) candidates = all;
    if (candidates.length === 0) return undefined;
    const target = candidates[this.#next % candidates.length];
    this.#next++;
    return target;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const arrivedAt = performance.now();
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch (error) {
      const tooLarge = error instanceof BodyTooLargeError;
      this.#answer(response, tooLarge ? 413 : 400, arrivedAt, { error: (error as Error).message, code: tooLarge ? 'LB_BODY_TOO_LARGE' : 'LB_BAD_REQUEST' });
      return;
    }
    const retryable = this.#options.retry === true && (IDEMPOTENT.has(request.method ?? '') || request.headers['idempotency-key'] !== undefined);
    const attempts = retryable ? 2 : 1;
    const tried = new Set<string>();
    let last: Extract<Outcome, { ok: false }> | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const target = this.#pick(tried);
      if (!target) break;
      tried.add(target.spec.id);
      const outcome = await this.#forward(target, request, body);
      // With retries on, a target's own 502/503/504 (e.g. shutting down) is a failure worth another target.
      const targetFailed = !outcome.ok || (retryable && attempt < attempts - 1 && outcome.status >= 502 && outcome.status <= 504);
      target.health = recordRequest(target.health, !targetFailed, this.#options.ejection, Date.now());
      if (outcome.ok && !targetFailed) {
        this.#requests.inc({ status: outcome.status, target: target.spec.id });
        const headers = { ...outcome.headers };
        for (const name of HOP_BY_HOP) delete headers[name];
        if (request.method !== 'HEAD') headers['content-length'] = String(outcome.body.length);
        response.writeHead(outcome.status, headers);
        response.end(outcome.body);
        this.#answered(outcome.status, arrivedAt);
        return;
      }
      last = outcome.ok ? { ok: false, kind: 'reset', message: `target ${target.spec.id} answered ${outcome.status}` } : outcome;
    }
    if (!last) {
      this.#answer(response, 503, arrivedAt, { error: 'no targets registered', code: 'LB_NO_TARGETS' });
      return;
    }
    const status = last.kind === 'timeout' ? 504 : 502;
    this.#answer(response, status, arrivedAt, { error: last.message, code: status === 504 ? 'LB_TARGET_TIMEOUT' : 'LB_TARGET_FAILED' });
  }

  /** The load balancer's own answer (no target gave one). */
  #answer(response: ServerResponse, status: number, arrivedAt: number, body: object): void {
    this.#requests.inc({ status, target: 'none' });
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
    this.#answered(status, arrivedAt);
  }

  /** Tells who watches the traffic (the live dashboard) about one answer; costs nothing when nobody listens. */
  #answered(status: number, arrivedAt: number): void {
    if (this.listenerCount('response') === 0) return;
    try {
      this.emit('response', { status, durationMs: performance.now() - arrivedAt, at: Date.now() });
    } catch {
      // A watcher never breaks the traffic: the answer has been written already.
    }
  }

  #forward(target: Target, request: IncomingMessage, body: Buffer): Promise<Outcome> {
    const { spec, agent } = target;
    return new Promise((resolve) => {
      const headers = { ...request.headers };
      for (const name of HOP_BY_HOP) delete headers[name];
      headers['content-length'] = String(body.length);
      headers['x-forwarded-for'] = request.socket.remoteAddress ?? '';
      let settled = false;
      const settle = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timeoutMs = this.#options.targetTimeoutMs ?? 10_000;
      const upstream = httpRequest({ host: spec.host, port: spec.port, method: request.method, path: request.url, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => settle({ ok: true, status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', (error) => settle({ ok: false, kind: 'reset', message: `target ${spec.id} failed mid-response: ${error.message}` }));
      });
      const timer = setTimeout(() => {
        settle({ ok: false, kind: 'timeout', message: `target ${spec.id} did not answer within ${timeoutMs} ms` });
        upstream.destroy();
      }, timeoutMs);
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        const kind = error.code === 'ECONNREFUSED' ? 'connect' : 'reset';
        settle({ ok: false, kind, message: `target ${spec.id}: ${error.code ?? error.message}` });
      });
      upstream.end(body);
    });
  }
}

class BodyTooLargeError extends Error {}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.pause();
        reject(new BodyTooLargeError(`request body over ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
