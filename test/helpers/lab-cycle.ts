// `chaos-lab up` as a real process, started, made ready and stopped, with every process it
// started accounted for: shared by test/lab-lifecycle.test.ts and bench/lab-cycles.bench.ts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { LabInfo } from '../../src/lab/lab.ts';
import { within } from './deadline.ts';
import { descendants, killFamily, waitUntilGone } from './processes.ts';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A started `up`, its output so far, and the folder it runs in. */
export interface UpProcess {
  child: ChildProcess;
  dir: string;
  output: () => string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<number | NodeJS.Signals | null>;
}

/** Spawns `chaos-lab up --dir DIR` (or `command` instead, e.g. through npm) without waiting. */
export function spawnUp(dir: string, command: { file: string; args: string[] } = { file: process.execPath, args: [CLI, 'up', '--dir', dir] }): UpProcess {
  // detached: its own process group, so a test's signal reaches only what it means to signal.
  const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, dir, output: () => output, exited };
}

/** Waits (bounded) until `up` says it is ready, and returns what lab.json says. */
export async function waitReady(up: UpProcess, timeoutMs = 60_000): Promise<LabInfo> {
  const deadline = Date.now() + timeoutMs;
  while (!up.output().includes('ready:')) {
    if (up.child.exitCode !== null || up.child.signalCode !== null) throw new Error(`chaos-lab up exited before it was ready:\n${up.output()}`);
    if (Date.now() > deadline) throw new Error(`chaos-lab up was not ready within ${timeoutMs} ms:\n${up.output()}`);
    await delay(50);
  }
  return JSON.parse(await readFile(join(up.dir, 'lab.json'), 'utf8')) as LabInfo;
}

/** Runs a lab command against `dir` (bounded), resolving with its exit code and output. */
export function labCommand(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args, '--dir', dir], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** What one up → stop cycle did. */
export interface CycleResult {
  readyMs: number;
  /** From the stop (down sent, or signal) to the `up` process gone; null if it did not exit in time. */
  exitMs: number | null;
  exit: number | NodeJS.Signals | null;
  /** Processes `up` had started that were still alive after it exited (then killed). */
  leftovers: number[];
  output: string;
}

/**
 * One cycle: `up` until ready, then stopped by `chaos-lab down` or by a signal. The process
 * must exit within `exitWithinMs` and leave none of its descendants behind; whatever happens,
 * everything it started is killed by PID and its folder removed before this returns.
 */
export async function upCycle(stopBy: 'down' | NodeJS.Signals, exitWithinMs = 15_000): Promise<CycleResult> {
  const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-cycle-'));
  const started = performance.now();
  const up = spawnUp(dir);
  let family: number[] = [];
  try {
    await waitReady(up);
    const readyMs = performance.now() - started;
    family = descendants(up.child.pid!);
    const stopping = performance.now();
    if (stopBy === 'down') {
      const down = await labCommand(dir, 'down');
      if (down.code !== 0) throw new Error(`chaos-lab down failed: ${down.stderr}`);
    } else {
      up.child.kill(stopBy);
    }
    const exit = await within(exitWithinMs, 'chaos-lab up exit', up.exited).catch(() => undefined);
    const exitMs = exit === undefined ? null : performance.now() - stopping;
    const leftovers = await waitUntilGone(family, 5_000);
    return { readyMs, exitMs, exit: exit ?? null, leftovers, output: up.output() };
  } finally {
    await killFamily(up.child.pid!, family);
    await rm(dir, { recursive: true, force: true });
  }
}
