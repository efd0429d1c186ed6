// The event log (#log): newest first, one li per line with its data-kind, bounded in length.
/* global document */
import { el, hms } from './dashboard-dom.js';

// Enough to scroll back over a few minutes of a busy lab without the page growing for days.
const LOG_MAX = 500;
const logEl = document.getElementById('log');

/** Adds a line at the top of the log. */
export function addLog(atMs, kind, text) {
  const li = el('li', { 'data-kind': kind }, [
    el('time', { datetime: new Date(atMs).toISOString(), text: hms(atMs) }),
    el('span', { class: 'kind', text: kind }),
    el('span', { class: 'text', text: text }),
  ]);
  logEl.insertBefore(li, logEl.firstChild);
  while (logEl.children.length > LOG_MAX) logEl.removeChild(logEl.lastChild);
}
