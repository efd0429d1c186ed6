// The live dashboard of `chaos-lab up` in a real browser (Debian's chromium through playwright-core),
// opened at the URL `up` printed: it stays on loopback, logs no error, shows the fleet, acts through
// the control API (a click on stop: the instance stops and a replacement comes up), refuses a
// visitor without the token, and says so when the lab goes away.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, watchPage, type LabBrowser, type WatchedPage } from './helpers/browser.ts';
import { within } from './helpers/deadline.ts';
import { spawnUp, waitReady, type UpProcess } from './helpers/lab-cycle.ts';
import { descendants, killFamily } from './helpers/processes.ts';

/**
 * An instance is healthy once the load balancer's health checks pass twice (Article 1's settings,
 * which `up` keeps: every 10 s, threshold 2): 10 to 20 s after it is registered, more on a busy machine.
 */
const HEALTHY_WITHIN_MS = 45_000;

describe('the live dashboard of chaos-lab up in a real browser', () => {
  let dir: string;
  let up: UpProcess | undefined;
  let family: number[] = [];
  let origin: string;
  let dashboardUrl: string;
  let token: string;
  let browser: LabBrowser | undefined;
  let watched: WatchedPage;

  before(async () => {
    // The browser first: without one the test fails at once, saying how to get one, before a lab starts.
    browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-dashboard-browser-'));
    up = spawnUp(dir);
    const info = await waitReady(up, 60_000);
    family = descendants(up.child.pid!);
    token = (await readFile(join(dir, 'token'), 'utf8')).trim();
    const line = /^\s*dashboard\s+(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(up.output());
    assert.ok(line, `up prints the dashboard's URL:\n${up.output()}`);
    dashboardUrl = line[1]!;
    origin = info.controlUrl;
    watched = await watchPage(browser);
    await within(20_000, 'the dashboard loading', watched.page.goto(dashboardUrl, { waitUntil: 'load' }));
  });
  after(async () => {
    await browser?.close();
    if (up) await killFamily(up.child.pid!, family);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the lab live with its two instances, every request on loopback and no console or page error', async () => {
    const page = watched.page;
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-instance][data-state="running"][data-target="healthy"]').nth(1).waitFor({ timeout: HEALTHY_WITHIN_MS });
    assert.equal(await page.locator('[data-instance]').count(), 2);
    const zones = await page.locator('[data-instance]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-zone')));
    for (const zone of zones) assert.ok((await page.locator(`[data-zone-group="${zone}"] [data-instance]`).count()) >= 1, `grouped by zone ${zone}`);
    assert.match(await page.locator('#title').innerText(), /^chaos-lab up/);
    // Its timeline draws (uPlot) from the stream's seconds.
    await page.locator('#timeline canvas').first().waitFor({ timeout: 10_000 });
    assert.ok(watched.requests.length > 0);
    assert.deepEqual(watched.requests.filter((url) => !url.startsWith(`${origin}/`)), [], 'the page asked only the lab it came from');
    assert.deepEqual(watched.blocked, [], 'nothing left loopback');
    assert.deepEqual(watched.consoleErrors, []);
    assert.deepEqual(watched.pageErrors, []);
  });

  it('a click on stop stops that instance, and a replacement appears and becomes healthy', async () => {
    const page = watched.page;
    const first = page.locator('[data-instance]').first();
    const stopped = await first.getAttribute('data-instance');
    const before = await page.locator('[data-instance]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-instance')));
    await first.locator('button[data-action="stop"]').click({ timeout: 5_000 });
    await page.locator(`[data-instance="${stopped}"]:is([data-state="stopped"], [data-state="terminated"])`).waitFor({ timeout: 10_000 });
    // The answer of the control API goes into the log as a control line.
    await page.locator('#log li[data-kind="control"]', { hasText: stopped! }).first().waitFor({ timeout: 10_000 });
    const replacement = page.locator(`[data-instance]${before.map((id) => `:not([data-instance="${id}"])`).join('')}`);
    // A shop process starting while the rest of the suite loads both cores: bounds with room.
    await replacement.first().waitFor({ timeout: 30_000 });
    const id = await replacement.first().getAttribute('data-instance');
    await page.locator(`[data-instance="${id}"][data-state="running"]`).waitFor({ timeout: 30_000 });
    await page.locator(`[data-instance="${id}"][data-target="healthy"]`).waitFor({ timeout: HEALTHY_WITHIN_MS });
    await page.locator('#log li[data-kind="fleet"]', { hasText: `replaces ${stopped}` }).first().waitFor({ timeout: 5_000 });
    assert.deepEqual(watched.blocked, []);
    assert.deepEqual(watched.consoleErrors, []);
    assert.deepEqual(watched.pageErrors, []);
  });

  it('cuts a dependency from the form, with parameters, and clears it; deregisters and registers the proxy', async () => {
    const page = watched.page;
    const form = page.locator('form#fault-form');
    await form.locator('select[name="dependency"]').selectOption('reviews');
    await form.locator('select[name="type"]').selectOption('latency');
    await form.locator('input[name="params"]').fill('latencyMs=150 jitterMs=10');
    await form.locator('input[name="durationS"]').fill('60');
    await form.locator('button[type="submit"]').click({ timeout: 5_000 });
    // The lab's own fault list, in the next map: its type, its parameters as given, its time left.
    const fault = page.locator('[data-fault]', { hasText: 'latency' });
    await fault.waitFor({ timeout: 10_000 });
    assert.match(await fault.innerText(), /latency\s+on\s+reviews\s+latencyMs=150 jitterMs=10/);
    await page.locator('#log li[data-kind="fault"]', { hasText: 'latency on reviews for 60 s' }).first().waitFor({ timeout: 10_000 });
    await page.locator('button[data-action="clear-faults"]').click({ timeout: 5_000 });
    await fault.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('#log li[data-kind="fault"]', { hasText: 'ended (removed)' }).first().waitFor({ timeout: 10_000 });

    await page.locator('button[data-action="deregister"]').click({ timeout: 5_000 });
    await page.locator('.proxy[data-registered="false"]').waitFor({ timeout: 10_000 });
    await page.locator('#log li[data-kind="database"]', { hasText: 'targets deregistered' }).first().waitFor({ timeout: 10_000 });
    await page.locator('button[data-action="register"]').click({ timeout: 5_000 });
    await page.locator('.proxy[data-registered="true"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(watched.blocked, []);
    assert.deepEqual(watched.consoleErrors, []);
    assert.deepEqual(watched.pageErrors, []);
  });

  it('refuses a visitor without the token: GET / and /events answer 401 and no page', async () => {
    const visitor = await watchPage(browser!);
    try {
      for (const path of ['/', '/events', `/?token=${'0'.repeat(token.length)}`]) {
        const response = await visitor.page.goto(`${origin}${path}`, { timeout: 10_000 });
        assert.equal(response?.status(), 401, path);
        const body = JSON.parse(await response!.text()) as { code?: string };
        assert.equal(body.code, 'UNAUTHORIZED', path);
        assert.ok(!(await response!.text()).includes(token), 'a refusal does not carry the token');
      }
      // The page's own way in, an EventSource, without the token: refused too (it reports an error and never opens).
      const opened = await within(
        10_000,
        'the EventSource without the token to fail',
        visitor.page.evaluate(
          () =>
            new Promise<string>((resolve) => {
              const source = new (globalThis as unknown as { EventSource: new (url: string) => { onopen: () => void; onerror: () => void; close(): void } }).EventSource('/events');
              source.onopen = () => resolve('open');
              source.onerror = () => {
                source.close();
                resolve('error');
              };
            }),
        ),
      );
      assert.equal(opened, 'error');
    } finally {
      await visitor.page.close();
    }
  });

  it('says the lab has stopped when it goes away, and disables its actions', async () => {
    const page = watched.page;
    up!.child.kill('SIGTERM');
    await page.locator('#status:not([data-state="live"])').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#status').innerText(), /^The lab has stopped: .+\. This page shows its last state\.$/);
    const buttons = page.locator('#map button');
    assert.ok((await buttons.count()) > 0);
    assert.deepEqual([...new Set(await buttons.evaluateAll((all) => all.map((b) => (b as unknown as { disabled: boolean }).disabled)))], [true]);
    assert.equal(await within(30_000, 'chaos-lab up to exit', up!.exited), 0, up!.output());
    up = undefined;
    assert.deepEqual(watched.blocked, []);
    assert.deepEqual(watched.consoleErrors, []);
    assert.deepEqual(watched.pageErrors, []);
  });
});
