// renderReport: journals in, one self-contained HTML page out. A view of the journals (DESIGN
// principle 6): it arranges their fields and the terminal's own tables, and computes no result.
import { formatMs } from '../chaos/duration.ts';
import type { Journal } from '../chaos/journal.ts';
import { formatComparison } from '../chaos/report.ts';
import { reportAssets, type ReportAssets } from './assets.ts';
import { escapeHtml as e, jsonForScript, lines } from './html.ts';
import { actionsSection, auditSection, endpointsSection, eventsSection, headerSection, resultsSection, steadyStateSection, verdictOf } from './sections.ts';
import { timelineOf, type Timeline } from './timeline.ts';

/** A link the report shows at its top (a suite's per-experiment reports): relative to the report's own file. */
export interface ReportLink {
  label: string;
  href: string;
}

/** How a report is rendered. */
export interface ReportOptions {
  /** The page's title (default: the experiments it shows). */
  title?: string;
  /** Links to other reports, e.g. a suite's per-experiment pages. */
  links?: ReportLink[];
  /** The inlined scripts and styles (default: read from uplot's package and this folder). */
  assets?: ReportAssets;
}

/** A link that would leave the machine or run code: a report links only to files beside it. */
export class ReportLinkError extends Error {
  readonly code = 'REPORT_LINK';
}

/** The runs of one experiment, in the order given: they share a time axis. */
interface Group {
  experiment: string;
  runs: number[];
}

function groupsOf(journals: readonly Journal[]): Group[] {
  const groups: Group[] = [];
  journals.forEach((journal, index) => {
    const group = groups.find((g) => g.experiment === journal.experiment);
    if (group) group.runs.push(index);
    else groups.push({ experiment: journal.experiment, runs: [index] });
  });
  return groups;
}

/** The overview: one row per run, with the header fields. */
function overview(journals: readonly Journal[]): string {
  const rows = journals.map((j, i) =>
    `<tr><td><a href="#run-${i}">${e(j.experiment)}</a></td><td>${e(j.mode)}</td><td>${e(j.profile.name)}</td><td>${e(j.seed)}</td><td>${e(verdictOf(j))}</td><td>${e(j.startedAt)}</td><td>${e(formatMs(j.durationMs))}</td></tr>`,
  );
  return `<table class="overview"><thead><tr><th>Experiment</th><th>Mode</th><th>Profile</th><th>Seed</th><th>Verdict</th><th>Started</th><th>Duration</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function linksOf(links: readonly ReportLink[]): string {
  for (const link of links) {
    // A relative path only: no scheme (http:, javascript:), no protocol-relative //host.
    if (/^[a-z][a-z0-9+.-]*:/i.test(link.href) || link.href.startsWith('//')) throw new ReportLinkError(`link ${JSON.stringify(link.href)}: a report links only to files beside it`);
  }
  return links.length === 0 ? '' : `<nav><ul>${links.map((l) => `<li><a href="${e(l.href)}">${e(l.label)}</a></li>`).join('')}</ul></nav>`;
}

function runSection(journal: Journal, index: number, timeline: Timeline): string {
  return lines([
    `<article class="run" id="run-${index}">`,
    `<h3>${e(journal.mode)}</h3>`,
    headerSection(journal),
    `<div class="timeline" data-run="${index}"><noscript>The timeline needs JavaScript; its events are listed below.</noscript></div>`,
    eventsSection(timeline),
    resultsSection(journal),
    endpointsSection(journal),
    steadyStateSection(journal),
    actionsSection(journal),
    auditSection(journal),
    '</article>',
  ]);
}

function groupSection(journals: readonly Journal[], group: Group, timelines: readonly Timeline[]): string {
  const runs = group.runs.map((i) => journals[i]!);
  return lines([
    `<section class="experiment">`,
    `<h2>${e(group.experiment)}: ${e(runs[0]!.title)}</h2>`,
    runs.length > 1 && `<pre class="comparison">${e(formatComparison(runs))}</pre>`,
    ...group.runs.map((i) => runSection(journals[i]!, i, timelines[i]!)),
    '</section>',
  ]);
}

/** One self-contained HTML page showing `journals`: opens offline from disk, no request leaves it. */
export function renderReport(journals: readonly Journal[], options: ReportOptions = {}): string {
  if (journals.length === 0) throw new RangeError('renderReport needs at least one journal');
  const assets = options.assets ?? reportAssets();
  const timelines = journals.map(timelineOf);
  const groups = groupsOf(journals);
  // The modes of one experiment share an x range, so BEFORE and AFTER line up second by second.
  const view = {
    groups: groups.map((g) => ({
      runs: g.runs,
      startS: Math.min(...g.runs.map((i) => timelines[i]!.startS)),
      endS: Math.max(...g.runs.map((i) => timelines[i]!.endS)),
    })),
    timelines,
  };
  const title = options.title ?? `chaos-lab: ${groups.map((g) => g.experiment).join(', ')}`;
  return `${lines([
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(title)}</title>`,
    `<style>${assets.uplotCss}</style>`,
    `<style>${assets.pageCss}</style>`,
    '</head>',
    '<body>',
    `<header><h1>${e(title)}</h1>${overview(journals)}</header>`,
    linksOf(options.links ?? []),
    ...groups.map((g) => groupSection(journals, g, timelines)),
    `<script type="application/json" id="chaos-lab-journals">${jsonForScript(journals)}</script>`,
    `<script type="application/json" id="chaos-lab-timelines">${jsonForScript(view)}</script>`,
    `<script>${assets.uplotJs}</script>`,
    `<script>${assets.pageJs}</script>`,
    '</body>',
    '</html>',
  ])}\n`;
}
