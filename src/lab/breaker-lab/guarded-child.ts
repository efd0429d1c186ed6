// One way to start a lab child process: guarded (it dies with its owner, SIGKILL included),
// detached (a Ctrl-C in the owner's terminal reaches the owner, which stops children in order),
// stdin an open pipe the child watches (its end means the owner is gone), and ready once the
// child prints one JSON line on stdout. The same shape as the fault proxy's and the shop
// instances' spawners (src/lab/fault-proxy/spawn.ts, src/lab/fleet/instance-process.ts), which
// could move onto this helper.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { processGuard } from '../process/process-guard.ts';

/** How a child ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What to start. */
export interface GuardedChildOptions {
  /** Named in errors ("backend", "gateway", "environment e-3"). */
  name: string;
  /** The .ts or .js entry point, run by this Node. */
  script: string;
  /** The child's whole environment besides PATH: secrets go here, never on the command line. */
  env: Record<string, string>;
  args?: string[];
  /** Opens an IPC channel too (process.send in the child). */
  ipc?: boolean;
  /** How long the child may take to print its ready line (default 15 s). */
  readyTimeoutMs?: number;
}

/** A started child. */
export interface GuardedChild<Ready> {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The child's ready line, parsed. */
  readonly ready: Ready;
  readonly exited: Promise<ChildExit>;
  /** True until the child has exited. */
  readonly alive: boolean;
  /** SIGTERM, then SIGKILL past `graceMs` (default 3 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<ChildExit>;
  /** SIGKILL through the ChildProcess (a no-op once it has exited, so a reused PID is never hit). */
  kill(): void;
}

/** The child did not start, or died before it was ready. */
export class ChildStartError extends Error {
  readonly code = 'CHILD_START_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ChildStartError';
  }
}

/** Starts `options.script`, guarded, and waits for its ready line. */
export async function spawnGuardedChild<Ready>(options: GuardedChildOptions): Promise<GuardedChild<Ready>> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const child = spawn(process.execPath, [options.script, ...(options.args ?? [])], {
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
    stdio: options.ipc ? ['pipe', 'pipe', 'inherit', 'ipc'] : ['pipe', 'pipe', 'inherit'],
    detached: true,
  });
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error)); // EAGAIN, EMFILE…: reported below, never thrown
  if (child.pid === undefined) throw new ChildStartError(`could not start ${options.name}: ${spawnError?.message ?? 'no pid'}`);
  const pid = child.pid;
  processGuard.guard(pid, 'SIGTERM');
  child.stdin?.on('error', () => {}); // the child may die with our writes in flight
  const exited = new Promise<ChildExit>((resolve) =>
    child.once('exit', (code, signal) => {
      processGuard.release(pid);
      resolve({ code, signal });
    }),
  );
  const lines = createInterface({ input: child.stdout! });
  let timer: NodeJS.Timeout | undefined;
  let ready: Ready;
  try {
    const [line] = (await Promise.race([
      once(lines, 'line'),
      exited.then((exit) => {
        throw new ChildStartError(`${options.name} exited before it was ready (${exit.signal ?? `exit ${exit.code}`})`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new ChildStartError(`${options.name} not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      }),
    ])) as [string];
    ready = JSON.parse(line) as Ready;
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  lines.close();
  child.stdout?.resume(); // later output is not read: drain it so the child never blocks on a full pipe
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    child,
    ready,
    exited,
    get alive() {
      return running();
    },
    async stop(graceMs = 3000) {
      if (running()) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const exit = await exited;
        clearTimeout(killer);
        return exit;
      }
      return exited;
    },
    kill() {
      if (running()) child.kill('SIGKILL');
    },
  };
}

/**
 * The child's side: stop when the owner is gone (stdin ends), on SIGTERM and on SIGINT. `stop`
 * runs once; the process exits after it, or after `boundMs` whatever it is doing. Returns the
 * trigger, for other reasons to stop (an IPC channel that closes).
 */
export function stopWithOwner(stop: () => Promise<void>, boundMs = 3000): () => void {
  let stopping = false;
  const run = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), boundMs).unref();
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', run);
  process.on('SIGINT', run);
  process.stdin.on('end', run);
  process.stdin.on('error', run);
  process.stdin.resume();
  return run;
}
