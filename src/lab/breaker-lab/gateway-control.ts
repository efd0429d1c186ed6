import type { PoolMetrics } from './environment-pool.ts';
import { GATEWAY_CONTROL_PREFIX, type EnvironmentEvent, type InvocationRecord } from './gateway-server.ts';
import { labApiCall } from './lab-http-client.ts';

/** Reads the gateway's counters and records: what an experiment's observer calls. */
export class GatewayControl {
  readonly #base: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.#base = `${url.replace(/\/$/, '')}${GATEWAY_CONTROL_PREFIX}`;
    this.#token = token;
  }

  metrics(): Promise<PoolMetrics> {
    return labApiCall(`${this.#base}/metrics`, this.#token, 'GET');
  }

  /** Invocations answered at or after `since` (epoch ms). */
  invocations(since?: number): Promise<InvocationRecord[]> {
    return labApiCall(`${this.#base}/invocations${since === undefined ? '' : `?since=${since}`}`, this.#token, 'GET');
  }

  /** Events the environments reported at or after `since` (epoch ms). */
  events(since?: number): Promise<EnvironmentEvent[]> {
    return labApiCall(`${this.#base}/events${since === undefined ? '' : `?since=${since}`}`, this.#token, 'GET');
  }
}
