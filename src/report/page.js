// The report page's script: draws each run's timeline with uPlot from the data the report embeds
// (script#chaos-lab-timelines). Plain browser JavaScript, no build step; it reads, it never fetches.
/* global document, window, uPlot -- a browser page; uPlot is inlined before this script. */
(function () {
  'use strict';
  var view = JSON.parse(document.getElementById('chaos-lab-timelines').textContent);
  var COLOURS = { ok: '#2e7d32', cache: '#0288d1', queued: '#7b1fa2', 'stock-out': '#f9a825', failed: '#c62828', depth: '#5d4037', p50: '#546e7a', p99: '#ef6c00' };
  var FAILED = ['#c62828', '#e53935', '#ad1457', '#6a1b9a', '#bf360c'];
  var MARKERS = { fleet: '#37474f', target: '#00838f', database: '#1565c0', breaker: '#d84315', 'breaker-lab': '#6d4c41' };
  var px = function (n) { return Math.round(n * (window.devicePixelRatio || 1)); };

  function drawOverlay(u, timeline, withTicks) {
    var ctx = u.ctx, box = u.bbox;
    ctx.save();
    ctx.font = px(11) + 'px sans-serif';
    ctx.textBaseline = 'top';
    timeline.bands.forEach(function (band, i) {
      var x0 = u.valToPos(band.startS, 'x', true);
      var x1 = band.endS === null ? box.left + box.width : u.valToPos(band.endS, 'x', true);
      ctx.fillStyle = band.actionId === 'lab:wait' ? 'rgba(120,144,156,0.12)' : 'rgba(255,152,0,0.18)';
      ctx.fillRect(x0, box.top, Math.max(px(2), x1 - x0), box.height);
      ctx.fillStyle = '#333';
      ctx.fillText(band.label, x0 + px(3), box.top + px(3) + (i % 3) * px(13));
    });
    timeline.markers.forEach(function (m) {
      var x = u.valToPos(m.atS, 'x', true);
      ctx.strokeStyle = MARKERS[m.kind] || '#000';
      ctx.setLineDash([px(4), px(3)]);
      ctx.lineWidth = px(1);
      ctx.beginPath();
      ctx.moveTo(x, box.top);
      ctx.lineTo(x, box.top + box.height);
      ctx.stroke();
    });
    if (withTicks) {
      // Article 1's probe lines: the journal keeps each probe's second, so a second's probes share it, side by side.
      var bySecond = {};
      timeline.probeTicks.forEach(function (t) { (bySecond[t.atS] = bySecond[t.atS] || []).push(t); });
      Object.keys(bySecond).forEach(function (second) {
        var ticks = bySecond[second];
        ticks.forEach(function (t, k) {
          var x = u.valToPos(t.atS + k / ticks.length, 'x', true);
          ctx.fillStyle = t.status === '200' ? '#2e7d32' : '#c62828';
          ctx.fillRect(x, box.top + box.height - px(10), px(3), px(10));
        });
      });
    }
    ctx.restore();
  }

  function chartOf(target, chart, timeline, range, first) {
    var failed = 0;
    var series = [{ label: 's' }].concat(chart.series.map(function (s) {
      var colour = s.kind === 'failed' ? FAILED[failed++ % FAILED.length] : COLOURS[s.kind];
      return { label: s.label, stroke: colour, width: 2, points: { show: false } };
    }));
    var opts = {
      title: chart.title,
      width: Math.max(480, target.clientWidth || 900),
      height: 260,
      scales: { x: { time: false, range: range } },
      axes: [{ label: 'seconds from the start of the running phase' }, { label: chart.unit }],
      series: series,
      hooks: { draw: [function (u) { drawOverlay(u, timeline, first); }] },
    };
    var data = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    var holder = document.createElement('div');
    target.appendChild(holder);
    return new uPlot(opts, data, holder);
  }

  view.groups.forEach(function (group) {
    var range = [group.startS, group.endS];
    group.runs.forEach(function (index) {
      var target = document.querySelector('.timeline[data-run="' + index + '"]');
      var timeline = view.timelines[index];
      if (!target || !timeline) return;
      if (timeline.charts.length === 0) {
        target.appendChild(document.createTextNode('No traffic series in this journal.'));
        return;
      }
      timeline.charts.forEach(function (chart, i) { chartOf(target, chart, timeline, range, i === 0); });
    });
  });
})();
