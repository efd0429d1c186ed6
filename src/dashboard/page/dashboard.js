// The live dashboard's script: follows the lab over Server-Sent Events (GET /events, the shapes in
// ../protocol.ts) and draws its map, its traffic timeline and its event log; under `up` it acts
// through the same token-protected control API the CLI uses. Plain browser JavaScript, no build
// step. All text from the lab goes in through textContent, never as HTML.
/* global document, window, uPlot, EventSource, fetch, URLSearchParams -- a browser page; uPlot is loaded before this script. */
(function () {
  'use strict';

  // The timeline shows the last five minutes, but never less than one: a fresh lab's first
  // seconds would otherwise be stretched across the whole width.
  const WINDOW_S = 300;
  const MIN_WINDOW_S = 60;
  const LOG_MAX = 500;
  const INSTANCE_ACTIONS = ['stop', 'kill', 'pause', 'resume'];
  const ACTION_TITLES = {
    stop: 'SIGTERM: the instance shuts down gracefully and the group replaces it',
    kill: 'SIGKILL: the process dies at once and the group replaces it',
    pause: 'SIGSTOP: the process hangs without dying, until resumed',
    resume: 'SIGCONT: the paused process runs again',
  };
  // A fixed colour per status, so a line keeps its colour when another status first shows up:
  // 2xx greens, 4xx ambers, 5xx reds (told apart by their dash as well, reds being close).
  const STATUS_STYLES = {
    200: ['#2e7d32'], 201: ['#66bb6a'], 202: ['#9ccc65'], 204: ['#1b5e20'],
    400: ['#ffb300'], 404: ['#f9a825'], 409: ['#ef6c00'], 429: ['#e65100'],
    500: ['#8e0000'], 502: ['#e53935'], 503: ['#c62828', [8, 4]], 504: ['#ff5722', [3, 3]],
  };
  const FAMILY_STYLES = { 2: ['#43a047', [2, 3]], 3: ['#0277bd'], 4: ['#ff8f00', [2, 3]], 5: ['#d32f2f', [2, 3]] };

  const token = new URLSearchParams(window.location.search).get('token');
  const statusEl = document.getElementById('status');
  const mapEl = document.getElementById('map');
  const timelineEl = document.getElementById('timeline');
  const logEl = document.getElementById('log');

  const state = {
    hello: null,
    stopped: false,
    /** SecondEvents by their second. */
    seconds: new Map(),
    lastSecond: null,
    statuses: [],
    /** BandEvents by id: a band's update replaces it. */
    bands: new Map(),
    /** Fault id → local time its countdown reaches 0. */
    faultDeadlines: new Map(),
    /** Keys of the actions whose request is under way: their button stays disabled across maps. */
    inflight: new Set(),
    /** The x range shown, in Unix seconds. */
    left: 0,
    right: 0,
    frozenAtS: null,
  };
  const view = { built: false, zones: null, zoneGroups: new Map(), cards: new Map(), db: null, proxyButton: null, failoverButton: null, faults: null, extras: null, charts: [], chartKey: null };

  // ---- small helpers -------------------------------------------------------------------------

  /** Replaces the children of `parent` with `children`, leaving out the false and null of conditional ones. */
  function fill(parent, children) {
    parent.replaceChildren.apply(parent, children.filter(function (c) { return c !== null && c !== undefined && c !== false; }));
    return parent;
  }

  function el(tag, attrs, children) {
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
  function hms(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function timeLeft(ms) {
    if (ms <= 0) return 'ending';
    const s = Math.ceil(ms / 1000);
    return (s >= 60 ? Math.floor(s / 60) + ' min ' + pad(s % 60) + ' s' : s + ' s') + ' left';
  }
  function parseJson(text) {
    try { return JSON.parse(text); } catch { return null; }
  }

  // ---- the log -------------------------------------------------------------------------------

  function addLog(atMs, kind, text) {
    const li = el('li', { 'data-kind': kind }, [
      el('time', { datetime: new Date(atMs).toISOString(), text: hms(atMs) }),
      el('span', { class: 'kind', text: kind }),
      el('span', { class: 'text', text: text }),
    ]);
    logEl.insertBefore(li, logEl.firstChild);
    while (logEl.children.length > LOG_MAX) logEl.removeChild(logEl.lastChild);
  }

  // ---- actions -------------------------------------------------------------------------------

  /** One line saying what a control call did, from its answer ({error, code} when refused). */
  function describe(label, status, body, text) {
    if (body && typeof body.error === 'string') return label + ' refused (' + status + (body.code ? ' ' + body.code : '') + '): ' + body.error;
    if (status >= 400) return label + ' failed (' + status + '): ' + String(text).slice(0, 300);
    if (body && body.instance) return label + ': done (' + body.instance.id + ' was ' + body.instance.state + (body.instance.paused ? ', paused' : '') + ' when the lab answered)';
    if (body && typeof body.promoted === 'string') return label + ': promoted ' + body.promoted + ', demoted ' + body.demoted + ', writer unavailable ' + body.writerUnavailableMs + ' ms, ' + body.cutConnections + ' connection(s) cut';
    if (body && typeof body.registered === 'boolean') return label + ': the database proxy is ' + (body.registered ? 'registered' : 'deregistered') + ', ' + body.closedConnections + ' connection(s) closed';
    if (body && typeof body.expiresAt === 'string') return label + ': fault ' + body.id + ' (' + body.type + ' on ' + body.proxy + ') until ' + hms(Date.parse(body.expiresAt)) + ', reached ' + body.affectedConnections + ' open connection(s)';
    if (Array.isArray(body)) return label + ': ' + (body.length === 0 ? 'no fault was in place' : 'removed ' + body.map(function (f) { return f.id + ' (' + f.type + ' on ' + f.proxy + ')'; }).join(', '));
    return label + ': ' + String(text).slice(0, 300);
  }

  function act(button, key, method, path, body, label) {
    if (state.stopped || state.inflight.has(key)) return;
    state.inflight.add(key);
    button.disabled = true;
    const headers = { authorization: 'Bearer ' + token };
    if (body !== undefined) headers['content-type'] = 'application/json';
    fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', referrerPolicy: 'no-referrer' })
      .then(function (response) {
        return response.text().then(function (text) { addLog(Date.now(), 'control', describe(label, response.status, parseJson(text), text)); });
      })
      .catch(function (error) { addLog(Date.now(), 'control', label + ' failed: ' + (error && error.message ? error.message : String(error))); })
      .finally(function () {
        state.inflight.delete(key);
        button.disabled = state.stopped;
      });
  }

  function onMapClick(event) {
    const button = event.target.closest('button[data-action]');
    if (!button || button.disabled || !state.hello || !state.hello.canAct) return;
    const action = button.getAttribute('data-action');
    if (INSTANCE_ACTIONS.indexOf(action) >= 0) {
      const id = button.closest('[data-instance]').getAttribute('data-instance');
      act(button, action + ':' + id, 'POST', '/instances/' + encodeURIComponent(id) + '/' + action, undefined, action + ' ' + id);
    } else if (action === 'failover') {
      act(button, 'failover', 'POST', '/failover', undefined, 'failover');
    } else if (action === 'deregister' || action === 'register') {
      act(button, 'db-proxy', 'POST', '/db-proxy/' + action, undefined, action + ' the database proxy');
    } else if (action === 'clear-faults') {
      act(button, 'clear-faults', 'DELETE', '/faults', undefined, 'clear faults');
    }
  }

  function onFaultSubmit(event) {
    event.preventDefault();
    const form = event.target;
    const dependency = form.elements.namedItem('dependency').value;
    const type = form.elements.namedItem('type').value;
    const durationS = Number(form.elements.namedItem('durationS').value);
    const label = type + ' on ' + dependency;
    if (!(durationS > 0 && durationS <= 86400)) {
      addLog(Date.now(), 'control', label + ': the duration must be a number of seconds from 1 to 86400, got ' + JSON.stringify(form.elements.namedItem('durationS').value));
      return;
    }
    act(form.querySelector('button[type=submit]'), 'fault', 'POST', '/faults', { dependency: dependency, type: type, durationMs: Math.round(durationS * 1000) }, label + ' for ' + durationS + ' s');
  }

  function faultForm(hello) {
    const options = function (values, chosen) {
      return values.map(function (v) { return el('option', { value: v, text: v, selected: v === chosen ? '' : null }); });
    };
    const form = el('form', { id: 'fault-form', class: 'fault-form' }, [
      el('label', {}, ['Cut ', el('select', { name: 'dependency' }, options(hello.dependencies, null))]),
      el('label', {}, ['with ', el('select', { name: 'type' }, options(hello.faultTypes, hello.faultTypes.indexOf('blackhole') >= 0 ? 'blackhole' : null))]),
      el('label', {}, ['for ', el('input', { name: 'durationS', type: 'number', min: '1', max: '86400', step: '1', value: '30', required: '' }), ' s']),
      el('button', { type: 'submit', text: 'Add fault' }),
    ]);
    if (hello.dependencies.length === 0 || hello.faultTypes.length === 0) Array.prototype.forEach.call(form.elements, function (c) { c.disabled = true; });
    form.addEventListener('submit', onFaultSubmit);
    return form;
  }

  // ---- the map -------------------------------------------------------------------------------

  function buildMap(hello) {
    view.built = true;
    view.zones = el('div', { class: 'zones' });
    view.db = el('div', { class: 'db-body' });
    view.faults = el('ul', { class: 'fault-list' });
    view.extras = el('div', { class: 'block extras', hidden: '' });
    const dbBlock = el('section', { class: 'block database' }, [el('h3', { text: 'Database' }), view.db]);
    const faultBlock = el('section', { class: 'block faults' }, [el('h3', { text: 'Faults in place' }), view.faults]);
    if (hello.canAct) {
      view.failoverButton = el('button', { type: 'button', 'data-action': 'failover', text: 'Fail over', title: 'Stop the writer and promote the reader' });
      view.proxyButton = el('button', { type: 'button', 'data-action': 'deregister', text: 'Deregister proxy', title: 'Take the database proxy\'s targets out: its connections close' });
      dbBlock.appendChild(el('div', { class: 'actions' }, [view.failoverButton, view.proxyButton]));
      faultBlock.appendChild(faultForm(hello));
      faultBlock.appendChild(el('div', { class: 'actions' }, [el('button', { type: 'button', 'data-action': 'clear-faults', text: 'Clear all faults' })]));
    }
    mapEl.replaceChildren(el('section', { class: 'block fleet' }, [el('h3', { text: 'Instances by zone' }), view.zones]), dbBlock, faultBlock, view.extras);
    mapEl.addEventListener('click', onMapClick);
  }

  function instanceCard(instance) {
    const card = {
      root: el('li', { class: 'instance', 'data-instance': instance.id }),
      id: el('span', { class: 'id', text: instance.id }),
      state: el('span', { class: 'state' }),
      detail: el('span', { class: 'detail' }),
      target: el('span', { class: 'target' }),
      buttons: el('span', { class: 'actions' }),
      byAction: new Map(),
    };
    card.root.append(el('div', { class: 'line' }, [card.id, card.state]), el('div', { class: 'line' }, [card.target, card.detail]));
    if (state.hello && state.hello.canAct) card.root.appendChild(card.buttons);
    return card;
  }

  function updateCard(card, instance) {
    const target = instance.target;
    card.root.setAttribute('data-zone', instance.zone);
    card.root.setAttribute('data-state', instance.state);
    card.root.setAttribute('data-target', target ? target.state : 'none');
    card.root.setAttribute('data-paused', instance.paused ? 'true' : 'false');
    card.state.textContent = instance.state + (instance.paused ? ' · paused' : '');
    card.detail.textContent = (instance.port === null ? 'no port' : 'port ' + instance.port) + (instance.pid === null ? '' : ' · pid ' + instance.pid);
    card.target.textContent = target ? target.state + (target.ejected ? ', ejected' : target.inRotation ? '' : ', out of rotation') : 'no target';
    card.target.title = 'its target at the load balancer';
    if (!(state.hello && state.hello.canAct)) return;
    // Actions on a live process only; pause or resume, whichever applies.
    const live = instance.state === 'running' || instance.state === 'pending';
    const wanted = live ? ['stop', 'kill', instance.paused ? 'resume' : 'pause'] : [];
    const current = Array.prototype.map.call(card.buttons.children, function (b) { return b.getAttribute('data-action'); });
    if (current.join() !== wanted.join()) {
      card.buttons.replaceChildren.apply(card.buttons, wanted.map(function (action) {
        let button = card.byAction.get(action);
        if (!button) {
          button = el('button', { type: 'button', 'data-action': action, text: action[0].toUpperCase() + action.slice(1), title: ACTION_TITLES[action] });
          card.byAction.set(action, button);
        }
        return button;
      }));
    }
    card.byAction.forEach(function (button, action) { button.disabled = state.stopped || state.inflight.has(action + ':' + instance.id); });
  }

  /** Places `node` at `index` of `parent` only when it is elsewhere: moving a node would take the focus off its button. */
  function place(parent, node, index) {
    if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] || null);
  }

  function renderInstances(instances) {
    const zones = Array.from(new Set(instances.map(function (i) { return i.zone; }))).sort();
    const seen = new Set();
    zones.forEach(function (zone, z) {
      let group = view.zoneGroups.get(zone);
      if (!group) {
        group = { root: el('section', { class: 'zone', 'data-zone-group': zone }), list: el('ul', { class: 'instances' }) };
        group.root.append(el('h4', { text: 'zone ' + zone }), group.list);
        view.zoneGroups.set(zone, group);
      }
      place(view.zones, group.root, z);
      instances.filter(function (i) { return i.zone === zone; }).forEach(function (instance, k) {
        let card = view.cards.get(instance.id);
        if (!card) {
          card = instanceCard(instance);
          view.cards.set(instance.id, card);
        }
        seen.add(instance.id);
        updateCard(card, instance);
        place(group.list, card.root, k);
      });
    });
    view.cards.forEach(function (card, id) {
      if (!seen.has(id)) {
        card.root.remove();
        view.cards.delete(id);
      }
    });
    view.zoneGroups.forEach(function (group, zone) {
      if (zones.indexOf(zone) < 0) {
        group.root.remove();
        view.zoneGroups.delete(zone);
      }
    });
    if (instances.length === 0) view.zones.replaceChildren(el('p', { class: 'empty', text: 'No instances.' }));
    else if (view.zones.querySelector('.empty')) view.zones.querySelector('.empty').remove();
  }

  function renderDatabase(map) {
    const db = map.database;
    const proxy = map.databaseProxy;
    const members = db.members.map(function (m) {
      const endpoints = [db.writerTarget === m.name && 'writer endpoint', db.readerTarget === m.name && 'reader endpoint'].filter(Boolean);
      return el('li', { 'data-member': m.name, 'data-role': m.role, 'data-running': m.running ? 'true' : 'false' }, [
        el('span', { class: 'id', text: m.name }),
        el('span', { class: 'role', text: m.role }),
        el('span', { class: 'detail', text: m.running ? 'running' : 'not running' }),
        endpoints.length > 0 && el('span', { class: 'endpoint', text: '← ' + endpoints.join(', ') }),
      ]);
    });
    fill(view.db, [
      el('ul', { class: 'members' }, members),
      db.writerTarget === null && el('p', { class: 'warn', text: 'No member behind the writer endpoint.' }),
      db.failoverInProgress ? el('p', { class: 'warn', 'data-failover': 'true', text: 'Failover in progress…' }) : null,
      el('p', { class: 'proxy', 'data-registered': proxy.registered ? 'true' : 'false' }, [
        'Database proxy: ',
        el('strong', { text: proxy.registered ? 'registered' : 'deregistered' }),
        proxy.inPath ? ', in the instances\' path' : ', not in the instances\' path (they connect directly)',
      ]),
    ]);
    if (view.failoverButton) view.failoverButton.disabled = state.stopped || db.failoverInProgress || state.inflight.has('failover');
    if (view.proxyButton && !state.inflight.has('db-proxy')) {
      const action = proxy.registered ? 'deregister' : 'register';
      view.proxyButton.setAttribute('data-action', action);
      view.proxyButton.textContent = proxy.registered ? 'Deregister proxy' : 'Register proxy';
      view.proxyButton.disabled = state.stopped;
    }
  }

  function renderFaults(faults, receivedMs) {
    state.faultDeadlines.clear();
    view.faults.replaceChildren.apply(view.faults, faults.map(function (f) {
      // From the time left as the lab measured it, so a skewed browser clock does not shift the countdown.
      state.faultDeadlines.set(f.id, receivedMs + f.msLeft);
      return el('li', { 'data-fault': f.id }, [
        el('span', { class: 'fault-type', text: f.type }),
        ' on ',
        el('span', { class: 'id', text: f.dependency }),
        el('span', { class: 'left', text: timeLeft(f.msLeft) }),
      ]);
    }));
    if (faults.length === 0) view.faults.appendChild(el('li', { class: 'empty', text: 'None.' }));
  }

  function tickFaults() {
    Array.prototype.forEach.call(view.faults ? view.faults.querySelectorAll('[data-fault]') : [], function (li) {
      const deadline = state.faultDeadlines.get(li.getAttribute('data-fault'));
      if (deadline !== undefined) li.querySelector('.left').textContent = timeLeft(deadline - Date.now());
    });
  }

  function renderExtras(map) {
    const rows = [];
    if (map.breaker) rows.push(el('p', { 'data-breaker': map.breaker.state }, ['Breaker: ', el('strong', { text: map.breaker.state })]));
    if (map.queue) rows.push(el('p', { class: 'queue' }, ['Order queue: ', el('strong', { text: String(map.queue.depth) }), ' waiting, ' + map.queue.inFlight + ' in flight, ' + map.queue.deadLetters + ' dead letter(s)']));
    if (map.run) rows.push(el('p', { 'data-run': map.run.state }, ['Run: ', el('strong', { text: map.run.state })]));
    view.extras.replaceChildren.apply(view.extras, rows);
    view.extras.hidden = rows.length === 0;
  }

  function onMap(map) {
    if (!view.built) buildMap(state.hello || { canAct: false, dependencies: [], faultTypes: [] });
    renderInstances(map.instances);
    renderDatabase(map);
    renderFaults(map.faults, Date.now());
    renderExtras(map);
  }

  // ---- the timeline --------------------------------------------------------------------------

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
    state.bands.forEach(function (band) {
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
        x: { time: true, range: function () { return [state.left, state.right]; } },
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
      chart('Requests per second by status', 'requests/s', state.statuses.map(statusSeries), true, 5),
      chart('Latency (ms)', 'ms', [
        { label: 'p50', stroke: '#546e7a', width: 2, points: { show: false } },
        { label: 'p99', stroke: '#ef6c00', width: 2, points: { show: false } },
      ], false, 10),
    ];
    view.chartKey = state.statuses.join();
  }

  function redraw() {
    if (typeof uPlot === 'undefined') {
      if (!timelineEl.firstChild) timelineEl.appendChild(el('p', { class: 'empty', text: 'The chart library did not load.' }));
      return;
    }
    if (view.chartKey !== state.statuses.join()) buildCharts();
    state.right = state.frozenAtS !== null ? state.frozenAtS : Date.now() / 1000;
    const first = state.seconds.size > 0 ? Math.min.apply(null, Array.from(state.seconds.keys())) : state.right;
    state.left = Math.min(state.right - MIN_WINDOW_S, Math.max(first, state.right - WINDOW_S));
    state.bands.forEach(function (band, id) { if (band.endedAt && Date.parse(band.endedAt) / 1000 < state.left) state.bands.delete(id); });
    const x = [], counts = state.statuses.map(function () { return []; }), p50 = [], p99 = [];
    if (state.lastSecond !== null) {
      // A second the lab did not report had no answers: a 0 between reported seconds, not a gap.
      for (let s = Math.max(first, Math.ceil(state.left)); s <= state.lastSecond; s++) {
        const ev = state.seconds.get(s);
        x.push(s);
        state.statuses.forEach(function (status, i) { counts[i].push(ev ? ev.byStatus[status] || 0 : 0); });
        p50.push(ev && ev.latencyMs ? ev.latencyMs.p50 : null);
        p99.push(ev && ev.latencyMs ? ev.latencyMs.p99 : null);
      }
    }
    view.charts[0].setData([x].concat(counts));
    view.charts[1].setData([x, p50, p99]);
  }

  function onSecond(ev) {
    state.seconds.set(ev.second, ev);
    if (state.lastSecond === null || ev.second > state.lastSecond) state.lastSecond = ev.second;
    Object.keys(ev.byStatus).forEach(function (status) {
      if (state.statuses.indexOf(status) < 0) {
        state.statuses.push(status);
        state.statuses.sort();
      }
    });
    // Only the window is drawn: older seconds go, so a lab that runs for days does not grow the page.
    state.seconds.forEach(function (_v, s) { if (s < state.lastSecond - WINDOW_S - 60) state.seconds.delete(s); });
  }

  // ---- the connection ------------------------------------------------------------------------

  function disableActions() {
    Array.prototype.forEach.call(document.querySelectorAll('#map button, #fault-form select, #fault-form input, #fault-form button'), function (c) { c.disabled = true; });
  }

  let source = null;
  let ticker = null;

  function stop(kind, text) {
    if (state.stopped) return;
    state.stopped = true;
    if (source) source.close();
    statusEl.setAttribute('data-state', kind);
    statusEl.textContent = text;
    disableActions();
    // The last state stays: one final drawing, frozen at this moment, then nothing moves.
    state.frozenAtS = Date.now() / 1000;
    if (ticker !== null) window.clearInterval(ticker);
    redraw();
  }

  function handle(name, fn) {
    source.addEventListener(name, function (event) {
      if (state.stopped) return;
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
    window.addEventListener('resize', function () {
      view.charts.forEach(function (u) { u.setSize({ width: Math.max(320, timelineEl.clientWidth), height: 200 }); });
    });
    if (!token) {
      statusEl.setAttribute('data-state', 'lost');
      statusEl.textContent = 'This page\'s URL has no token: open the dashboard URL that chaos-lab printed.';
      return;
    }
    source = new EventSource('/events?token=' + encodeURIComponent(token));
    handle('hello', function (hello) {
      state.hello = hello;
      document.getElementById('title').textContent = hello.title;
      document.title = hello.title + ' · chaos-lab';
      statusEl.setAttribute('data-state', 'live');
      statusEl.textContent = 'live';
      if (!view.built) buildMap(hello);
    });
    handle('second', onSecond);
    handle('band', function (band) { state.bands.set(band.id, band); });
    handle('log', function (log) { addLog(Date.parse(log.at), log.kind, log.text); });
    handle('map', onMap);
    handle('bye', function (bye) {
      stop('stopped', 'The lab has stopped: ' + String(bye.reason).replace(/\.$/, '') + '. This page shows its last state.');
    });
    source.addEventListener('error', function () {
      // EventSource would reconnect by itself; a lab that went away does not come back on this port, so the page stops.
      stop('lost', 'Lost the lab: ' + (state.hello ? 'the event stream broke' : 'the page could not connect (a wrong token, or the lab is gone)') + '. This page shows its last state.');
    });
    // Charts and countdowns move once a second, whatever the rate of events.
    redraw();
    ticker = window.setInterval(function () {
      redraw();
      tickFaults();
    }, 1000);
  }

  start();
})();
