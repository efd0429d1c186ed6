import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { DIRECTIONS, ProxyConnection, type Address, type Direction } from './connection.ts';
import { FAULT_TYPES } from './faults/index.ts';
import { FaultSpecError, MAX_LEASE_MS, type FaultBehaviour } from './fault-type.ts';
import { validateProxySpec } from './proxy-spec.ts';

/** A named listener in front of one dependency. */
export interface ProxySpec {
  name: string;
  /** Port on 127.0.0.1; 0 or absent picks a free one; else 1024 or above (never a privileged port). */
  listenPort?: number;
  /** The dependency: on this machine only (127.0.0.0/8, ::1 or localhost). */
  upstream: Address;
}

/** What to inject. */
export interface FaultSpec {
  type: string;
  params?: Record<string, unknown>;
  /** upstream (client → dependency), downstream, or both; default: the fault type's own. */
  direction?: Direction | 'both';
  /** Probability that a given connection is affected, 0 to 1 (default 1). */
  toxicity?: number;
  /** Lease: the fault reverts by itself after this long (default and maximum: maxLeaseMs). */
  durationMs?: number;
  /** The fault reverts by itself when this process is gone. */
  ownerPid?: number;
}

/** An active fault, as reported. */
export interface FaultRecord {
  id: string;
  proxy: string;
  type: string;
  params: Record<string, unknown>;
  directions: Direction[];
  toxicity: number;
  createdAt: string;
  expiresAt: string;
  ownerPid: number | null;
}

/** What adding a fault did: the proof that it landed. */
export interface AddFaultResult extends FaultRecord {
  /** Open connections the fault reached (reset, held, slowed, …). */
  affectedConnections: number;
  /** Connections open when it was added. */
  openConnections: number;
  /** True when the listener stopped listening (refuse). */
  listenerClosed: boolean;
}

/** Why a fault ended. */
export type RemovalReason = 'removed' | 'expired' | 'owner-exited' | 'proxy-removed' | 'cleared';

/** What removing a fault did. */
export interface RemoveFaultResult {
  id: string;
  proxy: string;
  type: string;
  reason: RemovalReason;
  activeMs: number;
  /** Connections it let go of (held bytes flow on). */
  releasedConnections: number;
  listenerReopened: boolean;
}

/** A proxy's state, as reported. */
export interface ProxyStatus {
  name: string;
  listen: Address;
  upstream: Address;
  listening: boolean;
  /** Why the listener could not listen again after a refuse fault, if it could not. */
  listenError: string | null;
  openConnections: number;
  totalConnections: number;
  bytesUpstream: number;
  bytesDownstream: number;
  /** Chunks a fault is holding right now (delayed, throttled, blackholed), both directions. */
  heldChunks: number;
  faults: FaultRecord[];
}

/** Options of a fault proxy. */
export interface FaultProxyOptions {
  /** Longest lease, and the lease of a fault that gives no duration (default and maximum: MAX_LEASE_MS, 15 min). */
  maxLeaseMs?: number;
  /** How often owner processes are checked (default 250 ms). */
  ownerCheckIntervalMs?: number;
  /** Source of randomness for toxicity; inject a seeded one for reproducible runs. */
  random?: () => number;
}

/** Events: 'fault-added' (AddFaultResult), 'fault-removed' (RemoveFaultResult). */
export interface FaultProxyEvents {
  'fault-added': [AddFaultResult];
  'fault-removed': [RemoveFaultResult];
}

const HOST = '127.0.0.1';
const FAULT_FIELDS = ['type', 'params', 'direction', 'toxicity', 'durationMs', 'ownerPid'];

/** The port a listener asked for is taken (409 at the control API). */
export class PortInUseError extends Error {
  readonly code = 'PORT_IN_USE';
  readonly port: number;
  constructor(port: number) {
    super(`port ${port} on ${HOST} is already in use`);
    this.name = 'PortInUseError';
    this.port = port;
  }
}

interface ActiveFault {
  record: FaultRecord;
  behaviour: FaultBehaviour;
  affected: Set<ProxyConnection>;
  leaseTimer: NodeJS.Timeout;
  createdAtMs: number;
}

/** One listener: accepts clients, dials the dependency, applies the active faults. */
class ProxyListener {
  readonly name: string;
  readonly upstream: Address;
  readonly connections = new Set<ProxyConnection>();
  readonly faults = new Map<string, ActiveFault>();
  #server: Server | undefined;
  #port: number;
  totalConnections = 0;
  bytesUpstream = 0;
  bytesDownstream = 0;
  readonly #random: () => number;

  constructor(spec: ProxySpec, random: () => number) {
    this.name = spec.name;
    this.upstream = { ...spec.upstream };
    this.#port = spec.listenPort ?? 0;
    this.#random = random;
  }

  get listen(): Address {
    return { host: HOST, port: this.#port };
  }

  get listening(): boolean {
    return this.#server?.listening ?? false;
  }

  /** The last failure to reopen the listener, if the latest attempt failed. */
  listenError: string | undefined;
  #changes: Promise<unknown> = Promise.resolve();

  /**
   * Brings the listener in line with the active faults: closed while a refuse fault (toxicity 1)
   * is active, listening otherwise. Changes run one at a time, so concurrent adds and removals
   * cannot race. Resolves with what changed; never rejects (a failed reopen is in listenError).
   */
  reconcile(): Promise<{ closed: boolean; reopened: boolean }> {
    const change = this.#changes.then(async () => {
      const refusing = [...this.faults.values()].some((f) => f.behaviour.refusesConnections && f.record.toxicity >= 1);
      if (refusing && this.#server) {
        this.#stopListening();
        return { closed: true, reopened: false };
      }
      if (!refusing && !this.#server) {
        try {
          await this.open();
          this.listenError = undefined;
          return { closed: false, reopened: true };
        } catch (error) {
          this.listenError = (error as Error).message;
        }
      }
      return { closed: false, reopened: false };
    });
    this.#changes = change;
    return change;
  }

  /**
   * Listens on the proxy's port (the same one again after a refuse fault ends). Rejects with
   * PortInUseError when the port is taken.
   */
  async open(options: { retry?: boolean } = {}): Promise<void> {
    // Retried briefly when reopening: that races with the kernel releasing the port after a
    // refuse fault. A first open is not: a taken port is someone else's.
    const attempts = options.retry === false ? 0 : 20;
    for (let attempt = 0; ; attempt++) {
      const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (error: Error): void => {
            server.off('listening', onListening);
            reject(error);
          };
          const onListening = (): void => {
            server.off('error', onError);
            resolve();
          };
          server.once('error', onError);
          server.once('listening', onListening);
          server.listen(this.#port, HOST);
        });
        const address = server.address();
        if (address && typeof address === 'object') this.#port = address.port;
        this.#server = server;
        return;
      } catch (error) {
        server.close();
        const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (inUse && (attempt >= attempts || this.#port === 0)) throw new PortInUseError(this.#port);
        if (!inUse) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Stops accepting: the port closes at once (ECONNREFUSED); open connections are not waited for. */
  #stopListening(): void {
    const server = this.#server;
    this.#server = undefined;
    server?.close();
  }

  /** Stops listening for good (the proxy is being removed). */
  async shutdown(): Promise<void> {
    await this.#changes;
    this.#stopListening();
  }

  /** Decides whether a fault reaches a connection: toxicity is a per-connection probability. */
  chosen(toxicity: number): boolean {
    return toxicity >= 1 || this.#random() < toxicity;
  }

  #accept(client: Socket): void {
    this.totalConnections++;
    const connection = new ProxyConnection(client, (closed) => {
      this.connections.delete(closed);
      this.bytesUpstream += closed.upstreamLink.bytes;
      this.bytesDownstream += closed.downstreamLink.bytes;
      for (const fault of this.faults.values()) fault.affected.delete(closed);
    });
    this.connections.add(connection);
    for (const [id, fault] of this.faults) {
      if (connection.closed || !this.chosen(fault.record.toxicity)) continue;
      connection.attach(id, (signal) => fault.behaviour.attach(connection, fault.record.directions, true, signal));
      if (!connection.closed) fault.affected.add(connection);
    }
    if (!connection.closed) void connection.connectUpstream(this.upstream);
  }
}

let nextFaultId = 1;

/**
 * The fault proxy: named TCP listeners, one per dependency, through which every connection
 * from a shop instance to that dependency passes, and the faults active on them.
 *
 * A fault reaches the connections already open and the new ones alike, and is removed as
 * cleanly. Every fault has a lease: it reverts by itself when its duration ends or when the
 * process that set it (ownerPid) is gone, so a crashed controller never leaves a fault behind.
 */
export class FaultProxy extends EventEmitter<FaultProxyEvents> {
  readonly #listeners = new Map<string, ProxyListener>();
  // Names whose listener is still opening: a concurrent add of the same name must not slip in.
  readonly #opening = new Set<string>();
  readonly #maxLeaseMs: number;
  readonly #random: () => number;
  readonly #ownerWatch: NodeJS.Timeout;

  constructor(options: FaultProxyOptions = {}) {
    super();
    this.#maxLeaseMs = Math.min(options.maxLeaseMs ?? MAX_LEASE_MS, MAX_LEASE_MS);
    this.#random = options.random ?? Math.random;
    this.#ownerWatch = setInterval(() => this.#checkOwners(), options.ownerCheckIntervalMs ?? 250);
    this.#ownerWatch.unref();
  }

  /** Opens a listener for a dependency. */
  async addProxy(spec: ProxySpec): Promise<ProxyStatus> {
    validateProxySpec(spec);
    if (this.#listeners.has(spec.name) || this.#opening.has(spec.name)) throw new FaultSpecError(`proxy ${spec.name} already exists`, 'INVALID_PROXY');
    const listener = new ProxyListener(spec, this.#random);
    this.#opening.add(spec.name);
    try {
      await listener.open({ retry: false });
    } finally {
      this.#opening.delete(spec.name);
    }
    this.#listeners.set(spec.name, listener);
    return this.#status(listener);
  }

  /** Removes a proxy: its faults end and its connections close. */
  async removeProxy(name: string): Promise<void> {
    const listener = this.#listener(name);
    for (const id of [...listener.faults.keys()]) await this.#remove(listener, id, 'proxy-removed');
    await listener.shutdown();
    for (const connection of [...listener.connections]) connection.close();
    this.#listeners.delete(name);
  }

  /** Every proxy with its connections and faults. */
  list(): ProxyStatus[] {
    return [...this.#listeners.values()].map((listener) => this.#status(listener));
  }

  /** One proxy's state. */
  status(name: string): ProxyStatus {
    return this.#status(this.#listener(name));
  }

  /** Adds a fault to a proxy, atomically for open and new connections; returns what it reached. */
  async addFault(proxy: string, spec: FaultSpec): Promise<AddFaultResult> {
    const listener = this.#listener(proxy);
    for (const field of Object.keys(spec)) {
      if (!FAULT_FIELDS.includes(field)) throw new FaultSpecError(`a fault has no field ${JSON.stringify(field)} (it takes ${FAULT_FIELDS.join(', ')})`);
    }
    const type = typeof spec.type === 'string' ? FAULT_TYPES.get(spec.type) : undefined;
    if (!type) throw new FaultSpecError(`unknown fault type ${JSON.stringify(spec.type)} (known: ${[...FAULT_TYPES.keys()].join(', ')})`);
    const rawParams: unknown = spec.params ?? {};
    if (typeof rawParams !== 'object' || rawParams === null || Array.isArray(rawParams)) {
      throw new FaultSpecError(`params must be an object, got ${JSON.stringify(spec.params)}`);
    }
    const params = type.parse(rawParams as Record<string, unknown>) as Record<string, unknown>;
    const directions = resolveDirections(spec.direction, type.defaultDirections);
    const toxicity = spec.toxicity ?? 1;
    if (typeof toxicity !== 'number' || !(toxicity >= 0 && toxicity <= 1)) {
      throw new FaultSpecError(`toxicity must be a number from 0 to 1, got ${JSON.stringify(spec.toxicity)}`);
    }
    const durationMs = spec.durationMs ?? this.#maxLeaseMs;
    if (typeof durationMs !== 'number' || !(durationMs > 0 && durationMs <= this.#maxLeaseMs)) {
      throw new FaultSpecError(`durationMs must be a number above 0 and at most ${this.#maxLeaseMs}, got ${JSON.stringify(spec.durationMs)}`);
    }
    if (spec.ownerPid !== undefined && !(Number.isInteger(spec.ownerPid) && spec.ownerPid > 0)) {
      throw new FaultSpecError(`ownerPid must be a positive integer, got ${JSON.stringify(spec.ownerPid)}`);
    }
    if (spec.ownerPid !== undefined && !processAlive(spec.ownerPid)) {
      throw new FaultSpecError(`ownerPid ${spec.ownerPid} is not a running process`);
    }

    const behaviour = type.create(params);
    const id = `f-${nextFaultId++}`;
    const createdAtMs = Date.now();
    const record: FaultRecord = {
      id,
      proxy,
      type: type.name,
      params,
      directions,
      toxicity,
      createdAt: new Date(createdAtMs).toISOString(),
      expiresAt: new Date(createdAtMs + durationMs).toISOString(),
      ownerPid: spec.ownerPid ?? null,
    };
    // Never throws: the fault is gone even if the listener could not reopen (see listenError).
    const leaseTimer = setTimeout(() => void this.#remove(listener, id, 'expired').catch(() => {}), durationMs);
    leaseTimer.unref();
    const fault: ActiveFault = { record, behaviour, affected: new Set(), leaseTimer, createdAtMs };

    // Registered before touching connections, so a connection accepted from here on gets it too.
    listener.faults.set(id, fault);
    const open = [...listener.connections];
    const { closed: listenerClosed } = await listener.reconcile();
    let reached = 0;
    for (const connection of open) {
      if (connection.closed || !listener.chosen(toxicity)) continue;
      const attached = connection.attach(id, (signal) => behaviour.attach(connection, directions, false, signal));
      if (!connection.closed) fault.affected.add(connection);
      // Reached: something attached, or the fault acted once and for all (reset, refuse).
      if (attached || connection.closed) reached++;
    }
    const result: AddFaultResult = { ...record, affectedConnections: reached, openConnections: open.length, listenerClosed };
    this.emit('fault-added', result);
    return result;
  }

  /** Removes one fault. */
  async removeFault(proxy: string, id: string): Promise<RemoveFaultResult> {
    const listener = this.#listener(proxy);
    if (!listener.faults.has(id)) throw new FaultNotFoundError(`proxy ${proxy} has no fault ${id}`);
    return this.#remove(listener, id, 'removed');
  }

  /** Removes every fault on every proxy (or on one). */
  async clearFaults(proxy?: string): Promise<RemoveFaultResult[]> {
    const listeners = proxy === undefined ? [...this.#listeners.values()] : [this.#listener(proxy)];
    const results: RemoveFaultResult[] = [];
    for (const listener of listeners) {
      for (const id of [...listener.faults.keys()]) results.push(await this.#remove(listener, id, 'cleared'));
    }
    return results;
  }

  /** Every active fault. */
  faults(): FaultRecord[] {
    return [...this.#listeners.values()].flatMap((listener) => [...listener.faults.values()].map((fault) => fault.record));
  }

  /** Removes every proxy and fault. */
  async close(): Promise<void> {
    clearInterval(this.#ownerWatch);
    for (const name of [...this.#listeners.keys()]) await this.removeProxy(name);
  }

  async #remove(listener: ProxyListener, id: string, reason: RemovalReason): Promise<RemoveFaultResult> {
    const fault = listener.faults.get(id);
    if (!fault) throw new FaultNotFoundError(`proxy ${listener.name} has no fault ${id}`);
    listener.faults.delete(id); // synchronously: a second removal (lease, owner, request) finds nothing
    clearTimeout(fault.leaseTimer);
    let released = 0;
    for (const connection of fault.affected) {
      if (!connection.closed) released++;
      connection.detach(id);
    }
    const listenerReopened = reason === 'proxy-removed' ? false : (await listener.reconcile()).reopened;
    const result: RemoveFaultResult = {
      id,
      proxy: listener.name,
      type: fault.record.type,
      reason,
      activeMs: Date.now() - fault.createdAtMs,
      releasedConnections: released,
      listenerReopened,
    };
    this.emit('fault-removed', result);
    return result;
  }

  #checkOwners(): void {
    for (const listener of this.#listeners.values()) {
      for (const [id, fault] of listener.faults) {
        const owner = fault.record.ownerPid;
        if (owner !== null && !processAlive(owner)) void this.#remove(listener, id, 'owner-exited').catch(() => {});
      }
    }
  }

  #listener(name: string): ProxyListener {
    const listener = this.#listeners.get(name);
    if (!listener) throw new FaultNotFoundError(`no proxy named ${JSON.stringify(name)} (proxies: ${[...this.#listeners.keys()].join(', ') || 'none'})`);
    return listener;
  }

  #status(listener: ProxyListener): ProxyStatus {
    let bytesUpstream = listener.bytesUpstream;
    let bytesDownstream = listener.bytesDownstream;
    let heldChunks = 0;
    for (const connection of listener.connections) {
      bytesUpstream += connection.upstreamLink.bytes;
      bytesDownstream += connection.downstreamLink.bytes;
      heldChunks += connection.upstreamLink.held + connection.downstreamLink.held;
    }
    return {
      name: listener.name,
      listen: listener.listen,
      upstream: listener.upstream,
      listening: listener.listening,
      listenError: listener.listenError ?? null,
      openConnections: listener.connections.size,
      heldChunks,
      totalConnections: listener.totalConnections,
      bytesUpstream,
      bytesDownstream,
      faults: [...listener.faults.values()].map((fault) => fault.record),
    };
  }
}

/** No such proxy or fault (404 at the control API). */
export class FaultNotFoundError extends Error {
  readonly code = 'NOT_FOUND';
  constructor(message: string) {
    super(message);
    this.name = 'FaultNotFoundError';
  }
}

function resolveDirections(direction: FaultSpec['direction'], defaults: readonly Direction[]): Direction[] {
  if (direction === undefined) return [...defaults];
  if (direction === 'both') return [...DIRECTIONS];
  if (direction === 'upstream' || direction === 'downstream') return [direction];
  throw new FaultSpecError(`direction must be upstream, downstream or both, got ${JSON.stringify(direction)}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
