// streamFeed on a real socket: a node:http server on loopback streams a LiveFeed (no lab: the
// feed's log makes the events) to a node:http client that reads the raw SSE text.
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { until, within } from '../../test/helpers/deadline.ts';
import { LiveFeed } from './live-feed.ts';
import type { HelloEvent } from './protocol.ts';
import { sseText, streamFeed } from './sse.ts';

const HELLO: HelloEvent = { kind: 'run', canAct: false, title: 'sse test', startedAt: '2027-01-15T08:00:00.000Z', dependencies: [], faultTypes: [] };

/** A server whose every request is streamed `feed`; `responses` are the server's ends, for what it did. */
async function serve(feed: LiveFeed, pingEveryMs?: number): Promise<{ server: Server; port: number; responses: ServerResponse[] }> {
  const responses: ServerResponse[] = [];
  const server = createServer((_request, response) => {
    responses.push(response);
    streamFeed(response, feed, pingEveryMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, responses };
}

/** A client that keeps every byte it is sent, as text. */
class Client {
  text = '';
  ended = false;
  readonly response: IncomingMessage;
  readonly #end: Promise<void>;

  private constructor(response: IncomingMessage) {
    this.response = response;
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (this.text += chunk));
    this.#end = new Promise((resolve) => {
      response.on('end', () => {
        this.ended = true;
        resolve();
      });
      response.on('close', () => resolve());
    });
    response.on('error', () => {});
  }

  static connect(port: number): Promise<Client> {
    return within(
      5000,
      'the stream answering',
      new Promise((resolve, reject) => {
        const request = get({ host: '127.0.0.1', port, path: '/' }, (response) => resolve(new Client(response)));
        request.on('error', reject);
      }),
    );
  }

  /** The SSE events received so far, as {event, data} (comments left out). */
  events(): Array<{ event: string; data: unknown }> {
    const frames = this.text.split('\n\n').slice(0, -1); // the last is incomplete (or empty)
    return frames
      .filter((frame) => !frame.startsWith(':'))
      .map((frame) => {
        const [eventLine, dataLine, ...rest] = frame.split('\n');
        assert.deepEqual(rest, [], `one event and one data line per frame: ${JSON.stringify(frame)}`);
        assert.match(eventLine!, /^event: /);
        assert.match(dataLine!, /^data: /);
        return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) as unknown };
      });
  }

  /** Waits (bounded) until the text holds `needle`. */
  waitFor(needle: string, timeoutMs = 5000): Promise<void> {
    return until(`the client receiving ${JSON.stringify(needle)}`, () => this.text.includes(needle), timeoutMs, 10);
  }

  /** Waits (bounded) for the response to end or close. */
  waitForEnd(timeoutMs = 5000): Promise<void> {
    return within(timeoutMs, 'the stream ending', this.#end);
  }

  destroy(): void {
    this.response.destroy();
  }
}

describe('streamFeed', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const step of cleanup.splice(0)) step();
  });

  /** A feed and a server streaming it, both let go after the test. */
  async function setUp(pingEveryMs?: number) {
    const feed = new LiveFeed({ hello: HELLO });
    const served = await serve(feed, pingEveryMs);
    cleanup.push(() => {
      feed.close('test over');
      served.server.closeAllConnections();
      served.server.close();
    });
    return { feed, ...served };
  }

  it('sends hello, the history and then live log events, in SSE format', async () => {
    const { feed, port } = await setUp();
    feed.log('control', 'before the page came');
    const client = await Client.connect(port);
    cleanup.push(() => client.destroy());
    assert.equal(client.response.statusCode, 200);
    assert.equal(client.response.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.response.headers['cache-control'], 'no-cache');
    await client.waitFor('before the page came');
    feed.log('fleet', 'while the page watched');
    await client.waitFor('while the page watched');

    const events = client.events();
    assert.deepEqual(
      events.map((e) => [e.event, (e.data as { text?: string }).text]),
      [
        ['hello', undefined],
        ['log', 'before the page came'],
        ['log', 'while the page watched'],
      ],
    );
    assert.deepEqual(events[0]!.data, HELLO);
    assert.ok(client.text.startsWith(sseText({ event: 'hello', data: HELLO })), 'the stream starts with hello, byte for byte');
    assert.equal(feed.subscriberCount, 1);
  });

  it('sends a ping comment while nothing happens', async () => {
    const { port } = await setUp(50);
    const client = await Client.connect(port);
    cleanup.push(() => client.destroy());
    await client.waitFor('event: hello');
    await client.waitFor('\n\n: ping\n\n', 2000);
    assert.deepEqual(
      client.events().map((e) => e.event),
      ['hello'],
      'pings are comments, not events',
    );
  });

  it('unsubscribes a page that goes away, and stops writing to it', async () => {
    const { feed, port, responses } = await setUp(20);
    const client = await Client.connect(port);
    await client.waitFor('event: hello');
    assert.equal(feed.subscriberCount, 1);
    client.destroy();
    await until('the feed letting the page go', () => feed.subscriberCount === 0, 5000, 10);
    await until('the server ending its response', () => responses[0]!.writableEnded || responses[0]!.destroyed, 5000, 10);
    feed.log('control', 'nobody listens'); // must not throw, nor write to a closed response
  });

  it('sends bye when the feed closes and then ends the response', async () => {
    const { feed, port, responses } = await setUp();
    const client = await Client.connect(port);
    cleanup.push(() => client.destroy());
    await client.waitFor('event: hello');
    feed.close('the lab stopped');
    await client.waitForEnd();
    assert.equal(client.ended, true, 'the response ended (not cut)');
    assert.ok(client.text.endsWith(sseText({ event: 'bye', data: { reason: 'the lab stopped' } })), `bye is the last thing sent: ${client.text.slice(-200)}`);
    assert.equal(responses[0]!.writableEnded, true);
    assert.equal(feed.subscriberCount, 0);
  });

  it('sends bye at once to a page that comes after the feed closed, and ends the response', async () => {
    const { feed, port } = await setUp();
    feed.log('control', 'the last line');
    feed.close('the lab stopped');
    const client = await Client.connect(port);
    cleanup.push(() => client.destroy());
    await client.waitForEnd();
    assert.deepEqual(
      client.events().map((e) => e.event),
      ['hello', 'log', 'bye'],
    );
    assert.equal(feed.subscriberCount, 0);
  });

  it('cuts the connection of a page that stops reading, and unsubscribes it', async () => {
    const { feed, port, responses } = await setUp();
    const client = await Client.connect(port);
    cleanup.push(() => client.destroy());
    await client.waitFor('event: hello');
    // The page stops reading: the kernel's buffers fill, then the response's own buffer grows.
    client.response.pause();
    client.response.socket.pause();
    const line = 'x'.repeat(64 * 1024);
    const limitBytes = 64 * 1024 * 1024;
    let emittedBytes = 0;
    // In batches with a turn of the event loop between, as a lab's events come: the socket
    // writes what it can in between, so only what truly cannot be sent piles up.
    while (feed.subscriberCount > 0 && emittedBytes < limitBytes) {
      for (let i = 0; i < 16 && feed.subscriberCount > 0; i++) {
        feed.log('control', line);
        emittedBytes += line.length;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(feed.subscriberCount, 0, `unsubscribed after ${emittedBytes} bytes of log lines`);
    assert.ok(emittedBytes > 4 * 1024 * 1024, `the bound is 4 MB waiting; unsubscribed after ${emittedBytes} bytes`);
    const response = responses[0]!;
    // Cut, not ended: a page that never reads again must not keep the socket and its buffer.
    assert.ok(response.destroyed, 'the server cut the connection');
    feed.log('control', 'after the cut');
    client.response.socket.resume();
    client.response.resume();
    await client.waitForEnd(10_000);
    assert.ok(!client.text.includes('after the cut'), 'nothing is written after the cut');
  });
});
