import { setTimeout as sleep } from 'node:timers/promises';
import type { Attachment, Direction, ProxyConnection } from './connection.ts';

/**
 * The longest lease a fault can have (15 min), and so the longest any one wait of a fault may
 * last: a chunk held longer than its fault can live would outlast the fault that held it.
 */
export const MAX_LEASE_MS = 15 * 60_000;

/**
 * A fault or proxy specification that does not make sense (400 at the control API); the
 * message names the field and the value. Codes: INVALID_FAULT, INVALID_PROXY.
 */
export class FaultSpecError extends Error {
  readonly code: string;
  constructor(message: string, code = 'INVALID_FAULT') {
    super(message);
    this.name = 'FaultSpecError';
    this.code = code;
  }
}

/** One active fault's effect, created from validated parameters. */
export interface FaultBehaviour {
  /** While active, the listener refuses new connections (it stops listening). */
  readonly refusesConnections?: boolean;
  /**
   * Applies the fault to one connection, in the affected directions. `isNew` tells a
   * connection accepted while the fault is active from one that was already open.
   * Returns what to attach, or nothing when the fault acted once and for all (reset).
   * `signal` aborts when the attachment is detached (the fault removed or expired, the proxy
   * or the connection closed): every wait the fault makes must end then, so that what it
   * holds flows on at once.
   */
  attach(connection: ProxyConnection, directions: readonly Direction[], isNew: boolean, signal: AbortSignal): Attachment | undefined;
}

/**
 * A kind of fault, registered by name: its settings are validated by parse(), its effect is
 * create()d once per fault and attached to each connection it affects. Per-connection state
 * lives in the attachment, never on the fault type.
 */
export interface FaultType<P> {
  readonly name: string;
  /** One line for help texts and `fault list`. */
  readonly description: string;
  /** Directions affected when the fault does not say. */
  readonly defaultDirections: readonly Direction[];
  parse(params: Record<string, unknown>): P;
  create(params: P): FaultBehaviour;
}

/** Reads an optional non-negative number (a duration in ms by default: at most MAX_LEASE_MS). */
export function numberParam(params: Record<string, unknown>, name: string, fallback?: number, options: { min?: number; max?: number } = {}): number {
  const value = params[name] ?? fallback;
  const min = options.min ?? 0;
  const max = options.max ?? MAX_LEASE_MS;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new FaultSpecError(`${name} must be a number, got ${JSON.stringify(value)}`);
  }
  if (value < min || value > max) throw new FaultSpecError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Refuses parameters a fault does not know, so a typo is not silently ignored. */
export function onlyParams(params: Record<string, unknown>, fault: string, known: readonly string[]): void {
  for (const name of Object.keys(params)) {
    if (!known.includes(name)) {
      throw new FaultSpecError(`${fault} has no parameter ${JSON.stringify(name)}${known.length ? ` (it takes ${known.join(', ')})` : ''}`);
    }
  }
}

/** Waits `ms`, or less: resolves early (never rejects) once `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  await sleep(ms, undefined, { signal }).catch(() => {});
}

/** Resolves once `signal` aborts: how a holding fault (blackhole) releases what it holds. */
export function released(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
