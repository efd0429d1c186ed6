import type { BackendBehaviour, BackendCalls } from './backend-behaviour.ts';
import { BACKEND_CONTROL_PREFIX } from './backend-server.ts';
import { labApiCall } from './lab-http-client.ts';

/** Drives the unreliable backend: what an experiment's action and observer call. */
export class BackendControl {
  readonly #base: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.#base = `${url.replace(/\/$/, '')}${BACKEND_CONTROL_PREFIX}`;
    this.#token = token;
  }

  /** Replaces the behaviour (fields left out are healthy) and starts a new window; returns its index. */
  async setBehaviour(behaviour: Partial<BackendBehaviour>): Promise<{ behaviour: BackendBehaviour; window: number }> {
    return labApiCall(`${this.#base}/behaviour`, this.#token, 'PUT', behaviour);
  }

  async behaviour(): Promise<{ behaviour: BackendBehaviour; window: number }> {
    return labApiCall(`${this.#base}/behaviour`, this.#token, 'GET');
  }

  /** Calls received: totals, per window, and each call at or after `since` (epoch ms). */
  async calls(since?: number): Promise<BackendCalls> {
    return labApiCall(`${this.#base}/calls${since === undefined ? '' : `?since=${since}`}`, this.#token, 'GET');
  }
}
