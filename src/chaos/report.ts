// How runs are shown to people: the articles' STATUS and RESULTS lines, and the BEFORE vs
// AFTER table. Pure functions over journals.
import type { TrafficTotals } from '../traffic/traffic-generator.ts';
import { formatMs } from './duration.ts';
import { formatFailures } from './failures-format.ts';
import type { AuditResult } from '../audit/order-audit.ts';
import type { BreakerLabRecord, DegradationRecord, Journal, LatencySummary } from './journal.ts';
import { checkEndpointGoal, endpointRows, endpointsLines, formatGoal } from './endpoints-report.ts';

export { checkEndpointGoal, formatEndpointsLine, formatPhaseLine } from './endpoints-report.ts';

const clock = (at: number | string): string => new Date(at).toISOString().slice(11, 19);

/**
 * Article 3's STATUS line: `00:43:55 STATUS: reads=81/0 writes_ok=27 writes_409=0 writes_fail=0`,
 * with Article 4's fallbacks once there are some (`reads_cache=N` of the OK reads came from the
 * cache, `writes_202=N` orders were queued) and `not_sent=N` when the traffic generator could not
 * send everything it was asked to.
 */
export function formatStatusLine(totals: TrafficTotals, at: number = Date.now()): string {
  const notSent = totals.reads.notSent + totals.writes.notSent;
  const cache = totals.reads.bySource['cache'] ?? 0;
  return (
    `${clock(at)} STATUS: reads=${totals.reads.ok}/${totals.reads.fail}${cache ? ` reads_cache=${cache}` : ''}` +
    ` writes_ok=${totals.writes.ok}${totals.writes.queued ? ` writes_202=${totals.writes.queued}` : ''}` +
    ` writes_409=${totals.writes.stockOut} writes_fail=${totals.writes.fail}${notSent ? ` not_sent=${notSent}` : ''}`
  );
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

export { formatFailures } from './failures-format.ts';

function appState(journal: Journal): string {
  const post = journal.postProbe;
  if (!post) return 'not probed';
  if (post.deepHealth.status === 200 && post.productsStatus === 200) return 'operational';
  return `broken: /health/deep ${post.deepHealth.status || 'timeout'}, /products ${post.productsStatus || 'timeout'}`;
}

function recovery(journal: Journal): string {
  if (!journal.postProbe && !journal.breakerLab) return 'unknown';
  if (!journal.impact.recovered) return 'never recovered';
  if (journal.impact.failedRequests === 0) return 'nothing to recover from';
  return `~${formatMs(journal.impact.recoveryMs ?? 0)}`;
}

/** Article 4's read line: where the answers came from. The degradation section's counts, or the traffic's (a run without Article 4's patterns). */
function readsBySource(journal: Journal): { database: number; cache: number; fail: number } | undefined {
  if (journal.degradation) return journal.degradation.reads;
  const t = journal.traffic;
  return t ? { database: t.reads.bySource['database'] ?? 0, cache: t.reads.bySource['cache'] ?? 0, fail: t.reads.fail } : undefined;
}

/** A count the queue's latest sample did not answer: unknown, never a clean 0. */
const countOrUnknown = (n: number | null): string => (n === null ? 'unknown' : String(n));

/** Article 4's `SQS remaining: 0   DLQ: 0`, as a cell. */
function queueLeft(d: DegradationRecord | undefined): string {
  if (!d?.queue) return 'no queue';
  return `${countOrUnknown(d.queue.remaining)} / ${countOrUnknown(d.queue.deadLetters)}`;
}

/** How the drain goal is made up: "goal 6.5 s = breaker 1.5 s (scaled) + 5 s to apply the backlog". */
function drainGoal(drain: NonNullable<DegradationRecord['drain']>): string {
  const parts = drain.goal ? ` = breaker ${formatMs(drain.goal.breakerRecoveryMs)} (scaled) + ${formatMs(drain.goal.applyBacklogMs)} to apply the backlog` : '';
  return `goal ${formatMs(drain.goalMs)}${parts}`;
}

/** The time to drain against its goal, as a cell. */
function drainCell(d: DegradationRecord | undefined): string {
  if (!d?.queue) return 'no queue';
  if (!d.drain) return 'no database return recorded';
  if (d.drain.timeToDrainMs === null) return `not drained (${drainGoal(d.drain)})`;
  const applying = d.drain.applyingMs != null ? `, ${formatMs(d.drain.applyingMs)} applying after the circuit closed` : '';
  return `${formatMs(d.drain.timeToDrainMs)}${applying} (${drainGoal(d.drain)}${d.drain.met ? '' : ': MISSED'})`;
}

/** The audit's wait for the queue, as a cell. */
function auditWaitCell(d: DegradationRecord | undefined): string {
  if (!d?.auditWait) return d?.queue ? 'did not wait' : 'no queue';
  return `${formatMs(d.auditWait.waitedMs)} of at most ${formatMs(d.auditWait.limitMs)}: ${d.auditWait.idle ? 'idle' : 'NOT idle'}`;
}

/** The rejections after a 202, with their reasons. */
function rejectedCell(a: AuditResult): string {
  const reasons = Object.entries(a.rejectedReasons ?? {}).map(([reason, n]) => `${reason}×${n}`);
  return `${a.rejectedAfterAcceptance ?? 0}${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
}

/** Ambiguous answers whose message is still in the queue, when there are any. */
function ambiguousInQueue(a: AuditResult): string {
  const queued = a.ambiguous.stillQueued ?? 0;
  const dead = a.ambiguous.deadLettered ?? 0;
  return queued || dead ? `, ${queued} still queued, ${dead} dead-lettered` : '';
}

/** The audit in a word: clean, or what it found. */
function auditCell(journal: Journal): string {
  const a = journal.audit;
  if (!a) return journal.auditError ? `could not run: ${journal.auditError}` : 'not audited';
  const findings = [
    a.lost ? `${a.lost} lost` : '',
    a.duplicated ? `${a.duplicated} duplicated` : '',
    a.phantom ? `${a.phantom} phantom` : '',
    a.unexplained ? `${a.unexplained} unexplained` : '',
    a.stockConserved ? '' : 'stock NOT conserved',
    a.deadLettered ? `${a.deadLettered} dead-lettered` : '',
    a.stillQueued ? `${a.stillQueued} still queued` : '',
  ].filter(Boolean);
  return findings.length === 0 ? 'clean' : findings.join(', ');
}

/** The shared breaker's transitions in a line: `CLOSED→OPEN +3.1 s, OPEN→HALF_OPEN +20.6 s, HALF_OPEN→CLOSED +20.6 s`. */
function breakerStory(transitions: NonNullable<DegradationRecord['breakerTransitions']>): string {
  if (transitions.length === 0) return 'no transition during the run';
  return transitions.map((t) => `${t.from}→${t.to} +${formatMs(t.atMs)}`).join(', ');
}

/** Article 4's lines in RESULTS: reads by source, writes by answer, the queue after recovery, the drain, the audit's wait, the breaker's transitions. */
function degradationLines(d: DegradationRecord): string[] {
  const lines = [
    `Reads:  DB=${d.reads.database}  CACHE=${d.reads.cache}  FAIL=${d.reads.fail}`,
    `Writes: OK=${d.writes.ok}  202_QUEUED=${d.writes.queued}  STOCK_OUT=${d.writes.stockOut}  FAIL=${d.writes.fail}`,
  ];
  if (d.queue) {
    lines.push(`Queue remaining: ${countOrUnknown(d.queue.remaining)}   DLQ: ${countOrUnknown(d.queue.deadLetters)}   (peak ${d.queue.peakDepth}${d.queue.failedSamples ? `, ${d.queue.failedSamples} samples unanswered` : ''})`);
    lines.push(`Time to drain after the database returned: ${drainCell(d)}`);
  }
  if (d.auditWait) lines.push(`Audit waited for the queue: ${auditWaitCell(d)}`);
  if (d.breakerTransitions) lines.push(`Circuit breaker (shared): ${breakerStory(d.breakerTransitions)}`);
  if (d.worker) {
    const c = d.worker.counters;
    lines.push(`Recovery worker: ${c.committed} committed, ${c.replayed} replayed, ${c.rejected} rejected, ${c.deadLettered} dead-lettered, ${c.transientFailures} transient failures, ${d.worker.restarts} restarts`);
  }
  return lines;
}

/**
 * What the steady state does not say about the orders: acknowledged orders not applied yet (still
 * queued, dead-lettered), a queue wait that ended before the queue was idle, an unknown end state,
 * orders nobody asked for. Without these, an AFTER that never drained would read "the steady state held".
 */
function orderCaveats(journal: Journal): string[] {
  const a = journal.audit;
  const d = journal.degradation;
  const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const stillQueued = (a?.stillQueued ?? 0) + (a?.ambiguous.stillQueued ?? 0);
  const deadLettered = (a?.deadLettered ?? 0) + (a?.ambiguous.deadLettered ?? 0);
  return [
    a?.lost ? `${plural(a.lost, 'order', 'orders')} lost` : '',
    stillQueued ? `${plural(stillQueued, 'order', 'orders')} still queued` : '',
    deadLettered ? `${plural(deadLettered, 'order', 'orders')} dead-lettered` : '',
    a?.unexplained ? `${plural(a.unexplained, 'order', 'orders')} unexplained` : '',
    d?.auditWait && !d.auditWait.idle ? 'the queue was not idle when the audit ran' : '',
    d?.queue && d.queue.remaining === null ? "the queue's end state is unknown" : '',
  ].filter(Boolean);
}

function verdict(journal: Journal): string {
  if (journal.status !== 'completed') return `${journal.status}: ${journal.stopReason?.detail ?? ''}`.trim();
  const goal = checkEndpointGoal(journal);
  // A missed goal is said in the verdict too: the steady state after the run does not show a cascade that came and went.
  const caveats = [...orderCaveats(journal), ...(goal && !goal.met ? [`the goal (${goal.goal}) was MISSED`] : [])];
  const but = caveats.length ? `, but ${caveats.join(', ')}` : '';
  if (!journal.steadyState.after) return `completed${but}`;
  return `${journal.deviated ? 'deviated: the steady state did not hold' : 'the steady state held'}${but}`;
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
  if (journal.endpoints) lines.push(...endpointsLines(journal.endpoints));
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
  if (journal.breakerLab) lines.push(...breakerLabLines(journal.breakerLab));
  if (journal.degradation) lines.push(...degradationLines(journal.degradation));
  if (journal.audit) {
    const a = journal.audit;
    lines.push(
      `Audit: ${a.acknowledged} acknowledged, ${a.lost} lost, ${a.duplicated} duplicated, ${a.phantom} phantom, ${a.unexplained ?? 0} unexplained; ambiguous answers: ${a.ambiguous.committed} committed, ${a.ambiguous.notCommitted} not${ambiguousInQueue(a)}; stock ${a.stockConserved ? 'conserved' : 'NOT conserved'}`,
    );
    if (a.unexplained) lines.push(`Unexplained orders (under no key the client sent): ${a.details.unexplained.slice(0, 10).map((u) => `#${u.orderId} ${u.key ?? '(no key)'}`).join(', ')}${a.unexplained > 10 ? ', …' : ''}`);
    if (a.queued) {
      lines.push(`Queued (202): ${a.queued}: ${a.committedFromQueue} committed, ${rejectedCell(a)} rejected after acceptance, ${a.deadLettered} dead-lettered, ${a.stillQueued} still queued`);
    }
  } else if (journal.auditError) {
    lines.push(`Audit: could not run: ${journal.auditError}`);
  }
  const goal = checkEndpointGoal(journal);
  if (goal) lines.push(formatGoal(goal));
  lines.push(`Verdict: ${verdict(journal)}`);
  return lines.join('\n');
}

const latency = (summary: LatencySummary | null): string => (summary ? `p50 ${formatMs(summary.p50)}, p99 ${formatMs(summary.p99)}` : '-');

/** Circuit closed after recovery, as a cell: local breakers that were recycled never report a close. */
function closedAfterRecovery(b: BreakerLabRecord): string {
  if (!b.outage?.recoveredAt) return 'backend never recovered';
  if (b.breaker.closedAfterRecoveryMs !== null) return formatMs(b.breaker.closedAfterRecoveryMs);
  return b.breaker.trips === 0 ? 'never opened' : 'no close seen (tripped breakers recycled)';
}

function trialsCell(b: BreakerLabRecord): string {
  const t = b.breaker.trialsPerHalfOpenWindow;
  if (!t) return 'no half-open window';
  return `${t.min === t.max ? t.min : `${t.min}-${t.max}`} (${b.breaker.halfOpenWindows} window${b.breaker.halfOpenWindows === 1 ? '' : 's'})`;
}

/** The circuit-breaker lab's lines in RESULTS. */
function breakerLabLines(b: BreakerLabRecord): string[] {
  const c = b.calls;
  return [
    `Calls: ${c.total}: ${c.answered} answered / ${c.failedFast} failed fast (503 CIRCUIT_OPEN) / ${c.failedSlow} failed slow (502/504) / ${c.throttled} throttled (429)${c.other ? ` / ${c.other} other` : ''}`,
    `Latency: failed fast ${latency(b.latencyMs.failedFast)}; failed slow ${latency(b.latencyMs.failedSlow)}; callers during the outage ${latency(b.latencyMs.outage)}`,
    `Backend: ${b.backend.calls} calls, ${b.backend.duringOutage} during the ${b.outage?.ms != null ? formatMs(b.outage.ms) : ''} outage`.replace('  ', ' '),
    `Breaker (${b.mode}): ${b.breaker.trips} trip(s) in ${b.breaker.breakersTripped} breaker(s); trial calls per half-open window ${trialsCell(b)}; closed after recovery: ${closedAfterRecovery(b)}; ${b.breaker.failedFastAfterRecovery} failed fast after recovery`,
    `Environments: ${b.environments.started} started (${b.environments.coldStarts} cold starts, at most ${b.environments.peak} at once)`,
    `function now: http=${b.callAfterRun || 'timeout'}`,
  ];
}

/**
 * The label of a mode's column. Templates list their BEFORE first and their AFTER last, and a mode
 * name means different things in different experiments (resilient is Article 3's AFTER and
 * Article 4's BEFORE): in a comparison the position says which. Alone, the articles' names do.
 */
function columnTitle(mode: string, index: number, count: number): string {
  if (count >= 2 && index === 0) return `BEFORE (${mode})`;
  if (count >= 2 && index === count - 1) return `AFTER (${mode})`;
  if (count >= 2) return mode;
  if (mode === 'naive' || mode === 'local') return `BEFORE (${mode})`;
  if (mode === 'resilient' || mode === 'shared') return `AFTER (${mode})`;
  return mode;
}

/** The circuit-breaker lab's rows: what the breaker sheds and what callers wait for. No orders, so no order audit. */
function breakerLabRows(): Array<[string, (j: Journal) => string]> {
  const b = (cell: (record: BreakerLabRecord) => string) => (j: Journal): string => (j.breakerLab ? cell(j.breakerLab) : '-');
  return [
    ['Calls', b((r) => String(r.calls.total))],
    ['Answered (200)', b((r) => String(r.calls.answered))],
    ['Failed fast (503 CIRCUIT_OPEN)', b((r) => `${r.calls.failedFast}${r.latencyMs.failedFast ? `, p99 ${formatMs(r.latencyMs.failedFast.p99)}` : ''}`)],
    ['Failed slow (502/504)', b((r) => `${r.calls.failedSlow}${r.latencyMs.failedSlow ? `, ${latency(r.latencyMs.failedSlow)}` : ''}`)],
    ['Throttled (429)', b((r) => String(r.calls.throttled))],
    ['Backend calls during the outage', b((r) => `${r.backend.duringOutage}${r.outage?.ms != null ? ` in ${formatMs(r.outage.ms)}` : ''}`)],
    ['Caller latency during the outage', b((r) => latency(r.latencyMs.outage))],
    ['Trips (CLOSED->OPEN)', b((r) => `${r.breaker.trips}${r.breaker.breakersTripped > 1 ? ` in ${r.breaker.breakersTripped} breakers` : ''}`)],
    ['Trial calls per half-open window', b(trialsCell)],
    ['Circuit closed after recovery', b(closedAfterRecovery)],
    ['Environments started (cold starts)', b((r) => `${r.environments.started} (${r.environments.coldStarts})`)],
    ['Recovery', recovery],
    ['Orders lost (acknowledged, missing)', () => 'n/a: no orders in this lab'],
    ['Function after the run', b((r) => (r.callAfterRun === 200 ? 'answers (200)' : `http=${r.callAfterRun || 'timeout'}`))],
    ['Verdict', verdict],
  ];
}

/** The BEFORE vs AFTER table of one experiment, from its runs' journals (one column per mode). */
export function formatComparison(journals: readonly Journal[]): string {
  if (journals.length === 0) return '';
  const any = (test: (j: Journal) => boolean): boolean => journals.some(test);
  const rows: Array<[string, (j: Journal) => string]> = any((j) => j.breakerLab !== undefined) ? breakerLabRows() : shopRows(journals);
  return renderTable(journals, rows);
}

/** The shop's rows (Articles 1 and 3): probes, reads and writes, recovery, the order audit. */
function shopRows(journals: readonly Journal[]): Array<[string, (j: Journal) => string]> {
  const rows: Array<[string, (j: Journal) => string]> = [];
  const any = (test: (j: Journal) => boolean): boolean => journals.some(test);
  if (any((j) => j.probe !== null)) {
    rows.push(['Probe failures', (j) => (j.probe ? `${formatFailures(j.probe.failures, j.probe.failByStatus)} of ${j.probe.total}` : '-')]);
    rows.push(['Detection window', (j) => (j.probe?.detectionWindow ? formatMs(j.probe.detectionWindow.ms) : 'none')]);
  }
  // Article 7: each phase's answers per endpoint, and each mode's goal.
  if (any((j) => j.endpoints !== undefined)) rows.push(...endpointRows(journals));
  if (any((j) => j.degradation !== undefined)) {
    // Article 4's table: where reads came from, what writes were told, what recovery left.
    rows.push(['Reads: DB / CACHE / FAIL', (j) => { const r = readsBySource(j); return r ? `${r.database} / ${r.cache} / ${r.fail}` : '-'; }]);
    rows.push(['Writes: OK / 202_QUEUED / STOCK_OUT / FAIL', (j) => (j.traffic ? `${j.traffic.writes.ok} / ${j.traffic.writes.queued} / ${j.traffic.writes.stockOut} / ${j.traffic.writes.fail}` : '-')]);
    rows.push(['Queue remaining / DLQ after recovery', (j) => queueLeft(j.degradation)]);
    rows.push(['Time to drain after the database returned', (j) => drainCell(j.degradation)]);
    rows.push(['Rejected after acceptance', (j) => (j.audit ? rejectedCell(j.audit) : '-')]);
    rows.push(['Audit waited for the queue', (j) => auditWaitCell(j.degradation)]);
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
  if (any((j) => j.degradation !== undefined)) rows.push(['Audit', auditCell]);
  rows.push(['App state after', appState]);
  rows.push(['Verdict', verdict]);
  return rows;
}

/** "BEFORE" or "AFTER" when the mode's description starts with it (the templates' convention). */
const labelOf = (journal: Journal): string | undefined => /^(BEFORE|AFTER):/.exec(journal.modeDescription ?? '')?.[1];

function renderTable(journals: readonly Journal[], rows: Array<[string, (j: Journal) => string]>): string {
  // Where the modes say which is which, they are believed: a third mode (dependency-outage's
  // isolated-stale, beyond the article) is neither, whatever its position.
  const labelled = journals.some((j) => labelOf(j) !== undefined);
  const titles = journals.map((j, i) => (labelled ? (labelOf(j) ? `${labelOf(j)} (${j.mode})` : j.mode) : columnTitle(j.mode, i, journals.length)));
  const header = ['', ...titles];
  const body = rows.map(([label, cell]) => [label, ...journals.map(cell)]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  const title = `${journals[0]!.experiment}: ${titles.join(' vs ')} (${journals[0]!.profile.name} profile)`;
  const table = [title, line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  const notSent = journals.reduce((n, j) => n + notSentOf(j), 0);
  if (notSent > 0) table.push(notSentWarning(notSent));
  return table.join('\n');
}
