// The HTML report (issue 12): a view of real journals from a quick run, self-contained, escaped,
// with the terminal's own numbers; and `chaos-lab report` as a user runs it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Journal } from '../src/chaos/journal.ts';
import { formatComparison, formatResults } from '../src/chaos/report.ts';
import { asJournal, renderReport, ReportLinkError, timelineOf } from '../src/report/index.ts';
import { runBuiltin } from './helpers/experiment-run.ts';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const execute = promisify(execFile);
const require = createRequire(import.meta.url);
const HOSTILE = '</script><script>alert(1)</script><!--';

async function chaosLab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execute(process.execPath, [CLI, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** The text of the element with this id, or of every <pre class="…">, as the browser would read it. */
const unescape = (html: string): string => html.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
const scriptJson = (html: string, id: string): unknown => JSON.parse(new RegExp(`<script type="application/json" id="${id}">([\\s\\S]*?)</script>`).exec(html)![1]!);
/** A journal as JSON carries it: without the fields an in-memory journal holds as undefined. */
const asSaved = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const pres = (html: string, className: string): string[] => [...html.matchAll(new RegExp(`<pre class="${className}">([\\s\\S]*?)</pre>`, 'g'))].map((m) => unescape(m[1]!));

describe('the HTML report', () => {
  let journal: Journal;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-lab-report-'));
    journal = asSaved(await runBuiltin('instance-stop', 'naive'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('embeds the journals as parseable JSON and inlines uPlot from its package, with no URL to fetch', () => {
    const html = renderReport([journal]);
    assert.deepEqual(scriptJson(html, 'chaos-lab-journals'), [journal]);
    assert.ok(html.includes(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')), 'uPlot inlined');
    assert.ok(html.includes(readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')), "uPlot's style inlined");
    assert.doesNotMatch(html, /\b(src|href|action)\s*=\s*["']?\s*(https?:)?\/\//i, 'no src or href leaves the machine');
    assert.doesNotMatch(html, /url\(\s*["']?\s*(https?:)?\/\/|@import/i, 'no stylesheet fetch');
    assert.doesNotMatch(html, /<(link|iframe|img)\b/i);
    assert.equal(html.match(/<script\b/g)!.length, 4, 'the two data blocks, uPlot and the page script, nothing else');
  });

  it('shows the same RESULTS and BEFORE vs AFTER text as the terminal', () => {
    const resilient: Journal = { ...journal, mode: 'resilient' };
    const html = renderReport([journal, resilient]);
    assert.deepEqual(pres(html, 'results'), [formatResults(journal), formatResults(resilient)]);
    assert.deepEqual(pres(html, 'comparison'), [formatComparison([journal, resilient])]);
    assert.match(html, /<dt>Seed<\/dt><dd>\d+<\/dd>/);
    assert.match(html, new RegExp(`<dt>Verdict</dt><dd><strong class="verdict">${formatResults(journal).split('\n').at(-1)!.slice('Verdict: '.length)}</strong>`));
  });

  it('a journal string cannot close the script element or become markup', () => {
    // A journal carries text from outside (errors, response bodies, descriptions): a `</script>` in it ended the data block.
    const hostile = structuredClone(journal);
    hostile.title = HOSTILE;
    hostile.actions[0]!.error = HOSTILE;
    hostile.targets[HOSTILE] = [HOSTILE];
    hostile.audit!.details.lost = [HOSTILE];
    asJournal(hostile, 'hostile'); // still a journal: the page must cope with it
    const html = renderReport([hostile]);
    assert.ok(!html.includes('<script>alert(1)'), 'no script element from the journal');
    assert.ok(!html.includes('<!--'), 'no comment opened by the journal');
    assert.equal(html.match(/<\/script>/g)!.length, 4, 'every script element ends where the report ends it');
    assert.deepEqual(scriptJson(html, 'chaos-lab-journals'), [hostile], 'the hostile strings survive, escaped, in the data');
    assert.ok(html.includes('&#60;/script&#62;&#60;script&#62;alert(1)'), 'shown as text');
  });

  it('draws each mode on a shared time axis from the journal: traffic per second, action bands, fleet markers, probe ticks', () => {
    const timeline = timelineOf(journal);
    const traffic = timeline.charts[0]!;
    assert.deepEqual(traffic.x, journal.traffic!.series.map((s) => s.second));
    assert.deepEqual(traffic.series.find((s) => s.label === 'reads OK')!.values, journal.traffic!.series.map((s) => s.reads.ok));
    // Latency per second, p50 and p99, as the journal recorded it (a second without answers is a gap).
    const latency = timeline.charts.find((c) => c.unit === 'ms')!;
    assert.deepEqual(latency.x, traffic.x);
    assert.deepEqual(latency.series.find((s) => s.label === 'reads p99')!.values, journal.traffic!.series.map((s) => s.latencyMs.reads?.p99 ?? null));
    assert.deepEqual(latency.series.find((s) => s.label === 'writes p50')!.values, journal.traffic!.series.map((s) => s.latencyMs.writes?.p50 ?? null));
    const older = asSaved({ ...journal, traffic: { ...journal.traffic!, series: journal.traffic!.series.map(({ latencyMs: _latency, ...rest }) => rest) } }) as unknown as Journal;
    assert.equal(timelineOf(older).charts.some((c) => c.unit === 'ms'), false, 'a journal from before per-second latency draws no latency chart');
    const stop = journal.actions.find((a) => a.actionId === 'lab:instance:stop')!;
    assert.equal(timeline.bands.find((b) => b.actionId === 'lab:instance:stop')!.startS, stop.offsetMs! / 1000);
    assert.equal(timeline.markers.filter((m) => m.kind === 'fleet').length, journal.fleet.events.length);
    assert.equal(timeline.markers.filter((m) => m.kind === 'target').length, journal.fleet.targetStateChanges.length);
    assert.equal(timeline.probeTicks.length, journal.probe!.lines.length);
    assert.ok(timeline.probeTicks.every((t) => t.atS > -2 && t.atS < timeline.endS), JSON.stringify(timeline.probeTicks.slice(0, 3)));

    // Two modes, one later and longer: both drawn over the same x range.
    const series = journal.traffic!.series;
    const later: Journal = { ...journal, mode: 'resilient', traffic: { ...journal.traffic!, series: [...series, ...series.map((s) => ({ ...s, second: s.second + series.length }))] } };
    const view = scriptJson(renderReport([journal, later]), 'chaos-lab-timelines') as { groups: Array<{ runs: number[]; startS: number; endS: number }> };
    assert.deepEqual(view.groups.map((g) => g.runs), [[0, 1]]);
    assert.equal(view.groups[0]!.endS, timelineOf(later).endS);
    assert.ok(view.groups[0]!.endS > timeline.endS);
  });

  it('lists the audit with the keys behind each finding, the steady-state probes, the targets and the actions', () => {
    const found = structuredClone(journal);
    found.audit!.lost = 1;
    found.audit!.details.lost = ['key-of-a-lost-order'];
    found.audit!.duplicated = 1;
    found.audit!.details.duplicated = ['key-of-a-duplicate'];
    const html = renderReport([found]);
    assert.match(html, /Lost \(acknowledged, missing\) \(1\):<\/p><ul class="keys"><li><code>key-of-a-lost-order<\/code>/);
    assert.match(html, /<code>key-of-a-duplicate<\/code>/);
    for (const probe of journal.steadyState.before!.probes) assert.ok(html.includes(`<td><code>${probe.path}</code></td><td>${probe.expectedStatus}</td><td>${probe.status}</td>`), probe.name);
    for (const id of Object.values(journal.targets).flat()) assert.ok(html.includes(id), id);
    assert.ok(html.includes('<code>lab:instance:stop</code>'));
  });

  it("shows Article 7's endpoint probe: each phase's answers per endpoint, the mode's goal, and a chart per endpoint", () => {
    const counts = (ok: number, fail: number, p99: number): NonNullable<Journal['endpoints']>['totals'][string] => ({
      ok,
      stale: 0,
      fail,
      failByStatus: fail ? { 503: fail } : {},
      latency: { count: ok + fail, p50: 5, p99, max: p99 },
    });
    const withEndpoints: Journal = {
      ...journal,
      endpoints: {
        everyMs: 50,
        timeoutMs: 5000,
        endpoints: { products: '/products', reviews: '/products/3/reviews' },
        notSent: { products: 0, reviews: 3 },
        maxInFlightPerEndpoint: 200,
        peakInFlight: { products: 2, reviews: 40 },
        totals: { products: counts(40, 0, 9), reviews: counts(20, 20, 2010) },
        phases: [
          { name: 'baseline', actionId: null, targets: [], cut: [], startMs: 0, durationMs: 1000, endpoints: { products: counts(20, 0, 9), reviews: counts(20, 0, 9) } },
          { name: 'cut-reviews', actionId: 'lab:network:disrupt', targets: ['reviews'], cut: ['reviews'], startMs: 1000, durationMs: 1000, endpoints: { products: counts(20, 0, 9), reviews: counts(0, 20, 2010) } },
        ],
        series: [
          { second: 0, endpoints: { products: { ok: 20, stale: 0, fail: 0 }, reviews: { ok: 20, stale: 5, fail: 0 } } },
          { second: 1, endpoints: { products: { ok: 20, stale: 0, fail: 0 }, reviews: { ok: 0, stale: 0, fail: 20 } } },
        ],
        // As the runner records it: checked once when the run ended, never recomputed by a view.
        goal: { goal: 'contained', met: true, detail: 'the others 0 failures; reviews 20 (503), slowest 2.0 s during cut-reviews' },
      },
    };
    const html = renderReport([withEndpoints]);
    assert.match(html, /<h4>Endpoints<\/h4>/);
    assert.match(html, /<tr><td>cut-reviews \(cuts reviews\)<\/td><td>\+1\.0 s, 1\.0 s<\/td><td>products<\/td><td>20<\/td><td>0<\/td><td>0<\/td>/);
    assert.match(html, /<tr><td><\/td><td><\/td><td>reviews<\/td><td>0<\/td><td>0<\/td><td><strong>20<\/strong><\/td><td><code>\{&#34;503&#34;:20\}<\/code><\/td>/);
    assert.match(html, /Goal \(contained\): <strong>met<\/strong>/, 'the goal as the journal records it');
    const unrecorded = { ...withEndpoints.endpoints! };
    delete unrecorded.goal;
    assert.doesNotMatch(renderReport([{ ...withEndpoints, endpoints: unrecorded }]), /Goal \(/, 'a journal that records no goal shows none');
    assert.match(html, /Not sent by the probe .*reviews 3/);
    const charts = timelineOf(withEndpoints).charts.filter((c) => c.title.endsWith('answers per second'));
    assert.deepEqual(charts.map((c) => c.title), ['products (/products): answers per second', 'reviews (/products/3/reviews): answers per second']);
    assert.deepEqual(charts[1]!.x, [0, 1]);
    // OK counts the stale answers too: the chart draws the fresh ones (ok - stale) beside the stale ones.
    assert.deepEqual(charts[1]!.series.map((l) => [l.label, l.values]), [['reviews OK (200)', [15, 0]], ['reviews OK from the cache (stale)', [5, 0]], ['reviews failed', [0, 20]]]);
    assert.deepEqual(charts[0]!.series.map((l) => l.label), ['products OK (200)']);
  });

  it('links only to files beside it', () => {
    assert.match(renderReport([journal], { links: [{ label: 'db-failover', href: 'db-failover.html' }] }), /<a href="db-failover.html">db-failover<\/a>/);
    for (const href of ['https://example.com/x.html', '//example.com/x.html', 'javascript:alert(1)']) {
      assert.throws(() => renderReport([journal], { links: [{ label: 'x', href }] }), ReportLinkError);
    }
  });

  it('chaos-lab report renders saved journals into report.html beside the first, or --out', async () => {
    const file = join(dir, 'instance-stop-naive.json');
    await writeFile(file, JSON.stringify(journal));
    const { code, stdout, stderr } = await chaosLab('report', file);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), `report: ${join(dir, 'report.html')}`);
    assert.deepEqual(scriptJson(await readFile(join(dir, 'report.html'), 'utf8'), 'chaos-lab-journals'), [journal]);
    const out = join(dir, 'both.html');
    assert.equal((await chaosLab('report', file, file, '--out', out)).code, 0);
    assert.deepEqual(pres(await readFile(out, 'utf8'), 'comparison'), [formatComparison([journal, journal])]);
  });

  it('chaos-lab report refuses a missing file, one that is not JSON and one that is not a journal: exit 2, naming the file', async () => {
    const notJson = join(dir, 'not-json.json');
    await writeFile(notJson, 'SECRET=1\n');
    const notJournal = join(dir, 'not-a-journal.json');
    await writeFile(notJournal, JSON.stringify({ ...journal, traffic: 'lots' }));
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify(journal));
    for (const [args, message] of [
      [[join(dir, 'missing.json')], new RegExp(`${join(dir, 'missing.json')}: cannot be read \\(ENOENT\\)`)],
      [[good, notJson], new RegExp(`${notJson}: not JSON: line 1, column 1`)],
      [[notJournal], new RegExp(`${notJournal}: not a chaos-lab journal \\(schema/journal.schema.json\\): /traffic must be`)],
      [[], /report takes one or more journal files/],
      [[good, '--out', good], /--out: .*good.json is one of the journals/],
    ] as const) {
      const { code, stderr } = await chaosLab('report', ...args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /SECRET/, 'the file is named, never quoted');
    }
  });
});
