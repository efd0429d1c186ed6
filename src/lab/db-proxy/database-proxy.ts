import type { Socket } from 'node:net';
import type { Address } from '../fault-proxy/connection.ts';
import { dial, TcpForwarder, type Dialled } from '../net/tcp-forwarder.ts';

/** Where the proxy's targets are right now: undefined while there is none (a failover). */
export interface ProxyTargets {
  writerAddress(): Address | undefined;
  readerAddress(): Address | undefined;
}

/** Options of a database proxy. */
export interface DatabaseProxyOptions {
  /** How long a new connection is held waiting for a target before it is reset (RDS Proxy: 120 s). */
  borrowTimeoutMs?: number;
  /** How often a held connection tries its target again. */
  retryIntervalMs?: number;
}

/** The proxy's state, as reported. */
export interface DatabaseProxyStatus {
  registered: boolean;
  writer: { address: Address; openConnections: number; heldConnections: number };
  reader: { address: Address; openConnections: number; heldConnections: number };
  borrowTimeoutMs: number;
}

/** What (de)registering did. */
export interface RegistrationResult {
  registered: boolean;
  /** Connections closed by deregistration. */
  closedConnections: number;
}

const DEFAULT_BORROW_TIMEOUT_MS = 120_000;

/**
 * RDS Proxy's writer and reader endpoints on one machine. A new connection is held (not
 * refused) while the target is away, as during a failover, until the target accepts it or the
 * borrow timeout passes, so a client that reconnects rides through. Targets can be
 * deregistered (Article 4's complete backend outage): every connection attempt then fails at
 * once and open connections are closed, until they are registered again.
 *
 * Unlike RDS Proxy it does not multiplex client connections onto fewer server connections:
 * each client connection is one server connection, which is all the articles' scenarios need.
 */
export class DatabaseProxy {
  readonly #targets: ProxyTargets;
  readonly #borrowTimeoutMs: number;
  readonly #retryIntervalMs: number;
  readonly #writer: TcpForwarder;
  readonly #reader: TcpForwarder;
  readonly #held = { writer: 0, reader: 0 };
  #registered = true;
  #generation = 0;

  constructor(targets: ProxyTargets, options: DatabaseProxyOptions = {}) {
    this.#targets = targets;
    this.#borrowTimeoutMs = options.borrowTimeoutMs ?? DEFAULT_BORROW_TIMEOUT_MS;
    this.#retryIntervalMs = options.retryIntervalMs ?? 50;
    this.#writer = new TcpForwarder((client) => this.#borrow('writer', client));
    this.#reader = new TcpForwarder((client) => this.#borrow('reader', client));
  }

  /** Opens the writer and reader proxy endpoints. */
  async listen(): Promise<void> {
    await this.#writer.listen();
    await this.#reader.listen();
  }

  /** The writer proxy endpoint. */
  get writerEndpoint(): Address {
    return this.#writer.address;
  }

  /** The read-only proxy endpoint. */
  get readerEndpoint(): Address {
    return this.#reader.address;
  }

  get registered(): boolean {
    return this.#registered;
  }

  /** Deregisters the targets: open connections close, new ones fail at once. */
  deregister(): RegistrationResult {
    this.#registered = false;
    this.#generation++; // held connections stop waiting
    const closedConnections = this.#writer.cut() + this.#reader.cut();
    return { registered: false, closedConnections };
  }

  /** Registers the targets again: new connections go through. */
  register(): RegistrationResult {
    this.#registered = true;
    return { registered: true, closedConnections: 0 };
  }

  status(): DatabaseProxyStatus {
    return {
      registered: this.#registered,
      writer: { address: this.writerEndpoint, openConnections: this.#writer.openConnections, heldConnections: this.#held.writer },
      reader: { address: this.readerEndpoint, openConnections: this.#reader.openConnections, heldConnections: this.#held.reader },
      borrowTimeoutMs: this.#borrowTimeoutMs,
    };
  }

  async close(): Promise<void> {
    this.#generation++;
    await this.#writer.close();
    await this.#reader.close();
  }

  /** Waits for a target that accepts a connection; undefined resets the client. */
  async #borrow(role: 'writer' | 'reader', client: Socket): Promise<Dialled | undefined> {
    if (!this.#registered) return undefined;
    const generation = this.#generation;
    const deadline = Date.now() + this.#borrowTimeoutMs;
    this.#held[role]++;
    try {
      // Stops as soon as the client gives up waiting.
      while (this.#registered && generation === this.#generation && Date.now() < deadline && !client.destroyed && !client.readableEnded) {
        const target = role === 'writer' ? this.#targets.writerAddress() : this.#targets.readerAddress();
        const dialled = target ? await dial(target, Math.max(1, Math.min(5000, deadline - Date.now()))) : undefined;
        if (dialled) {
          // Deregistered while we dialled: this connection must fail too.
          if (this.#registered && generation === this.#generation) return dialled;
          dialled.socket.destroy();
          return undefined;
        }
        await new Promise((resolve) => setTimeout(resolve, this.#retryIntervalMs));
      }
      return undefined;
    } finally {
      this.#held[role]--;
    }
  }
}
