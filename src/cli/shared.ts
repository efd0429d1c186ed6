// What the chaos-lab commands share: argument errors, parsers, signal handling.
import { readFileSync } from 'node:fs';
import { isDuration, parseDurationMs } from '../chaos/duration.ts';
import { processStartTime } from '../lab/lab-dir.ts';
import { STRATEGIES, type StrategyName } from '../shop/database/shop-database.ts';

/** A command line the user got wrong: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function parseStrategy(raw: string | undefined): StrategyName | undefined {
  if (raw === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(raw)) {
    throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as StrategyName;
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
    console.error('the npm process that started this command is gone: stopping');
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
 * `npm run` and `npx` run us under `sh -c`: a SIGTERM to npm kills npm and the shell but not
 * us, and the lab would live on, orphaned. So under npm (it sets npm_command) we watch our
 * parent and grandparent (the shell and npm) and call `onGone` when either goes away. Started
 * directly (node, a supervisor, nohup), signals reach us and nothing is watched.
 */
export function watchNpmStarter(onGone: () => void, everyMs = 250): () => void {
  if (process.env['npm_command'] === undefined && process.env['npm_lifecycle_event'] === undefined) return () => {};
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  const grandparentStart = grandparent === undefined ? null : processStartTime(grandparent);
  const timer = setInterval(() => {
    const grandparentGone = grandparent !== undefined && grandparent > 1 && processStartTime(grandparent) !== grandparentStart;
    if (process.ppid !== parent || grandparentGone) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
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
