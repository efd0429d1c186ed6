import { seededRandom } from './random.ts';

/** FIS selection modes: every match, a number of them, or a percentage (rounded down, at least one when any match). */
export type SelectionMode = { kind: 'ALL' } | { kind: 'COUNT'; count: number } | { kind: 'PERCENT'; percent: number };

/** A resource a target can select: an id and its tags. */
export interface Selectable {
  id: string;
  tags: Record<string, string>;
  /**
   * A key that is the same for the same resource in every lab (e.g. zone and launch order),
   * where ids are random: selection sorts by it, so a seed replays the same choice in a new lab.
   */
  stableKey?: string;
}

/** What a target asks for. */
export interface TargetSpec {
  /** Explicit ids; when given, tags are not used. */
  resourceIds?: string[];
  /** Every tag must match. */
  resourceTags?: Record<string, string>;
  selectionMode: string;
}

/** A selection mode or target that makes no sense; the message names the bad value. */
export class TargetSelectionError extends Error {
  readonly code = 'INVALID_TARGET';
}

/** Parses `ALL`, `COUNT(n)` or `PERCENT(n)`. */
export function parseSelectionMode(text: string): SelectionMode {
  if (text === 'ALL') return { kind: 'ALL' };
  const count = /^COUNT\((\d+)\)$/.exec(text);
  if (count) {
    const n = Number(count[1]);
    if (n < 1) throw new TargetSelectionError(`selectionMode COUNT(n) needs n >= 1, got ${JSON.stringify(text)}`);
    return { kind: 'COUNT', count: n };
  }
  const percent = /^PERCENT\((\d+(?:\.\d+)?)\)$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    if (p <= 0 || p > 100) throw new TargetSelectionError(`selectionMode PERCENT(n) needs 0 < n <= 100, got ${JSON.stringify(text)}`);
    return { kind: 'PERCENT', percent: p };
  }
  throw new TargetSelectionError(`selectionMode must be ALL, COUNT(n) or PERCENT(n), got ${JSON.stringify(text)}`);
}

/**
 * Resolves a target against the resources that exist now, once, at the start of a run (as FIS
 * does). Random choices come from `seed`, so the same seed over the same resources picks the
 * same ones. Returns the chosen ids in a stable order.
 */
export function selectTargets(spec: TargetSpec, resources: readonly Selectable[], seed: number): string[] {
  const mode = parseSelectionMode(spec.selectionMode);
  let matches: Selectable[];
  if (spec.resourceIds) {
    const unknown = spec.resourceIds.filter((id) => !resources.some((r) => r.id === id));
    if (unknown.length > 0) throw new TargetSelectionError(`no such resource: ${unknown.join(', ')}`);
    matches = resources.filter((r) => spec.resourceIds!.includes(r.id));
  } else {
    const tags = Object.entries(spec.resourceTags ?? {});
    matches = resources.filter((r) => tags.every(([key, value]) => r.tags[key] === value));
  }
  const key = (r: Selectable): string => r.stableKey ?? r.id;
  matches = [...matches].sort((a, b) => key(a).localeCompare(key(b)) || a.id.localeCompare(b.id));
  if (mode.kind === 'ALL') return matches.map((r) => r.id);
  const wanted = mode.kind === 'COUNT' ? mode.count : Math.max(matches.length > 0 ? 1 : 0, Math.floor((matches.length * mode.percent) / 100));
  // A seeded Fisher-Yates shuffle, then the first `wanted`.
  const random = seededRandom(seed);
  const pool = [...matches];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool
    .slice(0, Math.min(wanted, pool.length))
    .map((r) => r.id)
    .sort();
}
