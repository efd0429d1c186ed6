import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Coalescer } from './coalesce.ts';

/** An operation whose runs the test finishes by hand. */
function controlled() {
  const runs: Array<{ resolve: (value: number) => void; reject: (error: Error) => void }> = [];
  const operation = () => new Promise<number>((resolve, reject) => runs.push({ resolve, reject }));
  return { runs, operation };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Coalescer', () => {
  it('runs at once when idle', async () => {
    const { runs, operation } = controlled();
    const coalescer = new Coalescer(operation);
    const first = coalescer.run();
    assert.equal(runs.length, 1);
    runs[0]!.resolve(1);
    assert.equal(await first, 1);
  });

  it('callers arriving during a run share the next run, never the one already in flight', async () => {
    const { runs, operation } = controlled();
    const coalescer = new Coalescer(operation);
    const early = coalescer.run();
    const late = [coalescer.run(), coalescer.run(), coalescer.run()];
    assert.equal(runs.length, 1, 'the late callers wait');
    runs[0]!.resolve(1);
    assert.equal(await early, 1);
    await tick();
    assert.equal(runs.length, 2, 'one more run for all the late callers');
    runs[1]!.resolve(2);
    assert.deepEqual(await Promise.all(late), [2, 2, 2]);
  });

  it('a failed run fails its callers only; the next run starts anyway', async () => {
    const { runs, operation } = controlled();
    const coalescer = new Coalescer(operation);
    const failing = coalescer.run();
    const late = coalescer.run();
    runs[0]!.reject(new Error('connection lost'));
    await assert.rejects(failing, /connection lost/);
    await tick();
    runs[1]!.resolve(7);
    assert.equal(await late, 7);
  });
});
