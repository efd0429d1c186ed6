import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../net/free-port.ts';
import { processGuard } from '../process/process-guard.ts';
import { findPostgresBinaries, type PostgresBinaries } from './binaries.ts';
import { postgresOsUser, type OsUser } from './os-user.ts';

/** How a server is shut down: PostgreSQL's smart (SIGTERM), fast (SIGINT) or immediate (SIGQUIT). */
export type StopMode = 'smart' | 'fast' | 'immediate';

const STOP_SIGNALS: Record<StopMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
};

/** Server settings, passed as `-c name=value` on the command line. */
export type PostgresSettings = Record<string, string | number | boolean>;

/** Options of a PostgresServer. */
export interface PostgresServerOptions {
  /** Data directory; default: a new folder under the temp directory, removed by destroy(). */
  dataDir?: string;
  /** TCP port on 127.0.0.1; default: a free port, chosen again on every start if the old one is taken. */
  port?: number;
  /** Extra settings; they override the lab defaults below. */
  settings?: PostgresSettings;
  /** Run initdb when the data directory holds no cluster yet (default true). */
  initialize?: boolean;
  /** How long start() waits for "ready to accept connections" (default 30 s). */
  startTimeoutMs?: number;
  /** Receives every line the server logs. */
  onLog?: (line: string) => void;
  /**
   * The superuser's password (default: a fresh random one). Servers that share a data
   * directory's history, a primary and the standbys cloned from it, share it too.
   */
  password?: string;
}

/** What a pg Client or Pool needs to reach one database of a server as the superuser. */
export interface PostgresConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The superuser every lab server is created with; it authenticates with a password (scram-sha-256). */
export const POSTGRES_SUPERUSER = 'postgres';

/** A fresh random superuser password: hex, so it needs no escaping in URLs, conninfo strings or passfiles. */
export function newPostgresPassword(): string {
  return randomBytes(24).toString('hex');
}

const HOST = '127.0.0.1';

// Lab defaults. fsync is off because data directories are throwaway and the lab breaks
// processes, not the operating system: a killed postgres still finds its WAL in the page cache.
const DEFAULT_SETTINGS: PostgresSettings = {
  listen_addresses: HOST,
  unix_socket_directories: '',
  fsync: 'off',
  full_page_writes: 'off',
  timezone: 'UTC',
  log_timezone: 'UTC',
  max_connections: 200,
};

const READY = /database system is ready to accept (read-only )?connections/;
const PORT_TAKEN = /could not bind|Address already in use|could not create any TCP\/IP sockets/;
const LOG_TAIL_LINES = 30;

/**
 * One real PostgreSQL server from the npm-shipped binaries, on a loopback port, in a data
 * directory it owns. The postgres process is spawned directly (no pg_ctl), so its PID and
 * signals are ours: fast and immediate stops, kills, restarts, and standbys, whose
 * "ready to accept read-only connections" start() also recognises.
 */
export class PostgresServer {
  readonly #options: PostgresServerOptions;
  #settings: PostgresSettings;
  readonly #user: OsUser | undefined;
  readonly #binaries: PostgresBinaries;
  readonly #ownsDataDir: boolean;
  readonly #dataDir: string;
  readonly #fixedPort: number | undefined;
  readonly #password: string;
  #port: number | undefined;
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #logTail: string[] = [];

  private constructor(
    options: PostgresServerOptions,
    binaries: PostgresBinaries,
    user: OsUser | undefined,
    dataDir: string,
    ownsDataDir: boolean,
  ) {
    this.#options = options;
    this.#settings = { ...options.settings };
    this.#binaries = binaries;
    this.#user = user;
    this.#dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    this.#fixedPort = options.port;
    this.#port = options.port;
    this.#password = options.password ?? newPostgresPassword();
  }

  /** Prepares a server (initdb when needed) without starting it. */
  static async create(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const user = postgresOsUser();
    const binaries = await findPostgresBinaries(user);
    let dataDir = options.dataDir;
    const ownsDataDir = dataDir === undefined;
    if (dataDir === undefined) {
      const base = await mkdtemp(join(tmpdir(), 'chaos-lab-pg-'));
      // The server's user may pass through the base folder but never change it: were it theirs,
      // they could swap `data` for a symlink while we (root) copy into it (see emptyDataDir).
      if (user) await chmod(base, 0o711);
      dataDir = join(base, 'data');
    }
    const server = new PostgresServer(options, binaries, user, dataDir, ownsDataDir);
    // A directory we created must not outlive us, running server or not; destroy() releases it.
    if (ownsDataDir) processGuard.guardPath(join(dataDir, '..'));
    try {
      if (options.initialize !== false && !(await server.#hasCluster())) await server.#initdb();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  /** Creates and starts a server: the one-liner for tests and commands. */
  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const server = await PostgresServer.create(options);
    try {
      await server.start();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  /** The data directory. */
  get dataDir(): string {
    return this.#dataDir;
  }

  /** The unprivileged OS user the server runs as, when this process is root. */
  get osUser(): OsUser | undefined {
    return this.#user;
  }

  /** Loopback address the server listens on. */
  get host(): string {
    return HOST;
  }

  /** TCP port; defined once the server has started at least once, then kept across restarts. */
  get port(): number {
    if (this.#port === undefined) throw new Error('PostgreSQL server has not been started yet');
    return this.#port;
  }

  /** PID of the running postmaster, or undefined when stopped. */
  get pid(): number | undefined {
    return this.#process?.exitCode === null && this.#process.signalCode === null ? this.#process.pid : undefined;
  }

  /** True while the postmaster process is alive. */
  get running(): boolean {
    return this.pid !== undefined;
  }

  /** The superuser's password: every connection needs it (no `trust` anywhere, see #initdb). */
  get password(): string {
    return this.#password;
  }

  /** A libpq-style URL for `database` as the superuser, password included. */
  connectionString(database = 'postgres'): string {
    const password = encodeURIComponent(this.#password);
    return `postgresql://${POSTGRES_SUPERUSER}:${password}@${HOST}:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Host, port, superuser and password for `database`: spread it into a pg Client or Pool. */
  connectionConfig(database = 'postgres'): PostgresConnectionConfig {
    return { host: HOST, port: this.port, user: POSTGRES_SUPERUSER, password: this.#password, database };
  }

  /** Starts the server and resolves once it accepts connections (read-only ones for a standby). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`PostgreSQL server is already running (pid ${this.pid})`);
    // A server keeps its port across restarts (clients and endpoints point at it); only a
    // port we picked for the very first start may be swapped when another process took it.
    const mayPickPort = this.#fixedPort === undefined && this.#port === undefined;
    for (let attempt = 1; ; attempt++) {
      if (mayPickPort) this.#port = await freePort(HOST);
      try {
        await this.#startOnce();
        return;
      } catch (error) {
        const portRace = mayPickPort && this.#logTail.some((line) => PORT_TAKEN.test(line));
        if (!portRace || attempt >= 5) {
          if (mayPickPort) this.#port = undefined;
          throw error;
        }
      }
    }
  }

  /** Stops the server and waits for the postmaster to exit; escalates to immediate, then SIGKILL, after `timeoutMs`. */
  async stop(mode: StopMode = 'fast', timeoutMs = 30_000): Promise<void> {
    const child = this.#process;
    if (!child || !this.running) return;
    child.kill(STOP_SIGNALS[mode]);
    // A smart or fast shutdown can wait on clients; past the timeout, escalate.
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        child.kill(mode === 'immediate' ? 'SIGKILL' : 'SIGQUIT');
        timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.#exited, escalate.then(() => this.#exited)]);
    clearTimeout(timer);
  }

  /** Kills the postmaster with SIGKILL: a crash, not a shutdown. Its backends exit on their own. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** Stops (fast by default) and starts again, on the same port. */
  async restart(mode: StopMode = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** Stops the server immediately and removes the data directory if this object created it. */
  async destroy(): Promise<void> {
    await this.stop('immediate');
    if (!this.#ownsDataDir) return;
    const base = join(this.#dataDir, '..');
    await rm(base, { recursive: true, force: true });
    processGuard.releasePath(base);
  }

  /** Changes settings for the next start (e.g. primary_conninfo when it becomes a standby). */
  updateSettings(settings: PostgresSettings): void {
    this.#settings = { ...this.#settings, ...settings };
  }

  /** The settings given on top of the lab defaults. */
  get settings(): PostgresSettings {
    return { ...this.#settings };
  }

  /**
   * Makes the data directory an empty folder (for cloning into), still ours: whoever fills it
   * hands it to the server's user afterwards with handOverDataDir(). Until then no one else can
   * write in it, so nothing can plant a symlink that our writes would follow.
   */
  async emptyDataDir(): Promise<void> {
    if (this.running) throw new Error('cannot empty the data directory of a running server');
    await rm(this.#dataDir, { recursive: true, force: true });
    await mkdir(this.#dataDir, { mode: 0o700 });
  }

  /** Gives the data directory, and everything in it, to the server's user (lchown: links are not followed). */
  async handOverDataDir(): Promise<void> {
    if (this.#user) await lchownTree(this.#dataDir, this.#user.uid, this.#user.gid);
  }

  /** The last lines the server logged, for error messages. */
  get logTail(): string[] {
    return [...this.#logTail];
  }

  async #hasCluster(): Promise<boolean> {
    try {
      await stat(join(this.#dataDir, 'PG_VERSION'));
      return true;
    } catch {
      return false;
    }
  }

  async #initdb(): Promise<void> {
    // With `trust`, any local user could connect as the superuser and run COPY … TO PROGRAM as
    // the server's OS user. scram-sha-256 for every connection, replication included (initdb
    // writes the replication lines of pg_hba.conf with the same method); unix sockets are off.
    // The password reaches initdb in a file, never in argv: /proc/<pid>/cmdline is world-readable.
    const folder = await mkdtemp(join(tmpdir(), 'chaos-lab-initdb-')); // mode 0700
    processGuard.guardPath(folder);
    try {
      const pwfile = join(folder, 'pwfile');
      await writeFile(pwfile, `${this.#password}\n`, { mode: 0o600 });
      // initdb runs as the server's user: only that user (and we) may read the folder and file.
      if (this.#user) {
        await chown(folder, this.#user.uid, this.#user.gid);
        await chown(pwfile, this.#user.uid, this.#user.gid);
      }
      // initdb (as the server's user) fills a data folder we make and hand over, in a base it cannot change.
      const made = await mkdir(this.#dataDir, { mode: 0o700 }).then(() => true, (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return false;
        throw error;
      });
      if (made && this.#user) await chown(this.#dataDir, this.#user.uid, this.#user.gid);
      const args = [
        '-D', this.#dataDir, '-U', POSTGRES_SUPERUSER, `--pwfile=${pwfile}`,
        '--auth=scram-sha-256', // host, local and replication lines alike
        '-E', 'UTF8', '--no-locale', '--no-sync',
      ];
      const child = spawn(this.#binaries.initdb, args, this.#spawnOptions());
      if (child.pid !== undefined) processGuard.guard(child.pid, 'SIGKILL');
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, 'close')) as [number | null];
      if (child.pid !== undefined) processGuard.release(child.pid);
      if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${output.trim().split('\n').slice(-5).join(' | ')}`);
    } finally {
      await rm(folder, { recursive: true, force: true });
      processGuard.releasePath(folder);
    }
  }

  #spawnOptions(): { uid?: number; gid?: number; env: NodeJS.ProcessEnv; stdio: ['ignore', 'pipe', 'pipe']; detached: boolean } {
    // A minimal environment: the server must not pick up the caller's PG* or locale variables.
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' };
    // detached: its own process group, so a Ctrl-C in our terminal reaches us, not the server; we stop it in order.
    return { ...(this.#user ?? {}), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true };
  }

  #settingsArgs(): string[] {
    const settings = { ...DEFAULT_SETTINGS, port: this.port, ...this.#settings };
    return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  }

  #startOnce(): Promise<void> {
    this.#logTail.length = 0;
    const child = spawn(this.#binaries.postgres, ['-D', this.#dataDir, ...this.#settingsArgs()], this.#spawnOptions());
    this.#process = child;
    const pid = child.pid;
    // If we die without cleaning up, the reaper stops the server (and removes the directory, see create()).
    if (pid !== undefined) processGuard.guard(pid, 'SIGQUIT');
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (pid !== undefined) processGuard.release(pid);
        resolve();
      });
    });

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timeoutMs = this.#options.startTimeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        child.kill('SIGQUIT');
        settle(new Error(`PostgreSQL did not become ready within ${timeoutMs} ms: ${this.#logTail.slice(-5).join(' | ')}`));
      }, timeoutMs);
      child.once('error', (error) => settle(new Error(`could not start postgres: ${error.message}`)));
      child.once('exit', (code, signal) => {
        const tail = this.#logTail.slice(-5).join(' | ');
        settle(new Error(`postgres exited during start (${signal ?? `exit ${code}`}): ${tail}`));
      });
      const onLine = (line: string): void => {
        this.#logTail.push(line);
        if (this.#logTail.length > LOG_TAIL_LINES) this.#logTail.shift();
        this.#options.onLog?.(line);
        if (READY.test(line)) settle();
      };
      if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
      if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
    });
  }
}

async function lchownTree(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  const info = await lstat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await lchownTree(join(path, entry), uid, gid);
}
