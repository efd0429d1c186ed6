// The shops bench/shop.bench.ts measures, by name: the presets, and each pattern added alone to
// the resilient shop, so that a pattern's cost is read against the shop without it.
import { resolvePatterns, type Patterns, type PresetName } from '../src/shop/patterns.ts';

/** What is measured: a shop with a preset or a single-pattern variant, or the bare HTTP server. */
export type Variant = PresetName | 'resilient-shared-breaker' | 'resilient-cache' | 'resilient-buffer' | 'bare';

export const VARIANTS: readonly Variant[] = [
  'naive',
  'resilient',
  'resilient-breaker',
  'resilient-shared-breaker',
  'graceful',
  'resilient-cache',
  'resilient-buffer',
  'bare',
];

/** Named lists, run side by side; the first of each is the baseline the others are a share of. */
export const VARIANT_GROUPS: Readonly<Record<string, readonly Variant[]>> = {
  both: ['resilient', 'naive'],
  breaker: ['resilient', 'resilient-breaker', 'resilient-shared-breaker', 'bare'],
  // Article 4's issue: the cache keeps >= 80 % of GET /products, the buffer >= 90 % of POST /orders.
  degradation: ['resilient', 'resilient-cache', 'resilient-buffer', 'graceful'],
};

/** The patterns of a shop variant (every variant but bare). */
export function variantPatterns(variant: Exclude<Variant, 'bare'>): Patterns {
  switch (variant) {
    case 'resilient-shared-breaker':
      return resolvePatterns({ preset: 'resilient', circuitBreaker: { mode: 'shared' } });
    case 'resilient-cache':
      return resolvePatterns({ preset: 'resilient', readCache: { mode: 'write-through' } });
    case 'resilient-buffer':
      return resolvePatterns({ preset: 'resilient', writeBuffer: { mode: 'queue' } });
    default:
      return resolvePatterns(variant);
  }
}
