// How Article 7's endpoint probe is shown: the ENDPOINTS progress line, the article's lines per
// phase (`baseline (30s): products ok=18/0 reviews ok=18/0 promo ok=18/0`), the issue's goals per
// mode, and the comparison's rows. Pure functions over journals.
import type { EndpointTotals } from '../traffic/endpoint-probe.ts';
import { formatMs } from './duration.ts';
import { formatFailures } from './failures-format.ts';
import type { EndpointCounts, EndpointPhase, EndpointsRecord, Journal } from './journal.ts';
import type { Patterns } from '../shop/patterns.ts';

/**
 * The slowest answer a contained outage may give on the cut endpoint: the AFTER's 2 s client
 * timeout, plus half a second for the shop, the load balancer and a loaded machine (the issue's
 * "answers 503 within 2.5 s").
 */
export const CONTAINED_ANSWER_MS = 2500;

/** What a mode is expected to show, from the patterns it ran with. */
export type EndpointGoal = 'cascade' | 'contained' | 'no-failures';

const clock = (at: number): string => new Date(at).toISOString().slice(11, 19);

/** The ENDPOINTS progress line: `00:43:55 ENDPOINTS: products ok=12/0 reviews ok=3/9 promo ok=12/0`, stale and not sent only when there are some. */
export function formatEndpointsLine(totals: EndpointTotals, at: number = Date.now()): string {
  const cells = Object.entries(totals).map(([name, t]) => `${name} ok=${t.ok}/${t.fail}${t.stale ? ` stale=${t.stale}` : ''}${t.notSent ? ` not_sent=${t.notSent}` : ''}`);
  return `${clock(at)} ENDPOINTS: ${cells.join(' ')}`;
}

/** An endpoint's failures by status, as `29 (503)` or `40 (503×38, timeout×2)`. */
const failures = (counts: EndpointCounts): string => formatFailures(counts.fail, counts.failByStatus);

const p50p99 = (c: EndpointCounts): string => (c.latency ? `${formatMs(c.latency.p50)}/${formatMs(c.latency.p99)}` : '-');

/** One phase in the article's form: `cut-reviews (6.0 s): products ok=120/0 reviews ok=0/120 promo ok=120/0`. */
export function formatPhaseLine(phase: EndpointPhase): string {
  const cells = Object.entries(phase.endpoints).map(([name, c]) => `${name} ok=${c.ok}/${c.fail}`);
  return `${phase.name} (${formatMs(phase.durationMs)}): ${cells.join(' ')}`;
}

/**
 * What a mode is expected to show, from the patterns it ran with: the stale fallback answers
 * everything; a shared worker pool shows the cascade (BEFORE); otherwise the outage is contained (AFTER).
 */
export function endpointGoalFor(patterns: Pick<Patterns, 'dependencyClient' | 'workerPools'>): EndpointGoal {
  if (patterns.dependencyClient.fallback === 'stale') return 'no-failures';
  if (patterns.workerPools.mode === 'shared') return 'cascade';
  return 'contained';
}

const GOAL_TEXT: Readonly<Record<EndpointGoal, string>> = {
  cascade: 'BEFORE shows the cascade: an endpoint no fault cuts (the catalog) fails during a cut',
  contained: `the outage is contained: each cut endpoint fails, only with 503s within ${formatMs(CONTAINED_ANSWER_MS)}, and the endpoints a fault does not cut have 0 failures`,
  'no-failures': 'every endpoint answers in every phase: 0 failures, the cut one from the cache (stale)',
};

/** A goal checked against the endpoints section: met or not, and what the numbers were. Recorded once, in the journal. */
export interface GoalResult {
  goal: EndpointGoal;
  met: boolean;
  detail: string;
}

/** The phases that cut an endpoint the probe hits. */
const cutPhases = (e: Pick<EndpointsRecord, 'phases'>): EndpointPhase[] => e.phases.filter((p) => p.cut.length > 0);

/** Each endpoint of a phase with its counts, the cut ones apart. */
function split(phase: EndpointPhase): { cut: Array<[string, EndpointCounts]>; others: Array<[string, EndpointCounts]> } {
  const entries = Object.entries(phase.endpoints);
  return { cut: entries.filter(([name]) => phase.cut.includes(name)), others: entries.filter(([name]) => !phase.cut.includes(name)) };
}

/**
 * Checks a run's goal against its endpoints section, once, when the section is made (the journal
 * then holds the result; a report shows it, never recomputes it). Every goal also requires the
 * fault to have had an effect, so that a fault that never landed is a MISSED goal, not a met one.
 */
export function evaluateEndpointGoal(e: Pick<EndpointsRecord, 'phases'>, goal: EndpointGoal): GoalResult {
  const phases = cutPhases(e);
  if (phases.length === 0) return { goal, met: false, detail: 'no fault cut an endpoint the probe hits (an endpoint named after the dependency)' };
  const problems: string[] = [];
  const findings: string[] = [];
  if (goal === 'no-failures') {
    for (const p of e.phases) for (const [name, c] of Object.entries(p.endpoints)) if (c.fail > 0) problems.push(`${name} failed ${failures(c)} during ${p.name}`);
    for (const p of phases) {
      for (const [name, c] of split(p).cut) {
        if (c.stale === 0) problems.push(`${name} gave no stale answer during ${p.name}: the fault had no effect`);
        else findings.push(`${name} ${c.stale} stale during ${p.name}`);
      }
    }
    return { goal, met: problems.length === 0, detail: problems.length === 0 ? `0 failures on every endpoint; ${findings.join(', ')}` : problems.join('; ') };
  }
  if (goal === 'cascade') {
    // The catalog: an endpoint no phase cuts, failing while another one's dependency is away.
    const cutSomewhere = new Set(phases.flatMap((p) => p.cut));
    for (const p of phases) {
      for (const [name, c] of split(p).others) if (!cutSomewhere.has(name) && c.fail > 0) findings.push(`${name} failed ${failures(c)} of ${c.ok + c.fail} during ${p.name}`);
    }
    const met = findings.length > 0;
    return { goal, met, detail: met ? findings.join('; ') : 'no endpoint that no fault cuts failed: the outage stayed contained' };
  }
  for (const p of phases) {
    const { cut, others } = split(p);
    for (const [name, c] of cut) {
      const other = Object.keys(c.failByStatus).filter((status) => status !== '503');
      const slowest = c.latency?.max ?? 0;
      if (c.fail === 0) problems.push(`${name} never failed during ${p.name}: the fault had no effect`);
      if (other.length > 0) problems.push(`${name} failed ${failures(c)} during ${p.name}, not only 503`);
      if (slowest > CONTAINED_ANSWER_MS) problems.push(`${name}'s slowest answer during ${p.name} took ${formatMs(slowest)} (> ${formatMs(CONTAINED_ANSWER_MS)})`);
      if (c.fail > 0 && other.length === 0 && slowest <= CONTAINED_ANSWER_MS) findings.push(`${name} ${failures(c)}, slowest ${formatMs(slowest)} during ${p.name}`);
    }
    for (const [name, c] of others) if (c.fail > 0) problems.push(`${name} failed ${failures(c)} during ${p.name}`);
  }
  return { goal, met: problems.length === 0, detail: problems.length === 0 ? `the others 0 failures; ${findings.join(', ')}` : problems.join('; ') };
}

/** The run's goal as its journal records it; undefined when the run has no endpoint probe (or predates the goal). */
export function checkEndpointGoal(journal: Journal): GoalResult | undefined {
  return journal.endpoints?.goal;
}

/** The goal's line in RESULTS. */
export function formatGoal(result: GoalResult): string {
  return `Goal (${GOAL_TEXT[result.goal]}): ${result.met ? 'met' : 'MISSED'}: ${result.detail}`;
}

/** Article 7's lines in RESULTS: each phase, then each endpoint's latency, failures and stale answers in it. */
export function endpointsLines(e: EndpointsRecord): string[] {
  const lines = [`Endpoints (every ${formatMs(e.everyMs)}, client timeout ${formatMs(e.timeoutMs)}): ${Object.entries(e.endpoints).map(([name, path]) => `${name} ${path}`).join(', ')}`];
  for (const phase of e.phases) {
    lines.push(formatPhaseLine(phase));
    lines.push(`  latency p50/p99: ${Object.entries(phase.endpoints).map(([name, c]) => `${name} ${p50p99(c)}`).join(', ')}`);
    const failed = Object.entries(phase.endpoints).filter(([, c]) => c.fail > 0);
    if (failed.length > 0) lines.push(`  failed: ${failed.map(([name, c]) => `${name} ${failures(c)}`).join(', ')}`);
    const stale = Object.entries(phase.endpoints).filter(([, c]) => c.stale > 0);
    if (stale.length > 0) lines.push(`  stale (from the cache): ${stale.map(([name, c]) => `${name} ${c.stale} of ${c.ok}`).join(', ')}`);
  }
  const notSent = Object.entries(e.notSent).filter(([, n]) => n > 0);
  if (notSent.length > 0) {
    lines.push(`Not sent by the endpoint probe (at most ${e.maxInFlightPerEndpoint} in flight per endpoint, or behind schedule): ${notSent.map(([name, n]) => `${name} ${n}`).join(', ')}; not failures of the system`);
  }
  return lines;
}

/** The comparison's rows: per phase × endpoint, failures / stale answers / p99; then the goal. */
export function endpointRows(journals: readonly Journal[]): Array<[string, (j: Journal) => string]> {
  const phases: string[] = [];
  const endpoints: string[] = [];
  for (const j of journals) {
    for (const p of j.endpoints?.phases ?? []) if (!phases.includes(p.name)) phases.push(p.name);
    for (const name of Object.keys(j.endpoints?.endpoints ?? {})) if (!endpoints.includes(name)) endpoints.push(name);
  }
  const rows: Array<[string, (j: Journal) => string]> = [];
  for (const phase of phases) {
    for (const name of endpoints) {
      rows.push([
        `${phase} · ${name}: failed / stale / p99`,
        (j) => {
          const c = j.endpoints?.phases.find((p) => p.name === phase)?.endpoints[name];
          return c ? `${failures(c)} / ${c.stale} / ${c.latency ? formatMs(c.latency.p99) : '-'}` : '-';
        },
      ]);
    }
  }
  rows.push([
    'Goal',
    (j) => {
      const result = checkEndpointGoal(j);
      return result ? `${result.goal}: ${result.met ? 'met' : 'MISSED'}` : '-';
    },
  ]);
  return rows;
}
