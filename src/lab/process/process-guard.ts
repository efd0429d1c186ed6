import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Makes sure child processes die with the process that started them.
 *
 * Two layers: an 'exit' hook signals every guarded PID when this process ends normally or
 * through an uncaught exception, and a detached reaper process (reaper-main.ts) does the same
 * when this process is killed outright (SIGKILL), which no hook can catch.
 */
export class ProcessGuard {
  readonly #guarded = new Map<number, { signal: NodeJS.Signals; paths: string[] }>();
  readonly #paths = new Set<string>();
  #reaper: ChildProcess | undefined;
  #exitHookInstalled = false;

  /**
   * Registers `pid` to receive `signal` (then SIGKILL) if this process ends first; `paths`
   * (e.g. its data directory) are removed once it is dead, when the reaper does the job.
   */
  guard(pid: number, signal: NodeJS.Signals = 'SIGTERM', paths: string[] = []): void {
    this.#guarded.set(pid, { signal, paths });
    this.#installExitHook();
    this.#send({ guard: pid, signal, paths });
  }

  /**
   * Registers a folder to remove if this process dies without cleaning up (a data directory
   * that must not outlive its owner, whether or not a server is running in it).
   */
  guardPath(path: string): void {
    this.#paths.add(path);
    this.#send({ guardPath: path });
  }

  /** Forgets a folder, once its owner has removed it. */
  releasePath(path: string): void {
    if (!this.#paths.delete(path)) return;
    this.#send({ releasePath: path });
  }

  /** Forgets `pid`, normally once it has exited. */
  release(pid: number): void {
    if (!this.#guarded.delete(pid)) return;
    this.#send({ release: pid });
  }

  /**
   * Lets the reaper go once nothing is guarded: closes its pipe (it exits on end of input) and
   * waits, up to `timeoutMs`, for it to be reaped. A process that ends without this leaves the
   * reaper's pipe and process handles to Node's teardown, which is where its exit once spun
   * forever (CleanupHandles, a zombie reaper). Anything still guarded keeps the reaper on duty.
   */
  async close(timeoutMs = 2000): Promise<void> {
    const reaper = this.#reaper;
    if (!reaper || this.#guarded.size > 0 || this.#paths.size > 0) return;
    this.#reaper = undefined;
    if (reaper.exitCode !== null || reaper.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => reaper.once('exit', () => resolve()));
    reaper.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** The reaper's PID while one runs (for tests and diagnostics). */
  get reaperPid(): number | undefined {
    return this.#reaper?.pid;
  }

  /** PIDs currently guarded. */
  get pids(): number[] {
    return [...this.#guarded.keys()];
  }

  #send(message: object): void {
    const reaper = this.#ensureReaper();
    reaper.stdin?.write(`${JSON.stringify(message)}\n`);
  }

  #ensureReaper(): ChildProcess {
    if (this.#reaper && this.#reaper.exitCode === null && this.#reaper.signalCode === null) return this.#reaper;
    const script = fileURLToPath(new URL('./reaper-main.ts', import.meta.url));
    const reaper = spawn(process.execPath, [script], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // Neither the reaper nor the pipe to it may keep this process alive.
    reaper.unref();
    const stdin = reaper.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null;
    stdin?.unref?.();
    reaper.stdin?.on('error', () => {});
    for (const [pid, { signal, paths }] of this.#guarded) reaper.stdin?.write(`${JSON.stringify({ guard: pid, signal, paths })}\n`);
    for (const path of this.#paths) reaper.stdin?.write(`${JSON.stringify({ guardPath: path })}\n`);
    this.#reaper = reaper;
    return reaper;
  }

  #installExitHook(): void {
    if (this.#exitHookInstalled) return;
    this.#exitHookInstalled = true;
    process.on('exit', () => {
      for (const [pid, { signal }] of this.#guarded) {
        try {
          process.kill(pid, signal);
        } catch {
          // Already gone.
        }
      }
    });
  }
}

/** The process-wide guard every spawner in chaos-lab registers its children with. */
export const processGuard = new ProcessGuard();
