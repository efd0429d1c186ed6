// The lab's control API in front of the fault proxy: a fault set through the lab is leased to
// the lab's own process, whatever the client asks. Only the part of the lab these routes use is
// started: a real fault proxy process, in front of a real echo server.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildControlApi } from '../src/lab/control-api.ts';
import { spawnFaultProxy, type FaultProxyProcess } from '../src/lab/fault-proxy/spawn.ts';
import type { Lab } from '../src/lab/lab.ts';

const TOKEN = 'lab-token-for-this-test-0123456789';

describe('lab control API, faults', () => {
  let echo: Server;
  let faultProxy: FaultProxyProcess;
  let api: FastifyInstance;

  before(async () => {
    echo = createServer((socket) => socket.pipe(socket).on('error', () => {}));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const address = echo.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    faultProxy = await spawnFaultProxy([
      { name: 'db-writer', upstream: { host: '127.0.0.1', port } },
      { name: 'db-reader', upstream: { host: '127.0.0.1', port } },
    ]);
    // The lab's dependencies as Lab.dependencies lists them for a lab started without the services store (servicesStore: false).
    api = buildControlApi({ faultProxy, dependencies: [{ name: 'db-writer' }, { name: 'db-reader' }] } as unknown as Lab, TOKEN, () => {});
  });
  after(async () => {
    await api?.close();
    await faultProxy?.stop();
    echo?.close();
  });

  const post = (body: unknown, token = TOKEN): Promise<LightMyRequestResponse> =>
    api.inject({ method: 'POST', url: '/faults', headers: { authorization: `Bearer ${token}` }, payload: body as object });

  it('refuses a client-chosen ownerPid with 400 naming the field, and leases the fault to the lab', async () => {
    // Regression: POST /faults passed the body's ownerPid on to the fault proxy, so a client
    // could lease a fault to PID 1 (it would then last the full 15 minutes, whatever the lab did).
    const chosen = await post({ dependency: 'db-writer', type: 'blackhole', ownerPid: 1 });
    assert.equal(chosen.statusCode, 400);
    assert.equal(chosen.json().code, 'INVALID_FIELD');
    assert.match(chosen.json().error, /ownerPid cannot be chosen.*got 1/);
    const nulled = await post({ dependency: 'db-writer', type: 'blackhole', ownerPid: null });
    assert.equal(nulled.statusCode, 400, 'null is a choice too (no owner at all)');
    assert.deepEqual(await faultProxy.client.faults(), [], 'nothing was added');

    const added = await post({ dependency: 'db-writer', type: 'latency', params: { latencyMs: 10 }, durationMs: 60_000 });
    assert.equal(added.statusCode, 201, added.body);
    assert.equal(added.json().ownerPid, process.pid, "leased to the lab's own process");
    await faultProxy.client.clearFaults();
  });

  it('refuses unknown fields and durations past the longest lease, naming them', async () => {
    const cases: Array<[object, number, RegExp]> = [
      [{ dependency: 'db-writer', type: 'blackhole', owner: 1 }, 400, /a fault has no field "owner"/],
      [{ dependency: 'db-writer', type: 'blackhole', durationMs: 900_001 }, 400, /durationMs must be a number above 0 and at most 900000, got 900001/],
      [{ dependency: 'db-writer', type: 'blackhole', durationMs: 0 }, 400, /durationMs must be a number above 0/],
      [{ dependency: 'db-writer', type: 'latency', params: { latencyMs: 86_400_000 } }, 400, /latencyMs must be between 0 and 900000, got 86400000/],
      [{ dependency: 'cache', type: 'blackhole' }, 400, /dependency must be one of db-writer, db-reader, got "cache"/],
      [[{ dependency: 'db-writer', type: 'blackhole' }], 400, /request body must be a JSON object/],
    ];
    for (const [body, status, message] of cases) {
      const answer = await post(body);
      assert.equal(answer.statusCode, status, answer.body);
      assert.match(answer.json().error, message);
    }
    const unauthorized = await post({ dependency: 'db-writer', type: 'blackhole' }, 'wrong');
    assert.equal(unauthorized.statusCode, 401);
    assert.deepEqual(await faultProxy.client.faults(), [], 'nothing was added');
  });
});
