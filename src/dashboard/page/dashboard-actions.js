// The page's actions under `up`: calls to the same token-protected control API the CLI uses
// (instances, failover, the database proxy, faults), the buttons' click handler and the fault
// form. Every answer, or its error JSON, goes into the log as a `control` line.
/* global document, fetch */
import { el, hms, parseJson } from './dashboard-dom.js';
import { FAULT_PARAMS, PARAMS_PLACEHOLDER, ParamsError, parseParams } from './dashboard-fault-params.js';
import { addLog } from './dashboard-log.js';
import { canAct, session } from './dashboard-session.js';

/** The actions on one instance, in the order their buttons show. */
const INSTANCE_ACTIONS = ['stop', 'kill', 'pause', 'resume'];

/** What each instance action does, as its button's tooltip. */
export const ACTION_TITLES = {
  stop: 'SIGTERM: the instance shuts down gracefully and the group replaces it',
  kill: 'SIGKILL: the process dies at once and the group replaces it',
  pause: 'SIGSTOP: the process hangs without dying, until resumed',
  resume: 'SIGCONT: the paused process runs again',
};

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

/** Calls the control API once for `key` (a second click while it is under way does nothing) and logs its answer. */
function act(button, key, method, path, body, label) {
  if (session.stopped || session.inflight.has(key)) return;
  session.inflight.add(key);
  button.disabled = true;
  const headers = { authorization: 'Bearer ' + session.token };
  if (body !== undefined) headers['content-type'] = 'application/json';
  fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', referrerPolicy: 'no-referrer' })
    .then(function (response) {
      return response.text().then(function (text) { addLog(Date.now(), 'control', describe(label, response.status, parseJson(text), text)); });
    })
    .catch(function (error) { addLog(Date.now(), 'control', label + ' failed: ' + (error && error.message ? error.message : String(error))); })
    .finally(function () {
      session.inflight.delete(key);
      button.disabled = session.stopped;
    });
}

/** The map's click handler: a button with data-action calls the control API. */
export function onActionClick(event) {
  const button = event.target.closest('button[data-action]');
  if (!button || button.disabled || !canAct()) return;
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
  const paramsText = form.elements.namedItem('params').value.trim();
  const label = type + ' on ' + dependency + (paramsText ? ' (' + paramsText + ')' : '');
  if (!(Number.isInteger(durationS) && durationS >= 1 && durationS <= 900)) {
    addLog(Date.now(), 'control', label + ': the duration must be a whole number of seconds from 1 to 900 (a fault\'s lease is 15 min at most), got ' + JSON.stringify(form.elements.namedItem('durationS').value));
    return;
  }
  let params;
  try {
    params = parseParams(paramsText);
  } catch (error) {
    if (!(error instanceof ParamsError)) throw error;
    addLog(Date.now(), 'control', label + ': not sent, its parameters are malformed: ' + error.message);
    return;
  }
  const body = { dependency: dependency, type: type, durationMs: Math.round(durationS * 1000) };
  // No parameters, no field: the lab's defaults apply, as when the CLI gives none.
  if (Object.keys(params).length > 0) body.params = params;
  act(form.querySelector('button[type=submit]'), 'fault', 'POST', '/faults', body, label + ' for ' + durationS + ' s');
}

/** Shows what the selected fault type takes beside the parameters' input. */
function showParamHint(form) {
  const type = form.elements.namedItem('type').value;
  const known = Object.prototype.hasOwnProperty.call(FAULT_PARAMS, type) ? FAULT_PARAMS[type] : undefined;
  const input = form.elements.namedItem('params');
  const hint = form.querySelector('.param-hint');
  input.placeholder = known ? (known.example || 'no parameters') : PARAMS_PLACEHOLDER;
  hint.textContent = !known ? '' : known.takes ? 'takes ' + known.takes : 'this type takes no parameters';
}

/** The "cut a dependency" form#fault-form, from hello's dependencies and fault types. */
export function faultForm(hello) {
  const options = function (values, chosen) {
    return values.map(function (v) { return el('option', { value: v, text: v, selected: v === chosen ? '' : null }); });
  };
  const form = el('form', { id: 'fault-form', class: 'fault-form' }, [
    el('label', {}, ['Cut ', el('select', { name: 'dependency' }, options(hello.dependencies, null))]),
    el('label', {}, ['with ', el('select', { name: 'type' }, options(hello.faultTypes, hello.faultTypes.indexOf('blackhole') >= 0 ? 'blackhole' : null))]),
    el('label', {}, ['params ', el('input', { name: 'params', type: 'text', placeholder: PARAMS_PLACEHOLDER, autocomplete: 'off', spellcheck: 'false' })]),
    el('label', {}, ['for ', el('input', { name: 'durationS', type: 'number', min: '1', max: '900', step: '1', value: '30', required: '' }), ' s']),
    el('button', { type: 'submit', text: 'Add fault' }),
    el('span', { class: 'param-hint', 'aria-live': 'polite' }),
  ]);
  if (hello.dependencies.length === 0 || hello.faultTypes.length === 0) Array.prototype.forEach.call(form.elements, function (c) { c.disabled = true; });
  form.addEventListener('submit', onFaultSubmit);
  form.elements.namedItem('type').addEventListener('change', function () { showParamHint(form); });
  showParamHint(form);
  return form;
}

/** Disables every action of the page: the lab has gone away. */
export function disableActions() {
  Array.prototype.forEach.call(document.querySelectorAll('#map button, #fault-form select, #fault-form input, #fault-form button'), function (c) { c.disabled = true; });
}
