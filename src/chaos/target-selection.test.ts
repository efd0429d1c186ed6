import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSelectionMode, selectTargets, TargetSelectionError } from './target-selection.ts';

const fleet = [
  { id: 'i-0a', tags: { Project: 'chaos-lab', Zone: 'a' } },
  { id: 'i-0b', tags: { Project: 'chaos-lab', Zone: 'b' } },
  { id: 'i-0c', tags: { Project: 'chaos-lab', Zone: 'a' } },
  { id: 'i-0d', tags: { Project: 'other', Zone: 'b' } },
];

describe('target selection (FIS modes, seeded)', () => {
  it('ALL takes every resource whose tags all match', () => {
    assert.deepEqual(selectTargets({ resourceTags: { Project: 'chaos-lab' }, selectionMode: 'ALL' }, fleet, 1), ['i-0a', 'i-0b', 'i-0c']);
    assert.deepEqual(selectTargets({ resourceTags: { Project: 'chaos-lab', Zone: 'a' }, selectionMode: 'ALL' }, fleet, 1), ['i-0a', 'i-0c']);
  });

  it('COUNT(n) picks n at random; the same seed picks the same ones', () => {
    const spec = { resourceTags: { Project: 'chaos-lab' }, selectionMode: 'COUNT(1)' };
    const first = selectTargets(spec, fleet, 42);
    assert.equal(first.length, 1);
    assert.deepEqual(selectTargets(spec, fleet, 42), first);
    assert.deepEqual(selectTargets(spec, [...fleet].reverse(), 42), first, 'independent of listing order');
    const picks = new Set(Array.from({ length: 50 }, (_, seed) => selectTargets(spec, fleet, seed)[0]));
    assert.deepEqual([...picks].sort(), ['i-0a', 'i-0b', 'i-0c'], 'every match can be picked');
  });

  it('PERCENT(n) rounds down but takes at least one when any matches', () => {
    assert.equal(selectTargets({ resourceTags: { Project: 'chaos-lab' }, selectionMode: 'PERCENT(50)' }, fleet, 7).length, 1);
    assert.equal(selectTargets({ resourceTags: { Project: 'chaos-lab' }, selectionMode: 'PERCENT(100)' }, fleet, 7).length, 3);
    assert.deepEqual(selectTargets({ resourceTags: { Project: 'none' }, selectionMode: 'PERCENT(50)' }, fleet, 7), []);
  });

  it('explicit ids must exist', () => {
    assert.deepEqual(selectTargets({ resourceIds: ['i-0d'], selectionMode: 'ALL' }, fleet, 1), ['i-0d']);
    assert.throws(() => selectTargets({ resourceIds: ['i-0z'], selectionMode: 'ALL' }, fleet, 1), /no such resource: i-0z/);
  });

  it('refuses selection modes that make no sense, naming the value', () => {
    for (const [mode, message] of [
      ['SOME', /must be ALL, COUNT\(n\) or PERCENT\(n\), got "SOME"/],
      ['COUNT(0)', /COUNT\(n\) needs n >= 1, got "COUNT\(0\)"/],
      ['PERCENT(150)', /PERCENT\(n\) needs 0 < n <= 100, got "PERCENT\(150\)"/],
    ] as const) {
      assert.throws(() => parseSelectionMode(mode), (error: unknown) => error instanceof TargetSelectionError && message.test(error.message));
    }
  });

  it('replays a choice in a new lab, where ids differ but stable keys are the same', () => {
    const lab = (prefix: string) => ['a/0000', 'b/0000', 'a/0001', 'b/0001'].map((stableKey, n) => ({ id: `i-${prefix}${n}`, tags: {}, stableKey }));
    const spec = { selectionMode: 'COUNT(1)' };
    for (const seed of [1, 2, 3, 4, 5]) {
      const first = lab('x').find((r) => r.id === selectTargets(spec, lab('x'), seed)[0])!.stableKey;
      const again = lab('y').find((r) => r.id === selectTargets(spec, lab('y').reverse(), seed)[0])!.stableKey;
      assert.equal(again, first, `seed ${seed}`);
    }
  });
});
