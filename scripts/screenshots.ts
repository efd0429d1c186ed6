// npm run screenshots [-- report|dashboard]: the README's two pictures, made from real runs in a
// real browser (Debian's chromium through playwright-core).
//   docs/report.png     the report of a compare run of instance-stop (demo profile), 1280 wide, its top part
//   docs/dashboard.png  the live dashboard of `chaos-lab up` under a little traffic, an instance
//                       stopped and a dependency cut from the page, 1280x800
// Every process it starts (the CLI runs, the browser) is stopped by PID on exit, Ctrl-C and SIGTERM.
// It drives the browser and stops processes with the tests' own helpers (test/helpers/): one way
// to launch Debian's chromium and to kill a process family, not two.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchBrowser, watchPage, type LabBrowser, type WatchedPage } from '../test/helpers/browser.ts';
import { killFamily } from '../test/helpers/processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'src/cli/main.ts');
const DOCS = join(ROOT, 'docs');
const WIDTH = 1280;
/** A run of both modes under the demo profile takes about half a minute here; this bounds a hung one. */
const RUN_BOUND_MS = 240_000;
/** `up` starts PostgreSQL servers, the proxies and the fleet: seconds, bounded. */
const UP_BOUND_MS = 120_000;
/** How long the dashboard shows traffic before the picture: enough seconds for the timeline to read as one. */
const TIMELINE_MS = 16_000;
/** When the picture's actions happen, after the dashboard shows the map: some calm seconds first. */
const ACT_AFTER_MS = 5_000;
/**
 * The fault the picture shows: the reviews dependency refusing connections (its band, its 503s, its
 * time left on the map). A fault type without parameters, as the page's form asks for none; not a
 * blackhole, whose 10 s gateway timeouts would flatten the latency chart.
 */
const FAULT = { dependency: 'reviews', type: 'refuse', durationS: 120 } as const;
/** Bound on the wait for the replacement to turn healthy on the map (Article 1's checks: every 10 s, twice). */
const REPLACEMENT_HEALTHY_MS = 30_000;
/** How long a child has to stop itself (roll back, tear the lab down) before it is killed. */
const STOP_GRACE_MS = 30_000;

const started = performance.now();
const say = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);

/** A CLI process this script started, with everything it printed. */
interface Child {
  label: string;
  process: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const browsers = new Set<LabBrowser>();
const cleanups: Array<() => void> = [];
const workDirs = new Set<string>();

function startCli(label: string, args: string[]): Child {
  // Its own process group: a terminal's Ctrl-C reaches only this script, which then asks each child
  // once to stop (a second SIGINT makes the CLI exit at once, skipping its teardown).
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const child: Child = { label, process: proc, output: '', exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
  const collect = (chunk: Buffer): void => {
    child.output += chunk.toString();
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  children.add(child);
  void child.exited.then(() => children.delete(child));
  say(`started ${label} (pid ${proc.pid}): chaos-lab ${args.join(' ')}`);
  return child;
}

const stopping = new Map<Child, Promise<void>>();
/**
 * Asks a child to stop (SIGTERM, once), waits for it, then kills it and what it started, by PID.
 * Once: the CLI takes a second signal as "exit now" and would skip its teardown.
 */
function stopChild(child: Child): Promise<void> {
  let stopped = stopping.get(child);
  if (!stopped) stopping.set(child, (stopped = stopOnce(child)));
  return stopped;
}

async function stopOnce(child: Child): Promise<void> {
  const pid = child.process.pid;
  if (pid === undefined || child.process.exitCode !== null || child.process.signalCode !== null) return;
  say(`stopping ${child.label} (pid ${pid}) …`);
  child.process.kill('SIGTERM');
  const gone = await Promise.race([child.exited.then(() => true), delay(STOP_GRACE_MS).then(() => false)]);
  if (!gone) {
    say(`${child.label} did not stop within ${STOP_GRACE_MS / 1000} s: killing it and what it started`);
    await killFamily(pid);
  }
}

let cleaning: Promise<void> | undefined;
/** Stops everything this script started: traffic, browsers, CLI children. */
function cleanUp(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const stop of cleanups.splice(0)) stop();
    await Promise.all([...browsers].map((b) => b.close()));
    await Promise.all([...children].map(stopChild));
    await Promise.all([...workDirs].map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 })));
  })());
}

/** Set by a signal: the exit code the script ends with, whatever the interrupted step then throws. */
let interrupted: number | undefined;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.once(signal, () => {
    interrupted = code;
    say(`${signal}: stopping what this script started …`);
    void cleanUp().finally(() => process.exit(code));
  });
}

/** Resolves with the first match of `pattern` in the child's output, or rejects when it exits or `ms` pass. */
async function waitForOutput(child: Child, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = performance.now() + ms;
  for (;;) {
    const match = pattern.exec(child.output);
    if (match) return match;
    if (child.process.exitCode !== null || child.process.signalCode !== null) throw new Error(`${child.label} exited before printing ${pattern}:\n${child.output}`);
    if (performance.now() > deadline) throw new Error(`${child.label} did not print ${pattern} within ${ms / 1000} s:\n${child.output}`);
    await delay(100);
  }
}

async function withPage<T>(height: number, body: (watched: WatchedPage) => Promise<T>): Promise<T> {
  const browser = await launchBrowser({ viewport: { width: WIDTH, height }, handleSignals: false });
  browsers.add(browser);
  try {
    return await body(await watchPage(browser));
  } finally {
    await browser.close();
    browsers.delete(browser);
  }
}

/** Says what the page did that a test would fail on; a picture of a broken page is still worth seeing why. */
function reportTrouble(watched: WatchedPage): void {
  for (const url of watched.blocked) say(`WARNING: the page tried to leave the machine: ${url} (blocked)`);
  for (const error of [...watched.consoleErrors, ...watched.pageErrors]) say(`WARNING: the page logged an error: ${error}`);
}

async function reportScreenshot(work: string): Promise<string> {
  const out = join(work, 'results');
  const run = startCli('run', ['run', 'instance-stop', '--mode', 'compare', '--profile', 'demo', '--out', out]);
  const code = await Promise.race([run.exited, delay(RUN_BOUND_MS).then(() => 'timeout' as const)]);
  if (code !== 0) throw new Error(`chaos-lab run ended with ${code}:\n${run.output}`);
  const report = join(out, 'report.html');
  if (!existsSync(report)) throw new Error(`chaos-lab run wrote no ${report}:\n${run.output}`);
  say(`run done; opening ${report}`);
  const file = join(DOCS, 'report.png');
  await withPage(900, async (watched) => {
    await watched.page.goto(pathToFileURL(report).href, { waitUntil: 'load', timeout: 20_000 });
    await watched.page.locator('.uplot canvas').first().waitFor({ timeout: 10_000 });
    reportTrouble(watched);
    // The top of the page: the overview, BEFORE vs AFTER, and the first mode down to its charts.
    const timeline = await watched.page.locator('.timeline[data-run="0"]').boundingBox();
    const height = Math.ceil((timeline ? timeline.y + timeline.height : 1600) + 16);
    await watched.page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: WIDTH, height } });
  });
  say(`wrote ${file}`);
  return file;
}

/** A little traffic to the load balancer, on loopback: a read every 100 ms, now and then a review page. */
function sendTraffic(loadBalancer: string, boundMs: number): () => void {
  const controller = new AbortController();
  const bound = setTimeout(() => controller.abort(), boundMs);
  void (async () => {
    for (let i = 0; !controller.signal.aborted; i++) {
      const path = i % 5 === 4 ? '/products/3/reviews' : '/products';
      // Not awaited: one slow answer must not hold the next request back (open loop, like the lab's own traffic).
      fetch(`${loadBalancer}${path}`, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(2_000)]) })
        .then((response) => response.arrayBuffer())
        .catch(() => undefined);
      await delay(100, undefined, { signal: controller.signal }).catch(() => undefined);
    }
  })();
  return () => {
    clearTimeout(bound);
    controller.abort();
  };
}

async function dashboardScreenshot(work: string): Promise<string> {
  const up = startCli('up', ['up', '--dir', join(work, 'lab')]);
  const dashboard = (await waitForOutput(up, /^\s*dashboard\s+(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/m, UP_BOUND_MS))[1]!;
  const loadBalancer = (await waitForOutput(up, /^\s*load balancer\s+(http:\/\/127\.0\.0\.1:\d+)/m, UP_BOUND_MS))[1]!;
  await waitForOutput(up, /ready: the fleet answers/, UP_BOUND_MS);
  say(`lab up; load balancer ${loadBalancer}; sending it a little traffic`);
  const stopTraffic = sendTraffic(loadBalancer, TIMELINE_MS + 60_000);
  cleanups.push(stopTraffic);
  const file = join(DOCS, 'dashboard.png');
  try {
    await withPage(800, async (watched) => {
      await watched.page.goto(dashboard, { waitUntil: 'load', timeout: 20_000 });
      await watched.page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('[data-instance]').length >= 2, undefined, { timeout: 20_000 });
      say(`dashboard shows the map; ${TIMELINE_MS / 1000} s of timeline, with an instance stopped and a fault set from the page …`);
      await delay(ACT_AFTER_MS);
      // What a person would do with it: stop an instance (Article 1) and cut a dependency, from the page.
      const page = watched.page;
      await page.locator('[data-instance]').first().locator('button[data-action="stop"]').click({ timeout: 5_000 });
      const form = page.locator('form#fault-form');
      await form.locator('select[name="dependency"]').selectOption(FAULT.dependency, { timeout: 5_000 });
      await form.locator('select[name="type"]').selectOption(FAULT.type, { timeout: 5_000 });
      await form.locator('input[name="durationS"]').fill(String(FAULT.durationS));
      await form.locator('button[type="submit"]').click({ timeout: 5_000 });
      say(`stopped an instance and cut ${FAULT.dependency} (${FAULT.type}, ${FAULT.durationS} s) from the page`);
      // Until the replacement is healthy on the map too (the stopped instance still shows, stopped).
      const replaced = page
        .locator('[data-instance][data-target="healthy"]')
        .nth(1)
        .waitFor({ timeout: REPLACEMENT_HEALTHY_MS })
        .catch(() => say(`WARNING: the replacement was not healthy on the map within ${REPLACEMENT_HEALTHY_MS / 1000} s`));
      await Promise.all([delay(TIMELINE_MS - ACT_AFTER_MS), replaced]);
      reportTrouble(watched);
      await watched.page.screenshot({ path: file });
    });
    say(`wrote ${file}`);
  } finally {
    stopTraffic();
    await stopChild(up);
  }
  return file;
}

async function main(): Promise<void> {
  const which = process.argv.slice(2);
  for (const arg of which) if (arg !== 'report' && arg !== 'dashboard') throw new Error(`usage: npm run screenshots [-- report|dashboard], got ${JSON.stringify(arg)}`);
  const wanted = (name: string): boolean => which.length === 0 || which.includes(name);
  await mkdir(DOCS, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'chaos-lab-screenshots-'));
  workDirs.add(work);
  const made: string[] = [];
  try {
    if (wanted('report')) made.push(await reportScreenshot(work));
    if (wanted('dashboard')) made.push(await dashboardScreenshot(work));
  } finally {
    await cleanUp();
  }
  say(`done: ${made.map((file) => relative(ROOT, file)).join(', ')}`);
}

// A script ends itself once its cleanup is done (STYLE 19): a stray handle must not keep it, or a lab, alive.
try {
  await main();
  process.exit(0);
} catch (error) {
  await cleanUp();
  if (interrupted === undefined) console.error(error instanceof Error ? error.message : error);
  process.exit(interrupted ?? 1);
}
