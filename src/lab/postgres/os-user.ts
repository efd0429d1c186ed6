import { execFileSync } from 'node:child_process';

/** The user a PostgreSQL server runs as: PostgreSQL refuses to run as root. */
export interface OsUser {
  uid: number;
  gid: number;
}

const FALLBACK_NAME = 'nobody';

/**
 * Returns the unprivileged user to run PostgreSQL as when this process is root, or undefined
 * when it is not (PostgreSQL then runs as the current user). `CHAOS_LAB_PG_USER` chooses the
 * account; the default is `nobody`.
 */
export function postgresOsUser(): OsUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = process.env['CHAOS_LAB_PG_USER'] ?? FALLBACK_NAME;
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(uid) || uid === 0) throw new Error(`user ${name} is root`);
    return { uid, gid };
  } catch (error) {
    throw new Error(
      `running as root, and PostgreSQL refuses root: needs an unprivileged account (${name}) to run as; ` +
        `set CHAOS_LAB_PG_USER to an existing non-root user (${(error as Error).message})`,
      { cause: error },
    );
  }
}
