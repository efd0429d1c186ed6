// How runs are shown to people: the articles' STATUS and RESULTS lines, and the BEFORE vs
// AFTER table. Pure functions over journals.
import type { TrafficTotals } from '../traffic/traffic-generator.ts';
import { formatMs } from './duration.ts';
import type { Journal } from './journal.ts';

const clock = (at: number | string): string => new Date(at).toISOString().slice(11, 19);

/**
 * Article 3's STATUS line: `00:43:55 STATUS: reads=81/0 writes_ok=27 writes_409=0 writes_fail=0`,
 * with `not_sent=N` when the traffic generator could not send everything it was asked to.
 */
export function formatStatusLine(totals: TrafficTotals, at: number = Date.now()): string {
  const notSent = totals.reads.notSent + totals.writes.notSent;
  return `${clock(at)} STATUS: reads=${totals.reads.ok}/${totals.reads.fail} writes_ok=${totals.writes.ok} writes_409=${totals.writes.stockOut} writes_fail=${totals.writes.fail}${notSent ? ` not_sent=${notSent}` : ''}`;
}

const NOT_SENT_LABEL = 'Not sent (generator overloaded)';

/** Requests the traffic generator did not send, over both kinds (0: it sent everything). */
function notSentOf(journal: Journal): number {
  return journal.traffic ? journal.traffic.reads.notSent + journal.traffic.writes.notSent : 0;
}

/** Why the counts are short, so that a reader does not blame the system for the generator. */
function notSentWarning(notSent: number): string {
  return `WARNING: the traffic generator could not keep up: ${notSent} requests it was asked for were never sent (in-flight cap reached or behind schedule). They are not failures of the system, and the counts above cover less load than the template asked for; lower the rates or use a slower profile.`;
}

/** Failures by status, as `105 (500)` or `38 (502×37, timeout×1)`; a status of 0 is a client timeout. */
export function formatFailures(count: number, byStatus: Record<string, number>): string {
  if (count === 0) return '0';
  const name = (status: string): string => (status === '0' ? 'timeout' : status);
  const entries = Object.entries(byStatus).sort((a, b) => b[1] - a[1]);
  if (entries.length === 1) return `${count} (${name(entries[0]![0])})`;
  return `${count} (${entries.map(([status, n]) => `${name(status)}×${n}`).join(', ')})`;
}

function appState(journal: Journal): string {
  const post = journal.postProbe;
  if (!post) return 'not probed';
  if (post.deepHealth.status === 200 && post.productsStatus === 200) return 'operational';
  return `broken: /health/deep ${post.deepHealth.status || 'timeout'}, /products ${post.productsStatus || 'timeout'}`;
}

function recovery(journal: Journal): string {
  if (!journal.postProbe) return 'unknown';
  if (!journal.impact.recovered) return 'never recovered';
  if (journal.impact.failedRequests === 0) return 'nothing to recover from';
  return `~${formatMs(journal.impact.recoveryMs ?? 0)}`;
}

function verdict(journal: Journal): string {
  if (journal.status !== 'completed') return `${journal.status}: ${journal.stopReason?.detail ?? ''}`.trim();
  if (!journal.steadyState.after) return 'completed';
  return journal.deviated ? 'deviated: the steady state did not hold' : 'the steady state held';
}

/** The RESULTS block of one run, in the articles' form, then what the lab adds. */
export function formatResults(journal: Journal): string {
  const lines = [`=== RESULTS: ${journal.experiment} (${journal.mode}, ${journal.profile.name} profile) ===`];
  const t = journal.traffic;
  if (t) {
    lines.push(`Reads:  ${t.reads.ok} OK / ${t.reads.fail} FAILED`);
    lines.push(`Writes: ${t.writes.ok} OK / ${t.writes.stockOut} insufficient-stock(409) / ${t.writes.fail} REAL-FAILED${t.writes.queued ? ` / ${t.writes.queued} QUEUED` : ''}`);
    lines.push(`Real failures (reads_fail + writes_fail) = ${t.reads.fail + t.writes.fail}`);
    if (notSentOf(journal) > 0) {
      const cap = t.generator ? ` (at most ${t.generator.maxInFlightRequests} in flight)` : '';
      lines.push(`${NOT_SENT_LABEL}: ${t.reads.notSent} reads / ${t.writes.notSent} writes${cap}`);
      lines.push(notSentWarning(notSentOf(journal)));
    }
  }
  if (journal.probe) {
    const window = journal.probe.detectionWindow;
    lines.push(`Probes: ${journal.probe.total}, failed ${formatFailures(journal.probe.failures, journal.probe.failByStatus)}; detection window ${window ? `${formatMs(window.ms)} (${clock(window.firstFailureAt)} to ${clock(window.lastFailureAt)})` : 'none'}`);
  }
  for (const action of journal.actions.filter((a) => a.actionId !== 'lab:wait')) {
    const effect = action.effect ? ` ${JSON.stringify(action.effect)}` : '';
    lines.push(`Action ${action.name} (${action.actionId}): ${action.state}${action.offsetMs !== undefined ? ` at +${formatMs(action.offsetMs)}` : ''}${effect}${action.error ? ` — ${action.error}` : ''}`);
  }
  const replacement = journal.fleet.replacement;
  if (replacement) {
    lines.push(`Replacement: ${replacement.instanceId} launched ${formatMs(replacement.launchedAfterMs)} after the fault, healthy ${replacement.healthyAfterMs === null ? 'not yet' : `after ${formatMs(replacement.healthyAfterMs)}`}`);
  }
  if (journal.postProbe) {
    lines.push(`health/deep now: ${JSON.stringify(journal.postProbe.deepHealth.body)}`);
    lines.push(`products now: http=${journal.postProbe.productsStatus}`);
  }
  if (journal.audit) {
    const a = journal.audit;
    lines.push(
      `Audit: ${a.acknowledged} acknowledged, ${a.lost} lost, ${a.duplicated} duplicated, ${a.phantom} phantom; ambiguous answers: ${a.ambiguous.committed} committed, ${a.ambiguous.notCommitted} not; stock ${a.stockConserved ? 'conserved' : 'NOT conserved'}`,
    );
  } else if (journal.auditError) {
    lines.push(`Audit: could not run: ${journal.auditError}`);
  }
  lines.push(`Verdict: ${verdict(journal)}`);
  return lines.join('\n');
}

/** The label of a mode's column: the articles' BEFORE and AFTER for naive and resilient. */
function columnTitle(mode: string): string {
  if (mode === 'naive') return 'BEFORE (naive)';
  if (mode === 'resilient') return 'AFTER (resilient)';
  return mode;
}

/** The BEFORE vs AFTER table of one experiment, from its runs' journals (one column per mode). */
export function formatComparison(journals: readonly Journal[]): string {
  if (journals.length === 0) return '';
  const rows: Array<[string, (j: Journal) => string]> = [];
  const any = (test: (j: Journal) => boolean): boolean => journals.some(test);
  if (any((j) => j.probe !== null)) {
    rows.push(['Probe failures', (j) => (j.probe ? `${formatFailures(j.probe.failures, j.probe.failByStatus)} of ${j.probe.total}` : '-')]);
    rows.push(['Detection window', (j) => (j.probe?.detectionWindow ? formatMs(j.probe.detectionWindow.ms) : 'none')]);
  }
  if (any((j) => j.traffic !== null)) {
    rows.push(['Read failures', (j) => (j.traffic ? formatFailures(j.traffic.reads.fail, j.traffic.reads.failByStatus) : '-')]);
    rows.push(['Write failures (real)', (j) => (j.traffic ? formatFailures(j.traffic.writes.fail, j.traffic.writes.failByStatus) : '-')]);
    rows.push(['Orders confirmed (201)', (j) => (j.traffic ? String(j.traffic.writes.ok) : '-')]);
    if (any((j) => notSentOf(j) > 0)) rows.push([NOT_SENT_LABEL, (j) => (j.traffic ? String(notSentOf(j)) : '-')]);
  }
  rows.push(['Recovery', recovery]);
  if (any((j) => j.fleet.replacement !== null)) {
    rows.push(['Replacement healthy after', (j) => (j.fleet.replacement?.healthyAfterMs != null ? formatMs(j.fleet.replacement.healthyAfterMs) : '-')]);
  }
  rows.push(['Orders lost (acknowledged, missing)', (j) => (j.audit ? String(j.audit.lost) : 'not audited')]);
  rows.push(['Duplicated / phantom orders', (j) => (j.audit ? `${j.audit.duplicated} / ${j.audit.phantom}` : '-')]);
  rows.push(['Stock conserved', (j) => (j.audit ? (j.audit.stockConserved ? 'yes' : 'NO') : '-')]);
  rows.push(['App state after', appState]);
  rows.push(['Verdict', verdict]);

  const header = ['', ...journals.map((j) => columnTitle(j.mode))];
  const body = rows.map(([label, cell]) => [label, ...journals.map(cell)]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  const title = `${journals[0]!.experiment}: ${journals.map((j) => columnTitle(j.mode)).join(' vs ')} (${journals[0]!.profile.name} profile)`;
  const table = [title, line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  const notSent = journals.reduce((n, j) => n + notSentOf(j), 0);
  if (notSent > 0) table.push(notSentWarning(notSent));
  return table.join('\n');
}
