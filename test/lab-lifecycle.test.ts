// `chaos-lab up` ends every time it is asked to, owns its folder alone, and cannot be made to
// leak or redirect its secrets through files planted in that folder.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { CLI, labCommand, spawnUp, upCycle, waitReady, type UpProcess } from './helpers/lab-cycle.ts';
import { within } from './helpers/deadline.ts';
import { alive, descendants, killFamily, waitUntilGone } from './helpers/processes.ts';

/** Stops `up` (down, bounded) and kills by PID whatever is left; for a test's finally. */
async function cleanUp(up: UpProcess, family: number[] = []): Promise<void> {
  // At most 20 s, so that a test's waits and its cleanup together stay inside the test's own timeout.
  if (up.child.exitCode === null && up.child.signalCode === null) {
    await within(10_000, 'chaos-lab down', labCommand(up.dir, 'down')).catch(() => {});
    await within(10_000, 'up exit', up.exited).catch(() => {});
  }
  await killFamily(up.child.pid!, family);
}

describe('chaos-lab up: every stop ends the process', () => {
  // A few cycles here; bench/lab-cycles.bench.ts runs the full 20 + 10.
  for (const stopBy of ['down', 'down', 'SIGTERM'] as const) {
    it(`exits within 15 s after ${stopBy}, leaving none of its processes behind`, async () => {
      // Regression: the process finished its cleanup, then spun forever in Node's teardown
      // (CleanupHandles, with the reaper a zombie), because it waited for the loop to drain.
      const cycle = await upCycle(stopBy);
      assert.notEqual(cycle.exitMs, null, `up did not exit within 15 s after ${stopBy}:\n${cycle.output}`);
      assert.equal(cycle.exit, 0, cycle.output);
      assert.deepEqual(cycle.leftovers, [], 'every process up started is gone');
      assert.match(cycle.output, /stopped\n$/);
    });
  }
});

describe('chaos-lab up: one lab per folder', () => {
  it('two up started together over one folder: one runs, the other refuses at once', async () => {
    // Regression: the "already running" check read lab.json, written only once the lab was up,
    // so both passed it and the second orphaned the first. The folder's lock is now taken first.
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-race-'));
    const first = spawnUp(dir);
    const second = spawnUp(dir);
    try {
      // Bounds: 20 + 30 s of waiting, then at most 2 × 20 s of cleanup, inside the test's 120 s.
      const loser = await within(20_000, 'one up refusing', Promise.race([first.exited.then(() => first), second.exited.then(() => second)]));
      const winner = loser === first ? second : first;
      assert.equal(await loser.exited, 1);
      assert.match(loser.output(), /a lab is already running in .* \(pid \d+\)/);
      await waitReady(winner, 30_000);
      assert.equal((await labCommand(dir, 'status')).code, 0);
    } finally {
      await cleanUp(first);
      await cleanUp(second);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a stale lock or lab.json naming a live process of someone else does not block up; planted files neither leak nor redirect', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-stale-'));
    const victim = join(await mkdtemp(join(tmpdir(), 'chaos-lab-victim-')), 'victim');
    await writeFile(victim, 'untouched');
    await chmod(dir, 0o777);
    // Regression: a lab.json whose PID had been reused by any live process blocked up; the lock
    // now records the holder's start time, so a live PID that started later is not the holder.
    await writeFile(join(dir, 'lab.lock'), JSON.stringify({ pid: process.pid, startTime: 1 }));
    await writeFile(join(dir, 'lab.json'), JSON.stringify({ pid: process.pid }));
    // Regression: existing files kept their modes (a 0666 token stayed world-readable) and
    // symlinks were followed (the token was written into the link's target).
    await writeFile(join(dir, 'token'), 'planted', { mode: 0o666 });
    await chmod(join(dir, 'token'), 0o666);
    await rm(join(dir, 'lab.json'));
    await symlink(victim, join(dir, 'lab.json'));
    const up = spawnUp(dir);
    try {
      await waitReady(up);
      assert.equal((await stat(dir)).mode & 0o777, 0o700, 'the folder is private');
      assert.equal((await stat(join(dir, 'token'))).mode & 0o777, 0o600, 'the token is readable by its user only');
      assert.notEqual(await readFile(join(dir, 'token'), 'utf8'), 'planted');
      assert.ok((await lstat(join(dir, 'lab.json'))).isFile(), 'lab.json is a file of its own, not the planted link');
      assert.equal(await readFile(victim, 'utf8'), 'untouched');
      assert.equal((await labCommand(dir, 'status')).code, 0);
    } finally {
      await cleanUp(up);
      await rm(dir, { recursive: true, force: true });
      await rm(join(victim, '..'), { recursive: true, force: true });
    }
  });

  it('refuses a folder that belongs to nobody it can make, at once: --dir under /proc', async () => {
    // Regression: mkdir -p under /proc spun forever (Node's recursive mkdir retries ENOENT).
    const result = await within(15_000, 'up --dir /proc/…', labCommand('/proc/self/chaos-lab', 'up'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot create \/proc\/self\/chaos-lab/);
  });

  it('refuses a folder that is a symbolic link', async () => {
    const base = await mkdtemp(join(tmpdir(), 'chaos-lab-link-'));
    try {
      await mkdir(join(base, 'real'));
      await symlink(join(base, 'real'), join(base, 'link'));
      const result = await labCommand(join(base, 'link'), 'up');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /is a symbolic link/);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('chaos-lab up under npm', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`stops when the npm process that started it gets ${signal}`, async () => {
      // Regression: npm ran the command under `sh -c`; a SIGTERM to npm killed npm and the shell
      // and the lab lived on, orphaned. Now the scripts exec node (npm's forwarded signal reaches
      // the lab), and a starter that cannot forward anything (SIGKILL) is noticed by the lab.
      const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-npm-'));
      const npm = process.env['npm_execpath'];
      const command = npm
        ? { file: process.execPath, args: [npm, 'run', '--silent', 'chaos-lab', '--', 'up', '--dir', dir] }
        : { file: 'npm', args: ['run', '--silent', 'chaos-lab', '--', 'up', '--dir', dir] };
      const up = spawnUp(dir, command);
      let family: number[] = [];
      try {
        const info = await waitReady(up);
        family = descendants(up.child.pid!);
        assert.ok(family.includes(info.pid), `the lab (pid ${info.pid}) runs under npm (pid ${up.child.pid})`);
        up.child.kill(signal);
        assert.deepEqual(await waitUntilGone([info.pid], 15_000), [], 'the lab stopped within 15 s of npm going away');
        assert.deepEqual(await waitUntilGone(family, 5_000), [], 'and so did everything it started');
        await assert.rejects(stat(join(dir, 'lab.json')), /ENOENT/);
      } finally {
        await killFamily(up.child.pid!, family);
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('started directly with npm variables in its environment, it does not watch its parent', async () => {
    // A lab started with nohup from a shell inside an npm script inherits npm_lifecycle_event; it
    // must not take its parent shell's exit for npm going away.
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-nohup-'));
    const shell = spawnUp(dir, { file: '/bin/sh', args: ['-c', `npm_lifecycle_event=test npm_command=run-script ${process.execPath} ${CLI} up --dir ${dir} > ${dir}/out.log 2>&1 & echo started`] });
    let labPid: number | undefined;
    try {
      await within(10_000, 'the starting shell', shell.exited);
      const deadline = Date.now() + 60_000;
      while (!existsSync(join(dir, 'lab.json')) && Date.now() < deadline) await delay(100);
      labPid = (JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8')) as { pid: number }).pid;
      await delay(1_000); // the watch polls every 250 ms: four chances to stop wrongly
      assert.equal(alive(labPid), true, 'the lab outlived the shell that started it');
    } finally {
      if (labPid !== undefined) {
        await labCommand(dir, 'down');
        await waitUntilGone([labPid], 15_000);
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
