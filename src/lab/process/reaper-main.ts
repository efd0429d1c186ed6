// The reaper: a tiny detached process that outlives its parent by design.
//
// Its parent writes JSON lines on our stdin: {"guard":pid,"signal":"SIGQUIT","paths":[…]},
// {"release":pid}, {"guardPath":dir} and {"releasePath":dir}. When stdin closes, the parent is gone (exited, crashed or SIGKILLed), so
// every PID still registered is signalled, killed with SIGKILL if it is still alive after a
// grace period, and the paths registered with it (data directories) are removed. This is how no child of
// chaos-lab outlives the command or test that started it, even when that process cannot run
// its own cleanup.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const GRACE_MS = 3000;
const POLL_MS = 50;

interface Guarded {
  signal: NodeJS.Signals;
  paths: string[];
}

const guarded = new Map<number, Guarded>();
const paths = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone: nothing to do.
  }
}

async function reapAll(): Promise<never> {
  for (const [pid, { signal: sig }] of guarded) signal(pid, sig);
  const deadline = Date.now() + GRACE_MS;
  while (Date.now() < deadline && [...guarded.keys()].some(alive)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  for (const pid of guarded.keys()) if (alive(pid)) signal(pid, 'SIGKILL');
  for (const { paths: owned } of guarded.values()) owned.forEach((path) => paths.add(path));
  // A server started in a guarded folder whose PID never reached us (its owner died between the
  // spawn and the message) still names itself there: PostgreSQL's postmaster.pid. Stop it before
  // removing its folder, by that PID, and only if its command line names the folder.
  const servers = [...paths].flatMap(serverInFolder);
  for (const pid of servers) signal(pid, 'SIGKILL');
  const serversGone = Date.now() + GRACE_MS;
  while (Date.now() < serversGone && servers.some(alive)) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  for (const path of paths) rmSync(path, { recursive: true, force: true });
  process.exit(0);
}

/** PIDs of PostgreSQL servers running in `folder` (or its `data` folder), as their postmaster.pid says. */
function serverInFolder(folder: string): number[] {
  const found: number[] = [];
  for (const dataDir of [folder, join(folder, 'data')]) {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir)) found.push(pid);
    } catch {
      // no server there, or it is gone
    }
  }
  return found;
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let message: { guard?: number; signal?: NodeJS.Signals; paths?: string[]; release?: number; guardPath?: string; releasePath?: string };
  try {
    message = JSON.parse(line) as typeof message;
  } catch {
    return;
  }
  if (typeof message.guard === 'number') {
    guarded.set(message.guard, { signal: message.signal ?? 'SIGTERM', paths: message.paths ?? [] });
  } else if (typeof message.release === 'number') {
    guarded.delete(message.release);
  } else if (typeof message.guardPath === 'string') {
    paths.add(message.guardPath);
  } else if (typeof message.releasePath === 'string') {
    paths.delete(message.releasePath);
  }
});
lines.on('close', () => void reapAll());
// Ctrl-C in the parent's terminal reaches us too (same session); we must survive it to
// do our job once the parent is gone, so ignore the interactive signals.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
