import type { AddFaultResult, FaultRecord, FaultSpec, ProxySpec, ProxyStatus, RemoveFaultResult } from './fault-proxy.ts';

/** An error answer from the fault proxy's control API. */
export class FaultProxyApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'FaultProxyApiError';
    this.status = status;
    this.code = code;
  }
}

/** Options of a FaultProxyClient. */
export interface FaultProxyClientOptions {
  /** The process faults are leased to (default: this one); null for no owner. */
  ownerPid?: number | null;
  /** The control API's bearer token (default: the FAULT_PROXY_TOKEN environment variable). */
  token?: string;
}

/**
 * Talks to a fault proxy process. Faults it adds are leased to this process by default
 * (ownerPid): if it dies, even by SIGKILL, the proxy reverts them by itself.
 */
export class FaultProxyClient {
  readonly baseUrl: string;
  readonly #ownerPid: number | undefined;
  readonly #authorization: Record<string, string>;

  constructor(baseUrl: string, options: FaultProxyClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.#ownerPid = options.ownerPid === null ? undefined : (options.ownerPid ?? process.pid);
    const token = options.token ?? process.env['FAULT_PROXY_TOKEN'];
    this.#authorization = token ? { authorization: `Bearer ${token}` } : {};
  }

  addProxy(spec: ProxySpec): Promise<ProxyStatus> {
    return this.#call('POST', '/proxies', spec);
  }

  listProxies(): Promise<ProxyStatus[]> {
    return this.#call('GET', '/proxies');
  }

  proxy(name: string): Promise<ProxyStatus> {
    return this.#call('GET', `/proxies/${encodeURIComponent(name)}`);
  }

  addFault(proxy: string, spec: FaultSpec): Promise<AddFaultResult> {
    const body = spec.ownerPid === undefined && this.#ownerPid !== undefined ? { ...spec, ownerPid: this.#ownerPid } : spec;
    return this.#call('POST', `/proxies/${encodeURIComponent(proxy)}/faults`, body);
  }

  removeFault(proxy: string, id: string): Promise<RemoveFaultResult> {
    return this.#call('DELETE', `/proxies/${encodeURIComponent(proxy)}/faults/${encodeURIComponent(id)}`);
  }

  faults(): Promise<FaultRecord[]> {
    return this.#call('GET', '/faults');
  }

  clearFaults(): Promise<RemoveFaultResult[]> {
    return this.#call('DELETE', '/faults');
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? this.#authorization : { ...this.#authorization, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not the proxy's own JSON (something else on that port?): report it, not a SyntaxError.
      throw new FaultProxyApiError(response.ok ? 502 : response.status, 'BAD_RESPONSE', `the fault proxy answered ${response.status} with non-JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      const error = parsed as { error?: string; code?: string } | undefined;
      throw new FaultProxyApiError(response.status, error?.code ?? 'ERROR', error?.error ?? `HTTP ${response.status}`);
    }
    return parsed as T;
  }
}
