import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { chmod, link, lstat, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureDir } from './files.ts';

/** Why a lab folder cannot be used; `code` is stable. */
export class LabDirError extends Error {
  readonly code: 'LAB_RUNNING' | 'UNSAFE_LAB_DIR';
  constructor(code: LabDirError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** What the lock file says: who holds the folder, and since when (to tell a reused PID apart). */
interface LockHolder {
  pid: number;
  /** The holder's start time (clock ticks since boot, from /proc), or null where there is no /proc. */
  startTime: number | null;
}

const LOCK = 'lab.lock';
/** Held while a stale lock is being removed, so that only one starter removes it. */
const TAKEOVER = 'lab.lock.takeover';

/**
 * A lab's folder, held by one lab at a time. Claiming it makes it private (0700, owned by this
 * user, not a symlink) and creates `lab.lock` with O_EXCL, so two `up` started together cannot
 * both run; a lock left by a dead holder (or by a PID since reused: the start time differs) is
 * taken over. Files are written through a fresh temp file and a rename, so a file planted in
 * the folder beforehand keeps neither its modes nor, if it is a symlink, its target.
 */
export class LabDir {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Claims `dir` for this process, or throws LabDirError (LAB_RUNNING or UNSAFE_LAB_DIR). */
  static async claim(dir: string): Promise<LabDir> {
    const path = resolve(dir);
    await ensureDir(path, 0o700);
    await checkPrivate(path);
    const lab = new LabDir(path);
    const me = JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) } satisfies LockHolder);
    // Two tries: the second after taking over a stale lock.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await lab.#publish(LOCK, me)) return lab;
      const seen = await readFile(join(path, LOCK), 'utf8').catch(() => '');
      const holder = parseHolder(seen);
      if (holder && isRunning(holder)) {
        throw new LabDirError('LAB_RUNNING', `a lab is already running in ${path} (pid ${holder.pid}); stop it with chaos-lab down, or use another --dir`);
      }
      await lab.#takeOverStale(seen, me);
    }
    throw new LabDirError('LAB_RUNNING', `another lab is starting in ${path}; use another --dir`);
  }

  /** Writes `name` readable by this user only, replacing whatever was there (never through a symlink). */
  async writePrivate(name: string, content: string): Promise<void> {
    const temp = `.${name}.${randomBytes(6).toString('hex')}.tmp`;
    await this.#create(temp, content);
    await rename(join(this.path, temp), join(this.path, name));
  }

  /** Removes the lab's files and its lock: the folder is free again. */
  async release(names: string[]): Promise<void> {
    for (const name of names) await rm(join(this.path, name), { force: true });
    await rm(join(this.path, LOCK), { force: true });
  }

  /**
   * Removes a stale lock, one starter at a time. Under the takeover mutex no one else can remove
   * or replace the lock (a new one is only ever linked where none exists), so the lock is removed
   * only if it is still the stale one this starter saw, never a fresh one another starter just made.
   */
  async #takeOverStale(seen: string, me: string): Promise<void> {
    if (!(await this.#acquireTakeover(me))) {
      throw new LabDirError('LAB_RUNNING', `another lab is starting in ${this.path}; use another --dir`);
    }
    try {
      if ((await readFile(join(this.path, LOCK), 'utf8').catch(() => '')) === seen) await rm(join(this.path, LOCK), { force: true });
    } finally {
      await rm(join(this.path, TAKEOVER), { force: true });
    }
  }

  /**
   * The takeover mutex: false while a live starter holds it. One left by a starter that died
   * mid-takeover is moved aside (atomically, and put back if it was not the one seen) and retried.
   */
  async #acquireTakeover(me: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.#publish(TAKEOVER, me)) return true;
      const seen = await readFile(join(this.path, TAKEOVER), 'utf8').catch(() => '');
      const holder = parseHolder(seen);
      if (holder && isRunning(holder)) return false;
      const aside = join(this.path, `.${TAKEOVER}.${randomBytes(6).toString('hex')}.stale`);
      if (!(await rename(join(this.path, TAKEOVER), aside).then(() => true, () => false))) continue;
      if ((await readFile(aside, 'utf8').catch(() => '')) !== seen) await link(aside, join(this.path, TAKEOVER)).catch(() => {});
      await rm(aside, { force: true });
    }
    return false;
  }

  /**
   * Creates `name` with its content in one step (written aside, then hard-linked into place,
   * which fails if it exists): another starter never sees it empty. False if it exists.
   */
  async #publish(name: string, content: string): Promise<boolean> {
    const temp = `.${name}.${randomBytes(6).toString('hex')}.tmp`;
    await this.#create(temp, content);
    try {
      await link(join(this.path, temp), join(this.path, name));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(join(this.path, temp), { force: true });
    }
  }

  /** Creates a new file (never an existing one, never through a symlink), mode 0600. */
  async #create(name: string, content: string): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const file = await open(join(this.path, name), flags, 0o600);
    try {
      await file.writeFile(content);
    } finally {
      await file.close();
    }
  }
}

/** True while the lock's holder is the very process that wrote it. */
export function isRunning(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: alive, but another user's: a PID reused by someone else, not our lab.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const startTime = processStartTime(holder.pid);
  return holder.startTime === null || startTime === null || startTime === holder.startTime;
}

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or null without /proc. */
export function processStartTime(pid: number): number | null {
  try {
    // Synchronous: one tiny procfs file, read right after the PID check it completes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const value = Number(fields[19]);
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    return { pid: value.pid, startTime: typeof value.startTime === 'number' ? value.startTime : null };
  } catch {
    return undefined;
  }
}

/** Refuses a folder that is a symlink, not a folder, or not ours; and makes it 0700. */
async function checkPrivate(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) throw new LabDirError('UNSAFE_LAB_DIR', `${path} is a symbolic link; give the lab a real folder`);
  if (!info.isDirectory()) throw new LabDirError('UNSAFE_LAB_DIR', `${path} is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) throw new LabDirError('UNSAFE_LAB_DIR', `${path} belongs to another user (uid ${info.uid}); give the lab a folder of your own`);
  if ((info.mode & 0o777) !== 0o700) await chmod(path, 0o700);
}
