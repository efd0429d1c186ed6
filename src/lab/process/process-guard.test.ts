import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { ProcessGuard } from './process-guard.ts';

/** True while `pid` exists in any state, a zombie included (its /proc entry lasts until it is reaped). */
function exists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describe('ProcessGuard.close', () => {
  it('lets the reaper go once nothing is guarded: it exits and is reaped before close resolves', async () => {
    // Regression: commands left the reaper's pipe and process handles to Node's teardown; the reaper
    // exited only then, and stayed a zombie of a process that never finished exiting.
    const guard = new ProcessGuard();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      guard.guard(child.pid!);
      const reaper = guard.reaperPid!;
      assert.ok(reaper > 0 && exists(reaper));
      await guard.close();
      assert.ok(exists(reaper), 'close() leaves the reaper on duty while a PID is guarded');
      guard.release(child.pid!);
      await guard.close();
      assert.equal(exists(reaper), false, `the reaper is gone, not left a zombie (state ${state(reaper)})`);
      assert.equal(guard.reaperPid, undefined);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});
