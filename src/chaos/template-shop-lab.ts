// The shop lab's fields (queue, databaseProxyTargets) the schema cannot check alone: SQS's
// limits on the queue's durations, and a deregistered start with no proxy to deregister.
import { isDurationOrZero, parseDurationMs } from './duration.ts';
import { isRecord, show } from './template-values.ts';

/** SQS's longest long poll: a receive waits at most 20 s. */
export const MAX_RECEIVE_WAIT_MS = 20_000;
/** SQS's longest visibility timeout: 12 hours. */
export const MAX_VISIBILITY_TIMEOUT_MS = 12 * 3_600_000;

/**
 * The shop lab's fields the schema cannot check alone: SQS's limits on the queue's durations, and
 * deregistered targets with no proxy in the path (nothing to deregister). Each lab as merged for
 * every mode, named where the value was given.
 */
export function shopLabProblems(data: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const base = isRecord(data['lab']) ? data['lab'] : {};
  const modes = isRecord(data['modes']) ? data['modes'] : {};
  const labs: Array<[string, Record<string, unknown>]> = [['lab', base]];
  for (const [name, mode] of Object.entries(modes)) if (isRecord(mode) && isRecord(mode['lab'])) labs.push([`modes.${name}.lab`, mode['lab']]);
  for (const [at, lab] of labs) {
    const queue = isRecord(lab['queue']) ? lab['queue'] : {};
    const limits: Array<[string, number, string]> = [
      ['receiveWaitTime', MAX_RECEIVE_WAIT_MS, "SQS's longest long poll"],
      ['visibilityTimeout', MAX_VISIBILITY_TIMEOUT_MS, "SQS's longest visibility timeout"],
    ];
    for (const [field, maxMs, why] of limits) {
      const value = queue[field];
      if (typeof value === 'string' && isDurationOrZero(value) && parseDurationMs(value) > maxMs) problems.push(`${at}.queue.${field}: must be at most ${`${maxMs / 1000}s`} (${why}), got ${show(value)}`);
    }
  }
  for (const [name, mode] of Object.entries(modes)) {
    const own = isRecord(mode) && isRecord(mode['lab']) ? mode['lab'] : {};
    const targets = own['databaseProxyTargets'] ?? base['databaseProxyTargets'];
    const proxy = own['databaseProxy'] ?? base['databaseProxy'] ?? true;
    if (targets === 'deregistered' && proxy === false) {
      const at = own['databaseProxyTargets'] !== undefined ? `modes.${name}.lab` : 'lab';
      problems.push(`${at}.databaseProxyTargets: deregistered needs the database proxy in the path, and mode ${name} has databaseProxy: false, got ${show(targets)}`);
    }
  }
  return problems;
}
