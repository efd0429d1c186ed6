import { connect, type Socket } from 'node:net';

/** Which way bytes flow: upstream is client → dependency, downstream is dependency → client. */
export type Direction = 'upstream' | 'downstream';

/** Both directions, in a fixed order. */
export const DIRECTIONS: readonly Direction[] = ['upstream', 'downstream'];

/**
 * What a fault does to one direction of one connection: every chunk passes through the
 * stages in order. A stage may wait (latency, blackhole), shrink the chunk (limit_data), or
 * return undefined to drop the rest of the stream.
 */
export type Stage = (chunk: Buffer, arrivedAt: number) => Promise<Buffer | undefined> | Buffer | undefined;

/**
 * What a fault attaches to one connection. Detaching aborts the signal the fault was given when
 * it made the attachment (its waits end, what it holds flows on), then calls detach().
 */
export interface Attachment {
  stages?: Partial<Record<Direction, Stage>>;
  /** Runs before the dependency is dialled, for connections that are new when the fault is active. */
  beforeConnect?: () => Promise<void>;
  /** Runs when a direction's source has ended, before the end is passed on (slow_close). */
  beforeEnd?: Partial<Record<Direction, () => Promise<void>>>;
  detach?: () => void;
}

/** Where to dial. */
export interface Address {
  host: string;
  port: number;
}

// Chunks queued in one direction before the source is paused (backpressure while a fault holds data).
const HIGH_WATER_CHUNKS = 64;

/** One direction of a connection: an ordered pipeline from a source socket to a destination. */
class Link {
  #source: Socket | undefined;
  readonly #destination: Promise<Socket>;
  readonly #stages: Map<string, Stage>;
  readonly #beforeEnd: Map<string, () => Promise<void>>;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #ended = false;
  bytes = 0;

  /** Chunks received and not yet written on: held by a fault's stage (or queued behind one). */
  get held(): number {
    return this.#queued;
  }

  constructor(source: Socket | undefined, destination: Promise<Socket>, stages: Map<string, Stage>, beforeEnd: Map<string, () => Promise<void>>) {
    this.#source = source;
    this.#destination = destination;
    this.#stages = stages;
    this.#beforeEnd = beforeEnd;
    void destination.then((socket) => (this.#ready = socket));
  }

  /** The socket this direction reads from, paused while too much is queued. */
  set source(socket: Socket) {
    this.#source = socket;
  }

  /** The destination, once it is known (the dependency's socket is dialled after accept). */
  #ready: Socket | undefined;

  push(chunk: Buffer): void {
    // Fast path, the common case: no fault on this direction and nothing queued ahead, so the
    // chunk is written at once, without a promise per chunk. This is what keeps a fault-free
    // proxy cheap.
    const destination = this.#ready;
    if (destination && this.#queued === 0 && this.#stages.size === 0) {
      if (destination.destroyed || destination.writableEnded) return;
      this.bytes += chunk.length;
      if (!destination.write(chunk) && this.#source) {
        const source = this.#source;
        source.pause();
        destination.once('drain', () => source.resume());
      }
      return;
    }
    if (++this.#queued >= HIGH_WATER_CHUNKS) this.#source?.pause();
    const arrivedAt = Date.now();
    // A failed write (the peer reset) must not become an unhandled rejection: the socket's own
    // 'error' handler closes the connection.
    this.#tail = this.#tail.then(() => this.#forward(chunk, arrivedAt)).catch(() => {});
  }

  /** Passes the source's end (FIN) on, once every queued chunk has gone through. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#tail = this.#tail
      .then(async () => {
        for (const hook of [...this.#beforeEnd.values()]) await hook();
        const destination = await this.#destination;
        if (!destination.destroyed && !destination.writableEnded) destination.end();
      })
      .catch(() => {});
  }

  async #forward(chunk: Buffer, arrivedAt: number): Promise<void> {
    let data: Buffer | undefined = chunk;
    // A snapshot: a fault added while this chunk waits applies from the next chunk on.
    for (const stage of [...this.#stages.values()]) {
      data = await stage(data, arrivedAt);
      if (data === undefined || data.length === 0) break;
    }
    const destination = await this.#destination;
    if (data !== undefined && data.length > 0 && !destination.destroyed && !destination.writableEnded) {
      this.bytes += data.length;
      if (!destination.write(data)) await writable(destination);
    }
    // Counted down only once written: the fast path in push() must not overtake this chunk.
    if (--this.#queued < HIGH_WATER_CHUNKS / 2 && this.#source?.isPaused()) this.#source.resume();
  }
}

/** Resolves when `socket` can take more data, or will never need to (closed, failed). */
function writable(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      socket.off('error', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}

let nextConnectionId = 1;

/**
 * One client connection through the fault proxy, and its connection to the dependency.
 * Faults attach to it by id; its per-connection state lives here, not on the fault.
 */
export class ProxyConnection {
  readonly id = nextConnectionId++;
  readonly client: Socket;
  readonly openedAt = Date.now();
  readonly #stages: Record<Direction, Map<string, Stage>> = { upstream: new Map(), downstream: new Map() };
  readonly #beforeEnd: Record<Direction, Map<string, () => Promise<void>>> = { upstream: new Map(), downstream: new Map() };
  readonly #attachments = new Map<string, { attachment: Attachment; controller: AbortController }>();
  #upstream: Socket | undefined;
  #closed = false;
  readonly #onClose: (connection: ProxyConnection) => void;
  readonly upstreamLink: Link;
  readonly downstreamLink: Link;
  readonly #resolveUpstream: (socket: Socket) => void;

  constructor(client: Socket, onClose: (connection: ProxyConnection) => void) {
    this.client = client;
    this.#onClose = onClose;
    let resolveUpstream!: (socket: Socket) => void;
    const upstream = new Promise<Socket>((resolve) => (resolveUpstream = resolve));
    this.#resolveUpstream = resolveUpstream;
    this.upstreamLink = new Link(client, upstream, this.#stages.upstream, this.#beforeEnd.upstream);
    this.downstreamLink = new Link(undefined, Promise.resolve(client), this.#stages.downstream, this.#beforeEnd.downstream);
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.upstreamLink.push(chunk));
    client.on('end', () => this.upstreamLink.end());
    client.on('error', () => this.#closeBoth('reset'));
    client.on('close', () => {
      // Nothing dialled yet (held by a fault): there is nothing left to pass on.
      if (!this.#upstream) this.#closeBoth('close');
      else this.upstreamLink.end();
      this.#finishWhenBothClosed();
    });
  }

  /** True once either side has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Attaches a fault's effect under `faultId`. `make` builds it, given a signal that aborts when
   * it is detached. Returns whether anything was attached (a reset acts once and attaches nothing).
   */
  attach(faultId: string, make: (signal: AbortSignal) => Attachment | undefined): boolean {
    const controller = new AbortController();
    const attachment = make(controller.signal);
    if (!attachment) return false;
    // Closed while attaching (the fault itself may have reset it): nothing will detach it later.
    if (this.#finished) {
      controller.abort();
      return true;
    }
    this.#attachments.set(faultId, { attachment, controller });
    for (const direction of ['upstream', 'downstream'] as const) {
      const stage = attachment.stages?.[direction];
      if (stage) this.#stages[direction].set(faultId, stage);
      const hook = attachment.beforeEnd?.[direction];
      if (hook) this.#beforeEnd[direction].set(faultId, hook);
    }
    return true;
  }

  /** Removes a fault's effect; whatever it held flows on. */
  detach(faultId: string): void {
    const attached = this.#attachments.get(faultId);
    if (!attached) return;
    const { attachment, controller } = attached;
    this.#attachments.delete(faultId);
    this.#stages.upstream.delete(faultId);
    this.#stages.downstream.delete(faultId);
    this.#beforeEnd.upstream.delete(faultId);
    this.#beforeEnd.downstream.delete(faultId);
    // Ends the fault's pending waits: a chunk it delays is passed on now, not when its timer fires.
    controller.abort();
    attachment.detach?.();
  }

  /** Dials the dependency once every beforeConnect hook has passed, then pipes bytes both ways. */
  async connectUpstream(target: Address): Promise<void> {
    try {
      await this.#connectUpstream(target);
    } catch {
      this.#closeBoth('reset');
    }
  }

  async #connectUpstream(target: Address): Promise<void> {
    for (const { attachment } of [...this.#attachments.values()]) await attachment.beforeConnect?.();
    if (this.#closed) return;
    // Half-open sockets, so that each direction's end travels on its own (slow_close needs it).
    const upstream = connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    this.#upstream = upstream;
    this.downstreamLink.source = upstream;
    upstream.on('data', (chunk: Buffer) => this.downstreamLink.push(chunk));
    upstream.on('end', () => this.downstreamLink.end());
    upstream.on('error', () => this.#closeBoth('reset'));
    upstream.on('close', () => {
      this.downstreamLink.end();
      this.#finishWhenBothClosed();
    });
    this.#resolveUpstream(upstream);
  }

  /** Sends a TCP RST to the client and the dependency. */
  reset(): void {
    this.#closeBoth('reset');
  }

  /** Closes both sides gracefully (FIN). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.end();
    this.#upstream?.end();
    this.#finish();
  }

  #closeBoth(how: 'reset' | 'close'): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    for (const socket of [this.client, this.#upstream]) {
      if (!socket || socket.destroyed) continue;
      if (how === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    }
    this.#finish();
  }

  #finishWhenBothClosed(): void {
    if (this.client.closed && (this.#upstream === undefined || this.#upstream.closed)) {
      this.#closed = true;
      this.#finish();
    }
  }

  #finished = false;

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const id of [...this.#attachments.keys()]) this.detach(id);
    this.#onClose(this);
  }
}
