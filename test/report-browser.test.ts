// The report of a real quick run, opened in a real browser (Debian's chromium through playwright-core)
// from its file URL, as a person opens it from disk: nothing leaves the machine, nothing errs, the
// charts draw, and the tables show the journal's numbers.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Journal } from '../src/chaos/journal.ts';
import { renderReport, timelineOf } from '../src/report/index.ts';
import { verdictOf } from '../src/report/sections.ts';
import { formatResults } from '../src/chaos/report.ts';
import { canvasInk, launchBrowser, watchPage, type LabBrowser, type WatchedPage } from './helpers/browser.ts';
import { within } from './helpers/deadline.ts';
import { runBuiltin } from './helpers/experiment-run.ts';

/** The report page's colour for a series of kind 'ok' (src/report/page.js): the traffic chart's "reads OK" line. */
const OK_GREEN = [0x2e, 0x7d, 0x32] as const;

describe('the HTML report in a real browser', () => {
  let dir: string;
  let journal: Journal;
  let url: string;
  let browser: LabBrowser | undefined;
  let watched: WatchedPage;

  // The launch, a quick run and the page load, each bounded: together more than a test's default.
  before(async () => {
    // The browser first: without one the test fails at once, saying how to get one, before a run.
    browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-report-browser-'));
    // The cheapest real run with traffic and a fault: Article 1's instance stop, naive, quick profile.
    // Saved and read back as JSON, the form `chaos-lab report` renders.
    journal = JSON.parse(JSON.stringify(await runBuiltin('instance-stop', 'naive'))) as Journal;
    const file = join(dir, 'report.html');
    await writeFile(file, renderReport([journal]));
    url = pathToFileURL(file).href;
    watched = await watchPage(browser);
    await within(20_000, 'the report loading', watched.page.goto(url, { waitUntil: 'load' }));
  }, { timeout: 180_000 });
  after(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('opens from its file URL with no request besides the file itself and no console or page error', () => {
    assert.deepEqual(watched.requests, [url], 'the page fetched nothing: uPlot, styles and journal are inline');
    assert.deepEqual(watched.blocked, []);
    assert.deepEqual(watched.consoleErrors, []);
    assert.deepEqual(watched.pageErrors, []);
  });

  it('draws every chart of the timeline: uPlot canvases of non-zero size, the traffic line in its colour', async () => {
    const page = watched.page;
    const charts = timelineOf(journal).charts;
    assert.ok(charts.length >= 2, 'traffic and latency charts in the journal');
    assert.equal(await page.locator('.timeline[data-run="0"] .uplot').count(), charts.length, 'one uPlot per chart');
    const titles = await page.locator('.timeline[data-run="0"] .uplot .u-title').allTextContents();
    assert.deepEqual(titles, charts.map((c) => c.title));
    const canvases = page.locator('.timeline[data-run="0"] .uplot canvas');
    assert.equal(await canvases.count(), charts.length);
    for (let i = 0; i < charts.length; i++) {
      const box = await canvases.nth(i).boundingBox();
      assert.ok(box && box.width > 400 && box.height > 100, `chart ${i} has a size on screen: ${JSON.stringify(box)}`);
      const ink = await canvasInk(canvases.nth(i), OK_GREEN);
      assert.ok(ink.width > 0 && ink.height > 0, JSON.stringify(ink));
      assert.ok(ink.inked > ink.width * ink.height * 0.005, `chart ${i} has ink (axes, lines, bands): ${JSON.stringify(ink)}`);
    }
    // The first chart's first series is the reads that answered 200, drawn green: a line, not just axes.
    const traffic = await canvasInk(canvases.first(), OK_GREEN);
    assert.ok(traffic.near > 100, `the reads-OK line is drawn: ${JSON.stringify(traffic)}`);
    // And the legend carries the series the journal has.
    const legend = await page.locator('.timeline[data-run="0"] .uplot').first().locator('.u-legend .u-label').allTextContents();
    assert.deepEqual(legend.slice(1), charts[0]!.series.map((s) => s.label));
  });

  it("shows the journal's numbers in its tables: header, RESULTS, audit, steady state and actions", async () => {
    const page = watched.page;
    const t = journal.traffic!;
    const audit = journal.audit!;
    assert.ok(t && audit, 'the run has traffic and an audit');
    // The overview row, as the browser shows it.
    const overview = await page.locator('table.overview tbody tr').first().locator('td').allInnerTexts();
    assert.deepEqual(overview.slice(0, 5), [journal.experiment, journal.mode, journal.profile.name, String(journal.seed), verdictOf(journal)]);
    assert.equal(await page.locator('#run-0 strong.verdict').innerText(), verdictOf(journal));
    // RESULTS: the terminal's block, and in it the traffic totals built here from the journal's own fields.
    const results = await page.locator('#run-0 pre.results').innerText();
    assert.equal(results, formatResults(journal));
    assert.ok(results.includes(`Reads:  ${t.reads.ok} OK / ${t.reads.fail} FAILED`), results);
    assert.ok(results.includes(`Writes: ${t.writes.ok} OK / ${t.writes.stockOut} insufficient-stock(409) / ${t.writes.fail} REAL-FAILED`), results);
    assert.ok(results.includes(`Real failures (reads_fail + writes_fail) = ${t.reads.fail + t.writes.fail}`), results);
    assert.ok(t.reads.ok > 0, 'the run had traffic');
    // The audit table: its counts are the journal's.
    const cell = async (label: string): Promise<string> => page.locator('#run-0 table tr', { has: page.locator(`td:text-is("${label}")`) }).locator('td').nth(1).innerText();
    assert.equal(await cell('Acknowledged'), String(audit.acknowledged));
    assert.equal(await cell('Lost'), String(audit.lost));
    assert.equal(await cell('Duplicated'), String(audit.duplicated));
    assert.equal(await cell('Stock conserved'), audit.stockConserved ? 'yes' : 'NO');
    // Steady state: each probe's tolerance and value.
    for (const probe of journal.steadyState.before!.probes) {
      const row = page.locator('#run-0 table tr', { has: page.locator(`td:text-is("${probe.name}")`) }).first();
      const cells = await row.locator('td').allInnerTexts();
      assert.deepEqual(cells.slice(0, 4), [probe.name, probe.path, String(probe.expectedStatus), String(probe.status)]);
    }
    // The fault: the instance-stop action with its state, and the instance it chose.
    const stop = journal.actions.find((a) => a.actionId === 'lab:instance:stop')!;
    const row = await page.locator('#run-0 table tr', { has: page.locator('td code:text-is("lab:instance:stop")') }).locator('td').allInnerTexts();
    assert.equal(row[2], stop.state);
    for (const id of Object.values(journal.targets).flat()) assert.ok((await page.locator('#run-0').innerText()).includes(id), id);
  });
});
