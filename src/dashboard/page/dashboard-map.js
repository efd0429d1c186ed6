// The lab's map (#map): instances by zone with their state and target health, the database
// members and roles, the database proxy's registration, the faults in place with time left, and
// the breaker, the queue and the run when the lab has them. Cards are updated in place, so a
// button keeps its focus across the maps that come once a second.
/* global document */
import { ACTION_TITLES, faultForm, onActionClick } from './dashboard-actions.js';
import { el, fill, timeLeft } from './dashboard-dom.js';
import { canAct, session } from './dashboard-session.js';

const mapEl = document.getElementById('map');
const view = { built: false, zones: null, zoneGroups: new Map(), cards: new Map(), db: null, proxyButton: null, failoverButton: null, faults: null, extras: null };
/** Fault id → local time its countdown reaches 0. */
const faultDeadlines = new Map();

/** Builds the map's blocks once (the actions among them when hello allows); later calls do nothing. */
export function buildMap(hello) {
  if (view.built) return;
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
  mapEl.addEventListener('click', onActionClick);
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
  if (canAct()) card.root.appendChild(card.buttons);
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
  if (!canAct()) return;
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
  card.byAction.forEach(function (button, action) { button.disabled = session.stopped || session.inflight.has(action + ':' + instance.id); });
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
  if (view.failoverButton) view.failoverButton.disabled = session.stopped || db.failoverInProgress || session.inflight.has('failover');
  if (view.proxyButton && !session.inflight.has('db-proxy')) {
    const action = proxy.registered ? 'deregister' : 'register';
    view.proxyButton.setAttribute('data-action', action);
    view.proxyButton.textContent = proxy.registered ? 'Deregister proxy' : 'Register proxy';
    view.proxyButton.disabled = session.stopped;
  }
}

function renderFaults(faults, receivedMs) {
  faultDeadlines.clear();
  view.faults.replaceChildren.apply(view.faults, faults.map(function (f) {
    // From the time left as the lab measured it, so a skewed browser clock does not shift the countdown.
    faultDeadlines.set(f.id, receivedMs + f.msLeft);
    return el('li', { 'data-fault': f.id }, [
      el('span', { class: 'fault-type', text: f.type }),
      ' on ',
      el('span', { class: 'id', text: f.dependency }),
      el('span', { class: 'params', text: paramsText(f.params) }),
      el('span', { class: 'left', text: timeLeft(f.msLeft) }),
    ]);
  }));
  if (faults.length === 0) view.faults.appendChild(el('li', { class: 'empty', text: 'None.' }));
}

/** A fault's parameters as the form takes them (` latencyMs=200 jitterMs=50`), or nothing. */
function paramsText(params) {
  const names = params && typeof params === 'object' ? Object.keys(params) : [];
  return names.length === 0 ? '' : ' ' + names.map(function (name) { return name + '=' + String(params[name]); }).join(' ');
}

/** Moves the faults' countdowns on: called once a second. */
export function tickFaults() {
  Array.prototype.forEach.call(view.faults ? view.faults.querySelectorAll('[data-fault]') : [], function (li) {
    const deadline = faultDeadlines.get(li.getAttribute('data-fault'));
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

/** Draws a map event (the lab's state, once a second). */
export function onMap(map) {
  buildMap(session.hello || { canAct: false, dependencies: [], faultTypes: [] });
  renderInstances(map.instances);
  renderDatabase(map);
  renderFaults(map.faults, Date.now());
  renderExtras(map);
}
