// Small helpers the dashboard's modules share: building elements (all text from the lab goes in
// through textContent, never as HTML) and formatting times.
/* global document */

/** Replaces the children of `parent` with `children`, leaving out the false and null of conditional ones. */
export function fill(parent, children) {
  parent.replaceChildren.apply(parent, children.filter(function (c) { return c !== null && c !== undefined && c !== false; }));
  return parent;
}

/** An element with attributes (`text` sets its textContent, `class` its className; null and undefined are left out) and children. */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (name) {
    const value = attrs[name];
    if (value === null || value === undefined) return;
    if (name === 'text') node.textContent = String(value);
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, String(value));
  });
  return children ? fill(node, children) : node;
}

const pad = function (n) { return String(n).padStart(2, '0'); };

/** HH:MM:SS in the browser's time zone. */
export function hms(ms) {
  const d = new Date(ms);
  return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}

/** "42 s left", "2 min 05 s left", or "ending". */
export function timeLeft(ms) {
  if (ms <= 0) return 'ending';
  const s = Math.ceil(ms / 1000);
  return (s >= 60 ? Math.floor(s / 60) + ' min ' + pad(s % 60) + ' s' : s + ' s') + ' left';
}

/** The JSON in `text`, or null when it is not JSON. */
export function parseJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}
