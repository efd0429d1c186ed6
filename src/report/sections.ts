// The report's tables, one function per section of a run: each shows journal fields as they are,
// or the terminal's own text (formatResults), so that the numbers match what the CLI printed.
import { formatMs } from '../chaos/duration.ts';
import type { ActionRecord, HypothesisResult, Journal } from '../chaos/journal.ts';
import { checkEndpointGoal, formatResults } from '../chaos/report.ts';
import { escapeHtml as e, lines } from './html.ts';
import type { Timeline } from './timeline.ts';

const json = (value: unknown): string => (value === undefined ? '' : `<code>${e(JSON.stringify(value))}</code>`);
const row = (cells: string[]): string => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
const head = (cells: string[]): string => `<thead><tr>${cells.map((c) => `<th>${e(c)}</th>`).join('')}</tr></thead>`;
const table = (titles: string[], rows: string[]): string => `<table>${head(titles)}<tbody>${rows.join('')}</tbody></table>`;

/** The verdict line of the terminal's RESULTS, so that the header says what the terminal said. */
export function verdictOf(journal: Journal): string {
  const line = formatResults(journal).split('\n').find((l) => l.startsWith('Verdict: '));
  return line ? line.slice('Verdict: '.length) : journal.status;
}

/** A run's header: what ran, how, and how it ended. */
export function headerSection(journal: Journal): string {
  const fields: Array<[string, string]> = [
    ['Experiment', `${e(journal.experiment)}: ${e(journal.title)}`],
    ['Mode', `${e(journal.mode)}${journal.modeDescription ? ` (${e(journal.modeDescription)})` : ''}`],
    ['Profile', `${e(journal.profile.name)} (time scale ${e(journal.profile.timeScale)})`],
    ['Seed', e(journal.seed)],
    ['Status', `${e(journal.status)}${journal.stopReason ? `: ${e(journal.stopReason.kind)}, ${e(journal.stopReason.detail)}` : ''}`],
    ['Verdict', `<strong class="verdict">${e(verdictOf(journal))}</strong>`],
    ['Started', e(journal.startedAt)],
    ['Duration', e(formatMs(journal.durationMs))],
  ];
  return `<dl class="header">${fields.map(([k, v]) => `<dt>${e(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

/** The terminal's RESULTS block, verbatim. */
export function resultsSection(journal: Journal): string {
  return `<h4>Results</h4>\n<pre class="results">${e(formatResults(journal))}</pre>`;
}

/** The bands and markers of the chart as a table: the timeline in words, readable without the chart. */
export function eventsSection(timeline: Timeline): string {
  const rows = [
    ...timeline.bands.map((b) => ({ at: b.startS, text: `${b.label}: active ${b.endS === null ? 'until an end the journal does not record' : `until ${b.endS.toFixed(3)} s`}`, kind: 'action' })),
    ...timeline.markers.map((m) => ({ at: m.atS, text: m.label, kind: m.kind })),
  ].sort((a, b) => a.at - b.at);
  if (rows.length === 0) return '';
  return `<details><summary>Events (${rows.length})</summary>${table(['Seconds from the running phase', 'Kind', 'What'], rows.map((r) => row([e(r.at.toFixed(3)), e(r.kind), e(r.text)])))}</details>`;
}

function hypothesisTable(phase: string, result: HypothesisResult | null): string {
  if (!result) return `<p>${e(phase)}: not checked</p>`;
  const rows = result.probes.map((p) => row([e(p.name), `<code>${e(p.path)}</code>`, e(p.expectedStatus), e(p.status), p.ok ? 'yes' : '<strong>NO</strong>', json(p.body)]));
  return `<p>${e(phase)}: ${e(result.title)}: <strong>${result.met ? 'met' : 'NOT met'}</strong></p>${table(['Probe', 'Path', 'Tolerance (status)', 'Value (status)', 'Within', 'Answer'], rows)}`;
}

/** The steady-state hypothesis before and after, probe by probe, and the stop conditions. */
export function steadyStateSection(journal: Journal): string {
  const stops = journal.stopConditions.map((s) => row([e(s.name), `<code>${e(s.metric)} ${e(s.operator)} ${e(s.threshold)}</code>`, s.fired ? '<strong>fired</strong>' : 'no', e(s.value ?? ''), e(s.firedAt ?? '')]));
  return lines([
    '<h4>Steady state</h4>',
    hypothesisTable('Before', journal.steadyState.before),
    hypothesisTable('After', journal.steadyState.after),
    stops.length > 0 && table(['Stop condition', 'Fires when', 'Fired', 'Value', 'At'], stops),
  ]);
}

/** The targets the run chose (with its seed) and the actions with what each reported. */
export function actionsSection(journal: Journal): string {
  const targets = Object.entries(journal.targets).map(([name, ids]) => row([e(name), e(ids.join(', '))]));
  const when = (a: ActionRecord): string => (a.offsetMs === undefined ? '' : `+${formatMs(a.offsetMs)}`);
  const length = (a: ActionRecord): string => `${a.durationMs === undefined ? '' : formatMs(a.durationMs)}${a.cutShortAfterMs === undefined ? '' : `, cut short after ${formatMs(a.cutShortAfterMs)}`}`;
  const actions = journal.actions.map((a) =>
    row([e(a.name), `<code>${e(a.actionId)}</code>`, e(a.state), e(when(a)), e(length(a)), json(a.targets), json(a.effect), json(a.undo), e(a.error ?? '')]),
  );
  const rollbacks = journal.rollbacks.map((r) => row([e(r.name), `<code>${e(r.actionId)}</code>`, e(r.state), json(r.effect), e(r.error ?? '')]));
  return lines([
    '<h4>Targets</h4>',
    targets.length > 0 ? table(['Target', 'Chosen'], targets) : '<p>none</p>',
    '<h4>Actions</h4>',
    table(['Action', 'Id', 'State', 'Started', 'Duration', 'Targets', 'Effect', 'Undo', 'Error'], actions),
    rollbacks.length > 0 && `<h4>Rollbacks</h4>${table(['Rollback', 'Id', 'State', 'Effect', 'Error'], rollbacks)}`,
  ]);
}

const keyList = (title: string, keys: readonly unknown[]): string | false =>
  keys.length > 0 && `<p>${e(title)} (${keys.length}):</p><ul class="keys">${keys.map((k) => `<li><code>${e(typeof k === 'string' ? k : JSON.stringify(k))}</code></li>`).join('')}</ul>`;

/** The order audit: its counts, and the keys behind every finding. */
export function auditSection(journal: Journal): string {
  const a = journal.audit;
  if (!a) return `<h4>Audit</h4><p>${journal.auditError ? `could not run: ${e(journal.auditError)}` : 'not audited'}</p>`;
  const counts: Array<[string, unknown]> = [
    ['Acknowledged', a.acknowledged],
    ['Lost', a.lost],
    ['Duplicated', a.duplicated],
    ['Phantom', a.phantom],
    ['Unexplained', a.unexplained],
    ['Ambiguous: committed / not committed / still queued / dead-lettered', `${a.ambiguous.committed} / ${a.ambiguous.notCommitted} / ${a.ambiguous.stillQueued} / ${a.ambiguous.deadLettered}`],
    ['Queued (202)', a.queued],
    ['Committed from the queue', a.committedFromQueue],
    ['Rejected after acceptance', a.rejectedAfterAcceptance],
    ['Dead-lettered', a.deadLettered],
    ['Still queued', a.stillQueued],
    ['Stock conserved', a.stockConserved ? 'yes' : 'NO'],
  ];
  const d = a.details;
  return lines([
    '<h4>Audit</h4>',
    table(['', 'Orders'], counts.map(([k, v]) => row([e(k), e(v)]))),
    keyList('Lost (acknowledged, missing)', d.lost),
    keyList('Duplicated', d.duplicated),
    keyList('Phantom', d.phantom),
    keyList('Unexplained (under no key the client sent)', d.unexplained),
    keyList('Stock mismatch', d.stockMismatch),
    keyList('Rejected after acceptance', d.rejectedAfterAcceptance),
    keyList('Dead-lettered', d.deadLettered),
    keyList('Still queued', d.stillQueued),
    keyList('Ambiguous answers still in the queue', d.ambiguousInQueue),
  ]);
}

/** Article 7's endpoint probe: each phase's answers per endpoint, as the journal counted them, and the mode's goal. */
export function endpointsSection(journal: Journal): string {
  const ep = journal.endpoints;
  if (!ep) return '';
  const ms = (n: number | undefined): string => (n === undefined ? '-' : e(formatMs(n)));
  const rows = ep.phases.flatMap((phase) =>
    Object.entries(phase.endpoints).map(([name, c], index) =>
      row([
        index === 0 ? `${e(phase.name)}${phase.cut.length > 0 ? ` (cuts ${e(phase.cut.join(', '))})` : ''}` : '',
        index === 0 ? `+${e(formatMs(phase.startMs))}, ${e(formatMs(phase.durationMs))}` : '',
        e(name),
        e(c.ok),
        e(c.stale),
        c.fail > 0 ? `<strong>${e(c.fail)}</strong>` : '0',
        json(c.failByStatus),
        ms(c.latency?.p50),
        ms(c.latency?.p99),
        ms(c.latency?.max),
      ]),
    ),
  );
  const goal = checkEndpointGoal(journal);
  const notSent = Object.entries(ep.notSent).filter(([, n]) => n > 0);
  return lines([
    '<h4>Endpoints</h4>',
    `<p>Every ${e(formatMs(ep.everyMs))} one request to each endpoint (open loop, client timeout ${e(formatMs(ep.timeoutMs))}): ${Object.entries(ep.endpoints).map(([name, path]) => `${e(name)} <code>${e(path)}</code>`).join(', ')}.</p>`,
    goal && `<p>Goal (${e(goal.goal)}): <strong>${goal.met ? 'met' : 'MISSED'}</strong>: ${e(goal.detail)}</p>`,
    table(['Phase', 'Start, duration', 'Endpoint', 'OK (200, stale included)', 'Stale', 'Failed', 'Failed by status (0: timeout)', 'p50', 'p99', 'Slowest'], rows),
    notSent.length > 0 && `<p>Not sent by the probe (in-flight cap of ${e(ep.maxInFlightPerEndpoint)} per endpoint, or behind schedule; not failures of the system): ${e(notSent.map(([name, n]) => `${name} ${n}`).join(', '))}</p>`,
  ]);
}
