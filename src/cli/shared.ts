// What the chaos-lab commands share: argument errors, parsers, signal handling.
import { readFileSync } from 'node:fs';
import { isDuration, parseDurationMs } from '../chaos/duration.ts';
import { processStartTime } from '../lab/lab-dir.ts';

/** A command line the user got wrong: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function parseCount(raw: string | undefined, flag: string, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Parses a duration like 500ms, 30s, 2m (or PT30S) into milliseconds: the templates' durations. */
export function parseDuration(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!isDuration(raw)) throw new UsageError(`${flag} must be a duration like 500ms, 30s or 2m (above 0, at most a day), got ${JSON.stringify(raw)}`);
  return parseDurationMs(raw);
}

/** Why a long-running command stops: a signal, `chaos-lab down` (or the code), or its npm starter gone. */
export type StopReason = NodeJS.Signals | 'request' | 'orphaned';

/** How a stop reason reads in progress lines. */
export function describeStop(reason: StopReason): string {
  return reason === 'request' ? 'chaos-lab down' : reason === 'orphaned' ? 'the npm process that started it is gone' : reason;
}

/**
 * Resolves when SIGINT or SIGTERM arrives, when `stop` is called, or (under npm) when the npm
 * process that started this command is gone; a second signal exits at once.
 */
export function untilStopped(): { stopped: Promise<StopReason>; stop: () => void } {
  let resolveStopped!: (reason: StopReason) => void;
  const stopped = new Promise<StopReason>((resolve) => (resolveStopped = resolve));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.error(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    resolveStopped(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const unwatch = watchNpmStarter(() => {
    if (stopping) return;
    stopping = true;
    resolveStopped('orphaned');
  });
  return {
    stopped,
    /** Resolves `stopped` with 'request' and hands the signals back to their defaults. */
    stop: () => {
      stopping = true;
      resolveStopped('request');
      unwatch();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * A safety net for commands started through npm. npm forwards SIGTERM and SIGINT to the
 * command it runs (our scripts `exec` node, so there is no shell in between), but a starter
 * killed outright (SIGKILL, a crashed supervisor) forwards nothing and the lab would live on,
 * orphaned. So when our parent (or its parent, under `sh -c`, as with npx) is npm, we watch that
 * chain and call `onGone` when any of it goes away. Started any other way (node directly, a
 * supervisor, nohup), nothing is watched, whatever npm variables the environment carries: a
 * parent that is already gone when we look cannot be told apart from a nohup'd start, so it is
 * not taken for npm's death.
 */
export function watchNpmStarter(onGone: () => void, everyMs = 250): () => void {
  if (process.env['npm_command'] === undefined && process.env['npm_lifecycle_event'] === undefined) return () => {};
  const chain = npmChain(process.ppid);
  if (!chain) return () => {};
  const started = chain.map((pid) => processStartTime(pid));
  const timer = setInterval(() => {
    if (process.ppid !== chain[0] || chain.some((pid, i) => processStartTime(pid) !== started[i])) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** [parent] when the parent is npm, [parent, grandparent] when npm ran us under a shell, else undefined. */
function npmChain(parent: number): number[] | undefined {
  if (isNpm(parent)) return [parent];
  const grandparent = parentOf(parent);
  return grandparent !== undefined && grandparent > 1 && isNpm(grandparent) ? [parent, grandparent] : undefined;
}

/**
 * True when `pid` is npm or npx: `node …/npm-cli.js …` as started, or `npm run …` once npm has set
 * its process title (which rewrites the command line into one space-separated string).
 */
function isNpm(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return argv.slice(0, 2).some((arg) => /(^|\/)(npm|npx)(-cli\.js)?$/.test(arg.split(' ')[0]!));
  } catch {
    return false;
  }
}

/** The parent PID of `pid` (field 4 of /proc/PID/stat), or undefined without /proc. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const value = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
