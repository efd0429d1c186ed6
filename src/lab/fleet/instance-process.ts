import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processGuard } from '../process/process-guard.ts';

/** How an instance process ended. */
export interface InstanceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What launching an instance needs. */
export interface LaunchSpec {
  instanceId: string;
  zone: string;
  /** Environment for the shop process (the dependencies' URLs, SHOP_PATTERNS, …). */
  env: Record<string, string>;
}

/** A running instance process. */
export interface InstanceProcess {
  readonly pid: number;
  readonly port: number;
  readonly exited: Promise<InstanceExit>;
  signal(signal: NodeJS.Signals): void;
}

/** Starts instance processes; tests may put something else behind it. */
export interface InstanceLauncher {
  launch(spec: LaunchSpec): Promise<InstanceProcess>;
}

/** Launches shop instances as Node processes (src/shop/main.ts) that die with this process. */
export class ShopProcessLauncher implements InstanceLauncher {
  readonly #readyTimeoutMs: number;

  constructor(options: { readyTimeoutMs?: number } = {}) {
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  }

  async launch(spec: LaunchSpec): Promise<InstanceProcess> {
    const script = fileURLToPath(new URL('../../shop/main.ts', import.meta.url));
    const env = { PATH: process.env['PATH'] ?? '', INSTANCE_ID: spec.instanceId, AZ: spec.zone, PRIVATE_IP: '127.0.0.1', PORT: '0', ...spec.env };
    // stdin stays an open pipe: when we die it closes and the instance stops itself.
    // detached: a Ctrl-C in the lab's terminal reaches the lab, which stops instances in order.
    const child: ChildProcess = spawn(process.execPath, [script], { env, stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    let spawnError: Error | undefined;
    child.on('error', (error) => (spawnError = error)); // EAGAIN, EMFILE…: reported below, never thrown
    if (child.pid === undefined) throw new Error(`could not start instance ${spec.instanceId}: ${spawnError?.message ?? 'no pid'}`);
    const pid = child.pid;
    processGuard.guard(pid, 'SIGTERM');
    const exited = new Promise<InstanceExit>((resolve) =>
      child.once('exit', (code, signal) => {
        processGuard.release(pid);
        resolve({ code, signal });
      }),
    );
    const lines = createInterface({ input: child.stdout! });
    let timer: NodeJS.Timeout | undefined;
    try {
      const [line] = (await Promise.race([
        once(lines, 'line'),
        exited.then((exit) => {
          throw new Error(`instance ${spec.instanceId} exited during start (${exit.signal ?? `exit ${exit.code}`})`);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`instance ${spec.instanceId} not ready within ${this.#readyTimeoutMs} ms`)), this.#readyTimeoutMs);
        }),
      ])) as [string];
      const { port } = JSON.parse(line) as { port: number };
      child.stdout?.resume();
      return {
        pid,
        port,
        exited,
        // Through the ChildProcess, never a bare PID: once it has exited this is a no-op, so a
        // reused PID can never be hit.
        signal: (signal) => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
      };
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
