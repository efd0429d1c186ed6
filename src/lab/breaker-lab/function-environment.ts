// The gateway's handle on one execution environment: a guarded child process, an IPC channel
// for invocations, and the events (breaker transitions) it reports.
import { fileURLToPath } from 'node:url';
import { FunctionCrashedError, FunctionTimeoutError } from './function-errors.ts';
import type { EnvironmentReady, FromEnvironment, FunctionEvent, FunctionResponse, ToEnvironment } from './function-protocol.ts';
import { spawnGuardedChild, type GuardedChild } from './guarded-child.ts';

const RUNTIME = fileURLToPath(new URL('./environment-main.ts', import.meta.url));

/** An environment, as the pool uses it. */
export interface PooledEnvironment {
  readonly id: string;
  readonly pid: number;
  /** How long its function's init (module load) took. */
  readonly initMs: number;
  readonly exited: Promise<unknown>;
  invoke(event: FunctionEvent, timeoutMs: number): Promise<FunctionResponse>;
  /** Graceful: the function's shutdown runs, bounded. */
  stop(): Promise<void>;
  kill(): void;
}

/** Receives an environment's events, stamped with the environment's id. */
export type EnvironmentEventSink = (environmentId: string, at: number, event: Record<string, unknown>) => void;

/** What every environment of a gateway runs. */
export interface EnvironmentSpec {
  /** Absolute path of the function module. */
  functionModule: string;
  /** The function's environment variables. */
  env: Record<string, string>;
  readyTimeoutMs?: number;
}

/** Starts one environment and waits for its function's init. */
export async function startEnvironment(id: string, spec: EnvironmentSpec, onEvent: EnvironmentEventSink): Promise<PooledEnvironment> {
  const child = await spawnGuardedChild<EnvironmentReady>({
    name: `execution environment ${id}`,
    script: RUNTIME,
    env: { ...spec.env, FUNCTION_MODULE: spec.functionModule, ENVIRONMENT_ID: id },
    ipc: true,
    readyTimeoutMs: spec.readyTimeoutMs ?? 10_000,
  });
  return new ChildEnvironment(id, child, onEvent);
}

interface Pending {
  resolve(response: FunctionResponse): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

class ChildEnvironment implements PooledEnvironment {
  readonly id: string;
  readonly pid: number;
  readonly initMs: number;
  readonly exited: Promise<unknown>;
  readonly #child: GuardedChild<EnvironmentReady>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(id: string, child: GuardedChild<EnvironmentReady>, onEvent: EnvironmentEventSink) {
    this.id = id;
    this.pid = child.pid;
    this.initMs = child.ready.initMs;
    this.#child = child;
    this.exited = child.exited;
    child.child.on('message', (message: FromEnvironment) => {
      if (message.type === 'event') return onEvent(id, message.at, message.event);
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#settle(message.id);
      if (message.type === 'result') pending.resolve(message.response);
      else pending.reject(new FunctionCrashedError(message.message));
    });
    void child.exited.then((exit) => {
      for (const id of [...this.#pending.keys()]) {
        const pending = this.#pending.get(id)!;
        this.#settle(id);
        pending.reject(new FunctionCrashedError(`environment ${this.id} exited (${exit.signal ?? `exit ${exit.code}`})`));
      }
    });
  }

  invoke(event: FunctionEvent, timeoutMs: number): Promise<FunctionResponse> {
    return new Promise((resolve, reject) => {
      if (!this.#child.alive || !this.#child.child.connected) return reject(new FunctionCrashedError(`environment ${this.id} is gone`));
      const id = ++this.#nextId;
      const timer = setTimeout(() => {
        this.#settle(id);
        reject(new FunctionTimeoutError(timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#child.child.send({ type: 'invoke', id, event } satisfies ToEnvironment);
    });
  }

  async stop(): Promise<void> {
    await this.#child.stop(3000);
  }

  kill(): void {
    this.#child.kill();
  }

  #settle(id: number): void {
    const pending = this.#pending.get(id);
    if (pending) clearTimeout(pending.timer);
    this.#pending.delete(id);
  }
}
