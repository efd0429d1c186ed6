// The embedded PostgreSQL server: real processes, real signals, nothing left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresServer } from '../src/lab/postgres/postgres-server.ts';
import { alive, waitUntilGone } from './helpers/processes.ts';

async function waitForRemoval(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await stat(path);
    } catch {
      return;
    }
    await delay(50);
  }
  assert.fail(`${path} was not removed`);
}

async function serverVersion(server: PostgresServer): Promise<string> {
  const client = new pg.Client({ connectionString: server.connectionString() });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  } finally {
    await client.end();
  }
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** The PIDs of `pid`'s children (the postmaster's backends and auxiliary processes). */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) === pid) children.push(Number(name));
  }
  return children;
}

describe('PostgresServer', () => {
  it('runs a real PostgreSQL 18 on a loopback port, as an unprivileged user when we are root', async () => {
    const server = await PostgresServer.start();
    try {
      assert.match(await serverVersion(server), /^18\./);
      assert.equal(server.host, '127.0.0.1');
      const pid = server.pid;
      assert.ok(pid !== undefined && alive(pid));
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (process.getuid?.() === 0) assert.notEqual(uid, 0, 'postgres must not run as root');
      else assert.equal(uid, process.getuid?.());
    } finally {
      await server.destroy();
    }
  });

  it('refuses a connection without the password or with a wrong one, and accepts the right one (no trust)', async () => {
    // Regression: initdb ran with --auth=trust, so any local user could connect as the
    // superuser without a password and run COPY … TO PROGRAM as the server's OS user.
    const server = await PostgresServer.start();
    const attempt = async (password: string | undefined): Promise<void> => {
      const client = new pg.Client({ ...server.connectionConfig(), password, connectionTimeoutMillis: 10_000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => {});
      }
    };
    try {
      assert.match(server.password, /^[0-9a-f]{48}$/);
      await assert.rejects(attempt('wrong'), (error: Error & { code?: string }) =>
        error.code === '28P01' || /password authentication failed/.test(error.message));
      // pg refuses SCRAM without a password before sending one: the server asked for it.
      await assert.rejects(attempt(undefined), /password/i);
      await attempt(server.password);
      assert.match(await serverVersion(server), /^18\./, 'connectionString() carries the password');

      const hba = (await readFile(join(server.dataDir, 'pg_hba.conf'), 'utf8'))
        .split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
      assert.ok(hba.length > 0);
      for (const line of hba) assert.match(line, /\sscram-sha-256\s*$/, `every pg_hba.conf line asks for a password: ${line}`);
      assert.ok(hba.some((line) => /^host\s+replication\s/.test(line)), 'replication connections included');
    } finally {
      await server.destroy();
    }
  });

  it('keeps the password off command lines and environments, out of the data directory, and removes the pwfile', async () => {
    // The password reaches initdb in a 0600 pwfile, never in argv: /proc/<pid>/cmdline is world-readable.
    const server = await PostgresServer.start();
    try {
      const { password } = server;
      const pids = [server.pid!, ...(await childrenOf(server.pid!))];
      assert.ok(pids.length > 1, 'the postmaster has its auxiliary processes');
      for (const pid of pids) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
        assert.ok(!cmdline.includes(password), `the password is on the command line of ${pid}: ${cmdline}`);
        assert.ok(!environ.includes(password), `the password is in the environment of ${pid}`);
      }
      assert.match(await readFile(`/proc/${server.pid}/cmdline`, 'utf8'), /postgres/, 'we read the postmaster\'s own cmdline');
      // PostgreSQL keeps a SCRAM verifier, never the password itself.
      for (const file of await filesUnder(server.dataDir)) {
        assert.ok(!(await readFile(file)).includes(password), `the password is in ${file}`);
      }
      // The pwfile's private folder is gone once initdb is done (other runs' folders may exist; none holds ours).
      for (const name of await readdir(tmpdir())) {
        if (!name.startsWith('chaos-lab-initdb-')) continue;
        for (const file of await filesUnder(join(tmpdir(), name)).catch(() => [])) {
          assert.ok(!(await readFile(file).catch(() => Buffer.alloc(0))).includes(password), `the pwfile ${file} outlived initdb`);
        }
      }
    } finally {
      await server.destroy();
    }
  });

  it('never lets the server user change the folders it copies or writes into as the lab', async () => {
    // Regression (root only): the base folder and an emptied data folder were handed to the server's
    // user (nobody) before the lab, as root, copied and wrote into them, so any process running as
    // that user could plant a symlink there and have root overwrite or chown the link's target.
    const server = await PostgresServer.create();
    try {
      const base = await stat(join(server.dataDir, '..'));
      const user = server.osUser;
      if (user) {
        assert.notEqual(base.uid, user.uid, 'the base folder is not the server user\'s');
        assert.equal(base.mode & 0o777, 0o711, 'the server user may pass through it, not change it');
      } else {
        assert.equal(base.mode & 0o777, 0o700);
      }
      await server.emptyDataDir();
      const emptied = await stat(server.dataDir);
      assert.equal(emptied.uid, process.getuid!(), 'an emptied data folder stays ours until it is handed over');
      assert.equal(emptied.mode & 0o777, 0o700);
      await server.handOverDataDir();
      if (user) assert.equal((await stat(server.dataDir)).uid, user.uid);
    } finally {
      await server.destroy();
    }
  });

  it('stops fast and immediately, restarts on the same port with a new PID', async () => {
    const server = await PostgresServer.start();
    try {
      const { port, pid: firstPid } = server;
      await server.restart('fast');
      assert.equal(server.port, port);
      assert.notEqual(server.pid, firstPid);
      assert.ok(!alive(firstPid!));
      await serverVersion(server);

      const secondPid = server.pid!;
      await server.stop('immediate');
      assert.equal(server.pid, undefined);
      assert.equal(server.running, false);
      assert.ok(!alive(secondPid));
      await assert.rejects(serverVersion(server), /ECONNREFUSED/);

      // Immediate shutdown is a crash for PostgreSQL: it recovers on the next start.
      await server.start();
      await serverVersion(server);
    } finally {
      await server.destroy();
    }
  });

  it('breaks open connections when it stops, as a failover does', async () => {
    const server = await PostgresServer.start();
    const client = new pg.Client({ connectionString: server.connectionString() });
    const errored = new Promise<Error>((resolve) => client.on('error', resolve));
    try {
      await client.connect();
      await server.restart('fast');
      const error = await errored;
      assert.match(error.message, /terminat/i);
      await assert.rejects(client.query('SELECT 1'));
    } finally {
      await client.end().catch(() => {});
      await server.destroy();
    }
  });

  it('destroy() stops the server and removes the data directory it created', async () => {
    const server = await PostgresServer.start();
    const { dataDir } = server;
    const pid = server.pid!;
    await server.destroy();
    assert.ok(!alive(pid));
    await assert.rejects(stat(dataDir), /ENOENT/);
  });

  it('refuses to start twice', async () => {
    const server = await PostgresServer.start();
    try {
      await assert.rejects(server.start(), /already running/);
    } finally {
      await server.destroy();
    }
  });

  it('reports the server log when start fails', async () => {
    const server = await PostgresServer.create({ settings: { shared_buffers: 'not-a-size' } });
    try {
      await assert.rejects(server.start(), /postgres exited during start.*shared_buffers/);
    } finally {
      await server.destroy();
    }
  });

  // 'unregistered', regression: a server whose PID never reached the reaper (its owner died between
  // the spawn and the message) outlived the owner, and so did its data folder (seen after a failover's
  // reader rebuild). The reaper now stops the server its guarded folder's postmaster.pid names.
  for (const variant of ['running', 'stopped', 'unregistered'] as const) {
    it(`leaves no postgres and no data directory behind when the process that started it is killed with SIGKILL (${variant} server)`, async () => {
      const fixture = fileURLToPath(new URL('./fixtures/start-postgres-and-wait.ts', import.meta.url));
      const child = spawn(process.execPath, [fixture, variant], { stdio: ['ignore', 'pipe', 'inherit'] });
      let postgresPid: number | undefined;
      try {
        const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
        const started = JSON.parse(line) as { pid: number; dataDir: string };
        postgresPid = started.pid;
        if (variant !== 'stopped') assert.ok(alive(postgresPid));
        child.kill('SIGKILL');
        await once(child, 'exit');
        assert.deepEqual(await waitUntilGone([postgresPid], 10_000), [], `postgres ${postgresPid} outlived its killed parent`);
        await waitForRemoval(started.dataDir, 5000);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (postgresPid !== undefined && alive(postgresPid)) process.kill(postgresPid, 'SIGKILL');
      }
    });
  }
});
