import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LabDir, LabDirError, processStartTime } from './lab-dir.ts';

/** A lock as a starter that is long gone would have left it (PID 1 never started at tick 1). */
const STALE = JSON.stringify({ pid: 1, startTime: 1 });

async function inFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-dir-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('LabDir', () => {
  it('of twenty starters racing over a stale lock, exactly one claims the folder, every time', async () => {
    // Regression: a starter could move another's fresh lock aside while taking over the stale one,
    // and a third could link its own lock in the gap: two labs in one folder. Takeovers now hold a
    // mutex. (A stress test of the invariant; the next test pins the mechanism deterministically.)
    for (let round = 0; round < 10; round++) {
      await inFolder(async (dir) => {
        await writeFile(join(dir, 'lab.lock'), STALE);
        const claims = await Promise.allSettled(Array.from({ length: 20 }, () => LabDir.claim(dir)));
        const won = claims.filter((c) => c.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}: ${won.length} starters claimed the folder`);
        for (const claim of claims) {
          if (claim.status === 'rejected') assert.ok(claim.reason instanceof LabDirError && claim.reason.code === 'LAB_RUNNING', String(claim.reason));
        }
        assert.equal(JSON.parse(await readFile(join(dir, 'lab.lock'), 'utf8')).pid, process.pid);
      });
    }
  });

  it('while another live starter is taking over a stale lock, a starter leaves the lock alone', async () => {
    // The mechanism of the race above, deterministically: the taker holds the takeover mutex; anyone
    // else who saw the stale lock must not remove it (by then it may be the taker's fresh lock).
    await inFolder(async (dir) => {
      await writeFile(join(dir, 'lab.lock'), STALE);
      await writeFile(join(dir, 'lab.lock.takeover'), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
      await assert.rejects(LabDir.claim(dir), /another lab is starting in/);
      assert.equal(await readFile(join(dir, 'lab.lock'), 'utf8'), STALE);
    });
  });

  it('a takeover left half done by a starter that died does not block the folder', async () => {
    await inFolder(async (dir) => {
      await writeFile(join(dir, 'lab.lock'), STALE);
      await writeFile(join(dir, 'lab.lock.takeover'), STALE);
      const lab = await LabDir.claim(dir);
      await lab.release([]);
    });
  });

  it('a live holder keeps the folder: the next starter is refused, naming its PID', async () => {
    await inFolder(async (dir) => {
      const lab = await LabDir.claim(dir);
      await assert.rejects(LabDir.claim(dir), new RegExp(`a lab is already running in .* \\(pid ${process.pid}\\)`));
      await lab.release([]);
      await (await LabDir.claim(dir)).release([]);
    });
  });
});
