// The live dashboard under `chaos-lab up`, at the HTTP level, against a real lab in its own
// process: who gets in (the token in the URL, on the page and its stream only), what the stream
// says (hello, the map, the seconds of traffic, the log) and that it ends when the lab goes.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { DashboardEvents, MapEvent, SecondEvent } from '../src/dashboard/protocol.ts';
import type { LabInfo } from '../src/lab/lab.ts';
import { until, within } from './helpers/deadline.ts';
import { CLI, spawnUp, waitReady, type UpProcess } from './helpers/lab-cycle.ts';
import { descendants, killFamily } from './helpers/processes.ts';

type Received = { [K in keyof DashboardEvents]: { event: K; data: DashboardEvents[K] } }[keyof DashboardEvents];

/** A Server-Sent Events reader over fetch: every event received so far, and a bounded wait for the next that matches. */
class SseClient {
  readonly events: Received[] = [];
  readonly comments: string[] = [];
  readonly status: Promise<{ status: number; contentType: string | null; cacheControl: string | null }>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  readonly #abort = new AbortController();
  #waiters: Array<() => void> = [];

  constructor(url: string) {
    let resolveStatus!: (value: { status: number; contentType: string | null; cacheControl: string | null }) => void;
    this.status = new Promise((resolve) => (resolveStatus = resolve));
    this.ended = (async () => {
      const response = await fetch(url, { signal: this.#abort.signal });
      resolveStatus({ status: response.status, contentType: response.headers.get('content-type'), cacheControl: response.headers.get('cache-control') });
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          this.#parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    })().catch((error: Error) => {
      if (!this.#abort.signal.aborted) throw error;
    });
  }

  /** The first event (from index `from`) that matches, waiting at most `timeoutMs`. */
  async next<K extends keyof DashboardEvents>(event: K, match: (data: DashboardEvents[K]) => boolean, timeoutMs: number, from = 0): Promise<{ data: DashboardEvents[K]; index: number }> {
    return within(
      timeoutMs,
      `a ${event} event that matches`,
      new Promise((resolve) => {
        const look = (): boolean => {
          for (let index = from; index < this.events.length; index++) {
            const received = this.events[index]!;
            if (received.event === event && match(received.data as DashboardEvents[K])) {
              resolve({ data: received.data as DashboardEvents[K], index });
              return true;
            }
          }
          return false;
        };
        if (look()) return;
        const waiter = (): void => {
          if (look()) this.#waiters = this.#waiters.filter((w) => w !== waiter);
        };
        this.#waiters.push(waiter);
      }),
    );
  }

  close(): void {
    this.#abort.abort();
  }

  #parse(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data === '') return;
    this.events.push({ event, data: JSON.parse(data) } as Received);
    for (const waiter of [...this.#waiters]) waiter();
  }
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('the live dashboard of chaos-lab up', () => {
  let dir: string;
  let up: UpProcess | undefined;
  let family: number[] = [];
  let info: LabInfo;
  let token: string;
  let dashboardUrl: URL;
  const clients: SseClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-dashboard-'));
    up = spawnUp(dir);
    info = await waitReady(up, 60_000);
    family = descendants(up.child.pid!);
    token = (await readFile(join(dir, 'token'), 'utf8')).trim();
    const line = /^ {2}dashboard {8}(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)$/m.exec(up.output());
    assert.ok(line, `up prints the dashboard's URL:\n${up.output()}`);
    dashboardUrl = new URL(line[1]!);
  });
  after(async () => {
    for (const client of clients) client.close();
    if (up) await killFamily(up.child.pid!, family);
    await rm(dir, { recursive: true, force: true });
  });

  const base = (): string => info.controlUrl;
  const stream = (query: string): SseClient => {
    const client = new SseClient(`${base()}/events${query}`);
    clients.push(client);
    return client;
  };

  it('serves the page at the URL up printed: the control API with the lab token, never written into the page', async () => {
    assert.equal(dashboardUrl.origin, info.controlUrl);
    assert.equal(dashboardUrl.searchParams.get('token'), token);
    const page = await get(dashboardUrl.href);
    assert.equal(page.status, 200);
    assert.match(page.type ?? '', /^text\/html/);
    assert.ok(!page.text.includes(token), 'the page does not carry the token');
  });

  it('refuses the page and its stream without the token, or with a wrong one, with 401 JSON', async () => {
    for (const path of ['/', '/events', `/?token=${'0'.repeat(token.length)}`, `/events?token=${token}x`, '/?token=']) {
      const answer = await get(`${base()}${path}`);
      assert.equal(answer.status, 401, path);
      assert.match(answer.type ?? '', /^application\/json/, path);
      assert.equal((JSON.parse(answer.text) as { code: string }).code, 'UNAUTHORIZED', path);
      assert.ok(!answer.text.includes(token), 'a refusal does not carry the token');
    }
  });

  // Fastify's message for a URL it cannot decode quoted the whole URL, query and token included.
  it('never writes the token into an answer, not even for a URL it cannot route', async () => {
    for (const path of [`/%zz?token=${token}`, `/no-such-route?token=${token}`, `/dashboard/nope.js?token=${token}`]) {
      const answer = await get(`${base()}${path}`, { authorization: `Bearer ${token}` });
      assert.ok(answer.status >= 400 && answer.status < 500, `${path}: ${answer.status}`);
      assert.ok(!answer.text.includes(token), `${path}: ${answer.text}`);
    }
  });

  it('takes the token from the URL on the page and its stream only: the control routes still want the header', async () => {
    assert.equal((await get(`${base()}/status?token=${token}`)).status, 401);
    assert.equal((await get(`${base()}/faults?token=${token}`, {}, 'DELETE')).status, 401);
    assert.equal((await get(`${base()}/instances/i-0000/stop?token=${token}`, {}, 'POST')).status, 401);
    assert.equal((await get(`${base()}/status`, { authorization: `Bearer ${token}` })).status, 200);
  });

  it('serves its static files without a token, and only those', async () => {
    const script = await get(`${base()}/dashboard/dashboard.js`);
    assert.equal(script.status, 200);
    assert.match(script.type ?? '', /^text\/javascript/);
    const uplot = await get(`${base()}/dashboard/uPlot.iife.min.js`);
    assert.equal(uplot.status, 200);
    assert.match(uplot.text, /uPlot/);
    assert.match((await get(`${base()}/dashboard/uPlot.min.css`)).type ?? '', /^text\/css/);
    // Public are the listed files only: any other path under /dashboard/ wants the token, and then is not found.
    assert.equal((await get(`${base()}/dashboard/..%2Flab.json`)).status, 401);
    const unknown = await get(`${base()}/dashboard/..%2Flab.json`, { authorization: `Bearer ${token}` });
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.text) as { code: string }).code, 'NO_SUCH_FILE');
  });

  it('streams hello, the map and each second of traffic by status', async () => {
    const client = stream(`?token=${token}`);
    const head = await within(10_000, 'the stream to open', client.status);
    assert.equal(head.status, 200);
    assert.match(head.contentType ?? '', /^text\/event-stream/);
    assert.equal(head.cacheControl, 'no-cache');
    const hello = await client.next('hello', () => true, 10_000);
    assert.equal(hello.index, 0, 'hello comes first');
    assert.equal(hello.data.kind, 'up');
    assert.equal(hello.data.canAct, true);
    assert.ok(hello.data.dependencies.includes('db-writer'), JSON.stringify(hello.data.dependencies));
    assert.ok(hello.data.faultTypes.includes('blackhole'), JSON.stringify(hello.data.faultTypes));
    const map = await client.next('map', (m) => m.instances.length === 2, 10_000);
    assert.deepEqual(map.data.instances.map((i) => i.state), ['running', 'running']);
    assert.deepEqual(map.data.database.members.map((m) => m.role), ['writer', 'reader']);
    assert.deepEqual(map.data.databaseProxy, { inPath: true, registered: true });

    const from = client.events.length;
    const sentAt = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 5; i++) assert.equal((await get(`${info.loadBalancerUrl}/products`)).status, 200);
    assert.equal((await get(`${info.loadBalancerUrl}/products/99999`)).status, 404);
    const seconds = (): SecondEvent[] =>
      client.events.slice(from).filter((e): e is Extract<Received, { event: 'second' }> => e.event === 'second' && e.data.second >= sentAt).map((e) => e.data);
    const count = (status: string): number => seconds().reduce((sum, s) => sum + (s.byStatus[status] ?? 0), 0);
    // A second is handed out once it is over, and the load balancer stamps an answer when it ends, in its own
    // process: the last answers may fall in a later second than the client saw. Wait for the counts, bounded.
    await until('the seconds count every answer', () => count('200') >= 5 && count('404') >= 1, 5_000).catch(() => {});
    assert.ok(count('200') >= 5, JSON.stringify(seconds()));
    assert.equal(count('404'), 1, JSON.stringify(seconds()));
    const busy = seconds().find((s) => s.latencyMs !== null)!;
    assert.ok(busy.latencyMs!.count >= 1 && busy.latencyMs!.p50 <= busy.latencyMs!.max);
  });

  it('a fault set through the control API is a band while active and ends when cleared', async () => {
    const client = stream(`?token=${token}`);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const added = await fetch(`${base()}/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ dependency: 'db-reader', type: 'latency', params: { latencyMs: 1 }, durationMs: 60_000 }), signal: AbortSignal.timeout(10_000) });
    assert.equal(added.status, 201);
    const { id } = (await added.json()) as { id: string };
    const band = await client.next('band', (b) => b.label === 'latency on db-reader' && b.endedAt === null, 10_000);
    assert.ok(band.data.plannedEndAt);
    await client.next('log', (l) => l.kind === 'fault' && l.text.includes(id), 10_000);
    assert.equal((await fetch(`${base()}/faults`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })).status, 200);
    await client.next('band', (b) => b.id === band.data.id && b.endedAt !== null, 10_000);
  });

  it('an instance stopped through the control API shows stopped in a later map and in the log; a page opened later gets that history', async () => {
    const client = stream(`?token=${token}`);
    const { data: map } = await client.next('map', (m) => m.instances.length === 2, 10_000);
    const id = map.instances[0]!.id;
    const stopped = await fetch(`${base()}/instances/${id}/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(stopped.status, 200);
    const later = await client.next('map', (m: MapEvent) => m.instances.some((i) => i.id === id && i.state === 'stopped'), 10_000);
    assert.ok(Date.parse(later.data.at) >= Date.parse(map.at));
    await client.next('log', (l) => l.kind === 'fleet' && l.text.startsWith(`stop ${id}`), 10_000);

    const late = stream(`?token=${token}`);
    await late.next('log', (l) => l.kind === 'fleet' && l.text.startsWith(`stop ${id}`), 10_000);
    const firstLive = await late.next('map', () => true, 10_000);
    // hello, then the history (seconds, bands, logs) in that order, then the latest map.
    const order = ['hello', 'second', 'band', 'log', 'map'];
    const ranks = late.events.slice(0, firstLive.index + 1).map((e) => order.indexOf(e.event));
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    assert.deepEqual([ranks[0], ranks.at(-1)], [0, 4]);
    assert.ok(ranks.includes(1) && ranks.includes(3), 'the history holds seconds and log lines');
  });

  it('says bye to every page and ends the stream when the lab stops', async () => {
    const client = stream(`?token=${token}`);
    await client.next('map', () => true, 10_000);
    const down = await fetch(`${base()}/down`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(down.status, 200);
    const bye = await client.next('bye', () => true, 20_000);
    assert.match(bye.data.reason, /stopped/);
    await within(10_000, 'the stream to end after bye', client.ended);
    assert.equal(client.events.at(-1)!.event, 'bye');
    const exit = await within(30_000, 'chaos-lab up to exit', up!.exited);
    assert.equal(exit, 0, up!.output());
    up = undefined;
  });
});

describe('the live dashboard of chaos-lab run', () => {
  it('is read-only, follows the run\'s lab (map, seconds, the action as a band) and says bye when the command ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-dashboard-run-'));
    // detached: its own process group, killed as a whole in the finally.
    const child = spawn(process.execPath, [CLI, 'run', 'instance-stop', '--mode', 'naive', '--profile', 'quick', '--out', dir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let client: SseClient | undefined;
    let family: number[] = [];
    try {
      await until('run prints the dashboard URL', () => /^dashboard: http:/m.test(output) || child.exitCode !== null, 30_000);
      const url = new URL(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)$/m.exec(output)?.[1] ?? 'http://invalid/');
      assert.equal(url.hostname, '127.0.0.1', output);
      assert.equal((await get(`${url.origin}/events`)).status, 401);
      client = new SseClient(`${url.origin}/events?token=${url.searchParams.get('token')}`);
      const hello = await client.next('hello', () => true, 10_000);
      assert.deepEqual([hello.data.kind, hello.data.canAct, hello.data.title], ['run', false, 'instance-stop · mode naive']);
      const running = await client.next('map', (m) => m.run?.state === 'running' && m.instances.length === 2, 60_000);
      family = descendants(child.pid!);
      assert.ok(running.data.instances.every((i) => i.target?.state === 'healthy'));
      await client.next('second', (s) => (s.byStatus['200'] ?? 0) > 0, 10_000);
      const band = await client.next('band', (b) => b.label === 'stop-one-instance (lab:instance:stop)' && b.endedAt !== null, 30_000);
      assert.ok(Date.parse(band.data.endedAt!) >= Date.parse(band.data.startedAt));
      await client.next('log', (l) => l.kind === 'fleet' && /^stop i-/.test(l.text), 10_000);
      await client.next('log', (l) => l.kind === 'run' && l.text === 'naive: completed', 60_000);
      const bye = await client.next('bye', () => true, 60_000);
      assert.equal(bye.data.reason, 'the run is over');
      await within(10_000, 'the stream to end after bye', client.ended);
      assert.equal(await within(30_000, 'chaos-lab run to exit', exited), 0, output);
      assert.equal(output.match(/^dashboard: /gm)?.length, 1, 'the URL is printed once');
    } finally {
      client?.close();
      if (child.exitCode === null) await killFamily(child.pid!, family);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
