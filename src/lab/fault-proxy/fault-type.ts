import type { Attachment, Direction, ProxyConnection } from './connection.ts';

/** A fault specification that does not make sense; the message names the field and the value. */
export class FaultSpecError extends Error {
  readonly code = 'INVALID_FAULT';
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
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
   */
  attach(connection: ProxyConnection, directions: readonly Direction[], isNew: boolean): Attachment | undefined;
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

/** Reads an optional non-negative number (a duration in ms, a rate, a byte count). */
export function numberParam(params: Record<string, unknown>, name: string, fallback?: number, options: { min?: number; max?: number } = {}): number {
  const value = params[name] ?? fallback;
  const min = options.min ?? 0;
  const max = options.max ?? 24 * 3600 * 1000;
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

/** A promise and the function that settles it: how a holding fault releases what it holds. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}
