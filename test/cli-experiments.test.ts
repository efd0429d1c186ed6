// chaos-lab run / validate / experiments as a user runs them: real processes and signals.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Journal } from '../src/chaos/journal.ts';
import { within } from './helpers/deadline.ts';
import { waitUntilGone } from './helpers/processes.ts';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const execute = promisify(execFile);

async function chaosLab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execute(process.execPath, [CLI, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('chaos-lab run, validate, experiments', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the built-in experiments with their modes', async () => {
    const { code, stdout } = await chaosLab('experiments');
    assert.equal(code, 0);
    assert.match(stdout, /instance-stop\s+Article 1: /);
    assert.match(stdout, /db-failover\s+Article 3: /);
    assert.match(stdout, /naive: .*\n.*resilient: /);
  });

  it('validate: a valid template passes, an invalid one lists every problem and exits 1', async () => {
    assert.equal((await chaosLab('validate', fileURLToPath(new URL('../experiments/db-failover.yaml', import.meta.url)))).code, 0);
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'title: t\ndescription: d\nduration: 2 minutes\nmodes: {naive: {}}\nactions:\n  stop: {actionId: lab:instance:reboot}\n');
    const { code, stderr } = await chaosLab('validate', file);
    assert.equal(code, 1);
    assert.match(stderr, /duration: must be a duration like 500ms, 30s, 2m or PT30S \(above 0, at most a day\), got "2 minutes"/);
    assert.match(stderr, /actions\.stop\.actionId: must be one of .*, got "lab:instance:reboot"/);
  });

  it('run: bad arguments are usage errors (exit 2) before anything starts', async () => {
    for (const [args, message] of [
      [['run', 'no-such-experiment'], /no experiment named "no-such-experiment"/],
      [['run', 'db-failover', '--profile', 'fast'], /--profile must be one of article, demo, quick, got "fast"/],
      [['run', 'db-failover', '--mode', 'paranoid'], /--mode must be compare or one of db-failover's modes \(naive, resilient\), got "paranoid"/],
      [['run', 'db-failover', '--seed', 'abc'], /--seed must be an integer from 0 to 4294967295, got "abc"/],
    ] as const) {
      const { code, stderr } = await chaosLab(...args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
    }
  });

  it('run: Ctrl-C stops the run in progress, rolls back, tears the lab down, and writes a journal that says so', async () => {
    const journalFile = join(dir, 'failover.json');
    const child = spawn(process.execPath, [CLI, 'run', 'db-failover', '--mode', 'compare', '--profile', 'quick', '--journal', journalFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/STATUS: reads=/.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no STATUS line:\n${output}`);
        await delay(50);
      }
      child.kill('SIGINT');
      assert.equal(await exited, 130, output);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    assert.match(output, /SIGINT: stopping the run/);
    const journal = JSON.parse(await readFile(join(dir, 'failover-naive.json'), 'utf8')) as Journal;
    assert.equal(journal.status, 'stopped');
    assert.equal(journal.stopReason?.kind, 'interrupted');
    assert.ok(journal.states.some((s) => s.state === 'stopping'));
    assert.equal(existsSync(join(dir, 'failover-resilient.json')), false, 'the second mode never started');
    const pids = journal.fleet.instances.map((i) => i.pid ?? 0).filter((p) => p > 0);
    assert.ok(pids.length >= 2);
    assert.deepEqual(await waitUntilGone(pids, 5000), []);
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as { interrupted: boolean };
    assert.equal(summary.interrupted, true);
    // The report of what ran is written beside the journals, the stopped run included.
    assert.ok(output.includes(`report: ${join(dir, 'failover.html')}`), output);
    assert.match(await readFile(join(dir, 'failover.html'), 'utf8'), /"status":"stopped"/);
  });

  it('run: an output path that cannot be written is a usage error (exit 2) before the run starts', async () => {
    // mkdir({ recursive: true }) under /proc spun forever (ENOENT on the child, EEXIST on the parent, retry), and a
    // --journal of /dev/null failed only once the run was over, losing the journal.
    for (const [args, message] of [
      [['--journal', '/proc/chaos-lab-nowhere/run.json'], /--journal: cannot create \/proc\/chaos-lab-nowhere: ENOENT/],
      [['--out', '/proc/chaos-lab-nowhere/results'], /--out: cannot create \/proc\/chaos-lab-nowhere\/results: ENOENT/],
      [['--out', '/proc/self'], /--out: \/proc\/self: cannot be written/],
      [['--out', '/dev/null'], /--out: cannot use \/dev\/null: \/dev\/null is not a folder/],
      [['--journal', '/dev/null', '--mode', 'naive'], /--journal: \/dev\/null: is not a regular file/],
      // Comparing, the journals are /dev/null-naive.json and /dev/null-resilient.json, which root may create.
      [['--journal', '/dev/null'], /--journal: \/dev\/null: is not a regular file/],
      [['--journal', dir, '--mode', 'naive'], /--journal: .*: is not a regular file \(a folder\)/],
    ] as const) {
      const { code, stdout, stderr } = await chaosLab('run', 'instance-stop', '--profile', 'quick', ...args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.doesNotMatch(stdout, /▶/, 'no run started');
    }
  });

  it('run: killed with SIGKILL, its chaos-lab-run-* temp folder is removed by the reaper', async () => {
    // The folder was removed only by the runner's own cleanup, which a SIGKILL never lets run.
    const tmp = await mkdtemp(join(tmpdir(), 'chaos-lab-cli-tmp-'));
    await chmod(tmp, 0o1777); // like /tmp: PostgreSQL runs as another user when the tests run as root
    const runFolders = async (): Promise<string[]> => (await readdir(tmp)).filter((name) => name.startsWith('chaos-lab-run-'));
    const child = spawn(process.execPath, [CLI, 'run', 'instance-stop', '--mode', 'naive', '--profile', 'quick', '--out', join(dir, 'killed')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!/STATUS: reads=/.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no STATUS line:\n${output}`);
        await delay(50);
      }
      assert.equal((await runFolders()).length, 1, 'the run made its temp folder');
      child.kill('SIGKILL');
      const goneBy = Date.now() + 10_000;
      while ((await runFolders()).length > 0 && Date.now() < goneBy) await delay(100);
      assert.deepEqual(await runFolders(), [], 'the temp folder outlived the killed run');
      const serverFolders = async (): Promise<string[]> => (await readdir(tmp)).filter((name) => name.startsWith('chaos-lab-pg-'));
      while ((await serverFolders()).length > 0 && Date.now() < goneBy) await delay(100);
      assert.deepEqual(await serverFolders(), [], 'the PostgreSQL data folders outlived the killed run');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('run: a template at the highest rates the schema allows ends on time, blames its shortfall on the generator, and the process exits', async () => {
    // Regression: with no cap on requests in flight the generator overloaded itself (every request
    // status 0, the run 2-18x its duration), and the process, its journal written, never exited:
    // it spun in Node's teardown with sockets still open. The generator is capped and the command
    // exits by itself.
    const template = (await readFile(fileURLToPath(new URL('../experiments/db-failover.yaml', import.meta.url)), 'utf8'))
      .replace('readsPerSecond: 3', 'readsPerSecond: 200')
      .replace('writesPerSecond: 1', 'writesPerSecond: 100');
    const file = join(dir, 'max-rate.yaml');
    await writeFile(file, template);
    const journalFile = join(dir, 'max-rate.json');
    const child = spawn(process.execPath, [CLI, 'run', file, '--mode', 'resilient', '--profile', 'quick', '--journal', journalFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const exit = await within(90_000, 'the max-rate run', new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))));
      assert.equal(exit, 0, output);
      const journal = JSON.parse(await readFile(journalFile, 'utf8')) as Journal;
      const traffic = journal.traffic!;
      assert.equal(journal.status, 'completed');
      // 6 s of traffic at 4,000 reads and 2,000 writes a second: every one of the 36,000 requests asked for is
      // accounted for, answered or not sent (also those due just before a late last tick), and the run took
      // about its duration, not many times it.
      const accounted = traffic.reads.ok + traffic.reads.fail + traffic.reads.notSent + traffic.writes.ok + traffic.writes.stockOut + traffic.writes.queued + traffic.writes.fail + traffic.writes.notSent;
      assert.equal(accounted, 36_000, 'every request asked for is answered or counted as not sent');
      assert.ok(traffic.durationMs < 6_000 + 5_000 + 1_000, `traffic ran ${traffic.durationMs} ms`);
      const answered = accounted - traffic.reads.notSent - traffic.writes.notSent;
      assert.ok(traffic.reads.fail + traffic.writes.fail <= answered * 0.05, `failures ${traffic.reads.fail + traffic.writes.fail} of ${answered} answered`);
      if (traffic.reads.notSent + traffic.writes.notSent > 0) assert.match(output, /Not sent \(generator overloaded\)/);
      // run writes report.html beside its journal (FILE.json gives FILE.html), with the journal embedded.
      assert.ok(output.includes(`report: ${join(dir, 'max-rate.html')}`), output);
      const html = await readFile(join(dir, 'max-rate.html'), 'utf8');
      const embedded = /<script type="application\/json" id="chaos-lab-journals">([\s\S]*?)<\/script>/.exec(html)![1]!;
      assert.deepEqual(JSON.parse(embedded), [journal]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
