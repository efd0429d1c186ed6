// The reaper: a tiny detached process that outlives its parent by design.
//
// Its parent writes "+<pid> <signal>" and "-<pid>" lines on our stdin. When stdin closes, the
// parent is gone (exited, crashed or SIGKILLed), so every PID still registered is signalled,
// and killed with SIGKILL if it is still alive after a grace period. This is how no child of
// chaos-lab outlives the command or test that started it, even when that process cannot run
// its own cleanup.
import { createInterface } from 'node:readline';

const GRACE_MS = 3000;
const POLL_MS = 50;

const guarded = new Map<number, NodeJS.Signals>();

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
  for (const [pid, sig] of guarded) signal(pid, sig);
  const deadline = Date.now() + GRACE_MS;
  while (Date.now() < deadline && [...guarded.keys()].some(alive)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  for (const pid of guarded.keys()) if (alive(pid)) signal(pid, 'SIGKILL');
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const match = /^([+-])(\d+)(?: (SIG[A-Z0-9]+))?$/.exec(line.trim());
  if (!match) return;
  const pid = Number(match[2]);
  if (match[1] === '+') guarded.set(pid, (match[3] ?? 'SIGTERM') as NodeJS.Signals);
  else guarded.delete(pid);
});
lines.on('close', () => void reapAll());
// Ctrl-C in the parent's terminal reaches us too (same session); we must survive it to
// do our job once the parent is gone, so ignore the interactive signals.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
