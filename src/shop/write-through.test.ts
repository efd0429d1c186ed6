// The read cache's write side: a key rewritten only on change or refresh, one write in flight per
// key with the latest value pending. A fake clock and hand-settled writes: no sleeping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteThrough } from './write-through.ts';

/** A write-through over a recorder whose writes settle when the test says so. */
function harness(refreshMs = 1000) {
  let now = 0;
  const writes: Array<{ key: string; value: number; settle: (error?: Error) => void }> = [];
  const results: Array<unknown> = [];
  const through = new WriteThrough<number>({
    refreshMs,
    now: () => now,
    same: (a, b) => a === b,
    write: (key, value) =>
      new Promise<void>((resolve, reject) => {
        writes.push({ key, value, settle: (error) => (error ? reject(error) : resolve()) });
      }),
    onWrite: (_key, error) => results.push(error),
  });
  return { through, writes, results, advance: (ms: number) => (now += ms) };
}

describe('WriteThrough', () => {
  it('writes a key once, then only when its value changes or refreshMs has passed', async () => {
    const { through, writes, advance } = harness();
    through.offer('products', 1);
    writes[0]?.settle();
    await through.idle();
    for (let i = 0; i < 100; i++) through.offer('products', 1);
    assert.equal(writes.length, 1, 'the same value again is no write');
    through.offer('products', 2);
    assert.equal(writes.length, 2, 'a changed value is written at once');
    writes[1]?.settle();
    await through.idle();
    advance(999);
    through.offer('products', 2);
    assert.equal(writes.length, 2);
    advance(1);
    through.offer('products', 2);
    assert.equal(writes.length, 3, 'refreshed after refreshMs');
  });

  it('keeps one write in flight per key and writes only the latest value offered meanwhile', async () => {
    const { through, writes } = harness();
    through.offer('a', 1);
    through.offer('a', 2);
    through.offer('a', 3);
    through.offer('b', 9);
    assert.deepEqual(writes.map((w) => [w.key, w.value]), [['a', 1], ['b', 9]], 'one in flight per key; keys are independent');
    writes[0]?.settle();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes.map((w) => [w.key, w.value]), [['a', 1], ['b', 9], ['a', 3]], 'the latest pending value, not 2');
    writes[1]?.settle();
    writes[2]?.settle();
    await through.idle();
  });

  it('after a failed write waits refreshMs before trying the key again, so a dead store costs one write per key per refresh', async () => {
    const { through, writes, results, advance } = harness(500);
    through.offer('products', 1);
    writes[0]?.settle(new Error('store down'));
    await through.idle();
    assert.equal((results[0] as Error).message, 'store down');
    for (let i = 0; i < 50; i++) through.offer('products', i);
    assert.equal(writes.length, 1);
    advance(500);
    through.offer('products', 7);
    assert.equal(writes.length, 2);
    assert.equal(writes[1]?.value, 7);
    writes[1]?.settle();
    await through.idle();
  });
});
