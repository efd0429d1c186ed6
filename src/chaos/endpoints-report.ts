// How Article 7's endpoint probe is shown: the ENDPOINTS progress line, the article's lines per
// phase (`baseline (30s): products ok=18/0 reviews ok=18/0 promo ok=18/0`), the issue's goals per
// mode, and the comparison's rows. Pure functions over journals.
import type { EndpointTotals } from '../traffic/endpoint-probe.ts';
import { formatMs } from './duration.ts';
import type { EndpointCounts, EndpointPhase, EndpointsRecord, Journal } from './journal.ts';
import type { PlannedShopLab } from './plan.ts';

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

/** Failures by status, as `29 (503)` or `40 (503×38, timeout×2)`; a status of 0 is a client timeout. */
function failures(counts: EndpointCounts): string {
  if (counts.fail === 0) return '0';
  const name = (status: string): string => (status === '0' ? 'timeout' : status);
  const entries = Object.entries(counts.failByStatus).sort((a, b) => b[1] - a[1]);
  if (entries.length === 1) return `${counts.fail} (${name(entries[0]![0])})`;
  return `${counts.fail} (${entries.map(([status, n]) => `${name(status)}×${n}`).join(', ')})`;
}

const p50p99 = (c: EndpointCounts): string => (c.latency ? `${formatMs(c.latency.p50)}/${formatMs(c.latency.p99)}` : '-');

/** One phase in the article's form: `cut-reviews (6.0 s): products ok=120/0 reviews ok=0/120 promo ok=120/0`. */
export function formatPhaseLine(phase: EndpointPhase): string {
  const cells = Object.entries(phase.endpoints).map(([name, c]) => `${name} ok=${c.ok}/${c.fail}`);
  return `${phase.name} (${formatMs(phase.durationMs)}): ${cells.join(' ')}`;
}

/** The goal of a run, from its patterns: the stale fallback answers everything; a shared pool shows the cascade (BEFORE); otherwise the outage is contained (AFTER). */
function endpointGoalOf(journal: Journal): EndpointGoal {
  // Journals of runs before issue 11 have no dependencyClient or workerPools: nothing shared, no stale fallback.
  const patterns = (journal.plan.lab as Partial<PlannedShopLab>).patterns as Partial<PlannedShopLab['patterns']> | undefined;
  if (patterns?.dependencyClient?.fallback === 'stale') return 'no-failures';
  if (patterns?.workerPools?.mode === 'shared') return 'cascade';
  return 'contained';
}

const GOAL_TEXT: Readonly<Record<EndpointGoal, string>> = {
  cascade: 'BEFORE shows the cascade: an endpoint the fault does not cut fails during it',
  contained: `the outage is contained: the endpoints a fault does not cut have 0 failures, the cut one answers 503 within ${formatMs(CONTAINED_ANSWER_MS)}`,
  'no-failures': 'every endpoint answers in every phase: 0 failures, the cut one from the cache (stale)',
};

/** A goal checked against the endpoints section: met or not, and what the numbers were. */
export interface GoalResult {
  goal: EndpointGoal;
  met: boolean;
  detail: string;
}

/** The phases that cut an endpoint the probe hits. */
const cutPhases = (e: EndpointsRecord): EndpointPhase[] => e.phases.filter((p) => p.cut.length > 0);

/** Checks the run's goal; undefined when the run has no endpoint probe. */
export function checkEndpointGoal(journal: Journal): GoalResult | undefined {
  const e = journal.endpoints;
  if (!e) return undefined;
  const goal = endpointGoalOf(journal);
  const phases = cutPhases(e);
  if (goal === 'no-failures') {
    const failed = e.phases.flatMap((p) => Object.entries(p.endpoints).filter(([, c]) => c.fail > 0).map(([name, c]) => `${name} failed ${failures(c)} during ${p.name}`));
    const stale = phases.flatMap((p) => p.cut.map((name) => `${name} ${p.endpoints[name]?.stale ?? 0} stale during ${p.name}`));
    return { goal, met: failed.length === 0, detail: failed.length === 0 ? `0 failures on every endpoint${stale.length ? `; ${stale.join(', ')}` : ''}` : failed.join('; ') };
  }
  if (phases.length === 0) return { goal, met: false, detail: 'no fault cut an endpoint the probe hits (an endpoint named after the dependency)' };
  if (goal === 'cascade') {
    const spread = phases.flatMap((p) => Object.entries(p.endpoints).filter(([name, c]) => !p.cut.includes(name) && c.fail > 0).map(([name, c]) => `${name} failed ${failures(c)} of ${c.ok + c.fail} during ${p.name}`));
    return { goal, met: spread.length > 0, detail: spread.length > 0 ? spread.join('; ') : 'no endpoint but the cut one failed: the outage stayed contained' };
  }
  const problems: string[] = [];
  const held: string[] = [];
  for (const p of phases) {
    for (const [name, c] of Object.entries(p.endpoints)) {
      if (p.cut.includes(name)) {
        const other = Object.keys(c.failByStatus).filter((status) => status !== '503');
        const slowest = c.latency?.max ?? 0;
        if (other.length > 0) problems.push(`${name} failed ${failures(c)} during ${p.name}, not only 503`);
        if (slowest > CONTAINED_ANSWER_MS) problems.push(`${name}'s slowest answer during ${p.name} took ${formatMs(slowest)} (> ${formatMs(CONTAINED_ANSWER_MS)})`);
        if (other.length === 0 && slowest <= CONTAINED_ANSWER_MS) held.push(`${name} ${failures(c)}, slowest ${formatMs(slowest)} during ${p.name}`);
      } else if (c.fail > 0) problems.push(`${name} failed ${failures(c)} during ${p.name}`);
    }
  }
  return { goal, met: problems.length === 0, detail: problems.length === 0 ? `the others 0 failures; ${held.join(', ')}` : problems.join('; ') };
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
