// The fault proxy as a process: its control API, and leases that outlive a killed controller.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FaultProxyApiError } from '../src/lab/fault-proxy/client.ts';
import { spawnFaultProxy, type FaultProxyProcess } from '../src/lab/fault-proxy/spawn.ts';
import { alive, waitUntilGone } from './helpers/processes.ts';

async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** Sends `text` and resolves with the first reply, or 'timeout'. */
function roundTrip(socket: Socket, text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('data', onData);
      resolve('timeout');
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(chunk.toString());
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

describe('fault proxy process', () => {
  let echo: { server: Server; port: number };
  let faultProxy: FaultProxyProcess;
  let listenPort: number;

  before(async () => {
    echo = await echoServer();
    faultProxy = await spawnFaultProxy([{ name: 'db', upstream: { host: '127.0.0.1', port: echo.port } }]);
    listenPort = faultProxy.proxies[0]!.listen.port;
  });
  after(async () => {
    await faultProxy?.stop();
    echo?.server.close();
  });

  it('reverts a blackhole when the controller that set it is killed with SIGKILL', async () => {
    const socket = connect({ host: '127.0.0.1', port: listenPort });
    await once(socket, 'connect');
    try {
      assert.equal(await roundTrip(socket, 'before', 1000), 'before');
      const fixture = fileURLToPath(new URL('./fixtures/set-blackhole.ts', import.meta.url));
      const controller = spawn(process.execPath, [fixture, faultProxy.controlUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const [line] = (await once(createInterface({ input: controller.stdout! }), 'line')) as [string];
        const fault = JSON.parse(line) as { type: string; ownerPid: number; affectedConnections: number };
        assert.equal(fault.type, 'blackhole');
        assert.equal(fault.ownerPid, controller.pid);
        assert.equal(fault.affectedConnections, 1, 'the fault reached the open connection');
        assert.equal(await roundTrip(socket, 'during', 400), 'timeout', 'the blackhole is active');

        const released = roundTrip(socket, '', 3000); // the held 'during' arrives when the fault reverts
        const killedAt = Date.now();
        controller.kill('SIGKILL');
        assert.equal(await released, 'during');
        assert.ok(Date.now() - killedAt < 2000, 'reverted within the owner check interval');
        assert.deepEqual(await faultProxy.client.faults(), []);
        assert.equal(await roundTrip(socket, 'after', 1000), 'after');
      } finally {
        controller.kill('SIGKILL');
      }
    } finally {
      socket.destroy();
    }
  });

  it('answers bad requests with 4xx JSON errors that name the problem', async () => {
    const cases: Array<[() => Promise<unknown>, number, RegExp]> = [
      [() => faultProxy.client.addFault('db', { type: 'earthquake' }), 400, /unknown fault type "earthquake"/],
      [() => faultProxy.client.addFault('cache', { type: 'blackhole' }), 404, /no proxy named "cache"/],
      [() => faultProxy.client.removeFault('db', 'f-999'), 404, /has no fault f-999/],
      [() => faultProxy.client.addProxy({ name: 'Bad Name', upstream: { host: '127.0.0.1', port: 1 } }), 400, /proxy name must be/],
      [() => faultProxy.client.addProxy({ name: 'db', upstream: { host: '127.0.0.1', port: 1 } }), 400, /proxy db already exists/],
    ];
    for (const [request, status, message] of cases) {
      await assert.rejects(request(), (error: unknown) => error instanceof FaultProxyApiError && error.status === status && message.test(error.message));
    }
    const types = (await (await fetch(`${faultProxy.controlUrl}/fault-types`)).json()) as Array<{ name: string }>;
    assert.deepEqual(types.map((t) => t.name), ['refuse', 'blackhole', 'reset', 'latency', 'bandwidth', 'slow_close', 'limit_data', 'connect_delay']);
  });

  it('dies with the process that started it, even when that one is killed with SIGKILL', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/start-fault-proxy-and-wait.ts', import.meta.url));
    const owner = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pid: number | undefined;
    try {
      const [line] = (await once(createInterface({ input: owner.stdout! }), 'line')) as [string];
      pid = (JSON.parse(line) as { pid: number }).pid;
      process.kill(pid, 0); // alive
      owner.kill('SIGKILL');
      assert.deepEqual(await waitUntilGone([pid], 5000), [], `fault proxy ${pid} outlived its owner`);
    } finally {
      owner.kill('SIGKILL');
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
