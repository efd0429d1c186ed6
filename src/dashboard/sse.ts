// A live feed as Server-Sent Events on one HTTP response: `event: <name>` and one JSON `data:`
// line per event, a `: ping` comment while idle, the end after `bye`.
import type { ServerResponse } from 'node:http';
import type { FeedEvent, LiveFeed } from './live-feed.ts';

/** How often an idle stream gets a `: ping` comment: well under the idle timeouts of proxies and browsers. */
export const PING_EVERY_MS = 15_000;

/**
 * A stream a slow page cannot drain: past this many bytes waiting, the connection is cut
 * rather than letting the feed's events pile up in this process.
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** One event in SSE text (JSON holds no raw newline, so one `data:` line is enough). */
export function sseText(event: FeedEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/**
 * Streams `feed` on `response` (already authorised): headers, then hello, history, the latest
 * map and live events; ends after `bye`. A page that goes away is unsubscribed and its ping stopped.
 */
export function streamFeed(response: ServerResponse, feed: LiveFeed, pingEveryMs = PING_EVERY_MS): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.flushHeaders();
  let ended = false;
  let unsubscribe = (): void => {};
  const end = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(ping);
    unsubscribe();
    if (!response.writableEnded) response.end();
  };
  const ping = setInterval(() => {
    if (!ended) response.write(': ping\n\n');
  }, pingEveryMs);
  ping.unref();
  response.on('close', end);
  response.on('error', end);
  unsubscribe = feed.subscribe((event) => {
    if (ended) return;
    response.write(sseText(event));
    if (event.event === 'bye') end();
    // A page that stopped reading (a sleeping laptop) would hold its socket and what waits in it
    // for good: the connection is cut, not ended politely.
    else if (response.writableLength > MAX_BUFFERED_BYTES) {
      end();
      response.destroy();
    }
  });
  // A closed feed said bye inside subscribe, before `unsubscribe` was known: nothing is left to undo.
  if (ended) unsubscribe();
}
