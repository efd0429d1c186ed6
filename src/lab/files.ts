import { lstat, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** A folder that cannot be made or used, with the path and the reason. */
export class PathError extends Error {
  readonly code = 'BAD_PATH';
}

/**
 * Makes `path` and its missing parents, one level at a time. Node's `mkdir(…, {recursive: true})`
 * spins forever under /proc (it retries ENOENT on a parent that exists but refuses children), so
 * the recursion is ours: it walks up to the nearest existing ancestor, checks that it is a
 * folder, and creates each missing level once, failing with a message that names the path.
 */
export async function ensureDir(path: string, mode = 0o777): Promise<void> {
  const target = resolve(path);
  const missing: string[] = [];
  let current = target;
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new PathError(`cannot use ${target}: ${error.code ?? error.message} at ${current}`);
    });
    if (info) {
      if (!info.isDirectory()) throw new PathError(`cannot use ${target}: ${current} is not a folder`);
      break;
    }
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing) {
    try {
      await mkdir(level, { mode });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await lstat(level)).isDirectory()) continue; // made meanwhile by someone else
      throw new PathError(`cannot create ${target}: ${code ?? (error as Error).message} at ${level}`);
    }
  }
}
