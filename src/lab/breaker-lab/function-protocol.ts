// The contract between the gateway and a function (Lambda's handler and its runtime API, in
// small): the event a function receives, what it answers, and the messages on the IPC channel
// between the gateway and an execution environment.

/** One invocation's input: the HTTP request the gateway received. */
export interface FunctionEvent {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

/** A function's answer. `meta` goes to the gateway's invocation log, not to the client. */
export interface FunctionResponse {
  status: number;
  body: unknown;
  meta?: Record<string, unknown>;
}

/** What the runtime tells a handler about where it runs. */
export interface FunctionContext {
  /** The execution environment's id ("e-3"): the same for every invocation it serves. */
  environmentId: string;
  /** Reports an event to the gateway (a breaker transition), at any time, even between invocations. */
  emit(event: Record<string, unknown>): void;
}

/** A function module: what an environment imports once, at its cold start. */
export interface FunctionModule {
  handler(event: FunctionEvent, context: FunctionContext): Promise<FunctionResponse>;
  /** Runs when the environment is recycled: flush what is in flight. */
  shutdown?(): Promise<void>;
}

/** Gateway to environment. */
export type ToEnvironment = { type: 'invoke'; id: number; event: FunctionEvent };

/** Environment to gateway. `at` is wall-clock epoch ms. */
export type FromEnvironment =
  | { type: 'result'; id: number; response: FunctionResponse }
  | { type: 'error'; id: number; message: string }
  | { type: 'event'; at: number; event: Record<string, unknown> };

/** An environment's ready line (stdout). */
export interface EnvironmentReady {
  pid: number;
  /** How long importing the function module took (its init phase). */
  initMs: number;
}
