/** Which lab a template runs on: the shop's (Articles 1 and 3, the default) or the circuit-breaker lab (seed 003). */
export type LabKind = 'shop' | 'breaker-lab';

export const LAB_KINDS: readonly LabKind[] = ['shop', 'breaker-lab'];
