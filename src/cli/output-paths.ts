// Output paths the CLI writes to (--journal, --out), checked before a run starts: a run of minutes
// whose journal cannot be written at the end is a run lost.
import { randomBytes } from 'node:crypto';
import { open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensureDir, PathError } from '../lab/files.ts';
import { UsageError } from './shared.ts';

/** An output path that cannot be used: the path and why. */
export class OutputPathError extends Error {
  readonly code = 'OUTPUT_PATH';
}

/** Creates `dir` and proves it writable by creating and removing a probe file. */
export async function ensureWritableDir(dir: string): Promise<void> {
  // ensureDir, not mkdir({ recursive: true }): that one spins forever under /proc.
  await ensureDir(dir);
  const probe = join(dir, `.chaos-lab-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await (await open(probe, 'wx')).close();
  } catch (error) {
    throw new OutputPathError(`${dir}: cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  await unlink(probe).catch(() => {});
}

/** A file the run will write: its folder must be writable, and the path itself new or a regular file. */
export async function ensureWritableFile(file: string): Promise<void> {
  if (/[/\\]$/.test(file)) throw new OutputPathError(`${file}: names a folder, not a file`);
  await ensureWritableDir(dirname(file));
  const stats = await stat(file).catch(() => undefined);
  if (stats && !stats.isFile()) throw new OutputPathError(`${file}: is not a regular file (${stats.isDirectory() ? 'a folder' : 'a device, pipe or socket'})`);
}

/** Checks output paths before a run, as usage errors naming the flag and the path (exit 2). */
export async function checkOutputPaths(paths: { flag: string; dirs?: string[]; files?: string[] }): Promise<void> {
  try {
    for (const dir of paths.dirs ?? []) await ensureWritableDir(dir);
    for (const file of paths.files ?? []) await ensureWritableFile(file);
  } catch (error) {
    if (error instanceof OutputPathError || error instanceof PathError) throw new UsageError(`${paths.flag}: ${error.message}`);
    throw error;
  }
}
