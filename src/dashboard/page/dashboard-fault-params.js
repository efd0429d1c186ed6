// A fault's parameters in the page's fault form: what each fault type takes (for the hint beside
// the input) and the parsing of `latencyMs=200 jitterMs=50` into the `params` of POST /faults.
// No DOM here: the unit test imports this module in Node.

/**
 * What each fault type takes, for the form's hint and placeholder: a copy of the parse() of each
 * type in src/lab/fault-proxy/faults/ (hello names the types, not their parameters), which
 * src/dashboard/page-files.test.ts holds to the registered types. Only a hint: the lab validates,
 * and its refusal goes into the log.
 */
export const FAULT_PARAMS = {
  refuse: { takes: '', example: '' },
  blackhole: { takes: '', example: '' },
  reset: { takes: '', example: '' },
  latency: { takes: 'latencyMs, jitterMs (default 0): each chunk delayed by latencyMs ± jitterMs', example: 'latencyMs=200 jitterMs=50' },
  bandwidth: { takes: 'rateKBps: each connection limited to rateKBps per direction', example: 'rateKBps=64' },
  slow_close: { takes: 'delayMs: a close is passed on delayMs late', example: 'delayMs=2000' },
  limit_data: { takes: 'bytes: the connection is closed after that many bytes', example: 'bytes=4096' },
  connect_delay: { takes: 'delayMs: new connections reach the dependency delayMs late', example: 'delayMs=3000' },
};

/** The input's placeholder when the selected type has no entry in FAULT_PARAMS. */
export const PARAMS_PLACEHOLDER = 'latencyMs=200 jitterMs=50';

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Decimal numbers only: Number() would also take "0x10", "1e" or "Infinity", which a person did not mean as numbers.
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A fault's parameters as typed, malformed: the form sends nothing and logs the message. */
export class ParamsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ParamsError';
    this.code = 'INVALID_PARAMS';
  }
}

/**
 * `latencyMs=200 jitterMs=50` → {latencyMs: 200, jitterMs: 50}: entries `name=value` separated by
 * spaces or commas, a decimal value as a number, any other as a string; empty text gives {}.
 * Throws ParamsError naming an entry that is not `name=value`, or a name given twice.
 */
export function parseParams(text) {
  const params = new Map();
  text.split(/[\s,]+/).filter(Boolean).forEach(function (entry) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq);
    const value = eq < 0 ? '' : entry.slice(eq + 1);
    if (!PARAM_NAME.test(name) || value === '') throw new ParamsError(JSON.stringify(entry) + ' is not name=value (e.g. ' + PARAMS_PLACEHOLDER + ')');
    if (params.has(name)) throw new ParamsError(name + ' is given twice');
    params.set(name, DECIMAL.test(value) ? Number(value) : value);
  });
  // fromEntries defines own properties: a name like "__proto__" stays a plain key, as in JSON.
  return Object.fromEntries(params);
}
