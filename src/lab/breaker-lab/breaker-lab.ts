// The circuit-breaker lab's own topology (seed 003), all real processes:
//
//   client ──► gateway ──► execution environments (the breaker function, one invocation each)
//                              │ backend listener            │ services-store listener (shared mode)
//                              ▼                             ▼
//                         fault proxy ──► unreliable backend, services store (PostgreSQL)
//
// Every process is guarded: it dies with the lab's owner, SIGKILL included.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { spawnFaultProxy, type FaultProxyProcess } from '../fault-proxy/index.ts';
import { ServicesStore } from '../services-store/index.ts';
import { PostgresBreakerStore, type CircuitState } from '../../resilience/circuit-breaker/index.ts';
import { BackendControl } from './backend-control.ts';
import { BREAKER_NAME, type BreakerFunctionConfig, type BreakerMode } from './breaker-function-config.ts';
import { resolveBreakerLabOptions, type BreakerLabOptions, type ResolvedBreakerLabOptions } from './breaker-lab-options.ts';
import type { GatewayConfig } from './gateway-config.ts';
import { GatewayControl } from './gateway-control.ts';
import { spawnGuardedChild, type GuardedChild } from './guarded-child.ts';

/**
 * The fault-proxy listeners of the lab: break either path with the fault proxy's client. They are
 * not in the dependency registry (src/lab/dependencies.ts), which describes the shop's lab: this
 * lab has its own small topology, no shop instances, and its functions are configured directly.
 */
export const BREAKER_LAB_LISTENERS = Object.freeze({ backend: 'backend', servicesStore: 'services-store' });

/** A breaker transition: from the store's history (shared mode: the truth) or as an environment reported it. */
export interface LabTransition {
  /** "store", or the id of the environment that reported it. */
  source: string;
  from: CircuitState;
  to: CircuitState;
  reason: string;
  generation: number;
  /** Wall-clock epoch ms. */
  at: number;
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const token = (): string => randomBytes(32).toString('hex');

interface Parts {
  services?: ServicesStore;
  storeReader?: PostgresBreakerStore;
  backend?: GuardedChild<{ port: number }>;
  faultProxy?: FaultProxyProcess;
  gateway?: GuardedChild<{ port: number }>;
}

/** A running circuit-breaker lab. */
export class BreakerLab {
  readonly options: ResolvedBreakerLabOptions;
  /** Where clients call the function (any path but /_gateway/…). */
  readonly gatewayUrl: string;
  /** The backend's own address (its control API; the function reaches it through the fault proxy). */
  readonly backendUrl: string;
  /** Changes the backend's behaviour and reads the calls it received. */
  readonly backend: BackendControl;
  /** Reads the gateway's metrics, invocation records and the environments' reported events. */
  readonly gateway: GatewayControl;
  /** The fault proxy in front of the backend and the services store (listeners BREAKER_LAB_LISTENERS). */
  readonly faultProxy: FaultProxyProcess;
  /** Shared mode: the services store. */
  readonly services: ServicesStore | undefined;
  /** Wall-clock ms the start took. */
  readonly startMs: number;
  readonly #parts: Parts;
  readonly #onProgress: (message: string) => void;
  #closing: Promise<void> | undefined;

  private constructor(options: ResolvedBreakerLabOptions, parts: Required<Pick<Parts, 'backend' | 'faultProxy' | 'gateway'>> & Parts, tokens: { backend: string; gateway: string }, startMs: number, onProgress: (message: string) => void) {
    this.options = options;
    this.#parts = parts;
    this.gatewayUrl = `http://127.0.0.1:${parts.gateway.ready.port}`;
    this.backendUrl = `http://127.0.0.1:${parts.backend.ready.port}`;
    this.backend = new BackendControl(this.backendUrl, tokens.backend);
    this.gateway = new GatewayControl(this.gatewayUrl, tokens.gateway);
    this.faultProxy = parts.faultProxy;
    this.services = parts.services;
    this.startMs = startMs;
    this.#onProgress = onProgress;
  }

  /** Starts the services store (shared mode), the backend, the fault proxy and the gateway. */
  static async start(input: BreakerLabOptions): Promise<BreakerLab> {
    const options = resolveBreakerLabOptions(input);
    const progress = input.onProgress ?? (() => {});
    const started = performance.now();
    const parts: Parts = {};
    const tokens = { backend: token(), gateway: token() };
    try {
      progress(`breaker lab (${options.mode}): starting the backend, the fault proxy${options.mode === 'shared' ? ' and the services store' : ''}`);
      const [services, backend, faultProxy] = await Promise.all([
        options.mode === 'shared' ? ServicesStore.start().then((s) => (parts.services = s)) : undefined,
        spawnGuardedChild<{ port: number }>({ name: 'backend', script: here('./backend-main.ts'), env: { BACKEND_TOKEN: tokens.backend } }).then((b) => (parts.backend = b)),
        spawnFaultProxy().then((f) => (parts.faultProxy = f)),
      ]);
      const backendListener = await faultProxy.client.addProxy({ name: BREAKER_LAB_LISTENERS.backend, upstream: { host: '127.0.0.1', port: backend.ready.port } });
      const functionConfig = await functionConfigFor(options, `http://127.0.0.1:${backendListener.listen.port}/`, services, faultProxy);
      if (services) parts.storeReader = new PostgresBreakerStore(services.connectionConfig(), { timeoutMs: 5000, maxConnections: 1 });
      progress(`breaker lab (${options.mode}): starting the gateway (concurrency ${options.concurrency})`);
      const gatewayConfig: GatewayConfig = {
        concurrency: options.concurrency,
        maxInvocations: options.maxInvocations,
        idleMs: options.idleMs,
        queueSize: options.queueSize,
        functionTimeoutMs: options.functionTimeoutMs,
        functionModule: here('./breaker-function.ts'),
        functionEnv: { BREAKER_FUNCTION_CONFIG: JSON.stringify(functionConfig) },
      };
      parts.gateway = await spawnGuardedChild<{ port: number }>({
        name: 'gateway',
        script: here('./gateway-main.ts'),
        env: { GATEWAY_TOKEN: tokens.gateway, GATEWAY_CONFIG: JSON.stringify(gatewayConfig) },
      });
      const startMs = Math.round(performance.now() - started);
      progress(`breaker lab (${options.mode}): ready in ${startMs} ms`);
      return new BreakerLab(options, { ...parts, backend, faultProxy, gateway: parts.gateway }, tokens, startMs, progress);
    } catch (error) {
      await stopParts(parts);
      throw error;
    }
  }

  get mode(): BreakerMode {
    return this.options.mode;
  }

  /** Every process the lab started (PostgreSQL's postmaster included), for a check that none outlives it. */
  get pids(): number[] {
    const parts = this.#parts;
    return [parts.gateway?.pid, parts.backend?.pid, parts.faultProxy?.pid, parts.services?.server.pid].filter((pid): pid is number => pid !== undefined);
  }

  /**
   * The breaker's transitions, oldest first. Shared mode: the store's history (one breaker,
   * fleet-wide). Local mode: what each environment reported of its own breaker.
   */
  async transitions(since = 0): Promise<LabTransition[]> {
    const reader = this.#parts.storeReader;
    if (!reader) return this.reportedTransitions(since);
    const history = await reader.transitions(BREAKER_NAME);
    return history
      .map((t) => ({ source: 'store', from: t.from, to: t.to, reason: t.reason, generation: t.generation, at: t.at.getTime() }))
      .filter((t) => t.at >= since);
  }

  /** Transitions as the environments reported them (in shared mode, each one's view of the store). */
  async reportedTransitions(since = 0): Promise<LabTransition[]> {
    const events = await this.gateway.events(since);
    return events
      .filter((e) => e.event['kind'] === 'breaker-transition')
      .map((e) => ({
        source: e.environmentId,
        from: e.event['from'] as CircuitState,
        to: e.event['to'] as CircuitState,
        reason: String(e.event['reason']),
        generation: Number(e.event['generation']),
        at: Number(e.event['at']),
      }))
      .sort((a, b) => a.at - b.at);
  }

  /** Stops every process by PID (the gateway stops its environments) and removes the store's data. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#onProgress(`breaker lab (${this.mode}): stopping`);
      await stopParts(this.#parts);
    })();
    return this.#closing;
  }
}

async function functionConfigFor(options: ResolvedBreakerLabOptions, backendUrl: string, services: ServicesStore | undefined, faultProxy: FaultProxyProcess): Promise<BreakerFunctionConfig> {
  const common = {
    backendUrl,
    clientTimeoutMs: options.clientTimeoutMs,
    breaker: options.breaker,
    refreshIntervalMs: options.refreshIntervalMs,
    storeTimeoutMs: options.storeTimeoutMs,
  };
  if (!services) return { ...common, mode: 'local' };
  // The environments reach the store through its own listener, so that it can be broken alone.
  const listener = await faultProxy.client.addProxy({ name: BREAKER_LAB_LISTENERS.servicesStore, upstream: services.endpoint });
  return { ...common, mode: 'shared', store: { ...services.connectionConfig(), host: '127.0.0.1', port: listener.listen.port } };
}

async function stopParts(parts: Parts): Promise<void> {
  // The gateway first: its environments stop with it, and nothing calls the backend afterwards.
  await parts.gateway?.stop(6000);
  await Promise.allSettled([parts.backend?.stop(), parts.faultProxy?.stop(), parts.storeReader?.close()]);
  await parts.services?.close();
}
