import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_SUPERUSER, type PostgresServer } from '../postgres/postgres-server.ts';

/** The standby's password file for replication, in its data directory (see cloneAsStandby). */
export const REPLICATION_PASSFILE = 'chaos-lab-replication.pgpass';

// What a base backup leaves out (PostgreSQL's "Backing Up the Data Directory" list): runtime
// files of the running server, and the contents of folders it rebuilds. pg_wal is left empty:
// the standby streams the WAL it needs from the primary (which keeps it: wal_keep_size).
const SKIP_FILES = new Set([REPLICATION_PASSFILE, 'postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'standby.signal', 'recovery.signal', 'backup_manifest', 'pg_internal.init']);
const EMPTY_DIRS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);

/**
 * Makes `standby` a streaming replica of the running `primary`, with the low-level backup API
 * (the npm binaries ship no pg_basebackup): pg_backup_start, copy the data directory while
 * the primary runs, pg_backup_stop, write backup_label and standby.signal. `standby` must be
 * stopped; its data directory is replaced. Start it afterwards. The copy carries the primary's
 * pg_authid, so `standby` must have been created with the primary's password.
 */
export async function cloneAsStandby(primary: PostgresServer, standby: PostgresServer, applicationName: string): Promise<void> {
  if (standby.password !== primary.password) {
    throw new Error('a standby shares its primary\'s superuser password: create it with { password: primary.password }');
  }
  await standby.emptyDataDir();
  const client = new pg.Client(primary.connectionConfig());
  client.on('error', () => {}); // idle during the copy: if the primary goes away, the next query says so
  await client.connect();
  try {
    // One session for start and stop: the backup belongs to it.
    await client.query(`SELECT pg_backup_start($1, true)`, [`chaos-lab ${applicationName}`]);
    let label: { labelfile: string; spcmapfile: string | null };
    try {
      await copyTree(primary.dataDir, standby.dataDir, true);
    } finally {
      label = (await client.query<{ labelfile: string; spcmapfile: string | null }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(false)')).rows[0]!;
    }
    await writeFile(join(standby.dataDir, 'backup_label'), label.labelfile);
    if (label.spcmapfile) await writeFile(join(standby.dataDir, 'tablespace_map'), label.spcmapfile);
    await writeFile(join(standby.dataDir, 'standby.signal'), '');
  } finally {
    await client.end();
  }
  // The walreceiver authenticates like any client (scram-sha-256). Its password goes in a
  // passfile rather than in primary_conninfo: settings reach the server as `-c` arguments,
  // and argv is world-readable in /proc. The file sits in the data directory, which
  // PostgreSQL insists is 0700, and is 0600 itself (libpq ignores a passfile others can read).
  const passfile = join(standby.dataDir, REPLICATION_PASSFILE);
  // 'wx' + O_NOFOLLOW: a new file, never through a link (the folder is still ours alone, see emptyDataDir).
  await writeFile(passfile, `*:*:*:${POSTGRES_SUPERUSER}:${primary.password}\n`, { mode: 0o600, flag: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW });
  await chmod(passfile, 0o600);
  await standby.handOverDataDir();
  standby.updateSettings({
    primary_conninfo: [
      `host=${primary.host}`,
      `port=${primary.port}`,
      `user=${POSTGRES_SUPERUSER}`,
      `passfile=${conninfoValue(passfile)}`,
      `application_name=${conninfoValue(applicationName)}`,
    ].join(' '),
  });
}

/** Quotes a libpq conninfo value: single quotes, with backslash escapes for ' and \. */
function conninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** Copies a live data directory; files that vanish while we copy are fine (WAL replay restores them). */
async function copyTree(from: string, to: string, top: boolean): Promise<void> {
  let entries;
  try {
    entries = await readdir(from, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await mkdir(to, { recursive: true, mode: 0o700 });
  for (const entry of entries) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (top && SKIP_FILES.has(entry.name)) continue;
    if (entry.name.startsWith('pgsql_tmp')) continue;
    try {
      if (entry.isDirectory()) {
        if (top && EMPTY_DIRS.has(entry.name)) {
          await mkdir(target, { mode: 0o700 });
          if (entry.name === 'pg_wal') await mkdir(join(target, 'archive_status'), { mode: 0o700 });
        } else {
          await copyTree(source, target, false);
        }
      } else if (entry.isSymbolicLink()) {
        await symlink(await readlink(source), target);
      } else if (entry.isFile()) {
        await copyFile(source, target);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
