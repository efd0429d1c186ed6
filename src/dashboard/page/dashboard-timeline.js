// The traffic timeline (#timeline): two uPlot charts on one time axis, requests per second by
// status and latency p50/p99, with a shaded, labelled band for each action or fault while it was
// active. The window is the last five minutes and grows live; uPlot is a classic script loaded
// before the page's modules.
/* global document, window, uPlot */
import { el, hms } from './dashboard-dom.js';

// The timeline shows the last five minutes, but never less than one: a fresh lab's first
// seconds would otherwise be stretched across the whole width.
const WINDOW_S = 300;
const MIN_WINDOW_S = 60;
// A fixed colour per status, so a line keeps its colour when another status first shows up:
// 2xx greens, 4xx ambers, 5xx reds (told apart by their dash as well, reds being close).
const STATUS_STYLES = {
  200: ['#2e7d32'], 201: ['#66bb6a'], 202: ['#9ccc65'], 204: ['#1b5e20'],
  400: ['#ffb300'], 404: ['#f9a825'], 409: ['#ef6c00'], 429: ['#e65100'],
  500: ['#8e0000'], 502: ['#e53935'], 503: ['#c62828', [8, 4]], 504: ['#ff5722', [3, 3]],
};
const FAMILY_STYLES = { 2: ['#43a047', [2, 3]], 3: ['#0277bd'], 4: ['#ff8f00', [2, 3]], 5: ['#d32f2f', [2, 3]] };

const timelineEl = document.getElementById('timeline');
const timeline = {
  /** SecondEvents by their second. */
  seconds: new Map(),
  lastSecond: null,
  statuses: [],
  /** BandEvents by id: a band's update replaces it. */
  bands: new Map(),
  /** The x range shown, in Unix seconds. */
  left: 0,
  right: 0,
  frozenAtS: null,
};
const view = { charts: [], chartKey: null };

function statusSeries(status) {
  const style = STATUS_STYLES[status] || FAMILY_STYLES[status[0]] || ['#757575', [2, 3]];
  return { label: status, stroke: style[0], dash: style[1], width: 2, points: { show: false } };
}

function drawBands(u, labelled) {
  const ctx = u.ctx, box = u.bbox, min = u.scales.x.min, max = u.scales.x.max;
  const ratio = window.devicePixelRatio || 1;
  ctx.save();
  ctx.font = Math.round(11 * ratio) + 'px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  let row = 0;
  timeline.bands.forEach(function (band) {
    const start = Date.parse(band.startedAt) / 1000;
    // An active band reaches its planned end, or the right edge when it has none.
    const endIso = band.endedAt || band.plannedEndAt;
    const end = endIso ? Date.parse(endIso) / 1000 : Infinity;
    if (end < min || start > max) return;
    const x0 = start <= min ? box.left : u.valToPos(start, 'x', true);
    const x1 = end >= max ? box.left + box.width : u.valToPos(end, 'x', true);
    ctx.fillStyle = band.endedAt ? 'rgba(255,152,0,0.13)' : 'rgba(255,152,0,0.22)';
    ctx.fillRect(x0, box.top, Math.max(2 * ratio, x1 - x0), box.height);
    if (labelled) {
      ctx.fillStyle = '#5d4037';
      // A band that starts near the right edge (a fault just set) has its label end at the edge instead of off it.
      const x = Math.min(x0 + 3 * ratio, box.left + box.width - ctx.measureText(band.label).width - 3 * ratio);
      ctx.fillText(band.label, Math.max(box.left, x), box.top + (3 + (row++ % 3) * 13) * ratio);
    }
  });
  ctx.restore();
}

function chart(title, unit, series, labelled, yMin) {
  const holder = el('div', { class: 'chart' });
  timelineEl.appendChild(holder);
  return new uPlot({
    title: title,
    width: Math.max(320, timelineEl.clientWidth),
    height: 200,
    cursor: { sync: { key: 'chaos-lab-dashboard' } },
    scales: {
      x: { time: true, range: function () { return [timeline.left, timeline.right]; } },
      y: { range: function (_u, _min, max) { return [0, Number.isFinite(max) && max > 0 ? Math.max(yMin, max * 1.15) : yMin]; } },
    },
    axes: [
      // HH:MM:SS is wide: ticks at least 90 px apart keep the labels from running into each other.
      { space: 90, values: function (_u, splits) { return splits.map(function (s) { return hms(s * 1000); }); } },
      { label: unit, size: 56 },
    ],
    series: [{ label: 'time', value: function (_u, v) { return v === null || v === undefined ? '–' : hms(v * 1000); } }].concat(series),
    hooks: { draw: [function (u) { drawBands(u, labelled); }] },
  }, [[]].concat(series.map(function () { return []; })), holder);
}

function buildCharts() {
  view.charts.forEach(function (u) { u.destroy(); });
  timelineEl.replaceChildren();
  view.charts = [
    chart('Requests per second by status', 'requests/s', timeline.statuses.map(statusSeries), true, 5),
    chart('Latency (ms)', 'ms', [
      { label: 'p50', stroke: '#546e7a', width: 2, points: { show: false } },
      { label: 'p99', stroke: '#ef6c00', width: 2, points: { show: false } },
    ], false, 10),
  ];
  view.chartKey = timeline.statuses.join();
}

/** Draws the window as it is now (or as it was when the page stopped): once a second and once at the end. */
export function redraw() {
  if (typeof uPlot === 'undefined') {
    if (!timelineEl.firstChild) timelineEl.appendChild(el('p', { class: 'empty', text: 'The chart library did not load.' }));
    return;
  }
  if (view.chartKey !== timeline.statuses.join()) buildCharts();
  timeline.right = timeline.frozenAtS !== null ? timeline.frozenAtS : Date.now() / 1000;
  const first = timeline.seconds.size > 0 ? Math.min.apply(null, Array.from(timeline.seconds.keys())) : timeline.right;
  timeline.left = Math.min(timeline.right - MIN_WINDOW_S, Math.max(first, timeline.right - WINDOW_S));
  timeline.bands.forEach(function (band, id) { if (band.endedAt && Date.parse(band.endedAt) / 1000 < timeline.left) timeline.bands.delete(id); });
  const x = [], counts = timeline.statuses.map(function () { return []; }), p50 = [], p99 = [];
  if (timeline.lastSecond !== null) {
    for (let s = Math.max(first, Math.ceil(timeline.left)); s <= timeline.lastSecond; s++) {
      const ev = timeline.seconds.get(s);
      x.push(s);
      // A second the lab never reported (between a run's labs) is a gap, not zero answers.
      timeline.statuses.forEach(function (status, i) { counts[i].push(ev ? ev.byStatus[status] || 0 : null); });
      p50.push(ev && ev.latencyMs ? ev.latencyMs.p50 : null);
      p99.push(ev && ev.latencyMs ? ev.latencyMs.p99 : null);
    }
  }
  view.charts[0].setData([x].concat(counts));
  view.charts[1].setData([x, p50, p99]);
}

/** Takes a second event (history or live) into the timeline; drawn at the next redraw. */
export function onSecond(ev) {
  timeline.seconds.set(ev.second, ev);
  if (timeline.lastSecond === null || ev.second > timeline.lastSecond) timeline.lastSecond = ev.second;
  Object.keys(ev.byStatus).forEach(function (status) {
    if (timeline.statuses.indexOf(status) < 0) {
      timeline.statuses.push(status);
      timeline.statuses.sort();
    }
  });
  // Only the window is drawn: older seconds go, so a lab that runs for days does not grow the page.
  timeline.seconds.forEach(function (_v, s) { if (s < timeline.lastSecond - WINDOW_S - 60) timeline.seconds.delete(s); });
}

/** Takes a band event: a band's update (its end) replaces it. */
export function onBand(band) {
  timeline.bands.set(band.id, band);
}

/** Stops the window's right edge at this moment: the page shows the lab's last state from now on. */
export function freezeTimeline() {
  timeline.frozenAtS = Date.now() / 1000;
}

/** Fits the charts to the timeline's width (on a window resize). */
export function resizeCharts() {
  view.charts.forEach(function (u) { u.setSize({ width: Math.max(320, timelineEl.clientWidth), height: 200 }); });
}
