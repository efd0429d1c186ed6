import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Address } from '../fault-proxy/connection.ts';

/** An open connection to the place a client is forwarded to. */
export interface Dialled {
  socket: Socket;
  target: Address;
}

/**
 * Opens the upstream side for a new client: an open socket, or undefined to reset the client.
 * It may take its time (a proxy holding the client until a target accepts).
 */
export type Dialer = (client: Socket) => Promise<Dialled | undefined>;

/** Dials `target` once: the open socket, or undefined when the connection fails or takes longer than `timeoutMs`. */
export function dial(target: Address, timeoutMs = 10_000): Promise<Dialled | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    const fail = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    };
    const timer = setTimeout(fail, timeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve({ socket, target });
    });
  });
}

/** A dialer that always goes to where `resolve` says right now (the lab's stable endpoints). */
export function routeTo(resolve: () => Address | undefined): Dialer {
  return async () => {
    const target = resolve();
    return target ? dial(target) : undefined;
  };
}

interface Forwarded {
  client: Socket;
  upstream: Socket | undefined;
  target: Address | undefined;
}

/**
 * A plain TCP forwarder on loopback: each accepted connection is routed (route() picks the
 * target, per connection) and piped both ways. The lab's stable endpoints and the database
 * proxy are built on it. It knows which target each connection went to, so it can cut them.
 * Bytes a client sends before its upstream is open wait in its socket.
 */
export class TcpForwarder {
  readonly #dial: Dialer;
  readonly #connections = new Set<Forwarded>();
  /** Every socket (client or upstream) until it closes, including half-closed ones no longer forwarded. */
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port: number;
  totalConnections = 0;

  constructor(dialer: Dialer, port = 0) {
    this.#dial = dialer;
    this.#port = port;
  }

  /** The address clients connect to. */
  get address(): Address {
    return { host: '127.0.0.1', port: this.#port };
  }

  /** Connections currently open through this forwarder. */
  get openConnections(): number {
    return this.#connections.size;
  }

  async listen(): Promise<Address> {
    const server = createServer({ noDelay: true }, (client) => {
      this.#sockets.add(client);
      client.once('close', () => this.#sockets.delete(client));
      void this.#accept(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') this.#port = address.port;
    this.#server = server;
    return this.address;
  }

  /** Resets every open connection (or only those to `target`); returns how many were cut. */
  cut(target?: Address): number {
    let cut = 0;
    for (const connection of [...this.#connections]) {
      if (target && !(connection.target && sameAddress(connection.target, target))) continue;
      this.#drop(connection, true);
      cut++;
    }
    return cut;
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // server.close waits for every socket: a half-closed one (its peer never ended) would hold it forever.
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async #accept(client: Socket): Promise<void> {
    this.totalConnections++;
    const connection: Forwarded = { client, upstream: undefined, target: undefined };
    this.#connections.add(connection);
    client.on('error', () => this.#drop(connection, true));
    client.on('close', () => this.#drop(connection, false));
    client.pause();
    let dialled: Dialled | undefined;
    try {
      dialled = await this.#dial(client);
    } catch {
      dialled = undefined;
    }
    if (!this.#connections.has(connection)) {
      dialled?.socket.destroy(); // the client left, or was cut, while we dialled
      return;
    }
    if (!dialled) {
      this.#drop(connection, true);
      return;
    }
    const upstream = dialled.socket;
    this.#sockets.add(upstream);
    upstream.once('close', () => this.#sockets.delete(upstream));
    connection.target = dialled.target;
    connection.upstream = upstream;
    upstream.on('error', () => this.#drop(connection, true));
    upstream.on('close', () => this.#drop(connection, false));
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  #drop(connection: Forwarded, reset: boolean): void {
    if (!this.#connections.delete(connection)) return;
    for (const socket of [connection.client, connection.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.end(); // graceful: bytes already piped still reach the other side
    }
  }
}

/** True when two addresses are the same host and port. */
export function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}
