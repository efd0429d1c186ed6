// What the chaos-lab commands share: argument errors, parsers, signal handling.
import { isDuration, parseDurationMs } from '../chaos/duration.ts';
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

/** Resolves when SIGINT or SIGTERM arrives (or `stop` is called); a second signal exits at once. */
export function untilStopped(): { stopped: Promise<NodeJS.Signals | 'request'>; stop: () => void } {
  let resolveStopped!: (reason: NodeJS.Signals | 'request') => void;
  const stopped = new Promise<NodeJS.Signals | 'request'>((resolve) => (resolveStopped = resolve));
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
  return {
    stopped,
    /** Resolves `stopped` with 'request' and hands the signals back to their defaults. */
    stop: () => {
      stopping = true;
      resolveStopped('request');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
