import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bulkhead, WorkersBusyError } from './bulkhead.ts';

/** A call that runs until released: a request hanging on a dead dependency. */
function hanging(): { call: () => Promise<string>; release: (value?: string) => void; started: () => boolean } {
  let release: (value?: string) => void = () => {};
  let started = false;
  const done = new Promise<string>((resolve) => {
    release = (value = 'done') => resolve(value);
  });
  return {
    call: () => {
      started = true;
      return done;
    },
    release: (value) => release(value),
    started: () => started,
  };
}

describe('Bulkhead', () => {
  it('runs calls at once while workers are free, then queues them in the backlog, then refuses the rest at once', async () => {
    const pool = new Bulkhead('main', { workers: 2, backlog: 1 });
    const calls = [hanging(), hanging(), hanging()];
    const running = calls.map((c) => pool.run(c.call));
    await Promise.resolve();
    assert.deepEqual(calls.map((c) => c.started()), [true, true, false]);
    assert.deepEqual({ busy: pool.stats().busy, waiting: pool.stats().waiting }, { busy: 2, waiting: 1 });
    await assert.rejects(pool.run(async () => 'x'), (error: unknown) => error instanceof WorkersBusyError && error.code === 'WORKERS_BUSY' && /all 2 workers of the main pool are busy and its backlog of 1 is full/.test(error.message));
    calls[0]!.release('first');
    assert.equal(await running[0], 'first');
    // The freed worker went to the waiting call.
    await Promise.resolve();
    assert.equal(calls[2]!.started(), true);
    assert.deepEqual({ busy: pool.stats().busy, waiting: pool.stats().waiting }, { busy: 2, waiting: 0 });
    calls[1]!.release();
    calls[2]!.release();
    await Promise.all(running);
    assert.deepEqual(pool.stats(), { busy: 0, waiting: 0, served: 3, refused: 1, abandoned: 0 });
  });

  it('recovers once the hanging calls end: every worker is free again', async () => {
    const pool = new Bulkhead('reviews', { workers: 2, backlog: 0 });
    const stuck = [hanging(), hanging()];
    const running = stuck.map((c) => pool.run(c.call));
    await assert.rejects(pool.run(async () => 'x'), WorkersBusyError);
    for (const c of stuck) c.release();
    await Promise.all(running);
    assert.deepEqual(await Promise.all([pool.run(async () => 1), pool.run(async () => 2)]), [1, 2]);
  });

  it('frees a worker when the call fails', async () => {
    const pool = new Bulkhead('main', { workers: 1, backlog: 0 });
    await assert.rejects(pool.run(async () => Promise.reject(new Error('dependency down'))), /dependency down/);
    assert.equal(await pool.run(async () => 'ok'), 'ok');
  });

  it('drops a waiting call whose caller went away, without running it', async () => {
    const pool = new Bulkhead('main', { workers: 1, backlog: 2 });
    const first = hanging();
    const running = pool.run(first.call);
    const gone = new AbortController();
    let ran = false;
    const waiting = pool.run(async () => {
      ran = true;
    }, gone.signal);
    assert.equal(pool.stats().waiting, 1);
    gone.abort(new Error('client closed the connection'));
    await assert.rejects(waiting, /client closed the connection/);
    assert.equal(pool.stats().waiting, 0);
    first.release();
    await running;
    assert.equal(ran, false);
    assert.deepEqual(pool.stats(), { busy: 0, waiting: 0, served: 1, refused: 0, abandoned: 1 });
  });

  it('refuses nonsense sizes', () => {
    assert.throws(() => new Bulkhead('x', { workers: 0, backlog: 0 }), /workers must be an integer of at least 1, got 0/);
    assert.throws(() => new Bulkhead('x', { workers: 1, backlog: -1 }), /backlog must be a non-negative integer, got -1/);
  });
});
