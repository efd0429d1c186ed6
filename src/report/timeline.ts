// What a mode's timeline draws, taken from its journal: every value is a journal field, only moved
// onto one time axis (seconds from the start of the running phase). Nothing is counted or
// derived here (DESIGN principle 6): a number the journal does not have is not drawn.
import type { Journal } from '../chaos/journal.ts';
import type { TrafficSecond } from '../traffic/traffic-generator.ts';

/** One line of a chart: a journal field per second (null: no value that second). */
export interface ChartSeries {
  label: string;
  /** How the page colours it. */
  kind: 'ok' | 'cache' | 'queued' | 'stock-out' | 'failed' | 'depth' | 'p50' | 'p99';
  values: Array<number | null>;
}

/** A chart: x in seconds from the start of the running phase. */
export interface Chart {
  title: string;
  unit: string;
  x: number[];
  series: ChartSeries[];
}

/** An action while it was active; endS null: the journal does not say when it ended. */
export interface Band {
  label: string;
  actionId: string;
  startS: number;
  endS: number | null;
}

/** Something the system did, at a time the journal recorded. */
export interface Marker {
  atS: number;
  kind: 'fleet' | 'target' | 'database' | 'breaker' | 'breaker-lab';
  label: string;
}

/** One of Article 1's probes: its second (the journal keeps HH:MM:SS) and its status. */
export interface ProbeTick {
  atS: number;
  status: string;
}

/** Everything one mode's timeline shows. */
export interface Timeline {
  mode: string;
  charts: Chart[];
  bands: Band[];
  markers: Marker[];
  probeTicks: ProbeTick[];
  /** The first and last second anything happened (fleet launches come before the running phase), for a shared x range. */
  startS: number;
  endS: number;
}

/** When the running phase began (the origin of the time axis), or the run's start when it never ran. */
export function runningStartMs(journal: Journal): number {
  const running = journal.states.find((s) => s.state === 'running');
  return Date.parse(running?.at ?? journal.startedAt);
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** The requests-per-second chart: each line one field of traffic.series, by outcome. */
function trafficChart(journal: Journal): Chart | null {
  const series = journal.traffic?.series;
  if (!series || series.length === 0) return null;
  // traffic.series[i] counts the requests sent in second i after the traffic started, which is the start of the running phase.
  const x = series.map((s) => s.second);
  const lines: ChartSeries[] = [
    { label: 'reads OK', kind: 'ok', values: series.map((s) => s.reads.ok) },
    { label: 'reads OK from the cache', kind: 'cache', values: series.map((s) => s.reads.bySource['cache'] ?? 0) },
    { label: 'writes OK (201)', kind: 'ok', values: series.map((s) => s.writes.ok) },
    { label: 'writes queued (202)', kind: 'queued', values: series.map((s) => s.writes.queued) },
    { label: 'writes stock-out (409)', kind: 'stock-out', values: series.map((s) => s.writes.stockOut) },
  ];
  // Failures by status, one line per status the run saw: the journal's failByStatus of each second.
  for (const kind of ['reads', 'writes'] as const) {
    const statuses = [...new Set(series.flatMap((s) => Object.keys(s[kind].failByStatus)))].sort();
    for (const status of statuses) {
      lines.push({ label: `${kind} failed (${status === '0' ? 'timeout' : status})`, kind: 'failed', values: series.map((s) => s[kind].failByStatus[status] ?? 0) });
    }
  }
  // A line that is zero throughout says nothing the legend would not: it is left out.
  return { title: 'Requests per second by outcome', unit: 'requests/s', x, series: lines.filter((l) => l.values.some((v) => v !== 0)) };
}

/**
 * How long each second's requests took to be answered, p50 and p99, reads and writes apart (the
 * journal's traffic.series latencyMs; a second with no answer of a kind is a gap, not a zero).
 * Journals written before the series held latency draw no such chart.
 */
function latencyChart(journal: Journal): Chart | null {
  const series = journal.traffic?.series;
  if (!series || series.length === 0 || series.every((s) => s.latencyMs === undefined)) return null;
  // latencyMs may be missing from a journal read from disk (written before it was recorded).
  const line = (label: string, kind: 'p50' | 'p99', pick: (s: Partial<TrafficSecond>) => number | null | undefined): ChartSeries => ({
    label,
    kind,
    values: series.map((s) => pick(s) ?? null),
  });
  const lines = [
    line('reads p50', 'p50', (s) => s.latencyMs?.reads?.p50),
    line('reads p99', 'p99', (s) => s.latencyMs?.reads?.p99),
    line('writes p50', 'p50', (s) => s.latencyMs?.writes?.p50),
    line('writes p99', 'p99', (s) => s.latencyMs?.writes?.p99),
  ].filter((l) => l.values.some((v) => v !== null));
  return lines.length === 0 ? null : { title: 'Latency per second (by the second the request was sent)', unit: 'ms', x: series.map((s) => s.second), series: lines };
}

/** The order queue's samples (Article 4's write buffer), as the journal recorded them. */
function queueChart(journal: Journal): Chart | null {
  const samples = journal.degradation?.queue?.series;
  if (!samples || samples.length === 0) return null;
  return {
    title: 'Order queue',
    unit: 'messages',
    x: samples.map((s) => seconds(s.atMs)),
    series: [
      { label: 'queued', kind: 'depth', values: samples.map((s) => s.depth) },
      { label: 'in flight', kind: 'queued', values: samples.map((s) => s.inFlight) },
      { label: 'dead letters', kind: 'failed', values: samples.map((s) => s.deadLetters) },
    ],
  };
}

/**
 * Article 7's endpoint probe: one chart per endpoint, its answers per second by outcome (the
 * journal's endpoints.series), so that a cascade shows as the catalog's line failing beside the
 * cut endpoint's.
 */
function endpointCharts(journal: Journal): Chart[] {
  const e = journal.endpoints;
  if (!e || e.series.length === 0) return [];
  const x = e.series.map((s) => s.second);
  return Object.entries(e.endpoints).map(([name, path]) => {
    const cell = (field: 'ok' | 'stale' | 'fail'): Array<number | null> => e.series.map((s) => s.endpoints[name]?.[field] ?? 0);
    // The journal's ok counts every 200, stale ones included; the chart draws the fresh answers
    // (ok - stale) beside the stale ones, so the two lines never count one answer twice.
    const fresh = e.series.map((s) => (s.endpoints[name]?.ok ?? 0) - (s.endpoints[name]?.stale ?? 0));
    const lines: ChartSeries[] = [
      { label: `${name} OK (200)`, kind: 'ok', values: fresh },
      { label: `${name} OK from the cache (stale)`, kind: 'cache', values: cell('stale') },
      { label: `${name} failed`, kind: 'failed', values: cell('fail') },
    ];
    // As in the traffic chart, a line that is zero throughout is left out; the OK line stays, so the chart is never empty.
    return { title: `${name} (${path}): answers per second`, unit: 'requests/s', x, series: lines.filter((l, i) => i === 0 || l.values.some((v) => v !== 0)) };
  });
}

function bands(journal: Journal, origin: number): Band[] {
  return journal.actions
    .filter((a) => a.offsetMs !== undefined)
    .map((a) => {
      const startS = seconds(a.offsetMs!);
      const activeMs = a.cutShortAfterMs ?? a.durationMs;
      // Without a duration the action held until it was undone; its record's end says when.
      const endS = activeMs !== undefined ? seconds(a.offsetMs! + activeMs) : a.endedAt ? seconds(Date.parse(a.endedAt) - origin) : null;
      const label = `${a.name} (${a.actionId})${a.cutShortAfterMs !== undefined ? ', cut short' : ''}${a.state === 'failed' ? ', failed' : ''}`;
      return { label, actionId: a.actionId, startS, endS };
    });
}

function markers(journal: Journal, origin: number): Marker[] {
  const at = (iso: string): number => seconds(Date.parse(iso) - origin);
  const list: Marker[] = [
    ...journal.fleet.events.map((e): Marker => ({ atS: at(e.at), kind: 'fleet', label: `${e.type} ${e.instanceId} (${e.zone})${e.detail ? `: ${e.detail}` : ''}` })),
    ...journal.fleet.targetStateChanges.map((c): Marker => ({ atS: at(c.at), kind: 'target', label: `target ${c.target}: ${c.from} → ${c.to} (${c.reason})` })),
  ];
  list.push(...failoverMarkers(journal, origin));
  const returned = journal.degradation?.databaseReturnedAtMs;
  if (returned != null) list.push({ atS: seconds(returned), kind: 'database', label: 'database returned (proxy targets registered again)' });
  for (const t of journal.degradation?.breakerTransitions ?? []) list.push({ atS: seconds(t.atMs), kind: 'breaker', label: `circuit breaker ${t.from} → ${t.to} (${t.reason})` });
  const b = journal.breakerLab;
  if (b?.outage) {
    list.push({ atS: at(b.outage.startedAt), kind: 'breaker-lab', label: 'backend outage began' });
    if (b.outage.recoveredAt) list.push({ atS: at(b.outage.recoveredAt), kind: 'breaker-lab', label: 'backend recovered' });
  }
  for (const w of b?.backend.windows ?? []) {
    const behaviour = w.behaviour.hang ? 'hangs' : `failure rate ${w.behaviour.failureRate}, latency ${w.behaviour.latencyMs} ms`;
    list.push({ atS: at(w.startedAt), kind: 'breaker-lab', label: `backend behaviour ${w.index}: ${behaviour}` });
  }
  return list.sort((a, b) => a.atS - b.atS);
}

/**
 * A failover's two moments, from its action's record: the promoted reader taking writes (the
 * writer was away writerUnavailableMs from the effect's startedAt, which comes after the check
 * that the reader streams; a journal without it: from the action's start) and the old writer
 * serving as the reader again (its rebuild began right then and took readerRebuiltMs).
 */
function failoverMarkers(journal: Journal, origin: number): Marker[] {
  return journal.actions.flatMap((a): Marker[] => {
    const effect = a.effect;
    if (a.actionId !== 'lab:db:failover' || a.offsetMs === undefined || typeof effect?.['writerUnavailableMs'] !== 'number') return [];
    const awayMs = typeof effect['startedAt'] === 'string' ? Date.parse(effect['startedAt']) - origin : a.offsetMs;
    const promotedMs = awayMs + effect['writerUnavailableMs'];
    const list: Marker[] = [{ atS: seconds(promotedMs), kind: 'database', label: `failover: ${String(effect['promoted'])} promoted, the writer back after ${effect['writerUnavailableMs']} ms` }];
    if (typeof effect['readerRebuiltMs'] === 'number') {
      list.push({ atS: seconds(promotedMs + effect['readerRebuiltMs']), kind: 'database', label: `${String(effect['demoted'])} serves as the reader again` });
    }
    return list;
  });
}

/**
 * Article 1's probe lines (`HH:MM:SS - code`, UTC) placed on the axis: the journal keeps each
 * probe's time to the second, so a tick marks the second it fell in.
 */
function probeTicks(journal: Journal, origin: number): ProbeTick[] {
  const day = Math.floor(origin / 86_400_000) * 86_400_000;
  return (journal.probe?.lines ?? []).flatMap((line): ProbeTick[] => {
    const match = /^(\d\d):(\d\d):(\d\d) - (\d+)$/.exec(line);
    if (!match) return [];
    let ms = day + ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000;
    // A run across midnight: a time well before the origin belongs to the next day.
    if (ms < origin - 43_200_000) ms += 86_400_000;
    return [{ atS: seconds(ms - origin), status: match[4]! }];
  });
}

/** The timeline of one run, from its journal. */
export function timelineOf(journal: Journal): Timeline {
  const origin = runningStartMs(journal);
  const charts = [trafficChart(journal), latencyChart(journal), queueChart(journal), ...endpointCharts(journal)].filter((c): c is Chart => c !== null);
  const b = bands(journal, origin);
  const m = markers(journal, origin);
  const ticks = probeTicks(journal, origin);
  const ends = [...charts.flatMap((c) => c.x.map((x) => x + 1)), ...b.map((band) => band.endS ?? band.startS), ...m.map((marker) => marker.atS), ...ticks.map((t) => t.atS + 1)];
  const starts = [...charts.flatMap((c) => c.x), ...m.map((marker) => marker.atS), ...ticks.map((t) => t.atS)];
  return { mode: journal.mode, charts, bands: b, markers: m, probeTicks: ticks, startS: Math.min(0, ...starts), endS: Math.max(0, ...ends) };
}
