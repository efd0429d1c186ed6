// Helpers for tests that check processes are gone.
import { setTimeout as delay } from 'node:timers/promises';

/** True while a process with this PID exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until every PID is gone or `timeoutMs` passes; returns those still alive. */
export async function waitUntilGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pids.some(alive)) await delay(50);
  return pids.filter(alive);
}
