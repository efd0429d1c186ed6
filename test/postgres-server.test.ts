// The embedded PostgreSQL server: real processes, real signals, nothing left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
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

  for (const variant of ['running', 'stopped'] as const) {
    it(`leaves no postgres and no data directory behind when the process that started it is killed with SIGKILL (${variant} server)`, async () => {
      const fixture = fileURLToPath(new URL('./fixtures/start-postgres-and-wait.ts', import.meta.url));
      const child = spawn(process.execPath, [fixture, variant], { stdio: ['ignore', 'pipe', 'inherit'] });
      let postgresPid: number | undefined;
      try {
        const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
        const started = JSON.parse(line) as { pid: number; dataDir: string };
        postgresPid = started.pid;
        if (variant === 'running') assert.ok(alive(postgresPid));
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
