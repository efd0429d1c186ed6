import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal } from '../chaos/journal.ts';
import { inModeOrder } from './mode-order.ts';

const run = (experiment: string, mode: string, modes: string[]): Journal =>
  ({ experiment, mode, template: { modes: Object.fromEntries(modes.map((m) => [m, {}])) } }) as unknown as Journal;

describe('inModeOrder', () => {
  it("puts each experiment's runs in its template's mode order, whatever order the files came in", () => {
    const modes = ['coupled', 'isolated', 'isolated-stale'];
    // The shell's order of dependency-outage-*.json: coupled, isolated-stale, isolated.
    const given = [run('dependency-outage', 'coupled', modes), run('dependency-outage', 'isolated-stale', modes), run('dependency-outage', 'isolated', modes), run('db-outage', 'graceful', ['resilient', 'graceful']), run('db-outage', 'resilient', ['resilient', 'graceful'])];
    assert.deepEqual(inModeOrder(given).map((j) => `${j.experiment}/${j.mode}`), [
      'dependency-outage/coupled',
      'dependency-outage/isolated',
      'dependency-outage/isolated-stale',
      'db-outage/resilient',
      'db-outage/graceful',
    ]);
  });

  it('keeps runs of one mode, and modes the template does not name, in the order given', () => {
    const a = run('x', 'custom', ['m']);
    const b = run('x', 'custom', ['m']);
    assert.deepEqual(inModeOrder([a, b]), [a, b]);
  });
});
