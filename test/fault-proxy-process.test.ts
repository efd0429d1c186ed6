// The fault proxy as a process: its control API, and leases that outlive a killed controller.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FaultProxyApiError } from '../src/lab/fault-proxy/client.ts';
import { spawnFaultProxy, type FaultProxyProcess } from '../src/lab/fault-proxy/spawn.ts';
import { alive, waitUntilGone } from './helpers/processes.ts';

const MAIN = fileURLToPath(new URL('../src/lab/fault-proxy/main.ts', import.meta.url));

/** Runs main.ts by hand (no FAULT_PROXY_TOKEN unless given): its ready line, or its exit and stderr. */
async function runMain(args: string[], env: Record<string, string> = {}): Promise<{ ready?: Record<string, unknown>; exitCode?: number | null; stderr: string; pid: number }> {
  const base = { ...process.env };
  delete base['FAULT_PROXY_TOKEN'];
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...base, ...env } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = once(createInterface({ input: child.stdout! }), 'line').then(([line]) => ({ ready: JSON.parse(line as string) as Record<string, unknown> }));
  // 'close', not 'exit': stderr has been read to its end by then.
  const exited = once(child, 'close').then(([code]) => ({ exitCode: code as number | null }));
  const outcome = await Promise.race([ready, exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('main.ts neither got ready nor exited in 20 s')), 20_000).unref())]);
  return { ...outcome, stderr, pid: child.pid! };
}

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
      // The token travels in the environment (FaultProxyClient reads FAULT_PROXY_TOKEN), never in argv.
      const controller = spawn(process.execPath, [fixture, faultProxy.controlUrl], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, FAULT_PROXY_TOKEN: faultProxy.token },
      });
      try {
        const [line] = (await once(createInterface({ input: controller.stdout! }), 'line', { signal: AbortSignal.timeout(20_000) })) as [string];
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
    const types = (await (await fetch(`${faultProxy.controlUrl}/fault-types`, { headers: { authorization: `Bearer ${faultProxy.token}` } })).json()) as Array<{ name: string }>;
    assert.deepEqual(types.map((t) => t.name), ['refuse', 'blackhole', 'reset', 'latency', 'bandwidth', 'slow_close', 'limit_data', 'connect_delay']);
  });

  /** A raw request to the control API: token is the spawner's unless given (null: none). */
  async function request(method: string, path: string, options: { body?: string; contentType?: string; token?: string | null } = {}): Promise<{ status: number; json: { error?: string; code?: string } }> {
    const token = options.token === undefined ? faultProxy.token : options.token;
    const headers: Record<string, string> = {};
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(`${faultProxy.controlUrl}${path}`, { method, headers, body: options.body, signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as { error?: string; code?: string }) : {} };
  }

  it('refuses every request without the bearer token with a 401 JSON answer', async () => {
    // Regression: the control API had no authentication, so any local user who found its
    // port could blackhole another user's lab or open a listener relaying anywhere.
    const wrong = faultProxy.token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')); // same length, one byte off
    const attempts: Array<[string, string, string | null, string?]> = [
      ['GET', '/faults', null],
      ['GET', '/fault-types', wrong],
      ['GET', '/proxies', faultProxy.token.slice(1)],
      ['GET', '/no-such-route', null],
      ['POST', '/proxies/db/faults', wrong, JSON.stringify({ type: 'blackhole', ownerPid: 1 })],
      ['POST', '/proxies', null, JSON.stringify({ name: 'relay', upstream: { host: '127.0.0.1', port: 22 } })],
      ['DELETE', '/faults', `${faultProxy.token}0`],
    ];
    for (const [method, path, token, body] of attempts) {
      const answer = await request(method, path, { token, body });
      assert.equal(answer.status, 401, `${method} ${path}`);
      assert.equal(answer.json.code, 'UNAUTHORIZED');
      assert.match(answer.json.error ?? '', /missing or wrong token/);
    }
    const basic = await fetch(`${faultProxy.controlUrl}/faults`, { headers: { authorization: faultProxy.token } });
    assert.equal(basic.status, 401, 'the token without "Bearer " is refused');
    assert.deepEqual(await faultProxy.client.faults(), [], 'nothing was added');
    assert.deepEqual((await faultProxy.client.listProxies()).map((p) => p.name), ['db']);
    assert.equal((await request('GET', '/fault-types')).status, 200);
  });

  it('hands the token to the fault proxy outside its command line', () => {
    // Regression: argv is world readable in /proc; the token goes in the environment instead.
    assert.match(faultProxy.token, /^[0-9a-f]{64}$/);
    const cmdline = readFileSync(`/proc/${faultProxy.pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(faultProxy.token), 'the token is not in argv');
  });

  it('refuses listeners off this machine or on a privileged port with 400, and a taken port with 409', async () => {
    // Regression: POST /proxies relayed to any IP and listened on any port; EADDRINUSE was a 500.
    const offMachine = await request('POST', '/proxies', { body: JSON.stringify({ name: 'relay', upstream: { host: '192.168.1.1', port: 5432 } }) });
    assert.equal(offMachine.status, 400);
    assert.equal(offMachine.json.code, 'INVALID_PROXY');
    assert.match(offMachine.json.error ?? '', /upstream host must be a loopback address.*got "192\.168\.1\.1"/);
    const hostname = await request('POST', '/proxies', { body: JSON.stringify({ name: 'relay', upstream: { host: 'evil.example', port: 5432 } }) });
    assert.equal(hostname.status, 400);
    assert.match(hostname.json.error ?? '', /evil\.example/);
    const privileged = await request('POST', '/proxies', { body: JSON.stringify({ name: 'relay', upstream: { host: '127.0.0.1', port: echo.port }, listenPort: 443 }) });
    assert.equal(privileged.status, 400);
    assert.match(privileged.json.error ?? '', /listenPort must be 0 \(any free port\) or 1024 and above, got 443/);
    const taken = await request('POST', '/proxies', { body: JSON.stringify({ name: 'twin', upstream: { host: '127.0.0.1', port: echo.port }, listenPort }) });
    assert.equal(taken.status, 409);
    assert.equal(taken.json.code, 'PORT_IN_USE');
    assert.match(taken.json.error ?? '', new RegExp(`port ${listenPort} on 127\\.0\\.0\\.1 is already in use`));
    assert.deepEqual((await faultProxy.client.listProxies()).map((p) => p.name), ['db'], 'nothing half-added');
  });

  it('answers malformed, mistyped and oversized input with 4xx JSON, never a 500', async () => {
    // Regression probe: every bad input must be the client's error (4xx) and name the problem.
    const fault = (body: string): [string, string, string] => ['POST', '/proxies/db/faults', body];
    const cases: Array<[[string, string, string?], number, RegExp]> = [
      [fault('{'), 400, /JSON/i],
      [fault('[1,2]'), 400, /request body must be a JSON object/],
      [fault('"blackhole"'), 400, /request body must be a JSON object/],
      [fault('null'), 400, /request body must be a JSON object/],
      [fault('{"type":5}'), 400, /unknown fault type 5/],
      [fault('{"type":"blackhole","extra":1}'), 400, /a fault has no field "extra"/],
      [fault('{"type":"latency","params":"latencyMs=5"}'), 400, /params must be an object, got "latencyMs=5"/],
      [fault('{"type":"latency","params":[100]}'), 400, /params must be an object, got \[100\]/],
      [fault('{"type":"latency","params":{"latencyMs":"100"}}'), 400, /latencyMs must be a number, got "100"/],
      [fault('{"type":"latency","params":{"latencyMs":1e308}}'), 400, /latencyMs must be between 0 and 900000/],
      [fault('{"type":"latency","params":{"latencyMs":1e999}}'), 400, /latencyMs must be a number, got null/],
      [fault('{"type":"limit_data","params":{"bytes":1e300}}'), 400, /bytes must be between 0 and/],
      [fault('{"type":"blackhole","toxicity":"1"}'), 400, /toxicity must be a number from 0 to 1, got "1"/],
      [fault('{"type":"blackhole","durationMs":1e308}'), 400, /durationMs must be a number above 0 and at most 900000/],
      [fault('{"type":"blackhole","ownerPid":1e300}'), 400, /ownerPid 1e\+300 is not a running process/],
      [fault('{"type":"blackhole","ownerPid":-1}'), 400, /ownerPid must be a positive integer, got -1/],
      [fault('{"type":"blackhole","direction":5}'), 400, /direction must be upstream, downstream or both, got 5/],
      [fault('{"type":"blackhole","__proto__":{"x":1}}'), 400, /not valid JSON/],
      [['POST', '/proxies/nope/faults', '{"type":"blackhole"}'], 404, /no proxy named "nope"/],
      [['GET', '/proxies/nope'], 404, /no proxy named "nope"/],
      [['DELETE', '/proxies/nope'], 404, /no proxy named "nope"/],
      [['DELETE', '/proxies/db/faults/nope'], 404, /proxy db has no fault nope/],
      [['POST', '/proxies'], 400, /request body must be a JSON object/],
      [['GET', '/proxies/%E0%A4%A'], 400, /is not a valid url component/],
      [['DELETE', '/proxies/db/faults/%ff'], 400, /is not a valid url component/],
      [['GET', `/proxies/${'x'.repeat(5000)}`], 414, /xxxx/],
      [['POST', '/proxies', '{"name":"x","upstream":"127.0.0.1:5432"}'], 400, /upstream must be \{host: an IP address, port\}/],
      [['POST', '/proxies', '{"name":"x","upstream":{"host":"127.0.0.1","port":"5432"}}'], 400, /upstream port must be an integer from 1 to 65535, got "5432"/],
      [['POST', '/proxies', '{"name":"x","upstream":{"host":"127.0.0.1","port":5432},"listenPort":1e10}'], 400, /listenPort must be an integer from 0 to 65535, got 10000000000/],
      [['POST', '/proxies', `{"name":"${'x'.repeat(100)}","upstream":{"host":"127.0.0.1","port":5432}}`], 400, /proxy name must be/],
      [['POST', '/proxies', `{"name":"x","pad":"${'x'.repeat(70_000)}"}`], 413, /body/i],
    ];
    for (const [[method, path, body], status, message] of cases) {
      const answer = await request(method, path, { body });
      assert.equal(answer.status, status, `${method} ${path} ${body?.slice(0, 80)}: ${JSON.stringify(answer.json)}`);
      assert.match(answer.json.error ?? '', message, `${method} ${path} ${body?.slice(0, 80)}`);
      assert.equal(typeof answer.json.code, 'string');
    }
    const text = await request('POST', '/proxies/db/faults', { body: 'type=blackhole', contentType: 'text/plain' });
    assert.equal(text.status, 400);
    assert.match(text.json.error ?? '', /request body must be a JSON object/);
    const xml = await request('POST', '/proxies/db/faults', { body: '<fault/>', contentType: 'application/xml' });
    assert.equal(xml.status, 415);
    assert.deepEqual(await faultProxy.client.faults(), [], 'nothing was added');
  });

  it('run by hand, main.ts makes and prints a token, and refuses a --proxy off this machine or on a privileged port', async () => {
    // Regression: --proxy took any IPv4 upstream and any listen port, and a bad one crashed with a stack trace.
    const offMachine = await runMain(['--proxy', 'db=10.0.0.1:5432']);
    assert.equal(offMachine.exitCode, 2);
    assert.match(offMachine.stderr, /--proxy db=10\.0\.0\.1:5432: upstream host must be a loopback address.*"10\.0\.0\.1"/);
    const privileged = await runMain(['--proxy', `db=127.0.0.1:${echo.port}@80`]);
    assert.equal(privileged.exitCode, 2);
    assert.match(privileged.stderr, /listenPort must be 0 \(any free port\) or 1024 and above, got 80/);
    const weak = await runMain([], { FAULT_PROXY_TOKEN: 'secret' });
    assert.equal(weak.exitCode, 2);
    assert.match(weak.stderr, /FAULT_PROXY_TOKEN must be at least 16 characters, got 6/);

    const byHand = await runMain(['--proxy', `db=[::1]:${echo.port}`, '--proxy', `other=localhost:${echo.port}`]);
    try {
      assert.ok(byHand.ready, `main.ts did not start: ${byHand.stderr}`);
      const { controlUrl, token, proxies } = byHand.ready as { controlUrl: string; token: string; proxies: Array<{ name: string; upstream: { host: string } }> };
      assert.match(token, /^[0-9a-f]{64}$/);
      assert.deepEqual(proxies.map((p) => p.upstream.host), ['::1', 'localhost']);
      assert.equal((await fetch(`${controlUrl}/faults`)).status, 401);
      assert.equal((await fetch(`${controlUrl}/faults`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      if (alive(byHand.pid)) process.kill(byHand.pid, 'SIGTERM');
      assert.deepEqual(await waitUntilGone([byHand.pid], 5000), []);
    }
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
