import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Address } from '../fault-proxy/connection.ts';
import { routeTo, TcpForwarder } from '../net/tcp-forwarder.ts';
import { newPostgresPassword, PostgresServer, type PostgresSettings, type StopMode } from '../postgres/postgres-server.ts';
import { createDatabase } from '../standalone-shop.ts';
import { cloneAsStandby } from './clone-standby.ts';

/** What a member of the cluster is doing. */
export type MemberRole = 'writer' | 'reader' | 'rebuilding' | 'stopped';

/** One server's state, as reported. */
export interface MemberStatus {
  name: string;
  role: MemberRole;
  running: boolean;
  pid: number | null;
  address: Address;
  /** Bytes of WAL the reader has yet to replay (readers only; null when unknown). */
  replicationLagBytes: number | null;
  /** Replay lag in seconds as PostgreSQL measures it (readers only; null when idle or unknown). */
  replicationLagSeconds: number | null;
}

/** The cluster's state, as reported. */
export interface ClusterStatus {
  members: MemberStatus[];
  endpoints: {
    writer: { address: Address; target: string | null; openConnections: number };
    reader: { address: Address; target: string | null; openConnections: number };
  };
  failoverInProgress: boolean;
}

/** What a failover did: the proof it landed. */
export interface FailoverResult {
  /** The reader that became the writer. */
  promoted: string;
  /** The writer that was stopped and is being rebuilt as the new reader. */
  demoted: string;
  /** Connections through the writer endpoint that broke. */
  cutConnections: number;
  /** From the start of the failover until the new writer accepted writes. */
  writerUnavailableMs: number;
  startedAt: string;
  /** Resolves when the old writer serves as the reader again. */
  readerRebuilt: Promise<{ name: string; durationMs: number }>;
}

/** Options of a cluster. */
export interface ClusterOptions {
  /** Databases to create on the writer before the reader is cloned. */
  databases?: string[];
  /** Extra server settings, on top of those replication needs. */
  settings?: PostgresSettings;
  /** Member names, like Aurora's instance identifiers (default pg-1, pg-2). */
  names?: [string, string];
}

/** Events: 'failover' (FailoverResult), 'reader-rebuilt', 'member-stopped', 'member-started'. */
export interface ClusterEvents {
  failover: [Omit<FailoverResult, 'readerRebuilt'>];
  'reader-rebuilt': [{ name: string; durationMs: number }];
  'rebuild-failed': [{ name: string; error: string }];
  'member-stopped': [{ name: string; mode: StopMode }];
  'member-started': [{ name: string }];
}

/** A cluster operation that cannot be done now; the message says why. */
export class ClusterError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ClusterError';
    this.code = code;
  }
}

const REPLICATION_SETTINGS: PostgresSettings = {
  wal_level: 'replica',
  max_wal_senders: 10,
  // The standby streams the WAL written since its base backup began: keep enough of it.
  wal_keep_size: '256MB',
  hot_standby: 'on',
  wal_sender_timeout: '5s',
  wal_receiver_status_interval: '1s',
  // A standby retries its WAL source after this long (default 5 s): short, so clones catch up at once.
  wal_retrieve_retry_interval: '100ms',
};

interface Member {
  name: string;
  server: PostgresServer;
  role: MemberRole;
}

/**
 * Aurora's writer and reader on one machine: two real PostgreSQL 18 servers with streaming
 * replication, stable writer and reader endpoints (loopback forwarders that always lead to
 * the current writer / reader, like the cluster's DNS names), and failover.
 */
export class PostgresCluster extends EventEmitter<ClusterEvents> {
  readonly #members: Member[];
  readonly #writerEndpoint: TcpForwarder;
  readonly #readerEndpoint: TcpForwarder;
  readonly #password: string;
  /** A failover holds the cluster from its first line to its return; set before any await. */
  #failover: Promise<unknown> | undefined;
  /** The writer endpoint leads nowhere: the old writer is going, the new one not yet promoted. */
  #writerAway = false;
  #rebuild: Promise<unknown> = Promise.resolve();

  private constructor(members: Member[], password: string) {
    super();
    this.#members = members;
    this.#password = password;
    this.#writerEndpoint = new TcpForwarder(routeTo(() => this.writerAddress()));
    this.#readerEndpoint = new TcpForwarder(routeTo(() => this.readerAddress()));
  }

  /** Starts a writer, clones a streaming reader from it, and opens the two endpoints. */
  static async start(options: ClusterOptions = {}): Promise<PostgresCluster> {
    const [writerName, readerName] = options.names ?? ['pg-1', 'pg-2'];
    const settings = { ...REPLICATION_SETTINGS, ...options.settings };
    // One superuser password for the cluster: the reader is a copy of the writer, pg_authid included.
    const password = newPostgresPassword();
    const writer = await PostgresServer.start({ settings, password });
    let reader: PostgresServer | undefined;
    try {
      for (const database of options.databases ?? []) await createDatabase(writer, database);
      reader = await PostgresServer.create({ settings, initialize: false, password });
      await cloneAsStandby(writer, reader, readerName);
      await reader.start();
      const cluster = new PostgresCluster([
        { name: writerName, server: writer, role: 'writer' },
        { name: readerName, server: reader, role: 'reader' },
      ], password);
      await cluster.#waitUntilStreaming(readerName);
      await cluster.#writerEndpoint.listen();
      await cluster.#readerEndpoint.listen();
      return cluster;
    } catch (error) {
      await reader?.destroy();
      await writer.destroy();
      throw error;
    }
  }

  /** The superuser's password, the same on every member: connections through either endpoint need it. */
  get password(): string {
    return this.#password;
  }

  /** The writer endpoint: always leads to the current writer. */
  get writerEndpoint(): Address {
    return this.#writerEndpoint.address;
  }

  /** The reader endpoint: leads to the reader, or to the writer while there is none. */
  get readerEndpoint(): Address {
    return this.#readerEndpoint.address;
  }

  /** The current writer's own address, or undefined while there is none (failover, stopped). */
  writerAddress(): Address | undefined {
    const writer = this.#members.find((m) => m.role === 'writer' && m.server.running);
    return writer && !this.#writerAway ? { host: writer.server.host, port: writer.server.port } : undefined;
  }

  /** The current reader's own address; the writer's when no reader serves (as Aurora's reader endpoint does). */
  readerAddress(): Address | undefined {
    const reader = this.#members.find((m) => m.role === 'reader' && m.server.running);
    return reader ? { host: reader.server.host, port: reader.server.port } : this.writerAddress();
  }

  /** A member's server, by name. */
  server(name: string): PostgresServer {
    return this.#member(name).server;
  }

  /** The name of the member in `role`, if any. */
  memberIn(role: MemberRole): string | undefined {
    return this.#members.find((m) => m.role === role)?.name;
  }

  /**
   * Aurora's failover-db-cluster: the writer is stopped (fast: it sends its last WAL to the
   * reader before exiting, so no committed transaction is lost), the reader is promoted, the
   * endpoints follow, and the old writer is rebuilt as the new reader in the background.
   * Connections to the old writer break, as they do on Aurora.
   */
  async failover(): Promise<FailoverResult> {
    // Claimed before the first await: parallel calls used to pass this check together, then all
    // stopped the writer and promoted the reader, and rebuilt the old writer's data directory
    // several times at once (EEXIST). Now one call wins and the others are refused.
    if (this.#failover) throw new ClusterError('FAILOVER_IN_PROGRESS', 'a failover is already in progress');
    const failover = this.#runFailover();
    this.#failover = failover;
    try {
      return await failover;
    } finally {
      this.#failover = undefined;
    }
  }

  async #runFailover(): Promise<FailoverResult> {
    const writer = this.#members.find((m) => m.role === 'writer' && m.server.running);
    // A reader being rebuilt is not 'reader': a failover during the rebuild is refused here.
    const reader = this.#members.find((m) => m.role === 'reader' && m.server.running);
    if (!writer) throw new ClusterError('NO_WRITER', 'the cluster has no running writer to fail over from');
    if (!reader) throw new ClusterError('NO_READER', 'the cluster has no running reader to promote (is it still being rebuilt?)');
    // A fast shutdown hands its last WAL only to a standby that is streaming: refuse rather
    // than lose acknowledged commits.
    // (A reader that is reconnecting after a restart gets a few seconds to stream again.)
    try {
      await this.#waitUntilStreaming(reader.name, 5000);
    } catch {
      throw new ClusterError('READER_NOT_STREAMING', `${reader.name} is not streaming from ${writer.name}: a failover now could lose commits`);
    }
    const started = Date.now();
    this.#writerAway = true;
    let cutConnections: number;
    try {
      cutConnections = this.#writerEndpoint.cut();
      await writer.server.stop('fast');
      writer.role = 'stopped';
      try {
        await promote(reader.server);
      } catch (error) {
        // Promotion failed: bring the old writer back rather than leave the cluster without one.
        await writer.server.start();
        writer.role = 'writer';
        throw error;
      }
      reader.role = 'writer';
    } finally {
      this.#writerAway = false;
    }
    const writerUnavailableMs = Date.now() - started;
    // Readers that were on the promoted server stay there: it still answers reads.
    const readerRebuilt = this.#rebuildAsReader(writer, reader);
    this.#rebuild = readerRebuilt.catch(() => {});
    const result = { promoted: reader.name, demoted: writer.name, cutConnections, writerUnavailableMs, startedAt: new Date(started).toISOString() };
    this.emit('failover', result);
    return { ...result, readerRebuilt };
  }

  /** Stops one server (Aurora has no such action; the lab uses it for outages). */
  async stopServer(name: string, mode: StopMode = 'fast'): Promise<void> {
    const member = this.#member(name);
    if (this.#failover) throw new ClusterError('FAILOVER_IN_PROGRESS', 'a failover is in progress');
    if (member.role === 'rebuilding') throw new ClusterError('REBUILDING', `${name} is being rebuilt`);
    const wasWriter = member.role === 'writer';
    if (wasWriter) this.#writerEndpoint.cut();
    else this.#readerEndpoint.cut({ host: member.server.host, port: member.server.port });
    await member.server.stop(mode);
    // The member keeps its role: starting it again brings it back as what it was.
    this.emit('member-stopped', { name, mode });
  }

  /** Starts a stopped server again, in the role it had; resolves once replication runs again. */
  async startServer(name: string): Promise<void> {
    const member = this.#member(name);
    if (member.server.running) throw new ClusterError('ALREADY_RUNNING', `${name} is already running`);
    if (member.role === 'stopped' || member.role === 'rebuilding') {
      throw new ClusterError('NOT_STARTABLE', `${name} is ${member.role === 'stopped' ? 'a demoted writer (rebuild it with rebuildReader)' : 'being rebuilt'}`);
    }
    if (this.#failover) throw new ClusterError('FAILOVER_IN_PROGRESS', 'a failover is in progress');
    await member.server.start();
    // Back in its role only once replication runs again: the reader streams from the writer.
    const reader = member.role === 'reader' ? member : this.#members.find((m) => m.role === 'reader' && m.server.running);
    if (reader && this.#members.some((m) => m.role === 'writer' && m.server.running)) await this.#waitUntilStreaming(reader.name);
    this.emit('member-started', { name });
  }

  /** Each member's role, PID and replication lag, and where the endpoints lead. */
  /**
   * Members, roles and endpoints; with `replicationLag: false`, the lag fields are null and no
   * query runs (a caller polling every second, the live dashboard, would otherwise open a
   * connection to the writer each time).
   */
  async status(options: { replicationLag?: boolean } = {}): Promise<ClusterStatus> {
    const lag = options.replicationLag === false ? new Map<string, { bytes: number | null; seconds: number | null }>() : await this.#replicationLag();
    const nameAt = (address: Address | undefined): string | null =>
      address ? (this.#members.find((m) => m.server.running && m.server.port === address.port)?.name ?? null) : null;
    return {
      members: this.#members.map((m) => ({
        name: m.name,
        role: m.role,
        running: m.server.running,
        pid: m.server.pid ?? null,
        address: { host: m.server.host, port: m.server.port },
        replicationLagBytes: m.role === 'reader' ? (lag.get(m.name)?.bytes ?? null) : null,
        replicationLagSeconds: m.role === 'reader' ? (lag.get(m.name)?.seconds ?? null) : null,
      })),
      endpoints: {
        writer: { address: this.writerEndpoint, target: nameAt(this.writerAddress()), openConnections: this.#writerEndpoint.openConnections },
        reader: { address: this.readerEndpoint, target: nameAt(this.readerAddress()), openConnections: this.#readerEndpoint.openConnections },
      },
      failoverInProgress: this.#failover !== undefined,
    };
  }

  /** Resolves once no rebuild is running. */
  async settled(): Promise<void> {
    await this.#rebuild;
  }

  /** Closes the endpoints and destroys both servers. */
  async close(): Promise<void> {
    await this.#failover?.catch(() => {});
    await this.#rebuild;
    await this.#writerEndpoint.close();
    await this.#readerEndpoint.close();
    await Promise.all(this.#members.map((m) => m.server.destroy()));
  }

  /** Rebuilds a demoted writer whose rebuild failed (its role is 'stopped') as the reader. */
  async rebuildReader(name: string): Promise<{ name: string; durationMs: number }> {
    const member = this.#member(name);
    if (this.#failover) throw new ClusterError('FAILOVER_IN_PROGRESS', 'a failover is in progress');
    const writer = this.#members.find((m) => m.role === 'writer' && m.server.running);
    if (member.role !== 'stopped' || !writer) throw new ClusterError('NOT_REBUILDABLE', `${name} is ${member.role}; only a demoted writer can be rebuilt, from a running writer`);
    const rebuild = this.#rebuildAsReader(member, writer);
    this.#rebuild = rebuild.catch(() => {});
    return rebuild;
  }

  async #rebuildAsReader(member: Member, primary: Member): Promise<{ name: string; durationMs: number }> {
    const started = Date.now();
    member.role = 'rebuilding';
    try {
      await cloneAsStandby(primary.server, member.server, member.name);
      await member.server.start();
      await this.#waitUntilStreaming(member.name);
    } catch (error) {
      // Left as a demoted writer: rebuildReader() can try again.
      member.role = 'stopped';
      await member.server.stop('immediate').catch(() => {});
      this.emit('rebuild-failed', { name: member.name, error: (error as Error).message });
      throw error;
    }
    member.role = 'reader';
    const done = { name: member.name, durationMs: Date.now() - started };
    this.emit('reader-rebuilt', done);
    return done;
  }

  /** Waits until `name` streams from the writer: only then is it a reader a failover can promote. */
  async #waitUntilStreaming(name: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.#replicationLag()).has(name)) {
      if (Date.now() > deadline) throw new ClusterError('READER_NOT_STREAMING', `${name} did not start streaming within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async #replicationLag(): Promise<Map<string, { bytes: number | null; seconds: number | null }>> {
    const lag = new Map<string, { bytes: number | null; seconds: number | null }>();
    const writer = this.#members.find((m) => m.role === 'writer' && m.server.running);
    if (!writer) return lag;
    const client = new pg.Client({ ...writer.server.connectionConfig(), connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      const { rows } = await client.query<{ application_name: string; bytes: string | null; seconds: number | null }>(
        `SELECT application_name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text AS bytes,
                extract(epoch FROM replay_lag)::float8 AS seconds
         FROM pg_stat_replication WHERE state = 'streaming'`,
      );
      for (const row of rows) lag.set(row.application_name, { bytes: row.bytes === null ? null : Number(row.bytes), seconds: row.seconds });
    } catch {
      // Lag is informative; a writer that cannot answer just has none to report.
    } finally {
      await client.end().catch(() => {});
    }
    return lag;
  }

  #member(name: string): Member {
    const member = this.#members.find((m) => m.name === name);
    if (!member) throw new ClusterError('NO_SUCH_MEMBER', `no server named ${JSON.stringify(name)} (members: ${this.#members.map((m) => m.name).join(', ')})`);
    return member;
  }
}

/** Promotes a standby and waits until it accepts writes. */
async function promote(server: PostgresServer): Promise<void> {
  const client = new pg.Client(server.connectionConfig());
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ promoted: boolean }>('SELECT pg_promote(true, 30) AS promoted');
    if (!rows[0]?.promoted) throw new ClusterError('PROMOTION_FAILED', 'pg_promote did not complete within 30 s');
  } finally {
    await client.end();
  }
}
