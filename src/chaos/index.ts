export { parseSelectionMode, selectTargets, TargetSelectionError } from './target-selection.ts';
export type { Selectable, SelectionMode, TargetSpec as ChaosTargetSpec } from './target-selection.ts';
export { newSeed, seededRandom } from './random.ts';
