// The order a report shows runs in. `chaos-lab report dir/*.json` gets its files in the shell's
// (alphabetical) order, which puts isolated-stale before isolated and AFTER before BEFORE; the
// template each journal carries says the modes' own order, which is what a reader expects.
import type { Journal } from '../chaos/journal.ts';

/** `journals` with each experiment's runs in its template's mode order (experiments in the order they first appear; runs of one mode as given). */
export function inModeOrder(journals: readonly Journal[]): Journal[] {
  const experiments = [...new Set(journals.map((j) => j.experiment))];
  const modeIndex = (j: Journal): number => {
    const index = Object.keys(j.template.modes ?? {}).indexOf(j.mode);
    return index === -1 ? Number.MAX_SAFE_INTEGER : index;
  };
  return journals
    .map((journal, given) => ({ journal, given }))
    .sort((a, b) => experiments.indexOf(a.journal.experiment) - experiments.indexOf(b.journal.experiment) || modeIndex(a.journal) - modeIndex(b.journal) || a.given - b.given)
    .map(({ journal }) => journal);
}
