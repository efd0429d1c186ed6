// The live dashboard's entry: follows the lab over Server-Sent Events (GET /events, the shapes in
// ../protocol.ts) and hands each event to its part of the page: dashboard-map.js (the lab's map),
// dashboard-timeline.js (the traffic timeline), dashboard-log.js (the event log); under `up`,
// dashboard-actions.js acts through the same token-protected control API the CLI uses. Plain
// browser JavaScript as native ES modules, no build step.
/* global document, window, EventSource */
import { disableActions } from './dashboard-actions.js';
import { addLog } from './dashboard-log.js';
import { buildMap, onMap, tickFaults } from './dashboard-map.js';
import { session } from './dashboard-session.js';
import { freezeTimeline, onBand, onSecond, redraw, resizeCharts } from './dashboard-timeline.js';

const statusEl = document.getElementById('status');
let source = null;
let ticker = null;

/** Stops following the lab for good: says why, disables the actions, draws the last state once. */
function stop(kind, text) {
  if (session.stopped) return;
  session.stopped = true;
  if (source) source.close();
  statusEl.setAttribute('data-state', kind);
  statusEl.textContent = text;
  disableActions();
  // The last state stays: one final drawing, frozen at this moment, then nothing moves.
  freezeTimeline();
  if (ticker !== null) window.clearInterval(ticker);
  redraw();
}

/** Listens for the stream's `name` events, whose data is one JSON value; none is handled once the page has stopped. */
function handle(name, fn) {
  source.addEventListener(name, function (event) {
    if (session.stopped) return;
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (error) {
      addLog(Date.now(), 'page', 'The page could not read a ' + name + ' event: ' + error.message);
      return;
    }
    fn(data);
  });
}

function start() {
  window.addEventListener('resize', resizeCharts);
  if (!session.token) {
    statusEl.setAttribute('data-state', 'lost');
    statusEl.textContent = 'This page\'s URL has no token: open the dashboard URL that chaos-lab printed.';
    return;
  }
  source = new EventSource('/events?token=' + encodeURIComponent(session.token));
  handle('hello', function (hello) {
    session.hello = hello;
    document.getElementById('title').textContent = hello.title;
    document.title = hello.title + ' · chaos-lab';
    statusEl.setAttribute('data-state', 'live');
    statusEl.textContent = 'live';
    buildMap(hello);
  });
  handle('second', onSecond);
  handle('band', onBand);
  handle('log', function (log) { addLog(Date.parse(log.at), log.kind, log.text); });
  handle('map', onMap);
  handle('bye', function (bye) {
    stop('stopped', 'The lab has stopped: ' + String(bye.reason).replace(/\.$/, '') + '. This page shows its last state.');
  });
  source.addEventListener('error', function () {
    // EventSource would reconnect by itself; a lab that went away does not come back on this port, so the page stops.
    stop('lost', 'Lost the lab: ' + (session.hello ? 'the event stream broke' : 'the page could not connect (a wrong token, or the lab is gone)') + '. This page shows its last state.');
  });
  // Charts and countdowns move once a second, whatever the rate of events.
  redraw();
  ticker = window.setInterval(function () {
    redraw();
    tickFaults();
  }, 1000);
}

start();
