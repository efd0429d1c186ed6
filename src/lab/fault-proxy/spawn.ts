import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processGuard } from '../process/process-guard.ts';
import { FaultProxyClient } from './client.ts';
import type { ProxySpec, ProxyStatus } from './fault-proxy.ts';

/** A fault proxy running in a process of its own. */
export interface FaultProxyProcess {
  readonly pid: number;
  readonly controlUrl: string;
  /**
   * The control API's bearer token. To hand it to another process, use its environment
   * (FAULT_PROXY_TOKEN, which FaultProxyClient reads), never its command line.
   */
  readonly token: string;
  /** A client, with the token, whose faults are leased to this process. */
  readonly client: FaultProxyClient;
  readonly proxies: ProxyStatus[];
  stop(): Promise<void>;
}

/** Starts a fault proxy process with the given proxies; it dies with this process. */
export async function spawnFaultProxy(proxies: ProxySpec[] = []): Promise<FaultProxyProcess> {
  const script = fileURLToPath(new URL('./main.ts', import.meta.url));
  const host = (address: string): string => (address.includes(':') ? `[${address}]` : address);
  const args = proxies.flatMap((p) => ['--proxy', `${p.name}=${host(p.upstream.host)}:${p.upstream.port}${p.listenPort ? `@${p.listenPort}` : ''}`]);
  // In the child's environment, not its argv: /proc/<pid>/environ is readable by this user
  // only, /proc/<pid>/cmdline by everyone.
  const token = randomBytes(32).toString('hex');
  // stdin is a pipe we never close: when this process dies, it closes and the proxy stops.
  // detached: a Ctrl-C in our terminal reaches us, and we stop the proxy in order.
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true,
    env: { ...process.env, FAULT_PROXY_TOKEN: token },
  });
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error));
  if (child.pid === undefined) throw new Error(`could not start the fault proxy: ${spawnError?.message ?? 'no pid'}`);
  const pid = child.pid;
  processGuard.guard(pid, 'SIGTERM');
  const lines = createInterface({ input: child.stdout! });
  const ready = once(lines, 'line') as Promise<[string]>;
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`fault proxy exited before it was ready (exit ${code})`);
  });
  const [line] = await Promise.race([ready, exited]);
  const info = JSON.parse(line) as { controlUrl: string; proxies: ProxyStatus[] };
  return {
    pid,
    controlUrl: info.controlUrl,
    token,
    client: new FaultProxyClient(info.controlUrl, { token }),
    proxies: info.proxies,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await once(child, 'exit');
        clearTimeout(killer);
      }
      processGuard.release(pid);
    },
  };
}
