// The function of the circuit-breaker lab (the seed's "resilient client" Lambda): calls the
// backend through a circuit breaker with a client timeout, and answers fast (503 CIRCUIT_OPEN)
// while the circuit is open.
//
// Everything at module level is made once per execution environment, at its cold start:
// - BEFORE (mode "local"): the breaker lives here, in module memory, as one writes it by
//   default. Each environment has its own, concurrent environments each trip their own on the
//   failing backend, and a recycled environment forgets it;
// - AFTER (mode "shared"): the breaker's state lives in the services store (DynamoDB in the
//   seed), and an environment only holds a connection pool and a cached view.
import { BREAKER_CALLS_IN_FLIGHT, CircuitOpenError, localCircuitBreaker, PostgresBreakerStore, sharedCircuitBreaker, type CircuitBreaker, type CircuitBreakerStats } from '../../resilience/circuit-breaker/index.ts';
import { BackendHttpError, BackendTimeoutError, BackendUnreachableError, callBackend } from './backend-call.ts';
import { BREAKER_NAME, type BreakerFunctionConfig } from './breaker-function-config.ts';
import type { FunctionContext, FunctionEvent, FunctionResponse } from './function-protocol.ts';

const config = JSON.parse(process.env['BREAKER_FUNCTION_CONFIG'] ?? 'null') as BreakerFunctionConfig;
const loadedAt = Date.now();
/** Module memory: survives from one invocation to the next in this environment only. */
let invocations = 0;
let emit: FunctionContext['emit'] | undefined;

const store =
  config.mode === 'shared'
    ? new PostgresBreakerStore(config.store, { timeoutMs: config.storeTimeoutMs, maxConnections: BREAKER_CALLS_IN_FLIGHT })
    : undefined;
const breaker: CircuitBreaker = store
  ? sharedCircuitBreaker({
      name: BREAKER_NAME,
      store,
      settings: config.breaker,
      refreshIntervalMs: config.refreshIntervalMs,
      storeTimeoutMs: config.storeTimeoutMs,
    })
  : localCircuitBreaker(config.breaker, { name: BREAKER_NAME });

// Every transition this environment sees goes to the gateway as it happens: in local mode that
// is the only record of it (the environment and its breaker may be recycled any time).
breaker.onTransition((t) =>
  emit?.({ kind: 'breaker-transition', from: t.from, to: t.to, reason: t.reason, generation: t.generation, at: performance.timeOrigin + t.at }),
);

/** Calls the backend through the breaker; 200, 503 CIRCUIT_OPEN, 502 or 504. */
export async function handler(_event: FunctionEvent, context: FunctionContext): Promise<FunctionResponse> {
  emit ??= context.emit;
  invocations++;
  const environment = { id: context.environmentId, pid: process.pid, invocation: invocations, loadedAt };
  const before = breaker.stats();
  let status: number;
  let body: Record<string, unknown>;
  try {
    const answer = await breaker.execute(() => callBackend(config.backendUrl, config.clientTimeoutMs));
    status = 200;
    body = { backend: answer.body, environment };
  } catch (error) {
    const failure = describe(error);
    status = failure.status;
    body = { error: failure.message, code: failure.code, environment };
  }
  return { status, body, meta: meta(before, breaker.stats()) };
}

/** Waits for the breaker's store writes in flight, then closes the store's connections. */
export async function shutdown(): Promise<void> {
  await breaker.close();
  await store?.close();
}

function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof CircuitOpenError) return { status: 503, code: error.code, message: error.message };
  if (error instanceof BackendTimeoutError) return { status: 504, code: error.code, message: error.message };
  if (error instanceof BackendHttpError || error instanceof BackendUnreachableError) return { status: 502, code: error.code, message: error.message };
  return { status: 502, code: 'FUNCTION_ERROR', message: error instanceof Error ? error.message : String(error) };
}

// One invocation at a time per environment: the stats' deltas are this call's. Small on
// purpose: the gateway keeps one per invocation.
function meta(before: CircuitBreakerStats, after: CircuitBreakerStats): Record<string, unknown> {
  return {
    backendCalled: after.calls > before.calls,
    trial: after.trialCalls > before.trialCalls,
    rejected: after.rejected > before.rejected,
    state: after.state,
    generation: after.generation,
    generationSource: after.generationSource,
    /** Decided by the local fallback: the store was out of reach (shared mode). */
    fallback: after.fallbackCalls > before.fallbackCalls,
    storeAvailable: after.storeAvailable,
  };
}
