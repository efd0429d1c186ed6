/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same choices,
 * so a run's target selection can be recorded and replayed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed for a run that did not ask for one (recorded in its journal). */
export function newSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
