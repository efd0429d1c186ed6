// Helpers for tests that check processes are gone.
import { readdirSync, readFileSync } from 'node:fs';
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

/** Every live descendant of `pid` (children, their children, …), read from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** SIGKILLs whichever of `pids` is still alive (a test's last resort, by PID, never by name). */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A test's last resort for a process and everything it started: SIGKILL the owner, give its reaper
 * (the process guard's) time to stop what it guards and remove their folders, then SIGKILL whatever
 * is left. Killing the reaper along with the rest would leave whatever it alone knew of (a server
 * started after `family` was listed) running, and data folders behind. By PID, never by name.
 */
export async function killFamily(owner: number, family: number[] = [], graceMs = 8_000): Promise<void> {
  const everyone = [...new Set([...family, ...descendants(owner)])];
  killAll([owner]);
  killAll(await waitUntilGone(everyone, graceMs));
}
