// A real browser for tests and the screenshot script: Debian's chromium driven by playwright-core
// (which downloads no browser), in a fresh profile that is removed afterwards, and a page that
// records every console error, page error and request, blocking any request that would leave the
// machine so that a test can assert there was none.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { descendants, killAll, waitUntilGone } from './processes.ts';

/** Where chromium is looked for when CHAOS_LAB_CHROMIUM is not set, in this order. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable'] as const;

/**
 * The flags the machine's closed network needs: without the background-networking ones chromium
 * keeps opening connections (updates, sync, safe browsing) that the sandbox refuses, and a test
 * could not tell them from the page's own. --no-sandbox because CI runs as root.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

/** No chromium to drive: the browser tests fail (never skip) with this, saying how to get one. */
export class BrowserNotFoundError extends Error {
  readonly code = 'BROWSER_NOT_FOUND';
}

/** The chromium to drive: $CHAOS_LAB_CHROMIUM, else the first of CHROMIUM_PATHS that exists. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.CHAOS_LAB_CHROMIUM;
  if (chosen) {
    if (!existsSync(chosen)) throw new BrowserNotFoundError(`CHAOS_LAB_CHROMIUM=${chosen}: no such file; point it at a Chromium or Chrome binary, or unset it and install Debian's (sudo apt-get install -y chromium)`);
    return chosen;
  }
  const found = CHROMIUM_PATHS.find((p) => existsSync(p));
  if (found) return found;
  throw new BrowserNotFoundError(
    `no chromium found at ${CHROMIUM_PATHS.join(', ')}: install Debian's (sudo apt-get install -y chromium, as .ci/run does) or set CHAOS_LAB_CHROMIUM to a Chromium or Chrome binary`,
  );
}

/** A running chromium with its own throwaway profile. */
export interface LabBrowser {
  readonly context: BrowserContext;
  /** Closes the browser, kills whatever of it is left by PID, removes the profile. Never throws. */
  close(): Promise<void>;
}

/** How a browser is launched. */
export interface LaunchOptions {
  viewport?: { width: number; height: number };
  /** Bound on the launch itself (default 30 s). */
  timeoutMs?: number;
  /**
   * Let playwright close the browser on SIGINT/SIGTERM/SIGHUP (default true). Its SIGINT handler
   * then exits the process with 130, before a script could stop what else it started: a script
   * with its own cleanup passes false and closes the browser itself.
   */
  handleSignals?: boolean;
}

const CLOSE_BOUND_MS = 10_000;

/** The PIDs of this process's descendants whose command line names `profile` (the browser's, and only its). */
function browserPids(profile: string): number[] {
  return descendants(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile);
    } catch {
      return false; // gone meanwhile
    }
  });
}

/**
 * Launches chromium headless in a fresh profile folder. The caller must `close()` it in a finally
 * (or an `after` hook): also when the test failed or timed out.
 */
export async function launchBrowser(options: LaunchOptions = {}): Promise<LabBrowser> {
  const executablePath = chromiumPath();
  const profile = await mkdtemp(join(tmpdir(), 'chaos-lab-chromium-'));
  let context: BrowserContext;
  try {
    // A persistent context is the way playwright takes a user-data-dir of ours: its own temporary
    // profile would be left behind if this process were killed, ours is removed by close().
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: options.viewport ?? { width: 1280, height: 800 },
      timeout: options.timeoutMs ?? 30_000,
      handleSIGINT: options.handleSignals ?? true,
      handleSIGTERM: options.handleSignals ?? true,
      handleSIGHUP: options.handleSignals ?? true,
    });
  } catch (error) {
    killAll(browserPids(profile));
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  // Its processes as launched, by PID: close() kills whatever of them outlives it.
  const pids = browserPids(profile);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_BOUND_MS)));
      await Promise.race([context.close().catch(() => undefined), bound]);
      clearTimeout(timer);
      // Whatever did not end with the browser (a hung renderer, a close that timed out): by PID.
      killAll(await waitUntilGone([...pids, ...browserPids(profile)], 2_000));
      await rm(profile, { recursive: true, force: true, maxRetries: 3 });
    })());
  return { context, close };
}

/** True for a URL that stays on this machine: a file, inline data, a blob, or 127.0.0.1. */
export function staysLocal(url: string): boolean {
  return /^(file|data|blob):/.test(url) || /^(https?|wss?):\/\/127\.0\.0\.1(:\d+)?(\/|$)/.test(url);
}

/** A page and everything it did: what a test asserts on. */
export interface WatchedPage {
  readonly page: Page;
  /** Every request the page made, in order (blocked ones included). */
  readonly requests: string[];
  /** Requests that would have left the machine: aborted before they were sent. */
  readonly blocked: string[];
  /** Console messages of type error, with their location. */
  readonly consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  readonly pageErrors: string[];
}

/** Opens a new page that records what it does and aborts every request `allowed` refuses (default: staysLocal). */
export async function watchPage(browser: LabBrowser, allowed: (url: string) => boolean = staysLocal): Promise<WatchedPage> {
  const page = await browser.context.newPage();
  const watched: WatchedPage = { page, requests: [], blocked: [], consoleErrors: [], pageErrors: [] };
  page.on('request', (request) => watched.requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const at = message.location();
    watched.consoleErrors.push(`${message.text()}${at.url ? ` (${at.url}:${at.lineNumber})` : ''}`);
  });
  page.on('pageerror', (error) => watched.pageErrors.push(error.stack ?? error.message));
  page.on('websocket', (socket) => {
    if (!allowed(socket.url())) watched.blocked.push(socket.url());
  });
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    watched.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  return watched;
}

/** The pixels of a canvas that are not fully transparent, and how many are near `rgb` (each channel within 24). */
export async function canvasInk(canvas: Locator, rgb: readonly [number, number, number]): Promise<{ width: number; height: number; inked: number; near: number }> {
  return canvas.evaluate(
    (element, colour) => {
      // Typed by hand: the project's TypeScript has no DOM library, and this runs in the page.
      const canvas = element as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      let near = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) continue;
        inked++;
        if (Math.abs(data[i]! - colour[0]) <= 24 && Math.abs(data[i + 1]! - colour[1]) <= 24 && Math.abs(data[i + 2]! - colour[2]) <= 24) near++;
      }
      return { width: canvas.width, height: canvas.height, inked, near };
    },
    rgb,
  );
}
